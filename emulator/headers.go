package emulator

import (
	"bufio"
	"net"
	"net/http"
)

// serviceHeaders keeps every family's bodiless answers bare, as the real
// services send them, whatever a handler or the fault layer set: no
// Content-Type and no Content-Length with a 204 or 304. Clients such as the
// Node "bitbucket" package parse any body labelled JSON, and fail on an
// empty one.
type serviceHeaders struct {
	http.ResponseWriter
	wrote bool
}

func withServiceHeaders(w http.ResponseWriter) http.ResponseWriter {
	return &serviceHeaders{ResponseWriter: w}
}

func (s *serviceHeaders) WriteHeader(status int) {
	if !s.wrote {
		s.wrote = true
		h := s.Header()
		if status == http.StatusNoContent || status == http.StatusNotModified {
			h.Del("Content-Type")
			h.Del("Content-Length")
		}
	}
	s.ResponseWriter.WriteHeader(status)
}

func (s *serviceHeaders) Write(p []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(p)
}

// Hijack lets the fault layer reset or truncate the connection.
func (s *serviceHeaders) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(s.ResponseWriter).Hijack()
}

// Flush passes streaming through.
func (s *serviceHeaders) Flush() { _ = http.NewResponseController(s.ResponseWriter).Flush() }
