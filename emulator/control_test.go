package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func ctlDo(t *testing.T, method, url, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := mwClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func ctlStats(t *testing.T, base string) Stats {
	t.Helper()
	code, body := ctlDo(t, "GET", base+"/_emulator/stats", "", "")
	var st Stats
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("stats: %d %s %v", code, body, err)
	}
	return st
}

func TestControlStatsAndReset(t *testing.T) {
	_, srv := mwServer(t, Options{})
	if code, body := ctlDo(t, "GET", srv.URL+"/_emulator/healthz", "", ""); code != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q", code, body)
	}
	for range 3 {
		mwStatus(t, srv.URL+"/api/2.0/ping")
	}
	mwStatus(t, srv.URL+"/2.0/user")
	st := ctlStats(t, srv.URL)
	if st.Total != 4 || st.Routes["databricks GET /api/2.0/ping"] != 3 || st.Families["bitbucket"] != 1 {
		t.Errorf("stats %+v", st)
	}
	for _, reset := range []struct{ method, path string }{{"POST", "/_emulator/stats/reset"}, {"DELETE", "/_emulator/stats"}} {
		mwStatus(t, srv.URL+"/api/2.0/ping")
		if code, _ := ctlDo(t, reset.method, srv.URL+reset.path, "", ""); code != http.StatusNoContent {
			t.Errorf("%s %s: %d", reset.method, reset.path, code)
		}
		if st := ctlStats(t, srv.URL); st.Total != 0 || len(st.Routes) != 0 || st.Families == nil {
			t.Errorf("after %s %s: %+v", reset.method, reset.path, st)
		}
	}
}

func TestControlFaults(t *testing.T) {
	s, srv := mwServer(t, Options{})
	code, body := ctlDo(t, "PUT", srv.URL+"/_emulator/faults", "text/plain", "GET /api/2.0/ping=503,ok")
	if code != 200 || !strings.Contains(body, `"sequence":["503","none"]`) {
		t.Fatalf("PUT faults: %d %s", code, body)
	}
	if a, b := mwStatus(t, srv.URL+"/api/2.0/ping"), mwStatus(t, srv.URL+"/api/2.0/ping"); a != 503 || b != 200 {
		t.Errorf("got %d then %d, want 503 then 200", a, b)
	}
	code, _ = ctlDo(t, "PUT", srv.URL+"/_emulator/faults", "application/json", `[{"route":"/2.0/**","kind":"429","count":1}]`)
	if code != 200 || len(s.Faults()) != 1 || mwStatus(t, srv.URL+"/2.0/user") != 429 {
		t.Errorf("JSON faults: %d %v", code, s.Faults())
	}
	if code, body := ctlDo(t, "PUT", srv.URL+"/_emulator/faults", "", "/x=teapot"); code != 400 || !strings.Contains(body, "unknown fault kind") {
		t.Errorf("bad faults: %d %s", code, body)
	}
	if code, _ := ctlDo(t, "PUT", srv.URL+"/_emulator/faults", "application/json", `[{"route":"/x","kind":"teapot"}]`); code != 400 {
		t.Errorf("bad JSON faults: %d", code)
	}
	if len(s.Faults()) != 1 {
		t.Errorf("a rejected PUT changed the rules: %v", s.Faults())
	}
	if code, body := ctlDo(t, "GET", srv.URL+"/_emulator/faults", "", ""); code != 200 || !strings.Contains(body, `"route":"/2.0/**"`) {
		t.Errorf("GET faults: %d %s", code, body)
	}
	if code, _ := ctlDo(t, "PUT", srv.URL+"/_emulator/faults", "", ""); code != 200 || len(s.Faults()) != 0 {
		t.Errorf("clearing faults: %d %v", code, s.Faults())
	}
	if st := s.Stats(); st.Families["control"] != 0 || st.Total != 3 {
		t.Errorf("control requests must not count: %+v", st)
	}
}

func TestControlLatency(t *testing.T) {
	s, srv := mwServer(t, Options{})
	if code, _ := ctlDo(t, "PUT", srv.URL+"/_emulator/latency", "application/json", `{"latency":"80ms"}`); code != http.StatusNoContent {
		t.Fatal(code)
	}
	if d := s.mw.pause(); d != 80*time.Millisecond {
		t.Errorf("pause %v after setting 80ms latency", d)
	}
	if got := mwStatus(t, srv.URL+"/api/2.0/ping"); got != 200 {
		t.Errorf("ping with latency: %d", got)
	}
	if code, _ := ctlDo(t, "PUT", srv.URL+"/_emulator/latency", "application/json", `{"latency":"soon"}`); code != 400 {
		t.Errorf("bad latency: %d", code)
	}
}
