package emulator

import "net/http"

// Stubs until the Bitbucket and Admin handlers land; replaced by bitbucket*.go and admin.go.
func (s *Server) routesBitbucket(mux *http.ServeMux) {}
func (s *Server) routesAdmin(mux *http.ServeMux)     {}
