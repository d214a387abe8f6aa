package emulator

import (
	"net/http"
	"strings"
	"time"
)

// Options tune the emulator's behaviour beyond the organisation's data.
type Options struct {
	// Latency is added to every request; Jitter adds up to that much more, at random.
	Latency time.Duration
	Jitter  time.Duration
	// Faults are injected by route; see FaultRule.
	Faults []FaultRule
	// SCIMConcurrency is how many Databricks SCIM requests may run at once
	// before the rest get 500 REQUEST_LIMIT_EXCEEDED, as the service does.
	// 0 means the service's 4; negative means unlimited.
	SCIMConcurrency int
	// BitbucketHourlyBudget is how many Bitbucket requests one credential may
	// make in a rolling hour before getting 429. 0 means the service's 1,000;
	// negative means unlimited.
	BitbucketHourlyBudget int
	// RandSeed seeds jitter and probabilistic faults, for repeatable runs.
	RandSeed int64
}

// Server serves one Org over HTTP. Handler routes every API family by path
// prefix, so one listener serves them all:
//
//	/2.0/, /1.0/                    Bitbucket Cloud
//	/admin/                         Atlassian Admin API
//	/api/, /.well-known/databricks-config, /oidc/   Databricks workspace and account
//	/_emulator/                     control: stats, reset
type Server struct {
	Org  *Org
	opts Options

	bitbucket  *http.ServeMux
	admin      *http.ServeMux
	databricks *http.ServeMux
	control    *http.ServeMux

	mw *middleware
}

// New builds a server for org.
func New(org *Org, opts Options) *Server {
	s := &Server{Org: org, opts: opts,
		bitbucket:  http.NewServeMux(),
		admin:      http.NewServeMux(),
		databricks: http.NewServeMux(),
		control:    http.NewServeMux(),
	}
	s.routesBitbucket(s.bitbucket)
	s.routesAdmin(s.admin)
	s.routesDatabricks(s.databricks)
	s.routesControl(s.control)
	s.mw = newMiddleware(s, opts)
	return s
}

// Handler serves every API family.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux, family := s.route(r.URL.Path)
		if mux == nil {
			http.NotFound(w, r)
			return
		}
		if family == "control" {
			mux.ServeHTTP(w, r)
			return
		}
		s.mw.serve(w, r, mux, family)
	})
}

// route picks the mux for a path, and names its family for stats and faults.
func (s *Server) route(path string) (*http.ServeMux, string) {
	switch {
	case strings.HasPrefix(path, "/_emulator/"):
		return s.control, "control"
	case strings.HasPrefix(path, "/2.0/"), strings.HasPrefix(path, "/1.0/"):
		return s.bitbucket, "bitbucket"
	case strings.HasPrefix(path, "/admin/"):
		return s.admin, "atlassian"
	case strings.HasPrefix(path, "/api/"), strings.HasPrefix(path, "/.well-known/"), strings.HasPrefix(path, "/oidc/"):
		return s.databricks, "databricks"
	}
	return nil, ""
}
