package sync

import (
	"context"
	"encoding/json"
	"log/slog"
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

// TestEndToEndDemo is the acceptance run: on the demo organisation, Read,
// ComputePlan and Apply every change (rotations included); a second Read and
// ComputePlan then find nothing to do, and the emulator holds what the rules say.
func TestEndToEndDemo(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	ctx := context.Background()
	snap := e.read(t)
	plan := ComputePlan(snap, e.cfg, demoNow)
	if len(plan.Changes) == 0 {
		t.Fatal("the demo plan is empty")
	}
	e.srv.ResetStats()
	op := CurrentOperator(snap.Caller)
	rot := &Credentials{Databricks: e.db, Bitbucket: e.src.Bitbucket.(*Bitbucket), Config: e.cfg, AuditFile: e.cfg.Audit.File, Operator: op,
		Log: slog.New(slog.DiscardHandler)}
	results, err := Apply(ctx, plan, e.db, nil, ApplyOptions{
		MaxChanges: len(plan.Changes), AuditFile: e.cfg.Audit.File, Operator: op, Rotator: rot})
	requireApplied(t, results, err)
	st := e.srv.Stats()
	t.Logf("applied %d changes with %d requests (%d writes)", len(results), st.Total, writes(st))

	// Idempotent: the second plan is empty.
	again := ComputePlan(e.read(t), e.cfg, demoNow)
	for _, c := range again.Changes {
		t.Errorf("second plan still has %s (%s)", c.ID, c.Reason)
	}

	// The emulator's state is what the rules say.
	de := e.memberNames(e.dbGroup(t, "de-team"))
	for _, in := range []string{"alice@acme.com", "bob@acme.com", "carol@acme.com", "ivy.chen@acme.com", "admin@acme.com", "etl-deployer", "de-oncall"} {
		if !slices.Contains(de, in) {
			t.Errorf("de-team lacks %s: %v", in, de)
		}
	}
	for _, out := range []string{"fay@acme.com", "eve@acme.com"} {
		if slices.Contains(de, out) {
			t.Errorf("de-team still has %s", out)
		}
	}
	if ents := e.dbGroup(t, "de-team").Entitlements; !sameSet(ents, []string{"workspace-access", "databricks-sql-access"}) {
		t.Errorf("de-team entitlements = %v", ents)
	}
	if pe := e.memberNames(e.dbGroup(t, "platform-eng")); !slices.Contains(pe, "tess@acme.com") || slices.Contains(pe, "gus@acme.com") {
		t.Errorf("platform-eng (account group) = %v, want +tess -gus", pe)
	}
	if p := e.memberNames(e.dbGroup(t, "partners")); !slices.Contains(p, "ned@partner.com") {
		t.Errorf("partners (IdP-managed) lost ned: %v", p)
	}
	ml := e.dbGroup(t, "ml-team")
	if ml == nil || !sameSet(e.memberNames(ml), []string{"mia@acme.com", "noah@acme.com", "omar@acme.com"}) || !sameSet(ml.Entitlements, []string{"workspace-access"}) {
		t.Errorf("ml-team = %+v", ml)
	}
	revoked := map[string]bool{}
	for _, c := range plan.Changes {
		if c.Action == ActionRevokeToken {
			revoked[c.TokenID] = true
		}
	}
	e.org.Mu.Lock()
	var values []string
	for id := range revoked {
		if _, ok := e.org.DB.Tokens[id]; ok {
			t.Errorf("token %s still exists", id)
		}
	}
	breakGlass := false
	for _, tok := range e.org.DB.Tokens {
		values = append(values, tok.Value)
		breakGlass = breakGlass || tok.Comment == "break-glass"
	}
	for _, s := range e.org.DB.Secrets {
		values = append(values, s.Secret)
	}
	e.org.Mu.Unlock()
	if !breakGlass {
		t.Error("the protected admin's break-glass token was revoked")
	}

	// A line per applied change (the rotator adds its steps), chained, with
	// no secret in it.
	ids := map[string]bool{}
	for _, l := range auditLines(t, e.cfg.Audit.File) {
		var ev AuditEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.ChangeID != "" {
			ids[ev.ChangeID] = true
		}
	}
	if len(ids) != len(results) {
		t.Errorf("audit names %d changes, want %d", len(ids), len(results))
	}
	if err := VerifyAudit(e.cfg.Audit.File); err != nil {
		t.Error(err)
	}
	b, _ := os.ReadFile(e.cfg.Audit.File)
	for _, v := range append(values, e.org.Creds.DatabricksToken, e.org.Creds.BitbucketAPIToken, e.org.Creds.AtlassianAdminKey) {
		if v != "" && strings.Contains(string(b), v) {
			t.Fatal("a credential value is in the audit log")
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// demoNow is the fixed clock of the demo organisation in these tests.
var demoNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// demoEnv is an emulator serving the demo organisation on loopback, with the
// config and real adapters pointed at it.
type demoEnv struct {
	org  *emulator.Org
	srv  *emulator.Server
	http *httptest.Server
	cfg  *config.Config
	src  Sources
	db   *Databricks
}

func newDemo(t *testing.T, opts emulator.Options) *demoEnv {
	t.Helper()
	org := emulator.Demo(demoNow)
	srv := emulator.New(org, opts)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	dir := t.TempDir()
	src, idmap := emulator.DemoConfigFiles(org, hs.URL)
	if err := os.WriteFile(filepath.Join(dir, "identities.yaml"), idmap, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "bitbricks.yaml"), append(src, []byte("audit:\n  file: audit.jsonl\n")...))
	if err != nil {
		t.Fatalf("demo config: %v", err)
	}
	e := &demoEnv{org: org, srv: srv, http: hs, cfg: cfg}
	e.src = e.sources(t, org.Creds.DatabricksToken)
	e.db = e.src.Databricks.(*Databricks)
	return e
}

// requireApplied fails the test at once when an apply could not run
// (err), and names every change it did not apply (failed or skipped).
func requireApplied(t *testing.T, results []Result, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, r := range results {
		if r.Status != ResultApplied {
			t.Errorf("%s: %s %s", r.ID, r.Status, r.Error)
		}
	}
}

// sources builds the real adapters against the emulator with an isolated
// environment (nothing of the user's leaks in).
func (e *demoEnv) sources(t *testing.T, dbToken string) Sources {
	t.Helper()
	return e.sourcesWith(t, withAccount(e.org, DatabricksOptions{Host: e.http.URL, Token: dbToken, RateLimit: 1000}))
}

// sourcesWith is sources with Databricks options of the test's own.
func (e *demoEnv) sourcesWith(t *testing.T, db DatabricksOptions) Sources {
	t.Helper()
	src, err := NewSources(e.cfg, SourceOptions{
		Env: MapEnv(map[string]string{
			"BITBUCKET_USERNAME":      e.org.Creds.BitbucketUsername,
			"BITBUCKET_API_TOKEN":     e.org.Creds.BitbucketAPIToken,
			"ATLASSIAN_ADMIN_API_KEY": e.org.Creds.AtlassianAdminKey,
		}),
		Databricks: db,
	})
	if err != nil {
		t.Fatalf("sources: %v", err)
	}
	fastRetries(src)
	return src
}

func (e *demoEnv) read(t *testing.T) *Snapshot {
	t.Helper()
	snap, err := Read(context.Background(), e.src, e.cfg, nil)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return snap
}

// dbGroup returns a copy of the emulator's Databricks group called name.
func (e *demoEnv) dbGroup(t *testing.T, name string) *emulator.DBGroup {
	t.Helper()
	e.org.Mu.Lock()
	defer e.org.Mu.Unlock()
	for _, g := range e.org.DB.Groups {
		if g.DisplayName == name {
			c := *g
			c.Members = append([]emulator.DBMember(nil), g.Members...)
			c.Entitlements = append([]string(nil), g.Entitlements...)
			return &c
		}
	}
	return nil
}

// userID is the SCIM id of the emulator's user with userName name.
func (e *demoEnv) userID(t *testing.T, name string) string {
	t.Helper()
	e.org.Mu.Lock()
	defer e.org.Mu.Unlock()
	for id, u := range e.org.DB.Users {
		if u.UserName == name {
			return id
		}
	}
	t.Fatalf("no user %s in the emulator", name)
	return ""
}

// memberNames are the userNames (or SP/group display names) in g.
func (e *demoEnv) memberNames(g *emulator.DBGroup) []string {
	e.org.Mu.Lock()
	defer e.org.Mu.Unlock()
	var out []string
	for _, m := range g.Members {
		switch {
		case e.org.DB.Users[m.Value] != nil:
			out = append(out, e.org.DB.Users[m.Value].UserName)
		case e.org.DB.ServicePrincipals[m.Value] != nil:
			out = append(out, e.org.DB.ServicePrincipals[m.Value].DisplayName)
		case e.org.DB.Groups[m.Value] != nil:
			out = append(out, e.org.DB.Groups[m.Value].DisplayName)
		}
	}
	return out
}

// writes counts the Databricks requests that change something.
func writes(st emulator.Stats) int64 {
	var n int64
	for route, c := range st.Routes {
		for _, m := range []string{" POST ", " PUT ", " PATCH ", " DELETE "} {
			if strings.Contains(route, m) {
				n += c
			}
		}
	}
	return n
}
