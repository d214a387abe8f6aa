package sync

import (
	"context"
	"maps"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
)

// largeTwoWorkspaces serves the large seed as an account with two
// workspaces, each on a host of its own: prod (the seed as it is) and dev,
// to which every other account user is assigned, with no workspace-local
// groups (the mapped workspace groups are created there) and 5,000 tokens
// of its own. The service plans both with the large seed's config
// (emulator.LargeConfig: every Bitbucket group mapped to its twin, with
// prune, departures revoked).
func largeTwoWorkspaces(b *testing.B) (*emulator.Server, *Service) {
	b.Helper()
	org := emulator.Large(emulator.DefaultLarge(), demoNow)
	org.AddWorkspace(emulator.DemoWorkspace, emulator.DemoDevWorkspace, 2222222222222222)
	var devToken string
	org.InWorkspace(emulator.DemoDevWorkspace, func(st *emulator.DatabricksState) {
		org.Mu.Lock()
		ids := slices.Sorted(maps.Keys(st.Users))
		var admin string
		for i, id := range ids {
			u := st.Users[id]
			u.Assigned = i%2 == 0
			if u.UserName == "admin@acme.com" {
				admin, u.Assigned, u.Admin = id, true, true
			}
		}
		org.Mu.Unlock()
		for i := range 5000 {
			org.AddToken(emulator.DBToken{OwnerID: ids[(i*7)%len(ids)], Comment: "dev",
				Created: demoNow.Add(-time.Duration(i%200) * 24 * time.Hour)})
		}
		devToken = org.AddToken(emulator.DBToken{OwnerID: admin, Comment: "bitbricks admin", Created: demoNow.Add(-24 * time.Hour),
			Expiry: demoNow.Add(80 * 24 * time.Hour), LastUsed: demoNow}).Value
	})
	srv := emulator.New(org, emulator.Options{})
	prod := httptest.NewServer(srv.WorkspaceHandler(emulator.DemoWorkspace))
	dev := httptest.NewServer(srv.WorkspaceHandler(emulator.DemoDevWorkspace))
	b.Cleanup(prod.Close)
	b.Cleanup(dev.Close)
	cfg, err := config.Parse(filepath.Join(b.TempDir(), "large.yaml"), emulator.LargeConfig(org, prod.URL))
	if err != nil {
		b.Fatal(err)
	}
	cfg.Databricks.Host = ""
	cfg.Databricks.Workspaces = config.Workspaces{List: []config.Workspace{
		{Name: emulator.DemoWorkspace, Host: prod.URL}, {Name: emulator.DemoDevWorkspace, Host: dev.URL}}}
	src, err := NewSources(cfg, SourceOptions{
		Env: MapEnv(map[string]string{
			"BITBUCKET_USERNAME":      org.Creds.BitbucketUsername,
			"BITBUCKET_API_TOKEN":     org.Creds.BitbucketAPIToken,
			"ATLASSIAN_ADMIN_API_KEY": org.Creds.AtlassianAdminKey,
		}),
		Databricks: withAccount(org, DatabricksOptions{Host: prod.URL, Token: org.Creds.DatabricksToken, RateLimit: 1000,
			Workspaces: map[string]DatabricksOptions{
				emulator.DemoWorkspace:    {Host: prod.URL, Token: org.Creds.DatabricksToken},
				emulator.DemoDevWorkspace: {Host: dev.URL, Token: devToken},
			}}),
	})
	if err != nil {
		b.Fatal(err)
	}
	return srv, NewService(src, cfg, ServiceOptions{Now: func() time.Time { return demoNow }, StateDir: b.TempDir()})
}

// BenchmarkPlanTwoWorkspacesLarge measures the plan over both workspaces
// of the large account (Service.Plan on one snapshot of both).
func BenchmarkPlanTwoWorkspacesLarge(b *testing.B) {
	_, svc := largeTwoWorkspaces(b)
	snap, err := svc.Read(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if len(snap.Workspaces) != 2 {
		b.Fatalf("%d workspaces read", len(snap.Workspaces))
	}
	b.ReportAllocs()
	b.ResetTimer()
	var p Plan
	for b.Loop() {
		p = svc.Plan(snap)
	}
	b.ReportMetric(float64(len(p.Changes)), "changes")
	b.ReportMetric(float64(len(p.Findings)), "findings")
}

// BenchmarkLoadTwoWorkspacesLarge measures Load (read both workspaces,
// then plan) over loopback, with the Databricks requests each workspace
// served per Load.
func BenchmarkLoadTwoWorkspacesLarge(b *testing.B) {
	srv, svc := largeTwoWorkspaces(b)
	srv.ResetStats()
	b.ReportAllocs()
	b.ResetTimer()
	var p Plan
	for b.Loop() {
		var err error
		if _, p, err = svc.Load(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st := srv.Stats()
	for _, ws := range []string{emulator.DemoWorkspace, emulator.DemoDevWorkspace, "account"} {
		b.ReportMetric(float64(st.Workspaces[ws])/float64(b.N), ws+"-req/op")
	}
	b.ReportMetric(float64(st.Families["bitbucket"])/float64(b.N), "bitbucket-req/op")
	b.ReportMetric(float64(st.Families["atlassian"])/float64(b.N), "atlassian-req/op")
	if len(p.Changes) == 0 {
		b.Fatal("no changes planned")
	}
}
