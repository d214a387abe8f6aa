package sync

import (
	"context"
	"errors"
	"strconv"
	"strings"
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
