package tui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	gosync "sync"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/sync"
	"github.com/charmbracelet/x/exp/teatest"
)

// testNow is the fixed clock of every console test.
var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const testConfig = `# bitbricks console test organisation.
bitbucket:
  workspace: acme
databricks:
  host: https://adb-1234.cloud.databricks.com
  account_id: 00000000-0000-0000-0000-000000000001
identity:
  email_from: map
mappings:
  # The data team: pruned, so leavers are removed.
  - bitbucket_group: data-engineers
    databricks_group: de-team      # workspace-local group
    prune: true
  - bitbucket_group: platform
    databricks_group: platform-eng
    prune: true
  - bitbucket_group: contractors
    databricks_group: partners     # provisioned by the IdP
    prune: true
  - bitbucket_group: ml
    databricks_group: ml-team      # not created yet
  - bitbucket_group: analysts
    databricks_group: analysts
    prune: false
policy:
  token_max_age: 90d
  token_warn_age: 60d
  require_expiry: false
  revoke_departed: true
  max_changes: 25
  protected: [admin@acme.com]
pipelines:
  - name: etl-prod
    repository: etl
    variable: DATABRICKS_TOKEN
    service_principal: etl-deployer
    credential: pat
    rotate_every: 30d
    lifetime: 45d
  - name: ml-train
    repository: ml
    variable: DATABRICKS_SECRET
    service_principal: ml-runner
    credential: oauth-secret
    rotate_every: 30d
    lifetime: 45d
`

// fixtureBackend is an in-memory organisation with drift of every kind, for the
// tests that render: view goldens, sanitising, layout, benchmarks. It only loads;
// the flows that change something run on the real engine over the emulator
// (flows_test.go), so a call that would change something fails the test.
type fixtureBackend struct {
	t       testing.TB
	mu      gosync.Mutex
	snap    *sync.Snapshot
	cfg     *config.Config
	audit   []AuditEvent
	loadErr error
}

func newFixture(t testing.TB) *fixtureBackend {
	t.Helper()
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "bitbricks.yaml"), []byte(testConfig))
	if err != nil {
		t.Fatalf("test config: %v", err)
	}
	return &fixtureBackend{t: t, snap: demoSnapshot(), cfg: cfg}
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }
func ago(n int) time.Time      { return testNow.Add(-days(n)) }
func in(n int) time.Time       { return testNow.Add(days(n)) }

func demoSnapshot() *sync.Snapshot {
	acct := func(nick string) sync.Account {
		return sync.Account{AccountID: "557058:" + nick, UUID: "{" + nick + "-uuid}", Nickname: nick, DisplayName: nick}
	}
	people := []string{"alice", "bob", "carol", "dan", "erin", "hal", "ivy", "jo", "lee", "nina", "kim", "admin"}
	s := &sync.Snapshot{
		TakenAt: testNow, Workspace: "acme", Host: "adb-1234.cloud.databricks.com", Caller: "admin@acme.com",
		Groups: map[string]*sync.BitbucketGroup{}, Emails: map[string]string{}, MembersKnown: true,
		Users: map[string]*sync.User{}, DBGroups: map[string]*sync.Group{}, SPs: map[string]*sync.ServicePrincipal{},
		TokensKnown: true, SecretsKnown: true, AccountAccess: true, Bindings: map[string]*sync.BindingState{},
	}
	for _, p := range people {
		a := acct(p)
		s.Members = append(s.Members, a)
		s.Emails[a.AccountID] = p + "@acme.com"
	}
	unresolved := sync.Account{AccountID: "557058:b2c3", UUID: "{b2c3d4e5-0000}", Nickname: "ghost", DisplayName: "Ghost Writer"}
	group := func(slug string, members ...sync.Account) {
		s.Groups[slug] = &sync.BitbucketGroup{Slug: slug, Name: slug, Members: members, Known: true}
	}
	group("data-engineers", acct("alice"), acct("bob"))
	group("platform", acct("carol"), acct("dan"))
	group("contractors", acct("erin"))
	group("ml", acct("hal"), acct("ivy"), unresolved)
	group("analysts", acct("jo"), acct("lee"))
	group("interns", acct("nina"))

	for _, p := range []string{"alice", "bob", "carol", "dan", "erin", "fay", "hal", "jo", "kim", "lee", "nina", "admin"} {
		s.Users["u-"+p] = &sync.User{ID: "u-" + p, UserName: p + "@acme.com", DisplayName: p, Active: true, Assigned: true}
	}
	s.Users["u-gus"] = &sync.User{ID: "u-gus", UserName: "gus@partner.com", DisplayName: "Gus", Active: true, Assigned: true, ExternalID: "okta-gus"}
	for _, sp := range []struct{ id, name string }{{"sp-etl", "etl-deployer"}, {"sp-ml", "ml-runner"}, {"sp-rep", "reporting-bot"}} {
		s.SPs[sp.id] = &sync.ServicePrincipal{ID: sp.id, ApplicationID: "app-" + sp.id[3:], DisplayName: sp.name, Active: true}
	}
	user := func(p string) sync.Member {
		return sync.Member{ID: "u-" + p, Type: sync.PrincipalUser, Display: p + "@acme.com"}
	}
	dbgroup := func(name string, kind sync.GroupKind, ext string, members ...sync.Member) {
		s.DBGroups[name] = &sync.Group{ID: "g-" + name, Name: name, Kind: kind, ExternalID: ext, Members: members, MembersKnown: true}
	}
	dbgroup("de-team", sync.KindWorkspace, "", user("alice"), user("fay"), user("admin"),
		sync.Member{ID: "sp-etl", Type: sync.PrincipalServicePrincipal, Display: "etl-deployer"})
	dbgroup("platform-eng", sync.KindWorkspace, "", user("carol"))
	dbgroup("partners", sync.KindAccount, "okta-partners", user("erin"),
		sync.Member{ID: "u-gus", Type: sync.PrincipalUser, Display: "gus@partner.com"})
	dbgroup("analysts", sync.KindWorkspace, "", user("jo"), user("kim"))
	dbgroup("admins", sync.KindWorkspace, "", user("admin"))

	cred := func(id string, kind sync.CredentialKind, owner, ownerID string, created, expiry, used time.Time, comment string) {
		typ := sync.PrincipalUser
		if ownerID[:3] == "sp-" {
			typ = sync.PrincipalServicePrincipal
		}
		s.Credentials = append(s.Credentials, sync.Credential{ID: id, Kind: kind, OwnerID: ownerID, Owner: owner,
			OwnerType: typ, Comment: comment, Created: created, Expiry: expiry, LastUsed: used})
	}
	none := time.Time{}
	pat, obo, sec := sync.CredentialPAT, sync.CredentialOBO, sync.CredentialOAuthSecret
	etlMark := func(d int) string { return fmt.Sprintf("bitbricks:etl-prod:%d", ago(d).Unix()) }
	cred("tok-alice-1", pat, "alice@acme.com", "u-alice", ago(10), in(80), ago(1), "laptop")
	cred("tok-alice-2", pat, "alice@acme.com", "u-alice", ago(75), none, ago(2), "ci")
	cred("tok-hal-old", pat, "hal@acme.com", "u-hal", ago(120), in(10), ago(1), "old")
	cred("tok-fay-1", pat, "fay@acme.com", "u-fay", ago(40), none, ago(30), "notebook")
	cred("tok-fay-2", pat, "fay@acme.com", "u-fay", ago(3), in(87), none, "")
	cred("tok-bob-1", pat, "bob@acme.com", "u-bob", ago(5), in(25), testNow.Add(-time.Hour), "dev")
	cred("tok-carol-1", pat, "carol@acme.com", "u-carol", ago(200), none, none, "legacy")
	cred("tok-etl-cur", obo, "etl-deployer", "sp-etl", ago(35), in(10), testNow.Add(-time.Hour), etlMark(35))
	cred("tok-etl-prev", obo, "etl-deployer", "sp-etl", ago(70), ago(25), ago(36), etlMark(70))
	for i, d := range []int{10, 20, 40, 80} {
		cred(fmt.Sprintf("sec-ml-%d", i+1), sec, "ml-runner", "sp-ml", ago(d), in(365-d), ago(1), "")
	}
	cred("tok-rep-1", obo, "reporting-bot", "sp-rep", ago(95), none, ago(1), "dashboards")
	cred("tok-admin-1", pat, "admin@acme.com", "u-admin", ago(300), none, ago(100), "break-glass")
	cred("tok-dan-1", pat, "dan@acme.com", "u-dan", ago(30), in(60), ago(3), "")
	cred("tok-jo-1", pat, "jo@acme.com", "u-jo", ago(61), in(29), ago(5), "bi")
	cred("tok-kim-1", pat, "kim@acme.com", "u-kim", ago(89), in(1), ago(20), "sql")
	cred("atl-lee-1", sync.CredentialAtlassianToken, "lee@acme.com", "557058:lee", ago(20), in(345), ago(2), "bitbucket cli")
	cred("tok-gus-1", pat, "gus@partner.com", "u-gus", ago(15), in(15), ago(4), "partner")

	s.Bindings["etl-prod"] = &sync.BindingState{Name: "etl-prod", VariableFound: true, RecordedID: "tok-etl-cur", SPID: "sp-etl", Known: true}
	s.Bindings["ml-train"] = &sync.BindingState{Name: "ml-train", VariableFound: true, RecordedID: "sec-ml-1", SPID: "sp-ml", Known: true}
	// Federation: etl-prod is federating (its policy is in place); ml-train
	// stays stored, its repository's UUID unread, so it cannot federate.
	s.Federation = sync.FederationFacts{Issuer: fakeIssuer, WorkspaceUUID: "{ws-acme}", AccountID: "acct-1", AccountPoliciesKnown: true}
	etl := s.Bindings["etl-prod"]
	etl.RepositoryUUID, etl.PoliciesKnown = "{repo-etl}", true
	etl.Policies = []sync.FederationPolicy{{ID: "bitbricks-etl-prod", SPID: "sp-etl", Issuer: fakeIssuer,
		Audiences: []string{sync.Audience("{ws-acme}")}, SubjectClaim: sync.ClaimRepository, Subject: "{repo-etl}", Created: ago(2)}}
	s.Bindings["ml-train"].PoliciesKnown = true
	return s
}

const fakeIssuer = "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"

// Federate is phase 1: the binding's policy is added to its service principal.
func (f *fixtureBackend) Federate(ctx context.Context, binding string) (sync.FederationResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.cfg.BindingByName(binding)
	if !ok {
		return sync.FederationResult{}, fmt.Errorf("binding %s not found", binding)
	}
	bf := sync.FederationOf(f.snap, b)
	if !bf.CanFederate {
		err := fmt.Errorf("cannot federate %s: %s", binding, bf.Why)
		f.event("create_federation_policy", binding, err)
		return sync.FederationResult{}, err
	}
	st := f.snap.Bindings[binding]
	st.Policies = append(st.Policies, *bf.Policy)
	f.event("create_federation_policy", binding, nil)
	return sync.FederationResult{Binding: binding, Status: sync.FederationFederating, Policy: *bf.Policy, Created: true}, nil
}

// cloneSnapshot copies s deeply, so the console never shares memory with the fake.
func cloneSnapshot(s *sync.Snapshot) *sync.Snapshot {
	c := *s
	c.Groups = map[string]*sync.BitbucketGroup{}
	for k, g := range s.Groups {
		g2 := *g
		g2.Members = slices.Clone(g.Members)
		c.Groups[k] = &g2
	}
	c.Members = slices.Clone(s.Members)
	c.Emails = cloneMap(s.Emails)
	c.Users = map[string]*sync.User{}
	for k, u := range s.Users {
		u2 := *u
		c.Users[k] = &u2
	}
	c.DBGroups = map[string]*sync.Group{}
	for k, g := range s.DBGroups {
		g2 := *g
		g2.Members = slices.Clone(g.Members)
		g2.Entitlements = slices.Clone(g.Entitlements)
		c.DBGroups[k] = &g2
	}
	c.SPs = map[string]*sync.ServicePrincipal{}
	for k, sp := range s.SPs {
		sp2 := *sp
		c.SPs[k] = &sp2
	}
	c.Credentials = slices.Clone(s.Credentials)
	c.Bindings = map[string]*sync.BindingState{}
	for k, b := range s.Bindings {
		b2 := *b
		c.Bindings[k] = &b2
	}
	c.Problems = slices.Clone(s.Problems)
	return &c
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (f *fixtureBackend) Load(ctx context.Context) (*sync.Snapshot, sync.Plan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loadErr != nil {
		return nil, sync.Plan{}, f.loadErr
	}
	snap := cloneSnapshot(f.snap)
	return snap, sync.ComputePlan(snap, f.cfg, testNow), nil
}

func (f *fixtureBackend) Config() *config.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg
}

func (f *fixtureBackend) event(action, target string, err error) {
	e := AuditEvent{Time: testNow, Operator: "tester / admin@acme.com", Action: action, Target: target, Result: sync.ResultApplied}
	if err != nil {
		e.Result, e.Error = sync.ResultFailed, err.Error()
	}
	f.audit = append(f.audit, e)
}

func (f *fixtureBackend) changed(what string) error {
	f.t.Errorf("a rendering test called %s; flows that change something run on the engine (flows_test.go)", what)
	return errors.New("the fixture only loads")
}

func (f *fixtureBackend) Apply(context.Context, sync.Plan, func(sync.Result)) ([]sync.Result, error) {
	return nil, f.changed("Apply")
}

// CheckPlanSize is the engine's guard on the fixture's config.
func (f *fixtureBackend) CheckPlanSize(plan sync.Plan) error {
	return sync.NewService(sync.Sources{}, f.Config(), sync.ServiceOptions{}).CheckPlanSize(plan)
}

func (f *fixtureBackend) Revoke(context.Context, []sync.Credential) (sync.Revocation, error) {
	return sync.Revocation{}, f.changed("Revoke")
}

func (f *fixtureBackend) FindLeaked(context.Context, string) (Leak, error) {
	return Leak{}, f.changed("FindLeaked")
}

func (f *fixtureBackend) RevokeLeaked(context.Context, Leak) (LeakResult, error) {
	return LeakResult{}, f.changed("RevokeLeaked")
}

func (f *fixtureBackend) RevokeLeakRest(context.Context, Leak) (LeakResult, error) {
	return LeakResult{}, f.changed("RevokeLeakRest")
}

func (f *fixtureBackend) Rotate(context.Context, string) (sync.RotationResult, error) {
	return sync.RotationResult{}, f.changed("Rotate")
}

func (f *fixtureBackend) Remap(context.Context, int, string) error { return f.changed("Remap") }

// In is the fixture itself: it serves one workspace.
func (f *fixtureBackend) In(workspace string) (Backend, error) {
	if workspace != "" {
		return nil, fmt.Errorf("workspace %s: the fixture serves one workspace", workspace)
	}
	return f, nil
}

func (f *fixtureBackend) Map(context.Context, string, string) error { return f.changed("Map") }

func (f *fixtureBackend) Audit(ctx context.Context, n int) ([]AuditEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.audit)
	slices.Reverse(out)
	return out[:min(n, len(out))], nil
}

// console starts the console on the fixture in a w×h terminal and waits for the
// first load, for rendering flows that change nothing.
func console(t *testing.T, b *fixtureBackend, w, h int, readOnly bool) *teatest.TestModel {
	t.Helper()
	tm := teatest.NewTestModel(t, NewModel(b, testOptions(readOnly)), teatest.WithInitialTermSize(w, h))
	waitFor(t, tm, "data-engineers")
	return tm
}
