package emulator

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the limits the real services enforce.
const (
	defaultSCIMConcurrency       = 4
	defaultBitbucketHourlyBudget = 1000
)

// middleware wraps every API family's mux with what the real services do
// around the handlers: request counting, latency, rate and concurrency
// limits, and injected faults. The control API bypasses it.
type middleware struct {
	s *Server

	scimLimit int // <0: unlimited
	// scimActive counts SCIM requests in flight per workspace (by the name
	// of the host's workspace; "" with one): the limit is each workspace's.
	scimActive sync.Map // string -> *atomic.Int64
	budget     int      // <0: unlimited

	mu      sync.Mutex
	rng     *rand.Rand
	latency time.Duration
	jitter  time.Duration
	faults  []*faultState
	spent   map[string][]time.Time // Bitbucket credential -> accepted request times, oldest first
	stats   Stats
}

// faultState is a rule and how many requests it has matched and faulted.
type faultState struct {
	FaultRule
	seen, injected int
}

func newMiddleware(s *Server, opts Options) *middleware {
	m := &middleware{
		s:         s,
		scimLimit: cmp.Or(opts.SCIMConcurrency, defaultSCIMConcurrency),
		budget:    cmp.Or(opts.BitbucketHourlyBudget, defaultBitbucketHourlyBudget),
		rng:       rand.New(rand.NewPCG(uint64(opts.RandSeed), 0x6269746272696373)),
		latency:   opts.Latency,
		jitter:    opts.Jitter,
		spent:     map[string][]time.Time{},
		stats:     newStats(),
	}
	if err := m.setFaults(opts.Faults); err != nil {
		panic("emulator: Options.Faults: " + err.Error())
	}
	return m
}

func (m *middleware) serve(w http.ResponseWriter, r *http.Request, mux *http.ServeMux, family string) {
	w = withServiceHeaders(w)
	_, pattern := mux.Handler(r)
	if pattern == "" || !strings.Contains(pattern, " ") && strings.HasSuffix(pattern, "/") {
		pattern = "unmatched" // no route, or only a family's catch-all 404 ("/admin/")
	}
	m.count(family, pattern)

	if family == "bitbucket" && !m.spend(r) {
		m.refuse("bitbucket_budget")
		faultError(w, family, http.StatusTooManyRequests, "TOO_MANY_REQUESTS",
			"Rate limit for this resource has been exceeded")
		return
	}
	if family == "databricks" && strings.Contains(r.URL.Path, "/scim/v2/") && m.scimLimit >= 0 {
		ws, _ := r.Context().Value(workspaceKey{}).(string)
		c, _ := m.scimActive.LoadOrStore(ws, new(atomic.Int64))
		active := c.(*atomic.Int64)
		if active.Add(1) > int64(m.scimLimit) {
			active.Add(-1)
			m.refuse("scim_concurrency")
			faultError(w, family, http.StatusInternalServerError, "REQUEST_LIMIT_EXCEEDED",
				"Too many concurrent requests to the SCIM API. Please retry later.")
			return
		}
		defer active.Add(-1)
	}
	if !m.delay(r.Context()) {
		return // the client gave up
	}
	if kind := m.pickFault(r, pattern); kind != FaultNone {
		m.inject(w, r, mux, family, kind)
		return
	}
	mux.ServeHTTP(w, r)
}

// pause is the latency the next request gets: the configured latency plus
// a random part of the jitter.
func (m *middleware) pause() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.latency
	if m.jitter > 0 {
		d += time.Duration(m.rng.Int64N(int64(m.jitter)))
	}
	return d
}

// delay sleeps for pause, or until ctx ends; it reports whether the request
// should go on.
func (m *middleware) delay(ctx context.Context) bool {
	d := m.pause()
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// spend charges a Bitbucket request to its credential's rolling hourly
// budget, by the organisation's clock; it reports false when the budget is
// used up. Refused requests are not charged, so a client that backs off
// recovers as the hour rolls on.
func (m *middleware) spend(r *http.Request) bool {
	if m.budget < 0 {
		return true
	}
	key, now := credentialKey(r), m.s.Org.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	times := m.spent[key]
	i := 0
	for i < len(times) && !times[i].After(now.Add(-time.Hour)) {
		i++
	}
	times = times[i:]
	if len(times) >= m.budget {
		m.spent[key] = times
		return false
	}
	m.spent[key] = append(times, now)
	return true
}

// credentialKey names the identity a Bitbucket request is charged to: the
// Basic auth user name, a hash of any other credential, or "anonymous".
func credentialKey(r *http.Request) string {
	if user, _, ok := r.BasicAuth(); ok {
		return "basic:" + user
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		h := sha256.Sum256([]byte(auth))
		return "token:" + hex.EncodeToString(h[:8])
	}
	return "anonymous"
}

// ---- faults ----

// pickFault runs the rules in order over the request; the first rule that
// injects a fault wins and later rules do not see the request.
func (m *middleware) pickFault(r *http.Request, pattern string) FaultKind {
	m.mu.Lock()
	defer m.mu.Unlock()
	ws, _ := r.Context().Value(workspaceKey{}).(string)
	for _, f := range m.faults {
		if !f.inWorkspace(ws) || !f.matchesQuery(r.Method, r.URL.Path, pattern, r.URL.Query()) {
			continue
		}
		n := f.seen
		f.seen++
		kind := FaultNone
		switch {
		case len(f.Sequence) > 0:
			if n < len(f.Sequence) {
				kind = f.Sequence[n]
			}
		case f.Count > 0 && f.injected >= f.Count: // used up: pass
		case f.Probability == 0 || m.rng.Float64() < f.Probability:
			kind = f.Kind
		}
		if kind != FaultNone {
			f.injected++
			m.stats.Faults[string(kind)]++
			return kind
		}
	}
	return FaultNone
}

func (m *middleware) setFaults(rules []FaultRule) error {
	states := make([]*faultState, len(rules))
	for i, r := range rules {
		r, err := r.normalize()
		if err != nil {
			return fmt.Errorf("rule %d: %w", i+1, err)
		}
		states[i] = &faultState{FaultRule: r}
	}
	m.mu.Lock()
	m.faults = states
	m.mu.Unlock()
	return nil
}

// inject answers the request with the fault instead of (or on top of) the
// real handler.
func (m *middleware) inject(w http.ResponseWriter, r *http.Request, mux *http.ServeMux, family string, kind FaultKind) {
	switch kind {
	case Fault429:
		faultError(w, family, http.StatusTooManyRequests, "TOO_MANY_REQUESTS",
			"Too many requests. Please wait a moment and try again.")
	case Fault500Limit:
		faultError(w, family, http.StatusInternalServerError, "REQUEST_LIMIT_EXCEEDED",
			"Exceeded the request limit. Please retry later.")
	case Fault500:
		faultError(w, family, http.StatusInternalServerError, "INTERNAL_ERROR",
			"An internal error occurred (injected by the emulator).")
	case Fault503:
		faultError(w, family, http.StatusServiceUnavailable, "TEMPORARILY_UNAVAILABLE",
			"The service is temporarily unavailable. Please retry later.")
	case Fault401:
		if family == "databricks" {
			dbAuthError(w, http.StatusUnauthorized, "Credential was not sent or was of an unsupported type for this API.")
			return
		}
		faultError(w, family, http.StatusUnauthorized, "UNAUTHENTICATED", "Unauthorized")
	case Fault404Endpoint:
		faultError(w, family, http.StatusNotFound, "ENDPOINT_NOT_FOUND", fmt.Sprintf("No API found for '%s %s'", r.Method, r.URL.Path))
	case Fault404Missing:
		faultError(w, family, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Path (%s) doesn't exist.", cmp.Or(r.URL.Query().Get("path"), r.URL.Path)))
	case Fault404Bare:
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
	case FaultReset:
		resetConn(w)
	case FaultTruncated:
		sendTruncated(w, runToBuffer(mux, r))
	case FaultEmptyMembers:
		rec := runToBuffer(mux, r)
		if rec.status/100 == 2 {
			if body, ok := emptyMembers(r.URL.Path, rec.body.Bytes()); ok {
				rec.body.Reset()
				rec.body.Write(body)
			}
		}
		rec.copyTo(w)
	}
}

// faultError writes an error the way the family's service does.
func faultError(w http.ResponseWriter, family string, status int, code, message string) {
	switch family {
	case "databricks":
		writeJSON(w, status, map[string]string{"error_code": code, "message": message})
	case "bitbucket":
		if status == http.StatusUnauthorized { // Bitbucket answers a bad credential in plain text
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(status)
			fmt.Fprintln(w, "Unauthorized")
			return
		}
		writeJSON(w, status, map[string]any{"type": "error", "error": map[string]string{"message": message}})
	default: // the Atlassian API gateway
		writeJSON(w, status, map[string]any{"code": status, "message": message})
	}
}

// hijack takes the connection over, or aborts the response where it can't
// (HTTP/2, recorders).
func hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, buf, err := hj.Hijack(); err == nil {
			return conn, buf
		}
	}
	panic(http.ErrAbortHandler)
}

// resetConn drops the connection with a TCP RST.
func resetConn(w http.ResponseWriter) {
	conn, _ := hijack(w)
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// sendTruncated sends the recorded response's headers with its full
// Content-Length but only half of its body, then closes the connection.
func sendTruncated(w http.ResponseWriter, rec *bufferedResponse) {
	conn, buf := hijack(w)
	defer conn.Close()
	body := rec.body.Bytes()
	declared := len(body)
	if declared < 2 {
		declared = 16 // an empty body can't be cut in half; promise some
	}
	rec.header.Set("Content-Length", strconv.Itoa(declared))
	rec.header.Set("Connection", "close")
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\n", rec.status, http.StatusText(rec.status))
	_ = rec.header.Write(buf)
	buf.WriteString("\r\n")
	buf.Write(body[:len(body)/2])
	_ = buf.Flush()
}

// bufferedResponse records a handler's response so a fault can alter it.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func runToBuffer(h http.Handler, r *http.Request) *bufferedResponse {
	rec := &bufferedResponse{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

func (b *bufferedResponse) copyTo(w http.ResponseWriter) {
	maps.Copy(w.Header(), b.header)
	w.Header().Set("Content-Length", strconv.Itoa(b.body.Len()))
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}

// ---- stats ----

// Stats counts the requests the emulator has served since start or the
// last reset. The control API (/_emulator/) is not counted.
type Stats struct {
	// Total counts every request to an API family.
	Total int64 `json:"total"`
	// Families counts requests per family: "bitbucket", "atlassian", "databricks".
	Families map[string]int64 `json:"families"`
	// Routes counts requests per family and mux pattern, keyed
	// "databricks GET /api/2.0/preview/scim/v2/Me"; requests no route
	// matches (but a family's catch-all 404) count as "<family> unmatched".
	Routes map[string]int64 `json:"routes"`
	// Faults counts injected faults by kind.
	Faults map[string]int64 `json:"faults"`
	// ProcessCPUMillis is the CPU time the whole emulator process has used
	// since it started (not reset with the counters; -1: not known here).
	// A client that runs the emulator as a child process reads it before and
	// after a run, so the emulator's cost is never mistaken for its own.
	ProcessCPUMillis float64 `json:"process_cpu_ms"`
	// Refused counts requests refused by a limit: "scim_concurrency" or
	// "bitbucket_budget".
	Refused map[string]int64 `json:"refused"`
	// Workspaces counts Databricks requests per workspace of an account with
	// several ("account" for account-wide APIs that name no workspace);
	// WorkspaceWrites counts the ones that are not GETs. Empty with one workspace.
	Workspaces      map[string]int64 `json:"workspaces"`
	WorkspaceWrites map[string]int64 `json:"workspace_writes"`
}

func newStats() Stats {
	return Stats{Families: map[string]int64{}, Routes: map[string]int64{},
		Faults: map[string]int64{}, Refused: map[string]int64{},
		Workspaces: map[string]int64{}, WorkspaceWrites: map[string]int64{}}
}

// countWorkspace counts a Databricks request against its workspace, when
// the account has several.
func (m *middleware) countWorkspace(name string, r *http.Request) {
	if name == "" {
		return
	}
	if strings.HasPrefix(r.URL.Path, "/api/2.0/accounts/") && r.PathValue("workspace_id") == "" {
		name = "account"
	}
	m.mu.Lock()
	m.stats.Workspaces[name]++
	if r.Method != http.MethodGet {
		m.stats.WorkspaceWrites[name]++
	}
	m.mu.Unlock()
}

func (m *middleware) count(family, pattern string) {
	m.mu.Lock()
	m.stats.Total++
	m.stats.Families[family]++
	m.stats.Routes[family+" "+pattern]++
	m.mu.Unlock()
}

func (m *middleware) refuse(limit string) {
	m.mu.Lock()
	m.stats.Refused[limit]++
	m.mu.Unlock()
}

func (m *middleware) snapshot() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	cpu := float64(-1)
	if d := processCPU(); d >= 0 {
		cpu = float64(d) / float64(time.Millisecond)
	}
	return Stats{Total: m.stats.Total, Families: maps.Clone(m.stats.Families),
		Routes: maps.Clone(m.stats.Routes), Faults: maps.Clone(m.stats.Faults),
		Refused: maps.Clone(m.stats.Refused), ProcessCPUMillis: cpu,
		Workspaces: maps.Clone(m.stats.Workspaces), WorkspaceWrites: maps.Clone(m.stats.WorkspaceWrites)}
}

// Stats returns a copy of the request counters.
func (s *Server) Stats() Stats { return s.mw.snapshot() }

// ResetStats zeroes the request counters. Fault rules keep their progress
// and the Bitbucket budget keeps its hour.
func (s *Server) ResetStats() {
	s.mw.mu.Lock()
	s.mw.stats = newStats()
	s.mw.mu.Unlock()
}

// SetFaults replaces the fault rules; their sequences start afresh.
func (s *Server) SetFaults(rules []FaultRule) error { return s.mw.setFaults(rules) }

// Faults returns the fault rules in force.
func (s *Server) Faults() []FaultRule {
	s.mw.mu.Lock()
	defer s.mw.mu.Unlock()
	out := make([]FaultRule, len(s.mw.faults))
	for i, f := range s.mw.faults {
		out[i] = f.FaultRule
	}
	return out
}

// SetLatency changes the latency added to every request from now on.
func (s *Server) SetLatency(latency, jitter time.Duration) {
	s.mw.mu.Lock()
	s.mw.latency, s.mw.jitter = latency, jitter
	s.mw.mu.Unlock()
}
