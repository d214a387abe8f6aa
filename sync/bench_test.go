package sync

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
)

// largeEnv serves the large seed (10,000 users, 1,000 Bitbucket groups,
// 2,000 Databricks groups, 500 SPs, 30,000 tokens) with the service's limits
// on (4 concurrent SCIM requests, the Bitbucket hourly budget) and a config
// that maps every Bitbucket group to its Databricks twin.
func largeEnv(b *testing.B) (*emulator.Server, *config.Config, Sources) {
	b.Helper()
	org := emulator.Large(emulator.DefaultLarge(), demoNow)
	srv := emulator.New(org, emulator.Options{})
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(hs.Close)
	var y strings.Builder
	fmt.Fprintf(&y, "bitbucket:\n  workspace: %s\n  base_url: %q\n", org.BB.Workspace.Slug, hs.URL+"/2.0")
	fmt.Fprintf(&y, "atlassian_admin:\n  org_id: %q\n  base_url: %q\n", org.Admin.OrgID, hs.URL)
	fmt.Fprintf(&y, "databricks:\n  host: %q\n  account_id: %q\n  account_host: %q\n", hs.URL, org.DB.AccountID, hs.URL)
	y.WriteString("policy:\n  max_changes: 100000\n  protected: [admin@acme.com]\nmappings:\n")
	for i := range emulator.DefaultLarge().BBGroups {
		fmt.Fprintf(&y, "  - bitbucket_group: team-%04d\n    databricks_group: team-%04d\n    prune: true\n", i, i)
	}
	cfg, err := config.Parse(filepath.Join(b.TempDir(), "large.yaml"), []byte(y.String()))
	if err != nil {
		b.Fatal(err)
	}
	src, err := NewSources(cfg, SourceOptions{
		Env: MapEnv(map[string]string{
			"BITBUCKET_USERNAME":      org.Creds.BitbucketUsername,
			"BITBUCKET_API_TOKEN":     org.Creds.BitbucketAPIToken,
			"ATLASSIAN_ADMIN_API_KEY": org.Creds.AtlassianAdminKey,
		}),
		// The SDK's default client-side limit (15 requests/s) would dominate
		// the measurement; the emulator enforces the service's own limits.
		Databricks: withAccount(org, DatabricksOptions{Host: hs.URL, Token: org.Creds.DatabricksToken, RateLimit: 1000}),
	})
	if err != nil {
		b.Fatal(err)
	}
	return srv, cfg, src
}

// BenchmarkReadLarge measures a whole snapshot of the large organisation
// over loopback and reports the requests each system served per read.
func BenchmarkReadLarge(b *testing.B) {
	srv, cfg, src := largeEnv(b)
	srv.ResetStats()
	b.ReportAllocs()
	b.ResetTimer()
	var snap *Snapshot
	for b.Loop() {
		var err error
		if snap, err = Read(context.Background(), src, cfg, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st := srv.Stats()
	for _, fam := range []string{"bitbucket", "atlassian", "databricks"} {
		b.ReportMetric(float64(st.Families[fam])/float64(b.N), fam+"-req/op")
	}
	b.ReportMetric(float64(st.Refused["scim_concurrency"])/float64(b.N), "scim-refused/op")
	if len(snap.Users) < 9000 || len(snap.Credentials) < 30000 {
		b.Fatalf("snapshot too small: %d users, %d credentials", len(snap.Users), len(snap.Credentials))
	}
}

// BenchmarkPlanLarge measures ComputePlan alone on a snapshot of the large
// organisation.
func BenchmarkPlanLarge(b *testing.B) {
	_, cfg, src := largeEnv(b)
	snap, err := Read(context.Background(), src, cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var p Plan
	for b.Loop() {
		p = ComputePlan(snap, cfg, demoNow)
	}
	b.ReportMetric(float64(len(p.Changes)), "changes")
	b.ReportMetric(float64(len(p.Findings)), "findings")
}
