package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// routesControl serves the emulator's own API under /_emulator/. It is not
// counted in Stats and sees no latency or faults.
//
//	GET    /_emulator/healthz       "ok"
//	GET    /_emulator/stats         Stats as JSON
//	POST   /_emulator/stats/reset   zero the counters (also DELETE /_emulator/stats)
//	GET    /_emulator/faults        the fault rules as JSON
//	PUT    /_emulator/faults        replace them: FaultsHelp syntax, or a JSON array of FaultRule
//	PUT    /_emulator/latency       {"latency":"50ms","jitter":"10ms"}
func (s *Server) routesControl(mux *http.ServeMux) {
	mux.HandleFunc("GET /_emulator/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /_emulator/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	reset := func(w http.ResponseWriter, r *http.Request) {
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	}
	mux.HandleFunc("POST /_emulator/stats/reset", reset)
	mux.HandleFunc("DELETE /_emulator/stats", reset)
	mux.HandleFunc("GET /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("PUT /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		rules, err := readFaults(r)
		if err == nil {
			err = s.SetFaults(rules)
		}
		if err != nil {
			controlError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("PUT /_emulator/latency", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Latency, Jitter string }
		var lat, jit time.Duration
		err := readJSON(r, &body)
		if err == nil && body.Latency != "" {
			lat, err = time.ParseDuration(body.Latency)
		}
		if err == nil && body.Jitter != "" {
			jit, err = time.ParseDuration(body.Jitter)
		}
		if err != nil {
			controlError(w, fmt.Errorf(`want {"latency":"50ms","jitter":"10ms"}: %w`, err))
			return
		}
		s.SetLatency(lat, jit)
		w.WriteHeader(http.StatusNoContent)
	})
	s.routesControlPipelines(mux)
}

// readFaults reads fault rules from a request body: a JSON array when the
// body is JSON, else the FaultsHelp syntax. An empty body clears the rules.
func readFaults(r *http.Request) ([]FaultRule, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	text := strings.TrimSpace(string(body))
	if strings.HasPrefix(text, "[") || strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var rules []FaultRule
		if err := json.Unmarshal(body, &rules); err != nil {
			return nil, fmt.Errorf("fault rules JSON: %w", err)
		}
		return rules, nil
	}
	return ParseFaults(text)
}

func controlError(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
}
