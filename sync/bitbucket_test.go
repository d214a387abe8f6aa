package sync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
)

// fastRetries shortens the Bitbucket and Atlassian backoff for tests.
func fastRetries(src Sources) {
	if bb, ok := src.Bitbucket.(*Bitbucket); ok {
		bb.http.Transport.(*retryTransport).unit = time.Millisecond
	}
	if a, ok := src.Atlassian.(*Atlassian); ok {
		a.http.Transport.(*retryTransport).unit = time.Millisecond
	}
}

// TestBitbucketPagingAndBatches reads a workspace whose groups hold over 200
// people: the emails come in batches of 100, the groups in one call, and the
// workspace member list is not read page by page: departures are checked by
// email, for the few people they could concern.
func TestBitbucketPagingAndBatches(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	var ids []string
	for i := range 170 {
		u := e.org.AddBBUser(emulator.BBUser{Email: fmt.Sprintf("extra%03d@acme.com", i), InWorkspace: true})
		ids = append(ids, u.AccountID)
	}
	e.org.AddBBGroup(emulator.BBGroup{Slug: "extras", Name: "extras", Members: ids})
	snap := e.read(t)
	if len(snap.Members) != 0 || snap.MembersKnown || !snap.PresenceKnown {
		t.Errorf("members = %d (known %v), presence known %v: want the email check instead of the list", len(snap.Members), snap.MembersKnown, snap.PresenceKnown)
	}
	if got := len(snap.Emails); got < 170+30 {
		t.Errorf("emails = %d, want over 200", got)
	}
	st := e.srv.Stats()
	if n := st.Routes["bitbucket GET /2.0/workspaces/{workspace}/members"]; n != 1 {
		t.Errorf("member requests = %d, want 1 (the departure check by email)", n)
	}
	// Three batches of account ids, one of the addresses the email filter
	// answered absent.
	if n := st.Routes["atlassian POST /admin/v2/orgs/{orgId}/directories/{directoryId}/users/search"]; n != 4 {
		t.Errorf("users/search batches = %d, want 4", n)
	}
	if n := st.Routes["bitbucket GET /1.0/groups/{workspace}"]; n != 1 {
		t.Errorf("/1.0/groups calls = %d, want 1", n)
	}
}

func TestBitbucketRetriesAndShortPages(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	for i := range 120 {
		e.org.AddBBUser(emulator.BBUser{Email: fmt.Sprintf("extra%03d@acme.com", i), InWorkspace: true})
	}
	fastRetries(e.src)
	e.srv.SetFaults([]emulator.FaultRule{
		{Route: "/1.0/groups/**", Sequence: []emulator.FaultKind{emulator.Fault429, emulator.Fault503}},
		{Route: "/admin/v2/orgs/*/directories/*/users/search", Sequence: []emulator.FaultKind{emulator.Fault429}},
		// The second page of members is cut short: an error, not a short list.
		{Route: "/2.0/workspaces/{workspace}/members", Sequence: []emulator.FaultKind{emulator.FaultNone, emulator.FaultTruncated}},
	})
	snap := e.read(t)
	if g := snap.Groups["data-engineers"]; g == nil || !g.Known {
		t.Errorf("429 then 503 on /1.0/groups were not retried: %+v", g)
	}
	if snap.MembersKnown || len(snap.Members) != 0 {
		t.Errorf("a truncated member page gave MembersKnown %v with %d members", snap.MembersKnown, len(snap.Members))
	}
	if st := e.srv.Stats(); st.Faults["429"] != 2 || st.Faults["503"] != 1 {
		t.Errorf("faults served: %v", st.Faults)
	}
	// The group members (34 accounts, the guest through the identity map) still resolve.
	if len(snap.Emails) != 34 {
		t.Errorf("emails = %d after a retried users/search, want 34", len(snap.Emails))
	}
}

func TestRetryTransportHonoursContext(t *testing.T) {
	e := newDemo(t, emulator.Options{Faults: []emulator.FaultRule{{Route: "/1.0/groups/**", Kind: emulator.Fault429}}})
	bb := e.src.Bitbucket.(*Bitbucket)
	bb.http.Transport.(*retryTransport).unit = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// With an hour of backoff, only the context can end the call: its error
	// proves the wait honoured it (no stopwatch needed).
	_, err := bb.Groups(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Groups = %v, want the context's deadline error", err)
	}
}

func TestBitbucketVariables(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	e.org.AddVariable("", "", emulator.BBVariable{Key: "SHARED_TOKEN", Value: "s3cr3t-value", Secured: true})
	e.org.AddVariable("", "", emulator.BBVariable{Key: "REGION", Value: "eu"})
	bb := e.src.Bitbucket.(*Bitbucket)
	ws, err := bb.Variables(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Variable{}
	for _, v := range ws {
		got[v.Key] = v
	}
	if v := got["SHARED_TOKEN"]; !v.Secured || v.Value != "" {
		t.Errorf("secured workspace variable = %+v", v)
	}
	if v := got["REGION"]; v.Value != "eu" {
		t.Errorf("plain workspace variable = %+v", v)
	}
	env, err := bb.Variables(context.Background(), "ml-models", "production")
	if err != nil || len(env) != 3 {
		t.Errorf("ml-models Production variables = %+v, %v", env, err)
	}
	if _, err := bb.Variables(context.Background(), "ml-models", "Nowhere"); err == nil || !strings.Contains(err.Error(), `no deployment environment "Nowhere"`) {
		t.Errorf("missing environment: %v", err)
	}
}

func TestNewBitbucketEnv(t *testing.T) {
	cfg := &config.Config{Bitbucket: config.BitbucketConfig{Workspace: "acme", BaseURL: "https://bb.example/2.0/"}}
	for _, tc := range []struct {
		env              map[string]string
		v2, v1, auth, er string
	}{
		{map[string]string{"BITBUCKET_USERNAME": "a@b.c", "BITBUCKET_API_TOKEN": "t"}, "https://bb.example/2.0", "https://bb.example/1.0", "Basic ", ""},
		{map[string]string{"BITBUCKET_ACCESS_TOKEN": "x", "BITBUCKET_API_BASE_URL": "http://127.0.0.1:9/2.0"}, "http://127.0.0.1:9/2.0", "http://127.0.0.1:9/1.0", "Bearer x", ""},
		{map[string]string{}, "", "", "", "bitbucket: no credentials (set BITBUCKET_USERNAME and BITBUCKET_API_TOKEN, or BITBUCKET_ACCESS_TOKEN)"},
	} {
		b, err := NewBitbucket(cfg, MapEnv(tc.env))
		if tc.er != "" {
			if err == nil || err.Error() != tc.er {
				t.Errorf("%v: err %v, want %q", tc.env, err, tc.er)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", "http://x", nil)
		b.auth(req)
		if b.v2 != tc.v2 || b.v1 != tc.v1 || !strings.HasPrefix(req.Header.Get("Authorization"), tc.auth) || b.http.Timeout == 0 {
			t.Errorf("%v: v2 %s v1 %s auth %q timeout %s", tc.env, b.v2, b.v1, req.Header.Get("Authorization"), b.http.Timeout)
		}
	}
}

// A service whose next link does not advance ends the listing with an error,
// not an endless loop (and not a short list of members).
func TestPagingThatDoesNotAdvance(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		next := "http://" + r.Host + r.URL.Path + "?pagelen=100&page=2" // always the same
		switch {
		case strings.HasSuffix(r.URL.Path, "/members"):
			fmt.Fprintf(w, `{"values":[{"user":{"account_id":"a1","uuid":"{u1}"}}],"next":%q}`, next)
		case strings.HasSuffix(r.URL.Path, "/pipelines-config/variables"):
			fmt.Fprintf(w, `{"values":[{"uuid":"{v1}","key":"K","value":"v"}],"next":%q}`, next)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cfg := &config.Config{Bitbucket: config.BitbucketConfig{Workspace: "acme"}}
	bb, err := NewBitbucket(cfg, MapEnv(map[string]string{"BITBUCKET_API_BASE_URL": srv.URL + "/2.0", "BITBUCKET_ACCESS_TOKEN": "t"}))
	if err != nil {
		t.Fatal(err)
	}
	// No deadline: a pager that never ended would hang until go test's
	// -timeout, a failure too; a deadline could only fail a slow machine.
	ctx := context.Background()
	if ms, err := bb.Members(ctx); err == nil || !strings.Contains(err.Error(), "does not advance") {
		t.Errorf("Members = %d members, %v; want a 'does not advance' error", len(ms), err)
	}
	if vs, err := bb.Variables(ctx, "", ""); err == nil || !strings.Contains(err.Error(), "does not advance") {
		t.Errorf("workspace variables = %d, %v; want a 'does not advance' error", len(vs), err)
	}
}

// environmentListings counts the requests that listed deployment environments.
func environmentListings(e *demoEnv) int64 {
	var n int64
	for route, c := range e.srv.Stats().Routes {
		if strings.HasPrefix(route, "bitbucket GET ") && strings.Contains(route, "/environments") &&
			!strings.Contains(route, "{environment_uuid}") {
			n += c
		}
	}
	return n
}

// A repository with more deployment environments than one page holds: the
// binding's environment is on a later page, and is found. A rotation lists
// the environments once, however often it reloads the variables.
func TestDeploymentEnvironmentsPaged(t *testing.T) {
	e := newCredEnv(t, config.Binding{Name: "deep-env", Repository: "many-envs", Environment: "Env 119", Variable: "DEEP_TOKEN",
		ServicePrincipal: "etl-deployer", Credential: config.CredentialPAT, Lifetime: config.Duration(45 * 24 * time.Hour)})
	e.org.AddRepo(emulator.BBRepo{Name: "many-envs"})
	for i := range 120 {
		e.org.AddEnvironment("many-envs", emulator.BBEnvironment{Name: fmt.Sprintf("Env %03d", i)})
	}
	e.org.AddVariable("many-envs", "Env 119", emulator.BBVariable{Key: "REGION", Value: "eu"})
	ctx := context.Background()
	bb := e.src.Bitbucket.(*Bitbucket)

	e.srv.ResetStats()
	vs, err := bb.Variables(ctx, "many-envs", "env 119")
	if err != nil || len(vs) != 1 || vs[0].Key != "REGION" {
		t.Fatalf("variables of the 120th environment = %+v, %v", vs, err)
	}
	if n := environmentListings(e.demoEnv); n != 2 {
		t.Errorf("%d environment pages read, want 2 (pagelen 100)", n)
	}

	b := e.binding(t, "deep-env")
	e.srv.ResetStats()
	res, err := e.creds.RotateBinding(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	e.mustConverge(t, b, res)
	e.mustWork(t, b)
	if n := environmentListings(e.demoEnv); n != 2 {
		t.Errorf("a rotation read %d environment pages, want 2: one listing, the uuid kept for every reload", n)
	}
}
