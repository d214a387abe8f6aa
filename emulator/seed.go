package emulator

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Seed builds a named organisation: "demo" (Demo) or "large" (Large with
// DefaultLarge). now anchors every age in the seed.
func Seed(name string, now time.Time) (*Org, error) {
	switch name {
	case "demo":
		return Demo(now), nil
	case "large":
		return Large(DefaultLarge(), now), nil
	}
	return nil, fmt.Errorf("unknown seed %q (want demo or large)", name)
}

// seedClock is an organisation clock that reads now at seed time and then
// runs with the wall clock, so objects created later are newer than the
// seeded ones. Tests that need a frozen clock replace Org.Now.
func seedClock(now time.Time) func() time.Time {
	start := time.Now()
	return func() time.Time { return now.Add(time.Since(start)) }
}

const seedDay = 24 * time.Hour

// demoPerson flags.
const (
	demoDeparted = 1 << iota // left the Bitbucket workspace (still in Databricks)
	demoNoDB                 // no Databricks user
	demoInactive             // Databricks user deactivated
	demoGuest                // not managed by the Atlassian org: no email anywhere
	demoDBOnly               // Databricks only, provisioned by the IdP
	demoOwner                // Bitbucket workspace owner, Databricks admin
)

// demoPeople are the demo's people, in seed order. Nicknames are the keys
// the tables below use. Ivy's Atlassian email differs from her Databricks
// userName only in case.
var demoPeople = []struct {
	nick, name, email string
	flags             int
}{
	{"admin", "Alex Admin", "admin@acme.com", demoOwner},
	{"alice", "Alice Archer", "alice@acme.com", 0},
	{"bob", "Bob Baker", "bob@acme.com", 0},
	{"carol", "Carol Chu", "carol@acme.com", 0},
	{"dan", "Dan Dubois", "dan@acme.com", 0},
	{"ivy", "Ivy Chen", "Ivy.Chen@acme.com", 0},
	{"hana", "Hana Haddad", "hana@acme.com", 0},
	{"jon", "Jon Jensen", "jon@acme.com", 0},
	{"ben", "Ben Brooks", "ben@acme.com", 0},
	{"cleo", "Cleo Castro", "cleo@acme.com", 0},
	{"eve", "Eve Evans", "eve@acme.com", 0},
	{"fay", "Fay Fischer", "fay@acme.com", demoDeparted},
	{"paul", "Paul Park", "paul@acme.com", 0},
	{"quinn", "Quinn Quade", "quinn@acme.com", 0},
	{"rita", "Rita Rossi", "rita@acme.com", 0},
	{"sam", "Sam Sato", "sam@acme.com", 0},
	{"tess", "Tess Taylor", "tess@acme.com", 0},
	{"finn", "Finn Foster", "finn@acme.com", 0},
	{"greta", "Greta Gruber", "greta@acme.com", 0},
	{"gus", "Gus Garcia", "gus@acme.com", demoDeparted},
	{"dee", "Dee Dlamini", "dee@partner.com", 0},
	{"uma", "Uma Usman", "uma@partner.com", 0},
	{"ned", "Ned Novak", "ned@partner.com", demoDBOnly},
	{"mia", "Mia Moreau", "mia@acme.com", 0},
	{"noah", "Noah Nakamura", "noah@acme.com", 0},
	{"omar", "Omar Osei", "omar@acme.com", 0},
	{"kim", "Kim Kowalski", "kim@acme.com", demoNoDB},
	{"lee", "Lee Larsen", "lee@acme.com", demoInactive},
	{"vera", "Vera Volkov", "vera@acme.com", 0},
	{"walt", "Walt Weber", "walt@acme.com", 0},
	{"xena", "Xena Xu", "xena@acme.com", 0},
	{"hugo", "Hugo Hall", "hugo@acme.com", 0},
	{"gil", "Gil (consultant)", "", demoGuest | demoNoDB},
	{"olga", "Olga Olsen", "olga@acme.com", 0},
	{"yuri", "Yuri Yilmaz", "yuri@acme.com", 0},
	{"zoe", "Zoe Zimmer", "zoe@acme.com", 0},
	{"iris", "Iris Ito", "iris@acme.com", 0},
	{"jack", "Jack Jones", "jack@acme.com", 0},
	{"lara", "Lara Lopez", "lara@acme.com", 0},
	{"max", "Max Meyer", "max@acme.com", 0},
	{"tom", "Tom Tanaka", "tom@acme.com", 0},
}

// demoBBGroups are the /1.0 groups, mirrored as Admin directory groups.
var demoBBGroups = []struct {
	slug, name, permission string
	members                []string
}{
	{"data-engineers", "Data Engineers", "write", []string{"alice", "bob", "carol", "dan", "ivy", "hana", "jon", "ben", "cleo"}},
	{"platform", "Platform", "admin", []string{"paul", "quinn", "rita", "sam", "tess", "finn", "greta"}},
	{"contractors", "Contractors", "read", []string{"dee", "uma"}},
	{"ml", "ML", "write", []string{"mia", "noah", "omar", "kim", "lee"}},
	{"analytics", "Analytics", "read", []string{"vera", "walt", "xena", "hugo", "gil"}},
	{"interns", "Interns", "read", []string{"eve", "olga", "yuri", "zoe", "iris", "jack"}},
}

const (
	demoWS       = "workspace-access"
	demoSQL      = "databricks-sql-access"
	demoClusters = "allow-cluster-create"
)

// demoDBGroups are the Databricks groups, in seed order (nested groups
// first). Members are nicknames, "sp:NAME" or "group:NAME"; "*" is every
// Databricks user.
var demoDBGroups = []struct {
	name       string
	kind       GroupKind
	idp        bool // provisioned by the IdP (externalId set)
	unassigned bool // an account group not assigned to the workspace
	ents       []string
	members    []string
}{
	{"admins", WorkspaceGroup, false, false, []string{demoWS, demoSQL, demoClusters}, []string{"admin"}},
	{"users", WorkspaceGroup, false, false, []string{demoWS, demoSQL}, []string{"*"}},
	{"de-oncall", WorkspaceGroup, false, false, []string{demoWS}, []string{"dan", "hana"}},
	{"de-team", WorkspaceGroup, false, false, []string{demoWS, demoClusters},
		[]string{"alice", "dan", "ivy", "hana", "jon", "ben", "cleo", "fay", "eve", "admin", "sp:etl-deployer", "group:de-oncall"}},
	{"platform-eng", AccountGroup, false, false, []string{demoWS},
		[]string{"paul", "quinn", "rita", "sam", "finn", "greta", "gus"}},
	{"partners", AccountGroup, true, false, []string{demoWS}, []string{"dee", "uma", "ned"}},
	{"analysts", WorkspaceGroup, false, false, []string{demoWS, demoSQL}, []string{"vera", "walt", "hugo", "olga"}},
	{"finance", AccountGroup, false, true, nil, []string{"lara", "max"}},
}

// demoSPs are the service principals.
var demoSPs = []struct {
	name string
	ents []string
}{
	{"etl-deployer", []string{demoWS}},
	{"ml-deployer", []string{demoWS}},
	{"reporting-bot", []string{demoWS, demoSQL}},
}

// demoTokens are the tokens besides the routine ones: owner (nickname or
// "sp:NAME", SP tokens being on-behalf-of tokens made by admin), comment,
// age in days, lifetime in days (0: never expires) and days since last use
// (-1: never used). A comment "bitbricks:BINDING" gets the creation time
// appended, as the rotation protocol writes it.
var demoTokens = []struct {
	owner, comment    string
	age, life, unused int
}{
	{"admin", "bitbricks admin", 10, 90, 0}, // Creds.DatabricksToken
	{"admin", "break-glass", 200, 0, 30},    // protected: over age, no expiry, kept
	// over token_max_age (90d)
	{"hana", "laptop", 120, 180, 1},
	{"paul", "terraform", 150, 365, 2},
	{"quinn", "dbt", 100, 120, 5},
	{"mia", "notebook", 95, 100, 3}, // also expires in 5 days
	{"sp:reporting-bot", "reporting", 200, 365, 1},
	// no expiry (require_expiry)
	{"bob", "cli", 30, 0, 1},
	{"vera", "powerbi", 45, 0, 10},
	{"tom", "script", 10, 0, 2},
	{"sp:reporting-bot", "legacy", 70, 0, 4},
	// owned by people who left the workspace
	{"fay", "old", 40, 90, 12},
	{"fay", "new", 3, 90, 1},
	{"gus", "ci", 20, 60, 15},
	// stale: unused for 80+ days, close to the service's 90-day revocation
	{"carol", "experiment", 88, 180, 85},
	{"walt", "tableau", 84, 120, 81},
	{"noah", "old notebook", 86, 100, 83},
	{"sam", "sandbox", 82, 90, 82}, // also expires in 8 days
	// between token_warn_age (60d) and token_max_age
	{"alice", "ingest", 75, 180, 1},
	{"dan", "airflow", 65, 120, 0},
	{"rita", "k8s", 70, 90, 2},
	{"xena", "jupyter", 61, 90, 7},
	{"ben", "dbt-dev", 80, 120, 3},
	{"sp:ml-deployer", "manual", 62, 90, 9},
	// expiring within 7 days
	{"cleo", "demo", 28, 30, 1},
	{"finn", "temp", 5, 7, 0},
	{"iris", "hackathon", 54, 60, 20},
	// pipeline binding etl-prod: the live token (recorded in
	// DATABRICKS_TOKEN_ID, 40 days old so rotation at 30d is due, expires
	// in 5 days) and a leftover of an earlier rotation, older than it
	{"sp:etl-deployer", "bitbricks:etl-prod", 40, 45, 1},
	{"sp:etl-deployer", "bitbricks:etl-prod", 41, 45, 2},
	{"sp:etl-deployer", "smoke test", 12, 30, 12},
	// never used
	{"lara", "new", 2, 30, -1},
	{"max", "unused", 6, 90, -1},
}

// demoRoutineOwners each get one compliant token: under 60 days old,
// expiring in 38 days or more, used recently.
var demoRoutineOwners = []string{"alice", "bob", "carol", "dan", "ivy", "hana", "jon", "ben",
	"cleo", "paul", "quinn", "rita", "sam", "tess", "finn", "greta", "dee", "uma", "mia",
	"noah", "omar", "vera", "walt", "xena", "hugo", "eve", "olga", "yuri", "zoe", "iris"}

// demoSecrets are SP OAuth secrets: owner and age in days. reporting-bot
// holds 4 of the 5 allowed; ml-deployer's newer secret is the one the
// ml-prod binding records, the older one a leftover.
var demoSecrets = []struct {
	sp  string
	age int
}{
	{"reporting-bot", 300}, {"reporting-bot", 200}, {"reporting-bot", 100}, {"reporting-bot", 10},
	{"ml-deployer", 100}, {"ml-deployer", 20},
}

// Demo builds the demo organisation: about 40 people, 6 Bitbucket groups, 8
// Databricks groups, 3 service principals, 62 tokens and 2 pipeline
// bindings, with every kind of drift and finding the engine knows under
// DemoConfig (emulator/README.md has the table). It depends on nothing but
// now; the organisation's clock starts at now and then runs.
func Demo(now time.Time) *Org {
	o := NewOrg(seedClock(now))
	ago := func(days int) time.Time { return now.Add(-time.Duration(days) * seedDay) }

	// Atlassian accounts and Bitbucket.
	o.BB.Workspace = BBWorkspace{UUID: "{" + uuidFrom("demo/workspace") + "}", Slug: "acme", Name: "Acme", CreatedOn: ago(3 * 365)}
	o.Admin.OrgID = uuidFrom("demo/atlassian-org")
	bbUsers := map[string]*BBUser{}
	for i, p := range demoPeople {
		if p.flags&demoDBOnly != 0 {
			continue
		}
		u := BBUser{
			UUID:        "{" + uuidFrom("demo/bb-user/"+p.nick) + "}",
			AccountID:   "557058:" + uuidFrom("demo/account/"+p.nick),
			Nickname:    p.nick,
			DisplayName: p.name,
			Email:       p.email,
			CreatedOn:   ago(400 + 17*i),
			InWorkspace: p.flags&demoDeparted == 0,
		}
		switch {
		case p.flags&demoGuest != 0:
			u.AccountID = "712020:" + uuidFrom("demo/account/"+p.nick) // another site's account
		case p.flags&demoOwner != 0:
			u.Permission = "owner"
		}
		bbUsers[p.nick] = o.AddBBUser(u)
	}
	for _, g := range demoBBGroups {
		var ids []string
		for _, nick := range g.members {
			ids = append(ids, bbUsers[nick].AccountID)
		}
		o.AddBBGroup(BBGroup{Slug: g.slug, Name: g.name, Permission: g.permission, Members: ids})
		o.AddAdminGroup(AdminGroup{ID: uuidFrom("demo/admin-group/" + g.slug), Name: g.slug,
			Description: g.name, Members: slices.Clone(ids)})
	}

	// Databricks.
	o.DB.AccountID = uuidFrom("demo/databricks-account")
	o.DB.WorkspaceID = 1234567890123456
	o.DB.Conf["maxTokenLifetimeDays"] = "90"
	principals := map[string]string{} // nickname, "sp:NAME" or "group:NAME" -> SCIM id
	var userIDs []string
	for _, p := range demoPeople {
		if p.flags&demoNoDB != 0 {
			continue
		}
		first, last, _ := strings.Cut(p.name, " ")
		u := o.AddDBUser(DBUser{UserName: strings.ToLower(p.email), DisplayName: p.name,
			GivenName: first, FamilyName: last, Active: p.flags&demoInactive == 0, Assigned: true,
			Admin: p.flags&demoOwner != 0, AccountAdmin: p.flags&demoOwner != 0})
		if p.flags&demoDBOnly != 0 {
			u.ExternalID = uuidFrom("demo/idp/" + p.nick)
		}
		principals[p.nick] = u.ID
		userIDs = append(userIDs, u.ID)
	}
	for _, sp := range demoSPs {
		added := o.AddServicePrincipal(DBServicePrincipal{ApplicationID: uuidFrom("demo/sp/" + sp.name),
			DisplayName: sp.name, Active: true, Entitlements: sp.ents, Assigned: true})
		principals["sp:"+sp.name] = added.ID
	}
	for _, g := range demoDBGroups {
		var members []DBMember
		for _, m := range g.members {
			switch {
			case m == "*":
				for _, id := range userIDs {
					members = append(members, DBMember{Value: id, Type: "User"})
				}
			case strings.HasPrefix(m, "sp:"):
				members = append(members, DBMember{Value: principals[m], Type: "ServicePrincipal"})
			case strings.HasPrefix(m, "group:"):
				members = append(members, DBMember{Value: principals[m], Type: "Group"})
			default:
				members = append(members, DBMember{Value: principals[m], Type: "User"})
			}
		}
		added := o.AddDBGroup(DBGroup{DisplayName: g.name, Kind: g.kind, Members: members,
			Entitlements: g.ents, Assigned: !g.unassigned})
		if g.idp {
			added.ExternalID = uuidFrom("demo/idp/" + g.name)
		}
		principals["group:"+g.name] = added.ID
	}

	// Tokens: the special ones, then one routine token per person listed.
	admin := principals["admin"]
	var adminToken, etlToken *DBToken
	addToken := func(owner, comment string, created time.Time, life, unused int) *DBToken {
		t := DBToken{OwnerID: principals[owner], Comment: comment, Created: created}
		if strings.HasPrefix(owner, "sp:") {
			t.CreatedByID = admin
		}
		if strings.HasPrefix(comment, "bitbricks:") {
			t.Comment += ":" + strconv.FormatInt(created.Unix(), 10)
		}
		if life > 0 {
			t.Expiry = created.Add(time.Duration(life) * seedDay)
		}
		if unused >= 0 {
			t.LastUsed = now.Add(-time.Duration(unused) * seedDay).Truncate(seedDay)
		}
		return o.AddToken(t)
	}
	for _, t := range demoTokens {
		added := addToken(t.owner, t.comment, ago(t.age), t.life, t.unused)
		switch {
		case adminToken == nil && t.owner == "admin":
			adminToken = added
		case etlToken == nil && strings.HasPrefix(t.comment, "bitbricks:etl-prod"):
			etlToken = added
		}
	}
	for i, nick := range demoRoutineOwners {
		created := ago(3 + i*7%50).Add(-time.Duration(i%24) * time.Hour)
		addToken(nick, "routine", created, 90, i%3)
	}

	// Service principal OAuth secrets.
	var mlSecret *DBSecret
	for _, s := range demoSecrets {
		sec := o.AddSecret(DBSecret{SPID: principals["sp:"+s.sp], Created: ago(s.age)})
		if s.sp == "ml-deployer" {
			mlSecret = sec // the newest, listed last
		}
	}

	// Pipelines: repository etl holds etl-deployer's live token; ml-models'
	// Production environment holds ml-deployer's newest secret.
	demoRepo(o, "etl", ago(700), []*BBVariable{
		demoVar("etl/DATABRICKS_TOKEN", "DATABRICKS_TOKEN", etlToken.Value, true),
		demoVar("etl/DATABRICKS_TOKEN_ID", "DATABRICKS_TOKEN_ID", etlToken.ID, false),
	}, nil)
	demoRepo(o, "ml-models", ago(500), nil, []*BBVariable{
		demoVar("ml/DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_ID", uuidFrom("demo/sp/ml-deployer"), false),
		demoVar("ml/DATABRICKS_CLIENT_SECRET", "DATABRICKS_CLIENT_SECRET", mlSecret.Secret, true),
		demoVar("ml/DATABRICKS_CLIENT_SECRET_ID", "DATABRICKS_CLIENT_SECRET_ID", mlSecret.ID, false),
	})

	// Atlassian API tokens (metadata) of a few managed users.
	for i, t := range []struct {
		nick, label, status string
		age, life, idle     int
	}{
		{"admin", "bitbricks", "active", 30, 365, 0},
		{"alice", "laptop", "active", 200, 365, 3},
		{"paul", "terraform", "active", 90, 365, 1},
		{"fay", "old laptop", "revoked", 300, 365, 60},
	} {
		o.AddAdminAPIToken(AdminAPIToken{ID: uuidFrom("demo/admin-token/" + strconv.Itoa(i)),
			Label: t.label, Status: t.status, CreatedAt: ago(t.age), ExpiresAt: ago(t.age - t.life),
			LastActiveAt: ago(t.idle), AccountID: bbUsers[t.nick].AccountID})
	}

	// Credentials, all derived, never literals.
	o.Creds = Credentials{
		DatabricksToken:   adminToken.Value,
		BitbucketUsername: bbUsers["admin"].Email,
		BitbucketAPIToken: "ATATT3x" + secretFrom("demo/bitbucket-api-token", 56),
		BitbucketBearer:   "ATCTT3x" + secretFrom("demo/bitbucket-access-token", 56),
		AtlassianAdminKey: "ATCTT3x" + secretFrom("demo/atlassian-admin-key", 56),
	}
	bbUsers["admin"].APIToken = o.Creds.BitbucketAPIToken
	o.BB.AccessTokens[o.Creds.BitbucketBearer] = bbUsers["admin"].AccountID
	o.Admin.APIKeys = []string{o.Creds.AtlassianAdminKey}
	// A Unity Catalog volume for the audit log of scheduled runs
	// (audit.file: /Volumes/main/ops/audit/bitbricks/).
	o.DB.Volumes = map[string]*DBVolume{"/Volumes/main/ops/audit": {Files: map[string]*DBFile{}, Dirs: map[string]bool{}}}
	demoDev(o, principals, now)
	seedAccountAdmin(o, "demo", now)
	return o
}

// demoRepo adds a repository with the three default deployment
// environments; envVars go into Production.
func demoRepo(o *Org, slug string, created time.Time, vars, envVars []*BBVariable) {
	r := BBRepo{UUID: "{" + uuidFrom("demo/repo/"+slug) + "}", Slug: slug, Name: slug, Variables: vars, CreatedOn: created}
	for _, env := range []string{"Test", "Staging", "Production"} {
		e := &BBEnvironment{UUID: "{" + uuidFrom("demo/env/"+slug+"/"+env) + "}", Name: env, Type: env}
		if env == "Production" {
			e.Variables = envVars
		}
		r.Environments = append(r.Environments, e)
	}
	o.AddRepo(r)
}

func demoVar(id, key, value string, secured bool) *BBVariable {
	return &BBVariable{UUID: "{" + uuidFrom("demo/var/"+id) + "}", Key: key, Value: value, Secured: secured}
}

// DemoGuestEmail is what the demo's identity map resolves gil, the guest
// account from another site, to: no Databricks user has it.
const DemoGuestEmail = "gil@consultancy.example"

// DemoIdentityMap is the identity map DemoConfig names (identities.yaml
// beside the config): it resolves the one account the Atlassian directory
// cannot, gil, a guest from another site.
func DemoIdentityMap(o *Org) []byte {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	var id string
	for _, u := range o.BB.Users {
		if u.Nickname == "gil" {
			id = u.AccountID
		}
	}
	return fmt.Appendf(nil, "# Bitbucket accounts the Atlassian directory cannot resolve.\n%q: %s   # Gil (consultant), a guest\n", id, DemoGuestEmail)
}

// DemoConfig is the bitbricks configuration that goes with a Demo
// organisation served at host (the emulator's base URL, such as
// http://127.0.0.1:8080): every API family is reached through that one
// host. audit.file is left out for the caller to set. It names no identity
// map, so gil stays unresolved; DemoConfigFiles is the demo as `bitbricks
// demo` runs it, with the map.
func DemoConfig(o *Org, host string) []byte { return renderDemoConfig(o, host, "") }

// DemoConfigFiles is DemoConfig with identity.map_file naming
// identities.yaml, to be written beside the config with the returned
// identity map (DemoIdentityMap), which resolves gil: every workspace member
// is then resolved and departures are known.
func DemoConfigFiles(o *Org, host string) (cfg, identities []byte) {
	return renderDemoConfig(o, host, "\n  map_file: identities.yaml         # resolves gil, a guest with no email"), DemoIdentityMap(o)
}

// endpointsYAML is the bitbucket, atlassian_admin and databricks sections
// of a config that points at o served on host (held lock: o.Mu).
func endpointsYAML(o *Org, host string) string {
	return fmt.Sprintf(`bitbucket:
  workspace: %s
  groups_source: workspace
  base_url: %q
atlassian_admin:
  org_id: %q
  directory_id: "-"
  base_url: %q
databricks:
  host: %q
  account_id: %q
  account_host: %q
`, o.BB.Workspace.Slug, host+"/2.0", o.Admin.OrgID, host, host, o.DB.AccountID, host)
}

func renderDemoConfig(o *Org, host, identity string) []byte {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	host = strings.TrimSuffix(host, "/")
	return fmt.Appendf(nil, `# bitbricks configuration for the emulator's demo organisation.
%sidentity:
  email_from: atlassian-admin%s
mappings:
  - bitbucket_group: data-engineers   # workspace group: +bob +carol -fay -eve, entitlements
    databricks_group: de-team
    entitlements: [workspace-access, databricks-sql-access]
    prune: true
  - bitbucket_group: platform         # account group: +tess -gus
    databricks_group: platform-eng
    prune: true
  - bitbucket_group: contractors      # IdP-managed: ned is never removed
    databricks_group: partners
    prune: true
  - bitbucket_group: ml               # ml-team does not exist yet
    databricks_group: ml-team
    entitlements: [workspace-access]
  - bitbucket_group: analytics        # gil: a guest the directory cannot resolve
    databricks_group: analysts
    prune: true
  # interns is deliberately not mapped
policy:
  token_max_age: 90d
  token_warn_age: 60d
  require_expiry: true
  revoke_departed: true
  max_changes: 40
  protected: [admin@acme.com]
pipelines:
  - name: etl-prod
    repository: etl
    variable: DATABRICKS_TOKEN
    service_principal: etl-deployer
    credential: pat
    rotate_every: 30d
    lifetime: 45d
  - name: ml-prod
    repository: ml-models
    environment: Production
    variable: DATABRICKS_CLIENT_SECRET
    service_principal: ml-deployer
    credential: oauth-secret
`, endpointsYAML(o, host), identity)
}
