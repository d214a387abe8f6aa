package sync

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/config"
)

var planNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func planDaysAgo(n int) time.Time    { return planNow.Add(-time.Duration(n) * 24 * time.Hour) }
func planDays(n int) config.Duration { return config.Duration(time.Duration(n) * 24 * time.Hour) }

func planAcct(name string) Account {
	return Account{AccountID: "aid-" + name, UUID: "{" + name + "}", Nickname: name, DisplayName: strings.ToUpper(name[:1]) + name[1:]}
}

func planUser(name string) *User {
	return &User{ID: "u-" + name, UserName: name + "@acme.com", Active: true, Assigned: true}
}

func planMember(name string) Member {
	return Member{ID: "u-" + name, Type: PrincipalUser, Display: name + "@acme.com"}
}

// fixture: Bitbucket group data-engineers {alice, bob} mapped (prune) to the
// workspace group de-team {alice}; workspace members alice, bob, carol.
func planFixture() (*Snapshot, *config.Config) {
	de := &BitbucketGroup{Slug: "data-engineers", Name: "Data Engineers", Members: []Account{planAcct("alice"), planAcct("bob")}, Known: true}
	snap := &Snapshot{
		TakenAt:      planNow,
		Workspace:    "acme",
		Groups:       map[string]*BitbucketGroup{"data-engineers": de, "Data Engineers": de},
		Members:      []Account{planAcct("alice"), planAcct("bob"), planAcct("carol")},
		MembersKnown: true,
		Emails:       map[string]string{},
		Users:        map[string]*User{},
		DBGroups: map[string]*Group{
			"de-team": {ID: "g-de", Name: "de-team", Kind: KindWorkspace, Members: []Member{planMember("alice")}, MembersKnown: true},
		},
		SPs: map[string]*ServicePrincipal{
			"sp-etl": {ID: "sp-etl", ApplicationID: "app-etl", DisplayName: "etl-deployer", Active: true},
			"sp-bi":  {ID: "sp-bi", ApplicationID: "app-bi", DisplayName: "bi-sp", Active: true},
		},
		TokensKnown:  true,
		SecretsKnown: true,
		Bindings:     map[string]*BindingState{},
	}
	for _, n := range []string{"alice", "bob", "carol", "dave", "eve"} {
		snap.Emails["aid-"+n] = n + "@acme.com"
	}
	for _, n := range []string{"alice", "bob", "carol", "fay", "hal", "admin"} {
		snap.Users["u-"+n] = planUser(n)
	}
	cfg := &config.Config{
		Mappings: []config.Mapping{{BitbucketGroup: "data-engineers", DatabricksGroup: "de-team", Prune: true}},
		Policy:   config.Policy{Protected: []string{"admin@acme.com"}},
	}
	return snap, cfg
}

func planToken(id, owner string, created int, mod ...func(*Credential)) Credential {
	c := Credential{ID: id, Kind: CredentialPAT, OwnerID: "u-" + owner, Owner: owner + "@acme.com", OwnerType: PrincipalUser,
		Created: planDaysAgo(created), Expiry: planNow.Add(30 * 24 * time.Hour), LastUsed: planDaysAgo(1)}
	for _, m := range mod {
		m(&c)
	}
	return c
}

func planSPCred(id string, kind CredentialKind, sp string, created int) Credential {
	return Credential{ID: id, Kind: kind, OwnerID: "sp-" + sp, Owner: map[string]string{"etl": "etl-deployer", "bi": "bi-sp"}[sp],
		OwnerType: PrincipalServicePrincipal, Created: planDaysAgo(created), Expiry: planNow.Add(30 * 24 * time.Hour), LastUsed: planDaysAgo(1)}
}

func planNoExpiry(c *Credential) { c.Expiry = time.Time{} }

func TestComputePlan(t *testing.T) {
	etl := config.Binding{Name: "etl-prod", Repository: "etl", Variable: "DATABRICKS_TOKEN", ServicePrincipal: "etl-deployer",
		Credential: config.CredentialPAT, RotateEvery: planDays(30)}
	tests := []struct {
		name     string
		mod      func(s *Snapshot, c *config.Config)
		changes  []string            // change ids, in plan order
		findings []string            // "kind subject"
		routes   map[string]Route    // checked where given
		reasons  map[string]string   // checked where given
		details  map[string][]string // finding "kind subject" -> substrings of its detail
	}{
		{
			name:    "adds the missing member",
			changes: []string{"add_member/de-team/bob@acme.com"},
			routes:  map[string]Route{"add_member/de-team/bob@acme.com": RouteWorkspace},
			reasons: map[string]string{"add_member/de-team/bob@acme.com": "in Bitbucket group data-engineers"},
		},
		{
			name: "in step",
			mod: func(s *Snapshot, c *config.Config) {
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob")}
			},
		},
		{
			name: "emails differing in case cause no churn",
			mod: func(s *Snapshot, c *config.Config) {
				s.Emails["aid-alice"] = "Alice@ACME.com"
				s.Users["u-bob"].UserName = "BOB@acme.com"
				s.DBGroups["de-team"].Members = []Member{
					{ID: "u-alice", Type: PrincipalUser, Display: "ALICE@acme.com"},
					{ID: "other-id", Type: PrincipalUser, Display: "bob@ACME.com"}, // id not in the users list
				}
			},
			// A member the users list lacks is never removed: its display is
			// not known to be a userName.
			findings: []string{"unknown_source bob@ACME.com"},
		},
		{
			// Without account access, an account group may hold account users
			// not assigned to the workspace: the workspace users list lacks
			// them and their display is a display name. Removing "Dee Partner"
			// would act on a guess (she may well be dee@partner.com, wanted by
			// a mapped group, or protected).
			name: "a member not in the users list is never removed",
			mod: func(s *Snapshot, c *config.Config) {
				c.Policy.Protected = append(c.Policy.Protected, "dee@partner.com")
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob"),
					{ID: "u-dee", Type: PrincipalUser, Display: "Dee Partner"}}
			},
			findings: []string{"unknown_source Dee Partner"},
			details:  map[string][]string{"unknown_source Dee Partner": {"not in the Databricks users list", "not removed"}},
		},
		{
			name: "prune removes an unjustified member",
			mod: func(s *Snapshot, c *config.Config) {
				s.DBGroups["de-team"].Members = append(s.DBGroups["de-team"].Members, planMember("fay"))
			},
			changes: []string{"add_member/de-team/bob@acme.com", "remove_member/de-team/fay@acme.com"},
			reasons: map[string]string{"remove_member/de-team/fay@acme.com": "in no mapped Bitbucket group (data-engineers)"},
		},
		{
			name: "without prune nothing is removed",
			mod: func(s *Snapshot, c *config.Config) {
				c.Mappings[0].Prune = false
				s.DBGroups["de-team"].Members = append(s.DBGroups["de-team"].Members, planMember("fay"))
			},
			changes: []string{"add_member/de-team/bob@acme.com"},
		},
		{
			name: "prune from any mapping to the group counts",
			mod: func(s *Snapshot, c *config.Config) {
				c.Mappings[0].Prune = false
				c.Mappings = append(c.Mappings, config.Mapping{BitbucketGroup: "ml", DatabricksGroup: "de-team", Prune: true})
				s.Groups["ml"] = &BitbucketGroup{Slug: "ml", Name: "ml", Members: []Account{planAcct("carol")}, Known: true}
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob"), planMember("carol"), planMember("fay")}
			},
			changes: []string{"remove_member/de-team/fay@acme.com"},
			reasons: map[string]string{"remove_member/de-team/fay@acme.com": "in no mapped Bitbucket group (data-engineers, ml)"},
		},
		{
			name: "protected member is not removed",
			mod: func(s *Snapshot, c *config.Config) {
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob"), planMember("admin")}
			},
		},
		{
			// No change of any kind: members added or removed, entitlements.
			name: "IdP-managed group: finding, no change at all",
			mod: func(s *Snapshot, c *config.Config) {
				g := s.DBGroups["de-team"]
				g.ExternalID = "okta-123"
				g.Members = append(g.Members, planMember("fay"), planMember("hal"))
				g.Entitlements = []string{"allow-cluster-create"}
				c.Mappings[0].Entitlements = []string{"workspace-access"}
			},
			changes:  nil,
			findings: []string{"idp_managed de-team"},
			details: map[string][]string{"idp_managed de-team": {"okta-123", "changes nothing", "add bob@acme.com",
				"remove fay@acme.com, hal@acme.com", "add entitlement workspace-access", "remove entitlement allow-cluster-create"}},
		},
		{
			name: "failed source: no removal",
			mod: func(s *Snapshot, c *config.Config) {
				s.Groups["data-engineers"].Known = false
				s.Groups["data-engineers"].Problem = "HTTP 500"
				s.DBGroups["de-team"].Members = append(s.DBGroups["de-team"].Members, planMember("fay"))
			},
			changes:  []string{"add_member/de-team/bob@acme.com"},
			findings: []string{"unknown_source data-engineers"},
			details:  map[string][]string{"unknown_source data-engineers": {"could not be read (HTTP 500)", "nothing is removed from de-team"}},
		},
		{
			name: "empty source: no removal",
			mod: func(s *Snapshot, c *config.Config) {
				s.Groups["data-engineers"].Members = nil
				s.DBGroups["de-team"].Members = append(s.DBGroups["de-team"].Members, planMember("fay"))
			},
			findings: []string{"unknown_source data-engineers"},
			details:  map[string][]string{"unknown_source data-engineers": {"came back empty"}},
		},
		{
			name: "missing source group: finding, no removal",
			mod: func(s *Snapshot, c *config.Config) {
				c.Mappings = append(c.Mappings, config.Mapping{BitbucketGroup: "ghosts", DatabricksGroup: "de-team"})
				s.DBGroups["de-team"].Members = append(s.DBGroups["de-team"].Members, planMember("fay"))
			},
			changes:  []string{"add_member/de-team/bob@acme.com"},
			findings: []string{"unknown_source ghosts"},
			details:  map[string][]string{"unknown_source ghosts": {"does not exist in workspace acme"}},
		},
		{
			name: "unresolved member: finding, and no removal under prune",
			mod: func(s *Snapshot, c *config.Config) {
				g := s.Groups["data-engineers"]
				g.Members = append(g.Members, Account{AccountID: "5570:x", UUID: "{b2c3}", DisplayName: "Ghost"})
				s.DBGroups["de-team"].Members = append(s.DBGroups["de-team"].Members, planMember("fay"))
			},
			changes:  []string{"add_member/de-team/bob@acme.com"},
			findings: []string{"unknown_source data-engineers", "unresolved_identity {b2c3}"},
			details:  map[string][]string{"unresolved_identity {b2c3}": {"5570:x", "Ghost", "data-engineers"}},
		},
		{
			name: "unknown Databricks members: nothing added or removed",
			mod: func(s *Snapshot, c *config.Config) {
				s.DBGroups["de-team"].MembersKnown = false
				s.DBGroups["de-team"].Members = nil
			},
			findings: []string{"unknown_source de-team"},
		},
		{
			// Read leaves a placeholder (no id, members unknown) for each
			// mapped group when the Databricks group list fails.
			name: "group list failed: no entitlement or member change for the placeholder",
			mod: func(s *Snapshot, c *config.Config) {
				c.Mappings[0].Entitlements = []string{"workspace-access"}
				s.DBGroups["de-team"] = &Group{Name: "de-team", Kind: KindWorkspace}
				s.Credentials = []Credential{planToken("t-ok", "alice", 3)}
			},
			findings: []string{"unknown_source de-team"},
			details:  map[string][]string{"unknown_source de-team": {"could not be read", "no entitlements changed"}},
		},
		{
			name: "group without id: nothing planned against it",
			mod: func(s *Snapshot, c *config.Config) {
				c.Mappings[0].Entitlements = []string{"workspace-access"}
				s.DBGroups["de-team"].ID = ""
				s.DBGroups["de-team"].Entitlements = []string{"allow-cluster-create"}
			},
			findings: []string{"unknown_source de-team"},
		},
		{
			name: "unknown Databricks members: entitlements not changed either",
			mod: func(s *Snapshot, c *config.Config) {
				c.Mappings[0].Entitlements = []string{"workspace-access"}
				s.DBGroups["de-team"].MembersKnown = false
				s.DBGroups["de-team"].Entitlements = []string{"allow-cluster-create"}
			},
			findings: []string{"unknown_source de-team"},
			details:  map[string][]string{"unknown_source de-team": {"members of Databricks group de-team could not be read", "no entitlements changed"}},
		},
		{
			name: "service principals and nested groups are untouched",
			mod: func(s *Snapshot, c *config.Config) {
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob"),
					{ID: "sp-etl", Type: PrincipalServicePrincipal, Display: "etl-deployer"},
					{ID: "g-nested", Type: PrincipalGroup, Display: "nested"}}
			},
		},
		{
			name:     "missing user is a finding",
			mod:      func(s *Snapshot, c *config.Config) { delete(s.Users, "u-bob") },
			findings: []string{"missing_user bob@acme.com"},
			details:  map[string][]string{"missing_user bob@acme.com": {"never creates users"}},
		},
		{
			name:     "inactive user is a finding",
			mod:      func(s *Snapshot, c *config.Config) { s.Users["u-bob"].Active = false },
			findings: []string{"missing_user bob@acme.com"},
		},
		{
			name:     "user not assigned to the workspace: finding instead of add",
			mod:      func(s *Snapshot, c *config.Config) { s.Users["u-bob"].Assigned = false },
			findings: []string{"not_assigned bob@acme.com"},
		},
		{
			name: "create group, then its members and entitlements",
			mod: func(s *Snapshot, c *config.Config) {
				c.Mappings[0].Entitlements = []string{"workspace-access"}
				delete(s.DBGroups, "de-team")
			},
			changes: []string{"create_group/de-team", "add_member/de-team/alice@acme.com", "add_member/de-team/bob@acme.com",
				"add_entitlement/de-team/workspace-access"},
			routes: map[string]Route{"create_group/de-team": RouteWorkspace, "add_member/de-team/alice@acme.com": RouteWorkspace},
		},
		{
			name: "entitlements: mappings are authoritative, union of lists",
			mod: func(s *Snapshot, c *config.Config) {
				c.Mappings[0].Entitlements = []string{"workspace-access"}
				c.Mappings = append(c.Mappings, config.Mapping{BitbucketGroup: "data-engineers", DatabricksGroup: "de-team",
					Entitlements: []string{"databricks-sql-access"}})
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob")}
				s.DBGroups["de-team"].Entitlements = []string{"workspace-access", "allow-cluster-create"}
			},
			changes: []string{"add_entitlement/de-team/databricks-sql-access", "remove_entitlement/de-team/allow-cluster-create"},
		},
		{
			name: "entitlements untouched when no mapping lists them",
			mod: func(s *Snapshot, c *config.Config) {
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob")}
				s.DBGroups["de-team"].Entitlements = []string{"allow-cluster-create"}
			},
		},
		{
			name: "account group through account SCIM",
			mod: func(s *Snapshot, c *config.Config) {
				s.DBGroups["de-team"].Kind = KindAccount
				s.AccountAccess, s.ProxyAccess = true, true
				c.Mappings[0].Entitlements = []string{"workspace-access"}
			},
			changes: []string{"add_member/de-team/bob@acme.com", "add_entitlement/de-team/workspace-access"},
			routes:  map[string]Route{"add_member/de-team/bob@acme.com": RouteAccount, "add_entitlement/de-team/workspace-access": RouteWorkspace},
		},
		{
			name: "account group through the workspace proxy",
			mod: func(s *Snapshot, c *config.Config) {
				s.DBGroups["de-team"].Kind = KindAccount
				s.ProxyAccess, s.DBGroups["de-team"].ProxyAccess = true, true
			},
			changes: []string{"add_member/de-team/bob@acme.com"},
			routes:  map[string]Route{"add_member/de-team/bob@acme.com": RouteProxy},
		},
		{
			// The proxy answers every workspace user; only a workspace admin
			// or the group's manager may change the group through it.
			name: "account group the proxy does not let the caller change: finding",
			mod: func(s *Snapshot, c *config.Config) {
				s.DBGroups["de-team"].Kind = KindAccount
				s.ProxyAccess = true
				c.Mappings = append(c.Mappings, config.Mapping{BitbucketGroup: "data-engineers", DatabricksGroup: "ops"})
				s.DBGroups["ops"] = &Group{ID: "g-ops", Name: "ops", Kind: KindAccount, MembersKnown: true, ProxyAccess: true,
					Members: []Member{planMember("alice")}}
			},
			changes:  []string{"add_member/ops/bob@acme.com"},
			findings: []string{"account_group_no_access de-team"},
			routes:   map[string]Route{"add_member/ops/bob@acme.com": RouteProxy},
			details:  map[string][]string{"account_group_no_access de-team": {"manager of de-team", "add bob@acme.com"}},
		},
		{
			name: "account group without access: finding, entitlements still planned",
			mod: func(s *Snapshot, c *config.Config) {
				g := s.DBGroups["de-team"]
				g.Kind = KindAccount
				g.Members = append(g.Members, planMember("fay"))
				c.Mappings[0].Entitlements = []string{"workspace-access"}
			},
			changes:  []string{"add_entitlement/de-team/workspace-access"},
			findings: []string{"account_group_no_access de-team"},
			routes:   map[string]Route{"add_entitlement/de-team/workspace-access": RouteWorkspace},
			details:  map[string][]string{"account_group_no_access de-team": {"add bob@acme.com", "remove fay@acme.com"}},
		},
		{
			name: "token rules: age, expiry, protected, bound service principal, secrets",
			mod: func(s *Snapshot, c *config.Config) {
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob")}
				c.Policy.TokenMaxAge, c.Policy.RequireExpiry = planDays(90), true
				c.Pipelines = []config.Binding{etl}
				s.Bindings["etl-prod"] = &BindingState{Name: "etl-prod", VariableFound: true, RecordedID: "t-etl", SPID: "sp-etl", Known: true}
				s.Credentials = []Credential{
					planToken("t-old", "hal", 120),
					planToken("t-forever", "alice", 10, planNoExpiry),
					planToken("t-both", "bob", 100, planNoExpiry),
					planToken("t-young", "hal", 10),
					planToken("t-admin", "admin", 400, planNoExpiry),
					planSPCred("t-etl", CredentialOBO, "etl", 10),
					planSPCred("t-etl-old", CredentialOBO, "etl", 200),
					planSPCred("t-bi", CredentialOBO, "bi", 200),
					planSPCred("s-bi", CredentialOAuthSecret, "bi", 500),
				}
			},
			changes: []string{"revoke_token/t-forever", "revoke_token/t-bi", "revoke_token/t-both", "revoke_token/t-old"}, // by owner
			reasons: map[string]string{
				"revoke_token/t-old":     "older than 90d (120d)",
				"revoke_token/t-forever": "no expiry",
				"revoke_token/t-both":    "older than 90d (100d); no expiry",
			},
		},
		{
			name: "tokens unknown: token rules skipped",
			mod: func(s *Snapshot, c *config.Config) {
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob")}
				c.Policy.TokenMaxAge = planDays(90)
				s.TokensKnown = false
				s.Credentials = []Credential{planToken("t-old", "hal", 120, func(c *Credential) { c.LastUsed = planDaysAgo(85) })}
			},
			findings: []string{"unknown_source Databricks tokens"},
		},
		{
			name: "departed owner's tokens are revoked",
			mod: func(s *Snapshot, c *config.Config) {
				c.Policy.RevokeDeparted = true
				// fay left; carol is still a workspace member; admin is protected.
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob"), planMember("carol"), planMember("fay"), planMember("admin")}
				c.Mappings[0].Prune = false
				s.Credentials = []Credential{planToken("t-fay", "fay", 3), planToken("t-carol", "carol", 3), planToken("t-admin", "admin", 3), planToken("t-hal", "hal", 3)}
			},
			changes: []string{"revoke_token/t-fay"},
			reasons: map[string]string{"revoke_token/t-fay": "owner left the Bitbucket workspace"},
		},
		{
			name: "departed: unresolved workspace member means nobody departed",
			mod: func(s *Snapshot, c *config.Config) {
				c.Policy.RevokeDeparted = true
				s.Members = append(s.Members, Account{AccountID: "5570:x", UUID: "{b2c3}", DisplayName: "Gil"})
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob"), planMember("fay")}
				c.Mappings[0].Prune = false
				c.Identity.MapFile = "/etc/bitbricks/identities.yaml"
				s.Credentials = []Credential{planToken("t-fay", "fay", 3)}
			},
			findings: []string{"departed_unknown acme"},
			// The finding names who is unresolved and the map line for each.
			details: map[string][]string{"departed_unknown acme": {"1 Bitbucket workspace member without an email", "Gil (5570:x)",
				`the line "5570:x": <Databricks userName> in identity.map_file (/etc/bitbricks/identities.yaml)`}},
		},
		{
			name: "departed: many unresolved members are named up to five",
			mod: func(s *Snapshot, c *config.Config) {
				c.Policy.RevokeDeparted = true
				for _, n := range []string{"m1", "m2", "m3", "m4", "m5", "m6", "m7"} {
					s.Members = append(s.Members, Account{AccountID: "5570:" + n, DisplayName: n})
				}
				c.Mappings[0].Prune = false
				s.Credentials = []Credential{planToken("t-fay", "fay", 3)}
			},
			changes:  []string{"add_member/de-team/bob@acme.com"},
			findings: []string{"departed_unknown acme"},
			details: map[string][]string{"departed_unknown acme": {"7 Bitbucket workspace members without an email", "m5 (5570:m5), and 2 more",
				`"5570:m1": <Databricks userName>`, "in a file that identity.map_file names"}},
		},
		{
			name: "departed: unknown workspace members means nobody departed",
			mod: func(s *Snapshot, c *config.Config) {
				c.Policy.RevokeDeparted = true
				s.MembersKnown = false
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob"), planMember("fay")}
				c.Mappings[0].Prune = false
				s.Credentials = []Credential{planToken("t-fay", "fay", 3)}
			},
			findings: []string{"departed_unknown acme"},
		},
		{
			name: "departed: only from groups that are not IdP-managed",
			mod: func(s *Snapshot, c *config.Config) {
				c.Policy.RevokeDeparted = true
				s.DBGroups["de-team"].ExternalID = "okta-1"
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob"), planMember("fay")}
				c.Mappings[0].Prune = false
				s.Credentials = []Credential{planToken("t-fay", "fay", 3)}
			},
		},
		{
			name: "stale tokens and secret limit",
			mod: func(s *Snapshot, c *config.Config) {
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob")}
				s.Credentials = []Credential{
					planToken("t-idle", "hal", 200, func(c *Credential) { c.LastUsed = planDaysAgo(85) }),
					planToken("t-never", "hal", 81, func(c *Credential) { c.LastUsed = time.Time{} }),
					planToken("t-busy", "hal", 200),
					planSPCred("s1", CredentialOAuthSecret, "bi", 1), planSPCred("s2", CredentialOAuthSecret, "bi", 2),
					planSPCred("s3", CredentialOAuthSecret, "bi", 3), planSPCred("s4", CredentialOAuthSecret, "bi", 4),
					planSPCred("s5", CredentialOAuthSecret, "etl", 4),
				}
			},
			findings: []string{"secret_limit bi-sp", "stale_token t-idle", "stale_token t-never"},
			details: map[string][]string{
				"stale_token t-idle":  {"hal@acme.com", "unused for 85 days"},
				"stale_token t-never": {"never used, created 81 days ago"},
				"secret_limit bi-sp":  {"4 of 5"},
			},
		},
		{
			name: "rotation due",
			mod: func(s *Snapshot, c *config.Config) {
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob")}
				c.Pipelines = []config.Binding{etl}
				s.Bindings["etl-prod"] = &BindingState{Name: "etl-prod", VariableFound: true, RecordedID: "t-etl", SPID: "sp-etl", Known: true}
				s.Credentials = []Credential{planSPCred("t-etl", CredentialOBO, "etl", 35)}
			},
			changes: []string{"rotate_credential/etl-prod"},
			reasons: map[string]string{"rotate_credential/etl-prod": "due: credential is 35d old (rotate every 30d)"},
		},
		{
			name: "rotation not due",
			mod: func(s *Snapshot, c *config.Config) {
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob")}
				c.Pipelines = []config.Binding{etl}
				s.Bindings["etl-prod"] = &BindingState{Name: "etl-prod", VariableFound: true, RecordedID: "t-etl", SPID: "sp-etl", Known: true}
				s.Credentials = []Credential{planSPCred("t-etl", CredentialOBO, "etl", 10)}
			},
		},
		{
			name: "rotation: variable missing",
			mod: func(s *Snapshot, c *config.Config) {
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob")}
				c.Pipelines = []config.Binding{etl}
				s.Bindings["etl-prod"] = &BindingState{Name: "etl-prod", RecordedID: "t-etl", SPID: "sp-etl", Known: true}
				s.Credentials = []Credential{planSPCred("t-etl", CredentialOBO, "etl", 10)}
			},
			changes: []string{"rotate_credential/etl-prod"},
			reasons: map[string]string{"rotate_credential/etl-prod": "variable DATABRICKS_TOKEN missing in repository etl"},
		},
		{
			name: "rotation: recorded credential gone",
			mod: func(s *Snapshot, c *config.Config) {
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob")}
				c.Pipelines = []config.Binding{etl}
				s.Bindings["etl-prod"] = &BindingState{Name: "etl-prod", VariableFound: true, RecordedID: "t-gone", SPID: "sp-etl", Known: true}
			},
			changes: []string{"rotate_credential/etl-prod"},
			reasons: map[string]string{"rotate_credential/etl-prod": "recorded credential t-gone no longer exists"},
		},
		{
			name: "rotation: binding unknown",
			mod: func(s *Snapshot, c *config.Config) {
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob")}
				c.Pipelines = []config.Binding{etl}
				s.Bindings["etl-prod"] = &BindingState{Name: "etl-prod", Problem: "HTTP 403", Known: false}
			},
			findings: []string{"unknown_source etl-prod"},
			details:  map[string][]string{"unknown_source etl-prod": {"HTTP 403"}},
		},
		{
			name: "ordering: additive first, destructive last",
			mod: func(s *Snapshot, c *config.Config) {
				c.Policy.TokenMaxAge = planDays(90)
				c.Pipelines = []config.Binding{etl}
				c.Mappings[0].Entitlements = []string{"workspace-access"}
				c.Mappings = append(c.Mappings, config.Mapping{BitbucketGroup: "data-engineers", DatabricksGroup: "analysts", Prune: true})
				s.Bindings["etl-prod"] = &BindingState{Name: "etl-prod", VariableFound: true, RecordedID: "t-etl", SPID: "sp-etl", Known: true}
				s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("fay")}
				s.DBGroups["de-team"].Entitlements = []string{"allow-cluster-create"}
				s.Credentials = []Credential{planSPCred("t-etl", CredentialOBO, "etl", 40), planToken("t-old", "hal", 100)}
			},
			changes: []string{
				"create_group/analysts",
				"add_member/analysts/alice@acme.com", "add_member/analysts/bob@acme.com", "add_member/de-team/bob@acme.com",
				"add_entitlement/de-team/workspace-access",
				"rotate_credential/etl-prod",
				"remove_entitlement/de-team/allow-cluster-create",
				"remove_member/de-team/fay@acme.com",
				"revoke_token/t-old",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap, cfg := planFixture()
			if tc.mod != nil {
				tc.mod(snap, cfg)
			}
			p := ComputePlan(snap, cfg, planNow)
			var ids, finds []string
			byID := map[string]Change{}
			for _, c := range p.Changes {
				ids = append(ids, c.ID)
				byID[c.ID] = c
				if c.Destructive != c.Action.Destructive() {
					t.Errorf("%s: destructive %v", c.ID, c.Destructive)
				}
			}
			byKey := map[string]Finding{}
			for _, f := range p.Findings {
				k := string(f.Kind) + " " + f.Subject
				finds = append(finds, k)
				byKey[k] = f
			}
			if !slices.Equal(ids, tc.changes) {
				t.Errorf("changes:\n got %q\nwant %q", ids, tc.changes)
			}
			if !slices.Equal(finds, tc.findings) {
				t.Errorf("findings:\n got %q\nwant %q\n%+v", finds, tc.findings, p.Findings)
			}
			for id, r := range tc.routes {
				if got := byID[id].Route; got != r {
					t.Errorf("%s: route %q, want %q", id, got, r)
				}
			}
			for id, r := range tc.reasons {
				if got := byID[id].Reason; got != r {
					t.Errorf("%s: reason %q, want %q", id, got, r)
				}
			}
			for k, subs := range tc.details {
				for _, sub := range subs {
					if !strings.Contains(byKey[k].Detail, sub) {
						t.Errorf("%s: detail %q lacks %q", k, byKey[k].Detail, sub)
					}
				}
			}
		})
	}
}

func TestComputePlanFields(t *testing.T) {
	snap, cfg := planFixture()
	delete(snap.DBGroups, "de-team")
	snap.DBGroups["ops"] = &Group{ID: "g-ops", Name: "ops", Kind: KindAccount, MembersKnown: true}
	snap.AccountAccess = true
	cfg.Mappings = append(cfg.Mappings, config.Mapping{BitbucketGroup: "data-engineers", DatabricksGroup: "ops"})
	cfg.Policy.TokenMaxAge = planDays(90)
	snap.Credentials = []Credential{planToken("t-old", "hal", 120)}
	p := ComputePlan(snap, cfg, planNow)
	want := []Change{
		{ID: "create_group/de-team", Action: ActionCreateGroup, Group: "de-team", GroupKind: KindWorkspace,
			Reason: "mapped from Bitbucket group data-engineers", Route: RouteWorkspace},
		{ID: "add_member/de-team/alice@acme.com", Action: ActionAddMember, Group: "de-team", GroupKind: KindWorkspace,
			Principal: "alice@acme.com", PrincipalType: PrincipalUser, Reason: "in Bitbucket group data-engineers",
			PrincipalID: "u-alice", Route: RouteWorkspace},
		{ID: "add_member/de-team/bob@acme.com", Action: ActionAddMember, Group: "de-team", GroupKind: KindWorkspace,
			Principal: "bob@acme.com", PrincipalType: PrincipalUser, Reason: "in Bitbucket group data-engineers",
			PrincipalID: "u-bob", Route: RouteWorkspace},
		{ID: "add_member/ops/alice@acme.com", Action: ActionAddMember, Group: "ops", GroupKind: KindAccount,
			Principal: "alice@acme.com", PrincipalType: PrincipalUser, Reason: "in Bitbucket group data-engineers",
			GroupID: "g-ops", PrincipalID: "u-alice", Route: RouteAccount},
		{ID: "add_member/ops/bob@acme.com", Action: ActionAddMember, Group: "ops", GroupKind: KindAccount,
			Principal: "bob@acme.com", PrincipalType: PrincipalUser, Reason: "in Bitbucket group data-engineers",
			GroupID: "g-ops", PrincipalID: "u-bob", Route: RouteAccount},
		{ID: "revoke_token/t-old", Action: ActionRevokeToken, Principal: "hal@acme.com", PrincipalType: PrincipalUser,
			TokenID: "t-old", Destructive: true, Reason: "older than 90d (120d)", PrincipalID: "u-hal"},
	}
	if !reflect.DeepEqual(p.Changes, want) {
		t.Errorf("changes:\n got %+v\nwant %+v", p.Changes, want)
	}
	if !p.GeneratedAt.Equal(planNow) {
		t.Errorf("GeneratedAt %v", p.GeneratedAt)
	}
}

func TestComputePlanDeterministic(t *testing.T) {
	snap, cfg := planFixture()
	cfg.Policy = config.Policy{TokenMaxAge: planDays(30), RequireExpiry: true, RevokeDeparted: true}
	cfg.Mappings = append(cfg.Mappings,
		config.Mapping{BitbucketGroup: "Data Engineers", DatabricksGroup: "analysts", Entitlements: []string{"databricks-sql-access", "workspace-access"}},
		config.Mapping{BitbucketGroup: "ghosts", DatabricksGroup: "ops", Prune: true})
	snap.DBGroups["de-team"].Members = []Member{planMember("fay"), planMember("hal"), planMember("carol")}
	snap.Groups["data-engineers"].Members = append(snap.Groups["data-engineers"].Members, planAcct("dave"), planAcct("eve"), planAcct("zed"))
	for i := range 20 {
		snap.Credentials = append(snap.Credentials, planToken("t"+string(rune('a'+i)), []string{"fay", "hal", "carol"}[i%3], 10*i))
	}
	first := ComputePlan(snap, cfg, planNow)
	for range 20 {
		if again := ComputePlan(snap, cfg, planNow); !reflect.DeepEqual(first, again) {
			t.Fatalf("plans differ:\n%+v\n%+v", first, again)
		}
	}
	if len(first.Changes) == 0 || len(first.Findings) == 0 {
		t.Fatalf("fixture too small: %+v", first)
	}
}

func TestPlanSummary(t *testing.T) {
	p := Plan{Changes: []Change{
		{Action: ActionAddMember}, {Action: ActionAddMember}, {Action: ActionRevokeToken}, {Action: ActionRemoveMember},
	}, Findings: []Finding{{Kind: FindingMissingUser}}}
	got := PlanSummary(p)
	want := Summary{Changes: 4, Destructive: 2, Findings: 1, ByAction: map[string]int{"add_member": 2, "revoke_token": 1, "remove_member": 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if p.Destructive() != 2 {
		t.Errorf("Destructive() = %d", p.Destructive())
	}
	if s := PlanSummary(Plan{}); s.ByAction == nil || s.Changes != 0 {
		t.Errorf("empty summary %+v", s)
	}
}
