package sync

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/emulator"
)

func TestReadDemo(t *testing.T) {
	// Latency makes every SCIM read overlap: the adapter's gate must keep
	// them under the service's limit of 4.
	e := newDemo(t, emulator.Options{Latency: 20 * time.Millisecond})
	snap := e.read(t)
	st := e.srv.Stats()
	t.Logf("requests: total %d, by system %v", st.Total, st.Families)
	for r, n := range st.Routes {
		t.Logf("  %3d %s", n, r)
	}

	if len(snap.Problems) > 0 {
		t.Errorf("problems reading the demo: %+v", snap.Problems)
	}
	e.org.Mu.Lock()
	var assigned, visibleGroups int
	for _, u := range e.org.DB.Users {
		if u.Assigned {
			assigned++
		}
	}
	for _, g := range e.org.DB.Groups {
		if g.Kind == emulator.WorkspaceGroup || g.Assigned {
			visibleGroups++
		}
	}
	// The account admin service principal is assigned to no workspace:
	// neither it nor its secret is the workspace's.
	sps, secrets := 0, 0
	for _, sp := range e.org.DB.ServicePrincipals {
		if sp.Assigned {
			sps++
		}
	}
	for _, sec := range e.org.DB.Secrets {
		if sp := e.org.DB.ServicePrincipals[sec.SPID]; sp != nil && sp.Assigned {
			secrets++
		}
	}
	counts := map[string][2]int{
		"bitbucket groups":   {len(e.org.BB.Groups), distinctGroups(snap)},
		"databricks users":   {assigned, len(snap.Users)},
		"databricks groups":  {visibleGroups, len(snap.DBGroups)},
		"service principals": {sps, len(snap.SPs)},
		"tokens":             {len(e.org.DB.Tokens), countKind(snap, CredentialPAT, CredentialOBO)},
		"oauth secrets":      {secrets, countKind(snap, CredentialOAuthSecret)},
	}
	e.org.Mu.Unlock()
	for what, c := range counts {
		if c[0] != c[1] {
			t.Errorf("%s: snapshot has %d, the organisation %d", what, c[1], c[0])
		}
	}

	// Request budget: one /1.0/groups call for every group and member, one
	// users/search batch for every email, never a request per user or group.
	if n := st.Routes["bitbucket GET /1.0/groups/{workspace}"]; n != 1 {
		t.Errorf("/1.0/groups calls = %d, want 1", n)
	}
	for r, n := range st.Routes {
		if strings.Contains(r, "/1.0/groups/{workspace}/") || strings.Contains(r, "scim/v2/Users/{id}") || strings.Contains(r, "scim/v2/Groups/{id}") {
			t.Errorf("per-item request %s made %d times", r, n)
		}
	}
	// One batch of account ids, one of the addresses the email filter
	// answered absent (their accounts, for the direct lookups).
	if n := st.Routes["atlassian POST /admin/v2/orgs/{orgId}/directories/{directoryId}/users/search"]; n != 2 {
		t.Errorf("users/search calls = %d, want 2", n)
	}
	if n := st.Routes["bitbucket GET /2.0/workspaces/{workspace}/members/{member}"]; n != 2 {
		t.Errorf("direct membership lookups = %d, want 2 (fay, gus)", n)
	}
	if max := int64(8 + 2*len(e.cfg.Pipelines)); st.Families["bitbucket"] > max {
		t.Errorf("bitbucket requests = %d, want at most %d", st.Families["bitbucket"], max)
	}
	if n := st.Refused["scim_concurrency"]; n > 0 {
		t.Errorf("%d SCIM requests refused for concurrency", n)
	}

	if snap.Caller != "admin@acme.com" || !snap.AccountAccess || !snap.ProxyAccess || !snap.TokensKnown || !snap.SecretsKnown || !snap.PresenceKnown {
		t.Errorf("caller %q, account %v, proxy %v, tokens %v, secrets %v, presence %v",
			snap.Caller, snap.AccountAccess, snap.ProxyAccess, snap.TokensKnown, snap.SecretsKnown, snap.PresenceKnown)
	}
	// Departures are checked by email for the people they could concern:
	// fay and gus left, eve and olga are still members.
	for e, want := range map[string]bool{"fay@acme.com": false, "gus@acme.com": false, "eve@acme.com": true, "olga@acme.com": true} {
		if got, asked := snap.Presence[e]; !asked || got != want {
			t.Errorf("presence of %s = %v (asked %v), want %v", e, got, asked, want)
		}
	}
	if snap.MaxTokenDays != 90 {
		t.Errorf("MaxTokenDays = %d, want 90", snap.MaxTokenDays)
	}

	// Identity: by account id through the Admin API, case kept (the planner
	// compares case-insensitively); the guest without an email stays out.
	e.org.Mu.Lock()
	ivy := e.org.BB.Users[slices.IndexFunc(e.org.BB.Users, func(u *emulator.BBUser) bool { return u.Nickname == "ivy" })]
	gil := e.org.BB.Users[slices.IndexFunc(e.org.BB.Users, func(u *emulator.BBUser) bool { return u.Nickname == "gil" })]
	e.org.Mu.Unlock()
	if got := snap.Emails[ivy.AccountID]; got != "Ivy.Chen@acme.com" {
		t.Errorf("ivy's email = %q", got)
	}
	// A guest has no email in the directory; the demo's identity map has him.
	if got := snap.Emails[gil.AccountID]; got != emulator.DemoGuestEmail {
		t.Errorf("gil resolved to %q, want %s from the identity map", got, emulator.DemoGuestEmail)
	}
	plan := ComputePlan(snap, e.cfg, demoNow)
	if slices.ContainsFunc(plan.Changes, func(c Change) bool { return strings.Contains(strings.ToLower(c.Principal), "ivy") }) {
		t.Errorf("ivy (email differs in case only) got a change: %+v", plan.Changes)
	}

	// Group kinds and members.
	for name, want := range map[string]GroupKind{"de-team": KindWorkspace, "platform-eng": KindAccount, "partners": KindAccount, "users": KindWorkspace} {
		if g := snap.DBGroups[name]; g == nil || g.Kind != want {
			t.Errorf("group %s kind = %v, want %s", name, g, want)
		}
	}
	if snap.DBGroups["partners"].ExternalID == "" {
		t.Error("partners: externalId missing")
	}
	de := snap.DBGroups["de-team"]
	types := map[string]PrincipalType{}
	for _, m := range de.Members {
		types[m.Display] = m.Type
	}
	for name, want := range map[string]PrincipalType{"alice@acme.com": PrincipalUser, "ivy.chen@acme.com": PrincipalUser,
		"etl-deployer": PrincipalServicePrincipal, "de-oncall": PrincipalGroup} {
		if types[name] != want {
			t.Errorf("de-team member %s: type %q, want %q (members %v)", name, types[name], want, types)
		}
	}
	if g := snap.Groups["data-engineers"]; g == nil || !g.Known || len(g.Members) != 9 || snap.Groups["Data Engineers"] != g {
		t.Errorf("data-engineers = %+v", g)
	}

	// Bindings and credentials.
	etl, ml := snap.Bindings["etl-prod"], snap.Bindings["ml-prod"]
	if etl == nil || !etl.Known || !etl.VariableFound || etl.RecordedID == "" || etl.SPID == "" {
		t.Errorf("etl-prod = %+v", etl)
	}
	if ml == nil || !ml.Known || !ml.VariableFound || ml.RecordedID == "" || ml.SPID == "" {
		t.Errorf("ml-prod = %+v", ml)
	}
	for _, c := range snap.Credentials {
		if c.ID == etl.RecordedID && (c.Kind != CredentialOBO || c.Owner != "etl-deployer" || c.OwnerType != PrincipalServicePrincipal) {
			t.Errorf("etl-prod's token = %+v, want an OBO token of etl-deployer", c)
		}
	}
	if n := countKind(snap, CredentialAtlassianToken); n != 3 {
		t.Errorf("atlassian tokens = %d, want the 3 active ones", n)
	}
}

func distinctGroups(s *Snapshot) int {
	seen := map[*BitbucketGroup]bool{}
	for _, g := range s.Groups {
		seen[g] = true
	}
	return len(seen)
}

func countKind(s *Snapshot, kinds ...CredentialKind) int {
	n := 0
	for _, c := range s.Credentials {
		if slices.Contains(kinds, c.Kind) {
			n++
		}
	}
	return n
}

func TestReadIdentityMapWins(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	e.org.Mu.Lock()
	var gil, alice *emulator.BBUser
	for _, u := range e.org.BB.Users {
		switch u.Nickname {
		case "gil":
			gil = u
		case "alice":
			alice = u
		}
	}
	e.org.Mu.Unlock()
	f := filepath.Join(t.TempDir(), "identities.yaml")
	// A {uuid} key in other case, and an account_id key that overrides the directory.
	body := `"` + strings.ToUpper(gil.UUID) + `": gil@consulting.example` + "\n" + `"` + alice.AccountID + `": alice.archer@acme.com` + "\n"
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	e.cfg.Identity.MapFile = f
	snap := e.read(t)
	if got := snap.Emails[gil.AccountID]; got != "gil@consulting.example" {
		t.Errorf("gil = %q, want the map's entry", got)
	}
	if got := snap.Emails[alice.AccountID]; got != "alice.archer@acme.com" {
		t.Errorf("alice = %q, want the map to win over the directory", got)
	}
}

func TestReadBitbucketGroupFaults(t *testing.T) {
	for _, tc := range []struct {
		name, problem string
		kind          emulator.FaultKind
		unknown       []string // groups that must be unknown
		known         []string // groups that stay known
	}{
		// Every group without a member is a bad read: all mapped groups unknown.
		{"empty members", "all 6 groups came back without members", emulator.FaultEmptyMembers, []string{"data-engineers", "platform", "contractors", "ml", "analytics"}, nil},
		{"500", "groups", emulator.Fault500, []string{"data-engineers", "platform", "contractors", "ml", "analytics"}, nil},
		{"reset", "groups", emulator.FaultReset, []string{"data-engineers", "ml"}, nil},
		{"truncated", "groups", emulator.FaultTruncated, []string{"data-engineers", "ml"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newDemo(t, emulator.Options{Faults: []emulator.FaultRule{{Route: "/1.0/groups/**", Kind: tc.kind}}})
			snap := e.read(t)
			for _, name := range tc.unknown {
				if g := snap.Groups[name]; g == nil || g.Known || g.Problem == "" {
					t.Errorf("group %s = %+v, want unknown with a problem", name, g)
				}
			}
			for _, name := range tc.known {
				if g := snap.Groups[name]; g == nil || !g.Known {
					t.Errorf("group %s = %+v, want known", name, g)
				}
			}
			if !slices.ContainsFunc(snap.Problems, func(p SourceProblem) bool {
				return p.System == SystemBitbucket && strings.Contains(p.Source+" "+p.Err, tc.problem)
			}) {
				t.Errorf("no bitbucket problem about %q: %+v", tc.problem, snap.Problems)
			}
			plan := ComputePlan(snap, e.cfg, demoNow)
			for _, c := range plan.Changes {
				if c.Action == ActionRemoveMember {
					t.Errorf("removal planned on unknown data: %s", c.ID)
				}
			}
		})
	}
}

func TestReadSourceFailuresAreProblems(t *testing.T) {
	e := newDemo(t, emulator.Options{Faults: []emulator.FaultRule{
		{Route: "/api/2.0/token-management/**", Kind: emulator.Fault500},
		{Route: "/2.0/workspaces/{workspace}/members", Kind: emulator.FaultTruncated},
		{Route: "/2.0/repositories/*/etl/**", Kind: emulator.Fault500},
	}})
	snap := e.read(t)
	if snap.TokensKnown || snap.MembersKnown {
		t.Errorf("TokensKnown %v, MembersKnown %v; want both false", snap.TokensKnown, snap.MembersKnown)
	}
	if b := snap.Bindings["etl-prod"]; b == nil || b.Known || b.Problem == "" {
		t.Errorf("etl-prod = %+v, want unknown", b)
	}
	if len(snap.Problems) != 3 {
		t.Errorf("problems = %+v, want 3", snap.Problems)
	}
	for _, p := range snap.Problems {
		if strings.Contains(p.Err, "\n") {
			t.Errorf("problem not on one line: %q", p.Err)
		}
	}
}

func TestReadWrongCredentials(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	t.Run("databricks", func(t *testing.T) {
		src := e.sources(t, "dapi"+strings.Repeat("0", 32))
		if ProbeTimeout > 10*time.Second {
			t.Errorf("probe timeout %s, want at most 10s so a bad setup fails within 15s", ProbeTimeout)
		}
		_, err := Read(context.Background(), src, e.cfg, nil)
		wantSystemError(t, err, "databricks: authentication failed at "+e.http.URL+" (check ")
	})
	t.Run("bitbucket", func(t *testing.T) {
		src := e.sources(t, e.org.Creds.DatabricksToken)
		bb, err := NewBitbucket(e.cfg, MapEnv(map[string]string{"BITBUCKET_USERNAME": e.org.Creds.BitbucketUsername, "BITBUCKET_API_TOKEN": "ATATT-wrong"}))
		if err != nil {
			t.Fatal(err)
		}
		src.Bitbucket = bb
		_, err = Read(context.Background(), src, e.cfg, nil)
		wantSystemError(t, err, "bitbucket: authentication failed at "+e.http.URL+"/2.0 (check BITBUCKET_USERNAME and BITBUCKET_API_TOKEN)")
	})
}

func TestReadUnreachable(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	t.Run("bitbucket", func(t *testing.T) {
		src := e.sources(t, e.org.Creds.DatabricksToken)
		bb, err := NewBitbucket(e.cfg, MapEnv(map[string]string{"BITBUCKET_API_BASE_URL": closed + "/2.0", "BITBUCKET_ACCESS_TOKEN": e.org.Creds.BitbucketBearer}))
		if err != nil {
			t.Fatal(err)
		}
		src.Bitbucket = bb
		fastRetries(src) // the refused connection is retried RetryAttempts times, without the real waits
		_, err = Read(context.Background(), src, e.cfg, nil)
		wantSystemError(t, err, "bitbucket: cannot reach "+closed+"/2.0 (check BITBUCKET_API_BASE_URL and the network)")
	})
	t.Run("databricks", func(t *testing.T) {
		// The SDK retries refused connections until its retry timeout: keep it short here.
		db, err := NewDatabricks(e.cfg, withAccount(e.org, DatabricksOptions{Host: closed, Token: e.org.Creds.DatabricksToken, RetryTimeout: time.Second}))
		if err != nil {
			t.Fatal(err)
		}
		src := e.sources(t, e.org.Creds.DatabricksToken)
		src.Databricks = db
		_, err = Read(context.Background(), src, e.cfg, nil)
		wantSystemError(t, err, "databricks: cannot reach "+closed+" (check ")
	})
}

func wantSystemError(t *testing.T, err error, prefix string) {
	t.Helper()
	var se *SystemError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want a *SystemError", err, err)
	}
	msg := Message(err)
	if !strings.HasPrefix(msg, prefix) || strings.Contains(msg, "\n") || !strings.HasSuffix(msg, ")") {
		t.Errorf("message = %q, want one line starting %q", msg, prefix)
	}
	if ExitCode(err) != 1 {
		t.Errorf("exit code %d, want 1", ExitCode(err))
	}
}

func TestReadGroupsFromAtlassianAdmin(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	e.cfg.Bitbucket.GroupsSource = "atlassian-admin"
	snap := e.read(t)
	st := e.srv.Stats()
	if n := st.Routes["bitbucket GET /1.0/groups/{workspace}"]; n != 0 {
		t.Errorf("/1.0/groups called %d times with groups from the Atlassian directory", n)
	}
	for _, m := range e.cfg.Mappings {
		if g := snap.Groups[m.BitbucketGroup]; g == nil || !g.Known || len(g.Members) == 0 {
			t.Errorf("directory group %s = %+v", m.BitbucketGroup, g)
		}
	}
	if g := snap.Groups["interns"]; g == nil || g.Known {
		t.Errorf("unmapped interns = %+v, want listed but unknown", g)
	}
	if len(snap.Problems) > 0 {
		t.Errorf("problems: %+v", snap.Problems)
	}
	// The same plan as from /1.0/groups (the guest, whom the directory does
	// not list in analytics, is resolved by the identity map there).
	e2 := newDemo(t, emulator.Options{})
	var a, b []string
	for _, c := range ComputePlan(snap, e.cfg, demoNow).Changes {
		a = append(a, c.Action.String()+"/"+c.Group+"/"+c.Principal)
	}
	for _, c := range ComputePlan(e2.read(t), e2.cfg, demoNow).Changes {
		b = append(b, c.Action.String()+"/"+c.Group+"/"+c.Principal)
	}
	if !sameSet(a, b) {
		t.Errorf("plan from the directory:\n%v\nfrom /1.0/groups:\n%v", a, b)
	}
}

// A Databricks list that fails leaves everything that depends on it unknown.
func TestReadDatabricksPartialFailures(t *testing.T) {
	fault := func(route string) emulator.Options {
		return emulator.Options{Faults: []emulator.FaultRule{{Route: route, Method: "GET", Kind: emulator.Fault500}}}
	}
	t.Run("users", func(t *testing.T) {
		e := newDemo(t, fault("/api/2.0/preview/scim/v2/Users"))
		snap := e.read(t)
		for name, g := range snap.DBGroups {
			if g.MembersKnown {
				t.Errorf("group %s: members known without the users list", name)
			}
		}
		if snap.TokensKnown {
			t.Error("tokens known without the users list")
		}
		for _, c := range ComputePlan(snap, e.cfg, demoNow).Changes {
			if c.Action == ActionAddMember || c.Action == ActionRemoveMember || c.Action == ActionRevokeToken {
				t.Errorf("planned %s on unknown users", c.ID)
			}
		}
	})
	t.Run("service principals", func(t *testing.T) {
		e := newDemo(t, fault("/api/2.0/preview/scim/v2/ServicePrincipals"))
		snap := e.read(t)
		if snap.TokensKnown || snap.SecretsKnown {
			t.Errorf("TokensKnown %v, SecretsKnown %v without the service principal list", snap.TokensKnown, snap.SecretsKnown)
		}
	})
}
