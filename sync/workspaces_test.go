package sync

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
)

// twoWorkspaces serves the demo account's prod and dev workspaces, each on
// its own host, and returns the demo config listing both.
type twoWorkspaces struct {
	org       *emulator.Org
	srv       *emulator.Server
	prod, dev *httptest.Server
	cfg       *config.Config
}

func newTwoWorkspaces(t *testing.T) *twoWorkspaces {
	t.Helper()
	org := emulator.Demo(demoNow)
	srv := emulator.New(org, emulator.Options{})
	tw := &twoWorkspaces{org: org, srv: srv,
		prod: httptest.NewServer(srv.WorkspaceHandler(emulator.DemoWorkspace)),
		dev:  httptest.NewServer(srv.WorkspaceHandler(emulator.DemoDevWorkspace))}
	t.Cleanup(tw.prod.Close)
	t.Cleanup(tw.dev.Close)
	dir := t.TempDir()
	src, idmap := emulator.DemoConfigFiles(org, tw.prod.URL)
	if err := os.WriteFile(filepath.Join(dir, "identities.yaml"), idmap, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "bitbricks.yaml"), append(src, []byte("audit:\n  file: audit.jsonl\n")...))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Databricks.Host = ""
	cfg.Databricks.Workspaces = config.Workspaces{List: []config.Workspace{
		{Name: emulator.DemoWorkspace, Host: tw.prod.URL}, {Name: emulator.DemoDevWorkspace, Host: tw.dev.URL}}}
	for i := range cfg.Pipelines {
		cfg.Pipelines[i].Workspace = emulator.DemoWorkspace
	}
	tw.cfg = cfg
	return tw
}

// part is the config, sources and service of one of the workspaces.
func (tw *twoWorkspaces) part(t *testing.T, name string) (*config.Config, Sources, *Service) {
	t.Helper()
	cfg, ok := tw.cfg.ForWorkspace(name)
	if !ok {
		t.Fatalf("no workspace %s", name)
	}
	host := map[string]string{emulator.DemoWorkspace: tw.prod.URL, emulator.DemoDevWorkspace: tw.dev.URL}[name]
	src, err := NewSources(cfg, SourceOptions{
		Env: MapEnv(map[string]string{
			"BITBUCKET_USERNAME":      tw.org.Creds.BitbucketUsername,
			"BITBUCKET_API_TOKEN":     tw.org.Creds.BitbucketAPIToken,
			"ATLASSIAN_ADMIN_API_KEY": tw.org.Creds.AtlassianAdminKey,
		}),
		Databricks: withAccount(tw.org, DatabricksOptions{Host: host, Token: tw.org.Creds.WorkspaceTokens[name], RateLimit: 1000}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, src, NewService(src, cfg, ServiceOptions{Now: func() time.Time { return demoNow }, StateDir: t.TempDir()})
}

// TestAssignWorkspaceApplied: in dev, platform-eng (an account group
// assigned to dev) has members the account has not assigned to dev; the
// plan assigns them through the account API, the assignment reads back,
// and a second plan has nothing left to assign.
func TestAssignWorkspaceApplied(t *testing.T) {
	tw := newTwoWorkspaces(t)
	ctx := context.Background()
	_, src, svc := tw.part(t, emulator.DemoDevWorkspace)
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var assign Plan
	for _, c := range plan.Changes {
		if c.Action == ActionAssignWorkspace {
			if c.Workspace != emulator.DemoDevWorkspace {
				t.Errorf("%s: workspace %q", c.ID, c.Workspace)
			}
			assign.Changes = append(assign.Changes, c)
		}
	}
	var names []string
	for _, c := range assign.Changes {
		names = append(names, c.Principal)
	}
	for _, want := range []string{"rita@acme.com", "sam@acme.com", "bob@acme.com"} {
		if !slices.Contains(names, want) {
			t.Errorf("no assign_workspace for %s: %v", want, names)
		}
	}
	for _, no := range []string{"paul@acme.com", "quinn@acme.com", "alice@acme.com"} {
		if slices.Contains(names, no) {
			t.Errorf("assign_workspace for %s, already assigned to dev", no)
		}
	}
	for _, f := range plan.Findings {
		if f.Kind == FindingNotAssigned {
			t.Errorf("finding %s %s: with several workspaces it is a change", f.Kind, f.Subject)
		}
	}
	tw.srv.ResetStats()
	results, err := svc.Apply(ctx, assign, nil)
	requireApplied(t, results, err)
	st := tw.srv.Stats()
	if st.WorkspaceWrites[emulator.DemoDevWorkspace] < int64(len(assign.Changes)) || st.WorkspaceWrites[emulator.DemoWorkspace] != 0 {
		t.Errorf("writes per workspace = %v, want %d in dev and none in prod", st.WorkspaceWrites, len(assign.Changes))
	}
	got, err := src.Databricks.(*Databricks).WorkspaceAssignments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if !slices.Contains(got, n) {
			t.Errorf("%s not assigned to dev after apply: %v", n, got)
		}
	}
	_, again, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range again.Changes {
		if c.Action == ActionAssignWorkspace {
			t.Errorf("second plan still assigns %s", c.Principal)
		}
	}
	// prod is untouched by dev's assignments: its own plan assigns nobody.
	_, _, prodSvc := tw.part(t, emulator.DemoWorkspace)
	_, prodPlan, err := prodSvc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := prodPlan.Changes; slices.ContainsFunc(n, func(c Change) bool { return c.Action == ActionAssignWorkspace && c.Principal == "rita@acme.com" }) {
		t.Errorf("prod plans to assign rita, who is assigned to prod")
	}
}

// service is the Service over both workspaces (the config lists both).
func (tw *twoWorkspaces) service(t *testing.T) *Service {
	t.Helper()
	src, err := NewSources(tw.cfg, SourceOptions{
		Env: MapEnv(map[string]string{
			"BITBUCKET_USERNAME":      tw.org.Creds.BitbucketUsername,
			"BITBUCKET_API_TOKEN":     tw.org.Creds.BitbucketAPIToken,
			"ATLASSIAN_ADMIN_API_KEY": tw.org.Creds.AtlassianAdminKey,
		}),
		Databricks: withAccount(tw.org, DatabricksOptions{Host: tw.prod.URL, Token: tw.org.Creds.DatabricksToken, RateLimit: 1000,
			Workspaces: map[string]DatabricksOptions{
				emulator.DemoWorkspace:    {Host: tw.prod.URL, Token: tw.org.Creds.WorkspaceTokens[emulator.DemoWorkspace]},
				emulator.DemoDevWorkspace: {Host: tw.dev.URL, Token: tw.org.Creds.WorkspaceTokens[emulator.DemoDevWorkspace]},
			}}),
		RetryUnit: time.Millisecond, // the attempts stay bounded as in production; only the waits shrink
	})
	if err != nil {
		t.Fatal(err)
	}
	svc := NewService(src, tw.cfg, ServiceOptions{Now: func() time.Time { return demoNow }, StateDir: t.TempDir()})
	svc.LimitChanges(-1)
	return svc
}

// TestPlanTwoWorkspaces: one plan over prod and dev. The account group
// platform-eng's membership is planned once; entitlements, assignment and
// the workspace-local de-team per workspace; dev's stale token is revoked
// in dev.
func TestPlanTwoWorkspaces(t *testing.T) {
	tw := newTwoWorkspaces(t)
	svc := tw.service(t)
	if got := svc.Workspaces(); !slices.Equal(got, []string{"prod", "dev"}) {
		t.Fatalf("workspaces = %v", got)
	}
	snap, plan, err := svc.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Workspaces) != 2 {
		t.Fatalf("snapshots = %d, want one per workspace", len(snap.Workspaces))
	}
	byWS := map[string]map[string]Change{}
	for _, c := range plan.Changes {
		ws, id, ok := strings.Cut(c.ID, ":")
		if !ok || ws != c.Workspace {
			t.Errorf("change %s names workspace %q", c.ID, c.Workspace)
		}
		if byWS[ws] == nil {
			byWS[ws] = map[string]Change{}
		}
		byWS[ws][id] = c
	}
	// platform-eng (account group): +tess planned once, in the first workspace.
	n := 0
	for _, m := range byWS {
		if _, ok := m["add_member/platform-eng/tess@acme.com"]; ok {
			n++
		}
	}
	if n != 1 {
		t.Errorf("add tess to platform-eng planned %d times, want once", n)
	}
	// de-team is workspace-local in each: its own members and entitlements.
	for _, want := range []struct{ ws, id string }{
		{"prod", "add_member/de-team/bob@acme.com"},
		{"dev", "add_member/de-team/bob@acme.com"},
		{"dev", "add_member/de-team/dan@acme.com"},
		{"prod", "add_entitlement/de-team/databricks-sql-access"},
		{"dev", "add_entitlement/de-team/databricks-sql-access"},
		{"dev", "assign_workspace/rita@acme.com"},
		{"dev", "assign_workspace/bob@acme.com"},
	} {
		if _, ok := byWS[want.ws][want.id]; !ok {
			t.Errorf("no %s in %s; %s has %v", want.id, want.ws, want.ws, keys(byWS[want.ws]))
		}
	}
	if _, ok := byWS["prod"]["assign_workspace/rita@acme.com"]; ok {
		t.Errorf("prod assigns rita, who is assigned to prod")
	}
	// Tokens of both workspaces, each revoked in its own.
	devRevokes := 0
	for _, c := range byWS["dev"] {
		if c.Action == ActionRevokeToken {
			devRevokes++
			if c.Principal != "dan@acme.com" {
				t.Errorf("dev revokes %s of %s", c.TokenID, c.Principal)
			}
		}
	}
	prodRevokes := 0
	for _, c := range byWS["prod"] {
		if c.Action == ActionRevokeToken {
			prodRevokes++
		}
	}
	if devRevokes != 1 || prodRevokes == 0 {
		t.Errorf("revoke_token: dev %d (want dan's stale token), prod %d", devRevokes, prodRevokes)
	}
	for _, f := range plan.Findings {
		if f.Workspace != "prod" && f.Workspace != "dev" {
			t.Errorf("finding %s %s: workspace %q", f.Kind, f.Subject, f.Workspace)
		}
	}

	// The inventory lists the tokens of both, each with its workspace.
	inv, _, err := svc.Tokens(context.Background(), InventoryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, c := range inv {
		if isTokenKind(c.Kind) {
			count[c.Workspace]++
		}
		if c.Owner == "dan@acme.com" && c.Comment == "notebook" && c.Workspace != "dev" {
			t.Errorf("dan's notebook token is listed in %q, want dev", c.Workspace)
		}
	}
	if count["dev"] != 3 || count["prod"] < 50 {
		t.Errorf("tokens per workspace = %v, want dev's 3 and prod's", count)
	}
}

func keys(m map[string]Change) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestApplyTwoWorkspaces: applying the plan over both workspaces leaves
// nothing to do in either; a run limited to dev writes to dev only.
func TestApplyTwoWorkspaces(t *testing.T) {
	ctx := context.Background()
	tw := newTwoWorkspaces(t)
	svc := tw.service(t)
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	results, err := svc.Apply(ctx, plan, nil)
	requireApplied(t, results, err)
	if len(results) != len(plan.Changes) {
		t.Errorf("%d results for %d changes", len(results), len(plan.Changes))
	}
	_, again, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range again.Changes {
		t.Errorf("second plan still has %s (%s)", c.ID, c.Reason)
	}
	t.Logf("applied %d changes over two workspaces; stats %v", len(results), tw.srv.Stats().WorkspaceWrites)

	// --workspace dev on a fresh account: only dev is read and written.
	tw = newTwoWorkspaces(t)
	svc = tw.service(t)
	if err := svc.LimitWorkspaces([]string{"dev"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.LimitWorkspaces([]string{"stage"}); err == nil {
		t.Error("an unknown workspace is accepted")
	}
	_, plan, err = svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range plan.Changes {
		if c.Workspace != "dev" {
			t.Errorf("a dev-only plan has %s", c.ID)
		}
	}
	tw.srv.ResetStats()
	if _, err := svc.Apply(ctx, plan, nil); err != nil {
		t.Fatal(err)
	}
	st := tw.srv.Stats()
	if st.WorkspaceWrites["dev"] == 0 || st.WorkspaceWrites["prod"] != 0 || st.Workspaces["prod"] != 0 {
		t.Errorf("requests per workspace %v, writes %v: want dev only", st.Workspaces, st.WorkspaceWrites)
	}
}
