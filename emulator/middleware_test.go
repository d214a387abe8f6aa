package emulator

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// mwRoutes is a stand-in for the API handlers, shaped like the real
// answers the faults rewrite, so the middleware is tested on its own.
func mwRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	reply := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, body)
		}
	}
	mux.HandleFunc("GET /api/2.0/ping", reply(`{"ok":true,"padding":"0123456789012345678901234567890123456789"}`))
	mux.HandleFunc("GET /api/2.0/preview/scim/v2/Groups", reply(`{"totalResults":1,"startIndex":1,"Resources":[{"id":"1","displayName":"g","members":[{"value":"2"}]}]}`))
	mux.HandleFunc("GET /api/2.0/preview/scim/v2/Groups/{id}", reply(`{"id":"1","displayName":"g","members":[{"value":"2"}]}`))
	mux.HandleFunc("GET /api/2.0/preview/scim/v2/Users", reply(`{"totalResults":1,"startIndex":1,"itemsPerPage":1,"Resources":[{"id":"1","userName":"a@b.c"}]}`))
	mux.HandleFunc("GET /api/2.0/token-management/tokens", reply(`{"token_infos":[{"token_id":"t1","owner_id":1}]}`))
	mux.HandleFunc("GET /1.0/groups/{workspace}", reply(`[{"slug":"a","members":[{"account_id":"x"}]},{"slug":"b","members":[{"account_id":"y"}]}]`))
	mux.HandleFunc("GET /1.0/groups/{workspace}/{group}/members", reply(`[{"account_id":"x"}]`))
	mux.HandleFunc("GET /2.0/user", reply(`{"uuid":"{u}"}`))
	mux.HandleFunc("GET /2.0/workspaces/{workspace}/members", reply(`{"size":1,"values":[{"user":{}}],"next":"http://x/next"}`))
	mux.HandleFunc("POST /admin/v1/orgs/{org}/directories/{dir}/users/search", reply(`{"data":[{"accountId":"x"}],"links":{"next":"n"}}`))
	return mux
}

// mwServer serves mwRoutes through the middleware of a server built with
// opts, and the real control API.
func mwServer(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	s := New(NewOrg(nil), opts)
	routes := mwRoutes()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux, family := s.route(r.URL.Path)
		if family == "control" {
			mux.ServeHTTP(w, r)
			return
		}
		s.mw.serve(w, r, routes, family)
	}))
	t.Cleanup(srv.Close)
	return s, srv
}

// mwClient never reuses connections, so the transport never retries a
// request on its own and request counts are exact.
var mwClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func mwDo(t *testing.T, method, url, auth string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := mwClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func mwStatus(t *testing.T, url string) int {
	t.Helper()
	resp, _, err := mwDo(t, "GET", url, "")
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode
}

func TestFaultKinds(t *testing.T) {
	for _, tc := range []struct {
		kind        FaultKind
		path        string
		status      int
		contentType string
		body        string // a substring
	}{
		{Fault429, "/api/2.0/ping", 429, "application/json", `"error_code":"TOO_MANY_REQUESTS"`},
		{Fault429, "/2.0/user", 429, "application/json", `"type":"error"`},
		{Fault429, "/admin/v1/orgs/o/directories/-/users/search", 429, "application/json", `"code":429`},
		{Fault500Limit, "/api/2.0/ping", 500, "application/json", `"error_code":"REQUEST_LIMIT_EXCEEDED"`},
		{Fault500, "/api/2.0/ping", 500, "application/json", `"error_code":"INTERNAL_ERROR"`},
		{Fault503, "/api/2.0/ping", 503, "application/json", `"error_code":"TEMPORARILY_UNAVAILABLE"`},
		{Fault401, "/api/2.0/ping", 401, "application/json", `"error_code":401,"message":"Credential was not sent`},
		{Fault401, "/admin/v1/orgs/o/directories/-/users/search", 401, "application/json", `"code":401,"message":"Unauthorized"`},
		{Fault401, "/2.0/user", 401, "text/plain; charset=utf-8", "Unauthorized"},
		{Fault404Endpoint, "/api/2.0/ping", 404, "application/json", `"error_code":"ENDPOINT_NOT_FOUND","message":"No API found for 'GET /api/2.0/ping'"`},
		{Fault404Bare, "/api/2.0/ping", 404, "application/json", `{"message":"Not Found"}`},
		{Fault404Missing, "/api/2.0/ping", 404, "application/json", `"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Path (/api/2.0/ping) doesn't exist."`},
	} {
		t.Run(string(tc.kind)+tc.path, func(t *testing.T) {
			s, srv := mwServer(t, Options{Faults: []FaultRule{{Route: tc.path, Kind: tc.kind}}})
			method := "GET"
			if strings.HasPrefix(tc.path, "/admin/") {
				method = "POST"
			}
			resp, body, err := mwDo(t, method, srv.URL+tc.path, "")
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != tc.contentType || !strings.Contains(string(body), tc.body) {
				t.Errorf("got %d %q %s, want %d %q with %s", resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status, tc.contentType, tc.body)
			}
			if got := s.Stats().Faults[string(tc.kind)]; got != 1 {
				t.Errorf("stats count %d %s faults, want 1", got, tc.kind)
			}
		})
	}
}

func TestFaultReset(t *testing.T) {
	_, srv := mwServer(t, Options{Faults: []FaultRule{{Route: "/api/2.0/ping", Kind: FaultReset}}})
	_, _, err := mwDo(t, "GET", srv.URL+"/api/2.0/ping", "")
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("got %v, want a connection reset", err)
	}
}

func TestFaultTruncated(t *testing.T) {
	_, srv := mwServer(t, Options{Faults: []FaultRule{{Route: "/api/2.0/ping", Kind: FaultTruncated}}})
	resp, body, err := mwDo(t, "GET", srv.URL+"/api/2.0/ping", "")
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
	}
	if resp.StatusCode != 200 || resp.ContentLength <= int64(len(body)) || len(body) == 0 {
		t.Errorf("got %d with %d of %d bytes, want 200 and part of the body", resp.StatusCode, len(body), resp.ContentLength)
	}
}

func TestFaultEmptyMembers(t *testing.T) {
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/1.0/groups/acme", `[{"members":[],"slug":"a"},{"members":[],"slug":"b"}]`},
		{"GET", "/1.0/groups/acme/a/members", `[]`},
		{"GET", "/api/2.0/preview/scim/v2/Groups", `{"Resources":[{"displayName":"g","id":"1"}],"startIndex":1,"totalResults":1}`},
		{"GET", "/api/2.0/preview/scim/v2/Groups/1", `{"displayName":"g","id":"1"}`},
		{"POST", "/admin/v1/orgs/o/directories/-/users/search", `{"data":[],"links":{}}`},
		{"GET", "/2.0/workspaces/acme/members", `{"size":0,"values":[]}`},
		{"GET", "/api/2.0/preview/scim/v2/Users", `{"Resources":[],"itemsPerPage":0,"startIndex":1,"totalResults":0}`},
		{"GET", "/api/2.0/token-management/tokens", `{}`},
		{"GET", "/api/2.0/ping", `{"ok":true,"padding":"0123456789012345678901234567890123456789"}`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			_, srv := mwServer(t, Options{Faults: []FaultRule{{Route: "/**", Kind: FaultEmptyMembers}}})
			resp, body, err := mwDo(t, tc.method, srv.URL+tc.path, "")
			if err != nil || resp.StatusCode != 200 {
				t.Fatal(resp, err)
			}
			if got := strings.TrimSpace(string(body)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestFaultSequenceIsExact(t *testing.T) {
	_, srv := mwServer(t, Options{Faults: []FaultRule{
		{Route: "/api/2.0/ping", Sequence: []FaultKind{Fault503, FaultNone, Fault429}},
		{Route: "/api/2.0/preview/scim/v2/Groups/*", Method: "GET", Kind: Fault500, Count: 2},
	}})
	var got []int
	for range 5 {
		got = append(got, mwStatus(t, srv.URL+"/api/2.0/ping"))
	}
	for range 4 {
		got = append(got, mwStatus(t, srv.URL+"/api/2.0/preview/scim/v2/Groups/7"))
	}
	want := []int{503, 200, 429, 200, 200, 500, 500, 200, 200}
	if !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
}

func TestFaultFirstInjectingRuleWins(t *testing.T) {
	s, srv := mwServer(t, Options{Faults: []FaultRule{
		{Route: "/api/**", Sequence: []FaultKind{FaultNone, Fault503}},
		{Route: "/api/2.0/ping", Sequence: []FaultKind{Fault429, Fault500, Fault500Limit}},
	}})
	var got []int
	for range 4 {
		got = append(got, mwStatus(t, srv.URL+"/api/2.0/ping"))
	}
	// the second rule sees the 1st, 3rd and 4th requests only
	if want := []int{429, 503, 500, 500}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if st := s.Stats(); st.Faults["503"] != 1 || st.Faults["429"] != 1 || st.Faults["500"] != 1 || st.Faults["500_limit"] != 1 {
		t.Errorf("fault stats %v", st.Faults)
	}
}

func TestFaultProbability(t *testing.T) {
	s := New(NewOrg(nil), Options{RandSeed: 7, Faults: []FaultRule{{Route: "/api/2.0/ping", Kind: Fault503, Probability: 0.2}}})
	routes := mwRoutes()
	faults := 0
	const n = 2000
	for range n {
		w := httptest.NewRecorder()
		s.mw.serve(w, httptest.NewRequest("GET", "/api/2.0/ping", nil), routes, "databricks")
		if w.Code == 503 {
			faults++
		}
	}
	if faults < n*15/100 || faults > n*25/100 {
		t.Errorf("%d of %d requests faulted, want about 20%%", faults, n)
	}
	// Count caps a random rule.
	s.SetFaults([]FaultRule{{Route: "/api/2.0/ping", Kind: Fault503, Probability: 0.5, Count: 3}})
	faults = 0
	for range 100 {
		w := httptest.NewRecorder()
		s.mw.serve(w, httptest.NewRequest("GET", "/api/2.0/ping", nil), routes, "databricks")
		if w.Code == 503 {
			faults++
		}
	}
	if faults != 3 {
		t.Errorf("%d faults, want Count's 3", faults)
	}
}

func TestSCIMConcurrencyLimit(t *testing.T) {
	// Every accepted request sleeps in latency, so all five are in flight
	// together; the limit of 4 refuses exactly one, at once.
	s, srv := mwServer(t, Options{Latency: 500 * time.Millisecond})
	var wg sync.WaitGroup
	var limited, ok atomic.Int32
	for range 5 {
		wg.Go(func() {
			resp, body, err := mwDo(t, "GET", srv.URL+"/api/2.0/preview/scim/v2/Groups", "")
			switch {
			case err != nil:
				t.Error(err)
			case resp.StatusCode == 500 && strings.Contains(string(body), "REQUEST_LIMIT_EXCEEDED"):
				limited.Add(1)
			case resp.StatusCode == 200:
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if limited.Load() != 1 || ok.Load() != 4 {
		t.Errorf("%d limited, %d ok; want 1 and 4", limited.Load(), ok.Load())
	}
	if st := s.Stats(); st.Refused["scim_concurrency"] != 1 || st.Routes["databricks GET /api/2.0/preview/scim/v2/Groups"] != 5 {
		t.Errorf("stats %+v", st)
	}
	// Non-SCIM requests are not limited, nor SCIM ones when the limit is off.
	_, srv = mwServer(t, Options{Latency: 200 * time.Millisecond, SCIMConcurrency: -1})
	for range 6 {
		wg.Go(func() {
			if got := mwStatus(t, srv.URL+"/api/2.0/preview/scim/v2/Groups"); got != 200 {
				t.Errorf("unlimited: got %d", got)
			}
		})
	}
	wg.Wait()
}

func TestBitbucketHourlyBudget(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC).Unix())
	s, srv := mwServer(t, Options{BitbucketHourlyBudget: 3})
	s.Org.Now = func() time.Time { return time.Unix(clock.Load(), 0) }
	get := func(path, auth string) int {
		resp, body, err := mwDo(t, "GET", srv.URL+path, auth)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == 429 && !strings.Contains(string(body), `"type":"error"`) {
			t.Errorf("429 without Bitbucket's error body: %s", body)
		}
		return resp.StatusCode
	}
	alice := "Basic " + mwBasic("alice@acme.com", "token")
	var got []int
	got = append(got, get("/2.0/user", alice), get("/1.0/groups/acme", alice), get("/2.0/user", alice))
	clock.Add(30 * 60)
	got = append(got, get("/2.0/user", alice), get("/2.0/user", "Basic "+mwBasic("bob@acme.com", "x")),
		get("/2.0/user", "Bearer abc"), get("/api/2.0/ping", alice))
	clock.Add(31 * 60) // the first three leave the hour
	got = append(got, get("/2.0/user", alice))
	if want := []int{200, 200, 200, 429, 200, 200, 200, 200}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if n := s.Stats().Refused["bitbucket_budget"]; n != 1 {
		t.Errorf("refused %d, want 1", n)
	}
}

func TestLatency(t *testing.T) {
	ls, srv := mwServer(t, Options{Latency: 60 * time.Millisecond, Jitter: 20 * time.Millisecond})
	if got := mwStatus(t, srv.URL+"/api/2.0/ping"); got != 200 {
		t.Fatal(got)
	}
	// The pause each request gets, not a stopwatch: no wall-clock assertions.
	for range 50 {
		if d := ls.mw.pause(); d < 60*time.Millisecond || d >= 80*time.Millisecond {
			t.Fatalf("pause %v, want 60ms plus up to 20ms of jitter", d)
		}
	}

	// A client that gives up ends the wait, and the handler never runs.
	s := New(NewOrg(nil), Options{Latency: time.Hour})
	ran := false
	mux := http.NewServeMux()
	mux.HandleFunc("/api/2.0/ping", func(http.ResponseWriter, *http.Request) { ran = true })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	s.mw.serve(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, "GET", "/api/2.0/ping", nil), mux, "databricks")
	if ran {
		t.Error("the handler ran for a cancelled request")
	}
}

func TestStatsCountRoutesAndFamilies(t *testing.T) {
	s, srv := mwServer(t, Options{})
	for _, p := range []string{"/api/2.0/ping", "/api/2.0/ping", "/api/2.0/preview/scim/v2/Groups/3", "/2.0/user", "/2.0/nowhere", "/_emulator/healthz"} {
		mwStatus(t, srv.URL+p)
	}
	st := s.Stats()
	want := map[string]int64{
		"databricks GET /api/2.0/ping":                        2,
		"databricks GET /api/2.0/preview/scim/v2/Groups/{id}": 1,
		"bitbucket GET /2.0/user":                             1,
		"bitbucket unmatched":                                 1,
	}
	if st.Total != 5 || st.Families["databricks"] != 3 || st.Families["bitbucket"] != 2 || !maps.Equal(st.Routes, want) {
		t.Errorf("stats %+v", st)
	}
	s.ResetStats()
	if st := s.Stats(); st.Total != 0 || len(st.Routes) != 0 {
		t.Errorf("after reset: %+v", st)
	}
}

func TestParseFaults(t *testing.T) {
	rules, err := ParseFaults(`GET /api/2.0/preview/scim/v2/Groups*=429@0.2;
		/1.0/groups/**=empty_members#1
		/api/2.0/token-management/**=503*2,ok,reset ; POST /2.0/workspaces/{workspace}/members=500,
		@dev PATCH /api/2.0/preview/scim/v2/Groups/*=429`)
	if err != nil {
		t.Fatal(err)
	}
	want := []FaultRule{
		{Method: "GET", Route: "/api/2.0/preview/scim/v2/Groups*", Kind: Fault429, Probability: 0.2},
		{Route: "/1.0/groups/**", Kind: FaultEmptyMembers, Count: 1},
		{Route: "/api/2.0/token-management/**", Sequence: []FaultKind{Fault503, Fault503, FaultNone, FaultReset}},
		{Method: "POST", Route: "/2.0/workspaces/{workspace}/members", Sequence: []FaultKind{Fault500}},
		{Workspace: "dev", Method: "PATCH", Route: "/api/2.0/preview/scim/v2/Groups/*", Kind: Fault429},
	}
	if len(rules) != len(want) {
		t.Fatalf("got %d rules, want %d: %+v", len(rules), len(want), rules)
	}
	for i := range want {
		if got := rules[i].String(); got != want[i].String() {
			t.Errorf("rule %d: got %s, want %s", i, got, want[i])
		}
		back, err := ParseFaults(rules[i].String())
		if err != nil || len(back) != 1 || back[0].String() != rules[i].String() {
			t.Errorf("rule %d does not round-trip: %v %v", i, back, err)
		}
	}
	for _, bad := range []string{"/x", "/x=418", "x=429", "/x=429@2", "/x=429@0", "/x=429#0", "/x=429*a,ok", "get! /x=429", "/x=", "@ /x=429"} {
		if _, err := ParseFaults(bad); err == nil {
			t.Errorf("ParseFaults(%q) accepted", bad)
		}
	}
	if _, err := ParseFaults("/x=teapot"); err == nil || !strings.Contains(err.Error(), "500_limit") {
		t.Errorf("an unknown kind's error should list the kinds: %v", err)
	}
}

func TestFaultRouteMatching(t *testing.T) {
	for _, tc := range []struct {
		route, method, path, pattern string
		want                         bool
	}{
		{"/api/2.0/preview/scim/v2/*", "GET", "/api/2.0/preview/scim/v2/Groups", "", true},
		{"/api/2.0/preview/scim/v2/*", "GET", "/api/2.0/preview/scim/v2/Groups/1", "", false},
		{"/api/2.0/preview/scim/v2/Groups*", "GET", "/api/2.0/preview/scim/v2/Groups", "", true},
		{"/api/2.0/preview/scim/v2/Groups**", "GET", "/api/2.0/preview/scim/v2/Groups/1", "", true},
		{"/1.0/groups/**", "GET", "/1.0/groups", "", true},
		{"/1.0/groups/**", "GET", "/1.0/groups/acme/a/members", "", true},
		{"/1.0/groups/*/*/members", "GET", "/1.0/groups/acme/a/members", "", true},
		{"/1.0/groups/*/members", "GET", "/1.0/groups/acme/a/members", "", false},
		{"/2.0/workspaces/{workspace}/members", "GET", "/2.0/workspaces/acme/members", "GET /2.0/workspaces/{workspace}/members", true},
		{"/2.0/workspaces/{workspace}/members", "GET", "/2.0/workspaces/acme/members", "GET /2.0/workspaces/{workspace}/permissions", false},
		{"POST /**", "GET", "/x", "", false},
	} {
		r, err := FaultRule{Route: tc.route, Kind: Fault500}.normalize()
		if err != nil {
			t.Fatal(err)
		}
		if got := r.matches(tc.method, tc.path, tc.pattern); got != tc.want {
			t.Errorf("%s matches %s %s (%s): got %v", tc.route, tc.method, tc.path, tc.pattern, got)
		}
	}
	dev := FaultRule{Workspace: "dev", Route: "/x", Kind: Fault429}
	for ws, want := range map[string]bool{"dev": true, "prod": false, "": false} {
		if got := dev.inWorkspace(ws) && dev.matches("PATCH", "/x", ""); got != want {
			t.Errorf("a rule of workspace dev matches a request of workspace %q: got %v", ws, got)
		}
	}
}

func TestInvalidOptionsFaultsPanic(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "Options.Faults") {
			t.Errorf("recovered %v", r)
		}
	}()
	New(NewOrg(nil), Options{Faults: []FaultRule{{Route: "/x", Kind: "teapot"}}})
}

func mwBasic(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// TestFaultEmptyMembersOnRealHandlers empties the answers of the real
// handlers once per rule, then lets them through.
func TestFaultEmptyMembersOnRealHandlers(t *testing.T) {
	org := Demo(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	rules, err := ParseFaults("/1.0/groups/**=empty_members#1; /api/2.0/preview/scim/v2/Groups**=empty_members#1; /admin/**=empty_members#1")
	if err != nil {
		t.Fatal(err)
	}
	s := New(org, Options{Faults: rules})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	c := org.Creds
	calls := []struct {
		method, path, auth, body, emptied, full string
	}{
		{"GET", "/1.0/groups/acme", "Basic " + mwBasic(c.BitbucketUsername, c.BitbucketAPIToken), "", `"members":[]`, `"members":[{`},
		{"GET", "/api/2.0/preview/scim/v2/Groups", "Bearer " + c.DatabricksToken, "", `"displayName":"de-team"`, `"members":[{`},
		{"POST", "/admin/v2/orgs/" + org.Admin.OrgID + "/directories/-/users/search", "Bearer " + c.AtlassianAdminKey, `{"limit":10}`, `"data":[]`, `"accountId"`},
	}
	for _, call := range calls {
		for i, want := range []string{call.emptied, call.full} {
			req, _ := http.NewRequest(call.method, srv.URL+call.path, strings.NewReader(call.body))
			req.Header.Set("Authorization", call.auth)
			req.Header.Set("Content-Type", "application/json")
			resp, err := mwClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
				t.Errorf("%s call %d: %d, want %q in %.300s", call.path, i+1, resp.StatusCode, want, body)
			}
			if i == 0 && strings.Contains(string(body), call.full) {
				t.Errorf("%s: the first answer still has %s: %.300s", call.path, call.full, body)
			}
		}
	}
	if st := s.Stats(); st.Faults["empty_members"] != 3 {
		t.Errorf("stats: %+v", st.Faults)
	}
}

// TestFaultRouteQuery: a rule whose route names query parameters applies
// only to requests whose parameters match (the departures ledger's read,
// not the lease's, on the same path).
func TestFaultRouteQuery(t *testing.T) {
	rules, err := ParseFaults("GET /api/2.0/workspace/export?path=**departures*=404_endpoint")
	if err != nil || len(rules) != 1 {
		t.Fatalf("%v %v", rules, err)
	}
	r := rules[0]
	for _, tc := range []struct {
		query string
		want  bool
	}{
		{"path=/Shared/.bitbricks/departures.json&format=SOURCE", true},
		{"path=/Shared/.bitbricks/lease/writer.1.json&format=SOURCE", false},
		{"", false},
	} {
		q, _ := url.ParseQuery(tc.query)
		if got := r.matchesQuery("GET", "/api/2.0/workspace/export", "", q); got != tc.want {
			t.Errorf("%s ?%s: got %v, want %v", r.Route, tc.query, got, tc.want)
		}
	}
	if r.matchesQuery("POST", "/api/2.0/workspace/export", "", url.Values{"path": {"/Shared/.bitbricks/departures.json"}}) {
		t.Error("the rule matches another method")
	}
}
