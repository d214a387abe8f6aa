package tui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
	"github.com/bitbricks/bitbricks/sync"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
)

// The console over several workspaces: the demo account's prod and dev,
// each on a loopback host of its own, read by the real SDK clients through
// one sync.Service.

// twoWorkspaceEnv is engineEnv over prod and dev; srv counts requests per
// workspace.
type twoWorkspaceEnv struct {
	*engineEnv
	srv *emulator.Server
	// down makes a workspace's host answer every workspace API request
	// 500, as a workspace that is down does (the SDK does not retry it).
	// Bitbucket, the Atlassian directory and the account API, which the
	// demo serves on prod's host too, live elsewhere in reality and stay up.
	down map[string]*atomic.Bool
	// drop makes a workspace's host close every workspace API connection
	// unanswered, as a host that is unreachable does (the others stay up,
	// as with down).
	drop map[string]*atomic.Bool
}

// workspaceAPI reports a path of a workspace's own API, which goes down
// with its host (not Bitbucket's, the directory's or the account's).
func workspaceAPI(path string) bool {
	return strings.HasPrefix(path, "/api/") && !strings.HasPrefix(path, "/api/2.0/accounts/")
}

func newTwoWorkspaceEnv(t testing.TB) *twoWorkspaceEnv {
	t.Helper()
	org := emulator.Demo(testNow)
	srv := emulator.New(org, emulator.Options{})
	hosts := map[string]string{}
	down, drop := map[string]*atomic.Bool{}, map[string]*atomic.Bool{}
	for _, name := range []string{emulator.DemoWorkspace, emulator.DemoDevWorkspace} {
		h, d, dr := srv.WorkspaceHandler(name), new(atomic.Bool), new(atomic.Bool)
		down[name], drop[name] = d, dr
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if dr.Load() && workspaceAPI(r.URL.Path) {
				if hj, ok := w.(http.Hijacker); ok {
					if c, _, err := hj.Hijack(); err == nil {
						c.Close()
						return
					}
				}
			}
			if d.Load() && workspaceAPI(r.URL.Path) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, `{"error_code":"INTERNAL_ERROR","message":"the workspace is down"}`)
				return
			}
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(hs.Close)
		hosts[name] = hs.URL
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "bitbricks.yaml")
	_, idmap := emulator.DemoConfigFiles(org, hosts[emulator.DemoWorkspace])
	if err := os.WriteFile(filepath.Join(dir, "identities.yaml"), idmap, 0o600); err != nil {
		t.Fatal(err)
	}
	// The demo's config over both workspaces, each by its host (not a
	// profile: the test reads no Databricks config file).
	src := string(emulator.DemoWorkspacesConfig(org, hosts[emulator.DemoWorkspace]))
	for name, host := range hosts {
		src = strings.Replace(src, "profile: bitbricks-demo-"+name+"}", fmt.Sprintf("host: %q}", host), 1)
	}
	src += "audit:\n  file: " + filepath.Join(dir, "audit.jsonl") + "\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]sync.DatabricksOptions{}
	for name, host := range hosts {
		per[name] = sync.DatabricksOptions{Host: host, Token: org.Creds.WorkspaceTokens[name], RateLimit: 1000}
	}
	srcs, err := sync.NewSources(cfg, sync.SourceOptions{
		Env: sync.MapEnv(map[string]string{
			"BITBUCKET_USERNAME":      org.Creds.BitbucketUsername,
			"BITBUCKET_API_TOKEN":     org.Creds.BitbucketAPIToken,
			"ATLASSIAN_ADMIN_API_KEY": org.Creds.AtlassianAdminKey,
		}),
		Databricks: sync.DatabricksOptions{RateLimit: 1000, Workspaces: per,
			AccountClientID: org.Creds.AccountClientID, AccountClientSecret: org.Creds.AccountClientSecret},
	})
	if err != nil {
		t.Fatal(err)
	}
	svc := sync.NewService(srcs, cfg, sync.ServiceOptions{Now: func() time.Time { return testNow }, StateDir: t.TempDir()})
	if got := svc.Workspaces(); len(got) != 2 {
		t.Fatalf("the service serves %q, want prod and dev", got)
	}
	return &twoWorkspaceEnv{engineEnv: &engineEnv{org: org, svc: svc, b: NewEngineBackend(svc), path: path}, srv: srv, down: down, drop: drop}
}

// screen is the console's view with the emulator's ports masked.
func screen(m Model) []byte {
	return loopback.ReplaceAll([]byte(m.View()), []byte("127.0.0.1:port"))
}

// TestWorkspaceSwitcherGoldens: w opens the switcher over the demo's two
// workspaces, all of them first; the header names the scope.
func TestWorkspaceSwitcherGoldens(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	for _, size := range [][2]int{{120, 34}, {80, 24}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := loaded(t, e.b, size[0], size[1], false)
			if !strings.Contains(m.headerView(), "all workspaces (2)") {
				t.Errorf("the header does not name the scope:\n%s", m.headerView())
			}
			m = keys(t, m, "w")
			if m.modal != modalPicker {
				t.Fatalf("w opened no switcher:\n%s", m.View())
			}
			golden.RequireEqual(t, screen(m))
		})
	}
}

// TestAllWorkspacesCredentials: in all workspaces the inventory is every
// workspace's, each credential naming its workspace in a column of its own.
func TestAllWorkspacesCredentials(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	m := keys(t, loaded(t, e.b, 120, 34, false), "3")
	golden.RequireEqual(t, screen(m))
	byWS := map[string]int{}
	for _, c := range viewOf[*credentialsView](t, m).table.Items() {
		byWS[c.Workspace]++
	}
	if byWS[emulator.DemoWorkspace] == 0 || byWS[emulator.DemoDevWorkspace] == 0 || len(byWS) != 2 {
		t.Errorf("credentials by workspace = %v, want prod's and dev's", byWS)
	}
	// dev alone: only dev's tokens, and no workspace column.
	m = pick(t, m, emulator.DemoDevWorkspace)
	items := viewOf[*credentialsView](t, m).table.Items()
	for _, c := range items {
		if c.Workspace != emulator.DemoDevWorkspace {
			t.Errorf("workspace dev shows %s of %s", c.ID, c.Workspace)
		}
	}
	if len(items) != byWS[emulator.DemoDevWorkspace]+accountWide(items) || len(items) == 0 {
		t.Errorf("workspace dev shows %d credentials, all workspaces %d of dev", len(items), byWS[emulator.DemoDevWorkspace])
	}
	if strings.Contains(viewOf[*credentialsView](t, m).View(), "workspace") || !strings.Contains(m.headerView(), "workspace dev") {
		t.Errorf("workspace dev:\n%s", m.View())
	}
}

// accountWide counts the credentials that are not a workspace's tokens
// (OAuth secrets, Atlassian API tokens): each is listed once in all
// workspaces (under the first that lists it), and in every workspace alone.
func accountWide(items []sync.CredentialStatus) int {
	n := 0
	for _, c := range items {
		if c.Kind == sync.CredentialOAuthSecret || c.Kind == sync.CredentialAtlassianToken {
			n++
		}
	}
	return n
}

// pick chooses workspace name in the switcher.
func pick(t testing.TB, m Model, name string) Model {
	t.Helper()
	m = keys(t, m, "w")
	m = keys(t, m, strings.Split(name, "")...)
	m = keys(t, m, "enter")
	if m.scope != name || m.d.ws.name != name {
		t.Fatalf("picked %s, the scope is %q", name, m.scope)
	}
	return m
}

// TestEveryViewFollowsTheScope: each view shows what belongs to the chosen
// workspace, and the counts follow. The views are shared by the copies of
// the model, so each scope is checked before the next is chosen.
func TestEveryViewFollowsTheScope(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	m := loaded(t, e.b, 200, 50, false)

	// All workspaces.
	all := len(m.d.plan.Changes)
	allBindings := len(viewOf[*pipelinesView](t, m).table.Items())
	if v := keys(t, m, "4").View(); !strings.Contains(v, "workspace") || !strings.Contains(v, " prod ") {
		t.Errorf("all workspaces' pipelines have no workspace column:\n%s", v)
	}
	m = keys(t, m, "5")
	if v := viewOf[*planView](t, m).View(); !strings.Contains(v, "workspace") || !strings.Contains(v, " dev ") || !strings.Contains(v, " prod ") {
		t.Errorf("all workspaces' plan does not name the workspaces:\n%s", v)
	}
	// Principals: an account group is one row in all workspaces; each
	// workspace's own de-team is a row naming its workspace.
	count := func(m Model, name string) (n int, details []string) {
		for _, r := range m.d.principal {
			if r.Kind == "group" && r.Name == name {
				n++
				details = append(details, r.Detail)
			}
		}
		return n, details
	}
	for _, r := range m.d.principal {
		if r.Name == "alice@acme.com" {
			_, body := viewOf[*principalsView](t, m).principalDetail(r)
			if !strings.Contains(body, "prod · de-team") || !strings.Contains(body, "dev · de-team") {
				t.Errorf("alice's detail in all workspaces does not name both de-teams:\n%s", body)
			}
		}
	}
	if n, d := count(m, "platform-eng"); n != 1 {
		t.Errorf("all workspaces list the account group platform-eng %d times: %q", n, d)
	}
	if n, d := count(m, "de-team"); n != 2 || !strings.Contains(strings.Join(d, "|"), "workspace dev") {
		t.Errorf("all workspaces list de-team %d times: %q; want prod's and dev's, each named", n, d)
	}
	// Mappings: an account group's members once in all workspaces; a
	// workspace's own group's members each with their workspace.
	for _, r := range m.d.groups {
		seen := map[string]bool{}
		for _, mr := range m.d.membersOf(r) {
			if seen[mr.Key] || seen[mr.Name] {
				t.Errorf("%s lists %s twice in all workspaces", r.Target, mr.Name)
			}
			seen[mr.Key], seen[mr.Name] = true, true
			if r.Target == "de-team" && !strings.HasPrefix(mr.Name, "prod · ") && !strings.HasPrefix(mr.Name, "dev · ") {
				t.Errorf("de-team's member %q does not name its workspace", mr.Name)
			}
		}
	}
	if r := keys(t, m, "!"); r.modal != modalLeaked || !strings.Contains(r.View(), "Traced in every workspace, whichever is shown: prod, dev.") {
		t.Errorf("! in all workspaces: modal %d, status %q", r.modal, r.status)
	}
	m = keys(t, m, "3", "/", "t", "o", "k", "enter")

	// dev.
	m = pick(t, m, emulator.DemoDevWorkspace)
	dev := len(m.d.plan.Changes)
	assigns := 0
	for _, c := range m.d.plan.Changes {
		shared := c.GroupKind == sync.KindAccount && (c.Action == sync.ActionAddMember || c.Action == sync.ActionRemoveMember)
		if c.Workspace != emulator.DemoDevWorkspace && !shared {
			t.Errorf("dev's plan holds %s of %s", c.ID, c.Workspace)
		}
		if c.Action == sync.ActionAssignWorkspace {
			assigns++
		}
	}
	if assigns == 0 {
		t.Error("dev's plan assigns nobody to dev")
	}
	for _, f := range m.d.plan.Findings {
		if f.Workspace != emulator.DemoDevWorkspace {
			t.Errorf("dev's findings hold %s %s of %s", f.Kind, f.Subject, f.Workspace)
		}
	}
	if !strings.Contains(m.headerView(), fmt.Sprintf("drift %d ", dev)) || !strings.Contains(m.renderTabs(), fmt.Sprintf("Plan (%d)", dev)) {
		t.Errorf("the header's drift and the plan's badge do not follow the scope: %s\n%s", m.headerView(), m.renderTabs())
	}
	if n := len(viewOf[*pipelinesView](t, m).table.Items()); n != 0 {
		t.Errorf("dev shows %d pipeline bindings, want none (they are prod's)", n)
	}
	if v := keys(t, m, "4").View(); !strings.Contains(v, "no pipeline bindings in workspace dev") {
		t.Errorf("dev's empty pipelines do not say why:\n%s", v)
	}
	if r := keys(t, m, "!"); r.modal != modalLeaked {
		t.Errorf("! in workspace dev opened no leaked-token input: %q", r.status)
	}
	if got := viewOf[*credentialsView](t, m).Filter(); got != "tok" {
		t.Errorf("the filter after a switch is %q, want it kept", got)
	}
	if v := viewOf[*planView](t, m).View(); strings.Contains(strings.Split(v, "\n")[1], "workspace") {
		t.Errorf("dev's plan has a workspace column:\n%s", v)
	}

	// prod.
	m = pick(t, m, emulator.DemoWorkspace)
	prod := len(m.d.plan.Changes)
	for _, c := range m.d.plan.Changes {
		if c.Action == sync.ActionAssignWorkspace {
			t.Errorf("prod's plan assigns %s", c.Principal)
		}
	}
	if n := len(viewOf[*pipelinesView](t, m).table.Items()); n != allBindings || n == 0 {
		t.Errorf("prod shows %d pipeline bindings, all workspaces %d", n, allBindings)
	}
	if dev >= all || prod >= all || dev == 0 || prod == 0 {
		t.Errorf("changes: all %d, prod %d, dev %d", all, prod, dev)
	}
}

// TestSwitcherWithOneWorkspace: with one workspace w says so and changes
// nothing.
func TestSwitcherWithOneWorkspace(t *testing.T) {
	m := loaded(t, newFixture(t), 80, 24, false)
	before := m.View()
	d := m.d
	m = keys(t, m, "w")
	if m.modal != modalNone || m.scope != "" || m.d != d {
		t.Errorf("w with one workspace changed the console: modal %d, scope %q", m.modal, m.scope)
	}
	if !strings.Contains(m.status, "one workspace (adb-1234.cloud.databricks.com)") {
		t.Errorf("status: %q", m.status)
	}
	after := strings.Split(m.View(), "\n")
	for i, l := range strings.Split(before, "\n") {
		if i != len(after)-2 && l != after[i] { // the status line is the one above the footer
			t.Errorf("line %d changed:\n%s\n%s", i, l, after[i])
		}
	}
	if strings.Contains(m.footerView(), "w workspace") {
		t.Errorf("the footer offers w with one workspace: %s", m.footerView())
	}
	if !strings.Contains(m.helpText(), "switch workspace") {
		t.Error("the help does not explain w")
	}
}

// TestSwitchWorkspaceAndApplyInDev: the console loads both workspaces, w
// picks dev, and dev's assignment of rita is applied with a confirmation
// that names dev; the write goes to dev alone, and the audit log names it.
func TestSwitchWorkspaceAndApplyInDev(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	_, plan, err := e.svc.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.changes = len(plan.Changes)
	tm := teatest.NewTestModel(t, NewModel(e.b, testOptions(false)), teatest.WithInitialTermSize(120, 34))
	waitFor(t, tm, "all workspaces (2)", e.drift(0))
	e.srv.ResetStats()
	press(tm, "w")
	waitFor(t, tm, "Show which workspace?")
	tm.Type("dev")
	press(tm, "enter")
	waitFor(t, tm, "workspace dev")
	press(tm, "5", "t", "/") // dev's plan; nothing selected; filter
	tm.Type("rita")
	press(tm, "enter", " ", "a")
	waitFor(t, tm, "Apply 1 change in workspace dev?", "assign_workspace")
	press(tm, "y")
	settled(t, tm, "applied 1 change")
	m := finish(t, tm)
	if m.scope != emulator.DemoDevWorkspace {
		t.Errorf("the scope after the apply is %q", m.scope)
	}
	st := e.srv.Stats()
	t.Logf("requests per workspace %v, writes %v", st.Workspaces, st.WorkspaceWrites)
	if st.WorkspaceWrites[emulator.DemoWorkspace] != 0 || st.WorkspaceWrites[emulator.DemoDevWorkspace] == 0 {
		t.Errorf("writes per workspace = %v, want dev's only", st.WorkspaceWrites)
	}
	devState := e.org.Workspace(emulator.DemoDevWorkspace) // takes the org's lock itself
	e.org.Mu.Lock()
	rita := false
	for _, u := range devState.Users {
		if u.UserName == "rita@acme.com" {
			rita = u.Assigned
		}
	}
	e.org.Mu.Unlock()
	if !rita {
		t.Error("rita is not assigned to dev after the apply")
	}
	if got := e.audit(t); len(got) != 1 || got[0] != "assign_workspace workspace:dev user:rita@acme.com applied" {
		t.Errorf("audit log: %q", got)
	}
	for _, c := range m.d.plan.Changes {
		if c.Action == sync.ActionAssignWorkspace && c.Principal == "rita@acme.com" {
			t.Error("the reloaded plan still assigns rita")
		}
	}
}

// TestRevokeInAllWorkspacesGoesToDev: in all workspaces, x on dev's stale
// token asks about dev by name and revokes it there; prod gets no write.
func TestRevokeInAllWorkspacesGoesToDev(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	m := keys(t, loaded(t, e.b, 120, 34, false), "3")
	c, ok := viewOf[*credentialsView](t, m).table.Selected()
	if !ok || c.Workspace != emulator.DemoDevWorkspace || c.Owner != "dan@acme.com" {
		t.Fatalf("the oldest credential is %s of %s in %s; want dan's in dev", c.ID, c.Owner, c.Workspace)
	}
	e.srv.ResetStats()
	m = keys(t, m, "x")
	if v := m.View(); m.modal != modalConfirm || !strings.Contains(v, "Revoke pat of dan@acme.com in workspace dev?") {
		t.Fatalf("the confirmation does not name dev:\n%s", v)
	}
	m = keys(t, m, "y")
	if !strings.Contains(m.status, "revoked 1 credential of dan@acme.com in workspace dev") {
		t.Errorf("status: %q", m.status)
	}
	st := e.srv.Stats()
	t.Logf("requests per workspace %v, writes %v", st.Workspaces, st.WorkspaceWrites)
	if st.WorkspaceWrites[emulator.DemoWorkspace] != 0 || st.WorkspaceWrites[emulator.DemoDevWorkspace] == 0 {
		t.Errorf("writes per workspace = %v, want dev's only", st.WorkspaceWrites)
	}
	devState := e.org.Workspace(emulator.DemoDevWorkspace)
	e.org.Mu.Lock()
	_, still := devState.Tokens[c.ID]
	e.org.Mu.Unlock()
	if still {
		t.Error("dev still holds dan's token")
	}
	if got := e.audit(t); len(got) != 1 || !strings.HasPrefix(got[0], "revoke_token token:"+c.ID) {
		t.Errorf("audit log: %q", got)
	}
}

// TestBulkConfirmationTypesTheWorkspaces: a bulk destructive apply asks
// for the Databricks workspaces it writes to, as databricks.workspaces
// names them (the Bitbucket workspace says nothing about where it goes).
func TestBulkConfirmationTypesTheWorkspaces(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	for _, tc := range []struct{ scope, filter, title, require string }{
		{"", "revoke_token", "in workspaces prod and dev?", "prod,dev"},
		{emulator.DemoDevWorkspace, "dan@", "in workspace dev?", "dev"}, // +de-team, and the stale token
	} {
		m := loaded(t, e.b, 120, 34, false)
		if tc.scope != "" {
			m = pick(t, m, tc.scope)
		}
		m = keys(t, m, "5", "t", "/")
		m = keys(t, m, strings.Split(tc.filter, "")...)
		m = keys(t, m, "enter")
		n := viewOf[*planView](t, m).changes.Len()
		for i := 0; i < n; i++ {
			m = keys(t, m, " ", "j")
		}
		m = keys(t, m, "a")
		v := m.View()
		if m.modal != modalConfirm || !strings.Contains(v, tc.title) || !strings.Contains(v, "Type "+tc.require+" to confirm") {
			t.Errorf("scope %q, %d revocations: the confirmation does not ask for %s:\n%s", tc.scope, n, tc.require, v)
		}
		m = keys(t, m, "esc")
	}
}
