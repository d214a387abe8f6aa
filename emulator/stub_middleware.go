package emulator

import "net/http"

// Stubs until faults, latency, limits and stats land; replaced by middleware.go and control.go.

// FaultRule injects a fault into matching requests.
type FaultRule struct{}

type middleware struct{}

func newMiddleware(s *Server, opts Options) *middleware { return &middleware{} }

func (m *middleware) serve(w http.ResponseWriter, r *http.Request, mux *http.ServeMux, family string) {
	mux.ServeHTTP(w, r)
}

func (s *Server) routesControl(mux *http.ServeMux) {}
