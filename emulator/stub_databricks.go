package emulator

import "net/http"

// Stub until the Databricks handlers land; replaced by databricks*.go.
func (s *Server) routesDatabricks(mux *http.ServeMux) {}
