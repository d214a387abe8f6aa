package sync

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
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
		Databricks: DatabricksOptions{Host: host, Token: tw.org.Creds.WorkspaceTokens[name], RateLimit: 1000},
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
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Status != ResultApplied {
			t.Errorf("%s: %s %s", r.ID, r.Status, r.Error)
		}
	}
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
