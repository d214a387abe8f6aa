package sync

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
	"github.com/databricks/databricks-sdk-go/service/settings"
)

// TestWorkspaceIdentityRefused: `workspaces: all` with prod given dev's
// host (a typo'd BITBRICKS_WORKSPACE_HOSTS, with a credential valid there):
// the host answers as dev's workspace id, not prod's, so prod is refused in
// one line naming the name, the host and where the host came from (exit
// 3), and neither a read nor a rotation writes anything in any workspace.
func TestWorkspaceIdentityRefused(t *testing.T) {
	tw := newTwoWorkspaces(t)
	ctx := context.Background()
	hosts := tw.hosts()
	hosts[emulator.DemoWorkspace] = DatabricksOptions{Host: tw.dev.URL, Token: tw.org.Creds.WorkspaceTokens[emulator.DemoDevWorkspace]}
	svc, err := tw.allService(t, hosts)
	if err != nil {
		t.Fatal(err)
	}
	tw.srv.ResetStats()

	_, _, err = svc.Load(ctx)
	var ie *WorkspaceIdentityError
	if !errors.As(err, &ie) {
		t.Fatalf("load with prod at dev's host: %v, want a WorkspaceIdentityError", err)
	}
	tw.org.Mu.Lock()
	prodID, devID := tw.org.DB.WorkspaceID, tw.org.Workspaces[1].WorkspaceID
	tw.org.Mu.Unlock()
	if ie.Name != "prod" || ie.Want != prodID || ie.Got != devID || ie.Host != tw.dev.URL {
		t.Errorf("refusal %+v, want prod (id %d) answered as %d at %s", ie, prodID, devID, tw.dev.URL)
	}
	msg := err.Error()
	for _, want := range []string{"workspace prod", tw.dev.URL, "the host given for it", "nothing was read or written"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "\n") || ExitCode(err) != 3 {
		t.Errorf("exit %d, message %q: want one line, exit 3", ExitCode(err), msg)
	}

	// A rotation of prod's pipeline is refused before anything is written.
	if _, err := svc.Rotate(ctx, tw.cfg.Pipelines[0].Name); !errors.As(err, &ie) {
		t.Errorf("rotate in prod at dev's host: %v, want a WorkspaceIdentityError", err)
	}
	// Even a write that skips the service's checks goes nowhere: the
	// client itself refuses.
	p := svc.parts[1]
	if p.name != "prod" {
		t.Fatalf("parts: %v", svc.Workspaces())
	}
	if _, err := p.svc.src.Databricks.(*Databricks).w.Tokens.Create(ctx, settings.CreateTokenRequest{Comment: "x"}); !errors.As(err, &ie) {
		t.Errorf("a write through prod's client: %v, want a WorkspaceIdentityError", err)
	}
	st := tw.srv.Stats()
	for ws, n := range st.WorkspaceWrites {
		if n != 0 {
			t.Errorf("%d write(s) in %s", n, ws)
		}
	}
	t.Logf("refused: %s; requests per workspace %v", msg, st.Workspaces)

	// The right hosts: the same service confirms each workspace and plans.
	good, err := tw.allService(t, tw.hosts())
	if err != nil {
		t.Fatal(err)
	}
	if _, plan, err := good.Load(ctx); err != nil || len(plan.Changes) == 0 {
		t.Fatalf("load with the right hosts: %v (%d changes)", err, len(plan.Changes))
	}
}

// TestListedWorkspaceID: a listed workspace with a workspace_id is checked
// the same way: prod's entry claiming dev's id (or prod's host serving
// another workspace) is refused naming the config key that says it; the
// right id is confirmed and planned, with one Me request more per run.
func TestListedWorkspaceID(t *testing.T) {
	tw := newTwoWorkspaces(t)
	ctx := context.Background()
	tw.org.Mu.Lock()
	prodID, devID := tw.org.DB.WorkspaceID, tw.org.Workspaces[1].WorkspaceID
	tw.org.Mu.Unlock()
	tw.cfg.Databricks.Workspaces.List[0].WorkspaceID = strconv.FormatInt(devID, 10)
	tw.srv.ResetStats()
	_, _, err := tw.service(t).Load(ctx)
	var ie *WorkspaceIdentityError
	if !errors.As(err, &ie) || ie.Name != "prod" || ie.Got != prodID || ie.Want != devID || ExitCode(err) != 3 ||
		!strings.Contains(err.Error(), "databricks.workspaces[0].workspace_id says prod is workspace id "+strconv.FormatInt(devID, 10)) {
		t.Fatalf("prod claiming dev's id: %v", err)
	}
	if st := tw.srv.Stats(); st.WorkspaceWrites["prod"]+st.WorkspaceWrites["dev"] != 0 {
		t.Errorf("writes: %v", st.WorkspaceWrites)
	}
	t.Logf("refused: %v", err)

	tw.cfg.Databricks.Workspaces.List[0].WorkspaceID = strconv.FormatInt(prodID, 10)
	tw.cfg.Databricks.Workspaces.List[1].WorkspaceID = strconv.FormatInt(devID, 10)
	if _, plan, err := tw.service(t).Load(ctx); err != nil || len(plan.Changes) == 0 {
		t.Fatalf("the right ids: %v (%d changes)", err, len(plan.Changes))
	}
}

// TestIdentityGate: the gate on its own. A host whose Me answers without
// a workspace id is refused (it cannot be confirmed); while Me fails, a
// read goes out (its answer still checked) but a write is held back; once
// confirmed, requests pass with no further probe.
func TestIdentityGate(t *testing.T) {
	var orgID, meStatus atomic.Value
	orgID.Store("")
	meStatus.Store(http.StatusOK)
	var writes, probes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := orgID.Load().(string); id != "" {
			w.Header().Set(orgIDHeader, id)
		}
		switch {
		case r.URL.Path == mePath:
			probes.Add(1)
			w.WriteHeader(meStatus.Load().(int))
		case r.Method != http.MethodGet:
			writes.Add(1)
		}
	}))
	defer srv.Close()
	do := func(g *identityGate, method, path string) error {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := g.RoundTrip(req)
		if err == nil {
			drain(resp)
		}
		return err
	}
	want := workspaceIdentity{ID: 7, Name: "prod", From: "BITBRICKS_WORKSPACE_HOSTS entry prod=x"}

	// No id on Me's answer: refused, for good.
	g := &identityGate{base: http.DefaultTransport, want: want}
	var ie *WorkspaceIdentityError
	if err := do(g, http.MethodPost, "/api/2.0/token/create"); !errors.As(err, &ie) || ie.Got != 0 || !strings.Contains(err.Error(), "does not say which workspace it is") {
		t.Errorf("no id: %v", err)
	}
	if err := do(g, http.MethodGet, "/api/2.0/token/list"); !errors.As(err, &ie) {
		t.Errorf("after a refusal, a read: %v", err)
	}

	// Me failing (answers naming no workspace): a read goes out, a write
	// does not.
	meStatus.Store(http.StatusServiceUnavailable)
	g = &identityGate{base: http.DefaultTransport, want: want}
	if err := do(g, http.MethodGet, "/api/2.0/token/list"); err != nil {
		t.Errorf("a read while Me fails: %v", err)
	}
	if err := do(g, http.MethodPost, "/api/2.0/token/create"); err == nil || !strings.Contains(err.Error(), "cannot confirm") {
		t.Errorf("a write while Me fails: %v", err)
	}
	if writes.Load() != 0 {
		t.Errorf("%d writes went out unconfirmed", writes.Load())
	}
	// Me answers: confirmed; later requests need no probe.
	meStatus.Store(http.StatusOK)
	orgID.Store("7")
	if err := do(g, http.MethodPost, "/api/2.0/token/create"); err != nil || !g.confirmed() {
		t.Errorf("a write once Me answers 7: %v", err)
	}
	n := probes.Load()
	if err := do(g, http.MethodPost, "/api/2.0/token/create"); err != nil || probes.Load() != n || writes.Load() != 2 {
		t.Errorf("confirmed: %v, probes %d -> %d, writes %d", err, n, probes.Load(), writes.Load())
	}
	// Non-API paths (OAuth, host metadata) pass untouched.
	orgID.Store("8")
	if err := do(g, http.MethodPost, "/oidc/v1/token"); err != nil {
		t.Errorf("oauth: %v", err)
	}
	// An answer naming another workspace refuses it from then on.
	if err := do(g, http.MethodGet, "/api/2.0/token/list"); !errors.As(err, &ie) || ie.Got != 8 {
		t.Errorf("another id on an answer: %v", err)
	}
}
