package emulator

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

var seedNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// seedDump is a canonical dump of an organisation's data (maps marshal with
// sorted keys).
func seedDump(t testing.TB, o *Org) string {
	t.Helper()
	b, err := json.Marshal([]any{o.BB, o.Admin, o.DB, o.Creds})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSeedsAreDeterministic(t *testing.T) {
	if a, b := seedDump(t, Demo(seedNow)), seedDump(t, Demo(seedNow)); a != b {
		t.Error("two demo seeds differ")
	}
	p := LargeParams{Users: 500, BBGroups: 40, DBGroups: 60, SPs: 20, Tokens: 800, GroupSize: 10, Seed: 3}
	if a, b := seedDump(t, Large(p, seedNow)), seedDump(t, Large(p, seedNow)); a != b {
		t.Error("two large seeds differ")
	}
	if _, err := Seed("nope", seedNow); err == nil {
		t.Error("Seed accepted an unknown name")
	}
	if o, err := Seed("demo", seedNow); err != nil || len(o.BB.Groups) != 6 {
		t.Errorf("Seed(demo): %v", err)
	}
}

// checkReferences checks that everything an organisation refers to exists.
func checkReferences(t *testing.T, o *Org) {
	t.Helper()
	accounts := map[string]bool{}
	for _, u := range o.BB.Users {
		if accounts[u.AccountID] {
			t.Errorf("duplicate account %s", u.AccountID)
		}
		accounts[u.AccountID] = true
	}
	for _, g := range o.BB.Groups {
		for _, m := range g.Members {
			if !accounts[m] {
				t.Errorf("Bitbucket group %s: unknown member %s", g.Slug, m)
			}
		}
	}
	for _, g := range o.Admin.Groups {
		for _, m := range g.Members {
			if !accounts[m] {
				t.Errorf("Admin group %s: unknown member %s", g.Name, m)
			}
		}
	}
	db := o.DB
	exists := func(m DBMember) bool {
		switch m.Type {
		case "User":
			return db.Users[m.Value] != nil
		case "ServicePrincipal":
			return db.ServicePrincipals[m.Value] != nil
		case "Group":
			return db.Groups[m.Value] != nil
		}
		return false
	}
	for id, g := range db.Groups {
		seen := map[string]bool{}
		for _, m := range g.Members {
			if !exists(m) || seen[m.Value] || m.Value == id {
				t.Errorf("group %s: bad or repeated member %+v", g.DisplayName, m)
			}
			seen[m.Value] = true
		}
	}
	for id, tok := range db.Tokens {
		if tok.ID != id || db.TokensByValue[tok.Value] != tok || !strings.HasPrefix(tok.Value, "dapi") {
			t.Errorf("token %s: inconsistent index or value", id)
		}
		if db.Users[tok.OwnerID] == nil && db.ServicePrincipals[tok.OwnerID] == nil {
			t.Errorf("token %s: unknown owner %s", id, tok.OwnerID)
		}
		if !tok.LastUsed.IsZero() && (tok.LastUsed.Before(tok.Created.Truncate(seedDay)) || tok.LastUsed.After(seedNow)) {
			t.Errorf("token %s: used %v, created %v", id, tok.LastUsed, tok.Created)
		}
		if seedNow.Sub(tok.Created) > 90*seedDay && (tok.LastUsed.IsZero() || seedNow.Sub(tok.LastUsed) >= 90*seedDay) {
			t.Errorf("token %s: unused for 90 days, the service would have revoked it", id)
		}
	}
	if len(db.TokensByValue) != len(db.Tokens) {
		t.Errorf("%d token values for %d tokens", len(db.TokensByValue), len(db.Tokens))
	}
	secrets := map[string]int{}
	for _, s := range db.Secrets {
		if db.ServicePrincipals[s.SPID] == nil {
			t.Errorf("secret %s: unknown SP %s", s.ID, s.SPID)
		}
		if secrets[s.SPID]++; secrets[s.SPID] > 5 {
			t.Errorf("SP %s holds more than 5 secrets", s.SPID)
		}
	}
}

// demoConfig is DESIGN.md's config schema plus the endpoint keys, decoded
// strictly so DemoConfig cannot use any other key.
type demoConfig struct {
	Bitbucket struct {
		Workspace    string `yaml:"workspace"`
		GroupsSource string `yaml:"groups_source"`
		BaseURL      string `yaml:"base_url"`
	} `yaml:"bitbucket"`
	AtlassianAdmin struct {
		OrgID       string `yaml:"org_id"`
		DirectoryID string `yaml:"directory_id"`
		BaseURL     string `yaml:"base_url"`
	} `yaml:"atlassian_admin"`
	Databricks struct {
		Profile     string `yaml:"profile"`
		Host        string `yaml:"host"`
		AccountID   string `yaml:"account_id"`
		AccountHost string `yaml:"account_host"`
	} `yaml:"databricks"`
	Identity struct {
		EmailFrom string `yaml:"email_from"`
		MapFile   string `yaml:"map_file"`
	} `yaml:"identity"`
	Mappings []struct {
		BitbucketGroup  string   `yaml:"bitbucket_group"`
		DatabricksGroup string   `yaml:"databricks_group"`
		Entitlements    []string `yaml:"entitlements"`
		Prune           bool     `yaml:"prune"`
	} `yaml:"mappings"`
	Policy struct {
		TokenMaxAge    string   `yaml:"token_max_age"`
		TokenWarnAge   string   `yaml:"token_warn_age"`
		RequireExpiry  bool     `yaml:"require_expiry"`
		RevokeDeparted bool     `yaml:"revoke_departed"`
		MaxChanges     int      `yaml:"max_changes"`
		Protected      []string `yaml:"protected"`
	} `yaml:"policy"`
	Pipelines []struct {
		Name             string `yaml:"name"`
		Repository       string `yaml:"repository"`
		Environment      string `yaml:"environment"`
		Variable         string `yaml:"variable"`
		ServicePrincipal string `yaml:"service_principal"`
		Credential       string `yaml:"credential"`
		RotateEvery      string `yaml:"rotate_every"`
		Lifetime         string `yaml:"lifetime"`
	} `yaml:"pipelines"`
	Audit struct {
		File string `yaml:"file"`
	} `yaml:"audit"`
}

func TestDemoConfigMatchesTheSeed(t *testing.T) {
	o := Demo(seedNow)
	var c demoConfig
	if err := yaml.UnmarshalWithOptions(DemoConfig(o, "http://127.0.0.1:9/"), &c, yaml.DisallowUnknownField()); err != nil {
		t.Fatal(err)
	}
	if c.Bitbucket.Workspace != o.BB.Workspace.Slug || c.AtlassianAdmin.OrgID != o.Admin.OrgID ||
		c.Databricks.AccountID != o.DB.AccountID || c.Databricks.Host != "http://127.0.0.1:9" ||
		c.Bitbucket.BaseURL != "http://127.0.0.1:9/2.0" || c.AtlassianAdmin.BaseURL != "http://127.0.0.1:9" {
		t.Errorf("endpoints and ids: %+v", c)
	}
	for _, m := range c.Mappings {
		if !slices.ContainsFunc(o.BB.Groups, func(g *BBGroup) bool { return g.Slug == m.BitbucketGroup }) {
			t.Errorf("mapping of unknown Bitbucket group %s", m.BitbucketGroup)
		}
	}
	if len(c.Mappings) != len(o.BB.Groups)-1 || len(c.Pipelines) != 2 || c.Policy.MaxChanges != 40 {
		t.Errorf("want every Bitbucket group but one mapped, 2 pipelines: %+v", c)
	}
}

// TestDemoHasEveryDriftAndFinding applies the engine's rules (as the
// README states them) to the demo with DemoConfig, and checks the outcome is
// exactly the one the README's table promises.
func TestDemoHasEveryDriftAndFinding(t *testing.T) {
	o := Demo(seedNow)
	checkReferences(t, o)
	var c demoConfig
	if err := yaml.Unmarshal(DemoConfig(o, "http://h"), &c); err != nil {
		t.Fatal(err)
	}
	db := o.DB
	// Names by id, and lookups.
	name := func(id string) string {
		if u := db.Users[id]; u != nil {
			return strings.TrimSuffix(strings.TrimSuffix(u.UserName, "@acme.com"), "@partner.com")
		}
		if sp := db.ServicePrincipals[id]; sp != nil {
			return sp.DisplayName
		}
		return "?" + id
	}
	email := map[string]string{} // account id -> email (Admin API)
	inWorkspace := map[string]bool{}
	ids := map[string]string{} // the identity map DemoConfig names
	if err := yaml.Unmarshal(DemoIdentityMap(o), &ids); err != nil || len(ids) != 1 {
		t.Fatalf("identity map: %v %v", ids, err)
	}
	for _, u := range o.BB.Users {
		email[u.AccountID] = u.Email
		if e := ids[u.AccountID]; e != "" {
			email[u.AccountID] = e
		}
		if u.InWorkspace && u.Email != "" {
			inWorkspace[strings.ToLower(u.Email)] = true
		}
	}
	groups := map[string]*DBGroup{}
	for _, g := range db.Groups {
		groups[g.DisplayName] = g
	}
	var got []string
	add := func(format string, args ...any) { got = append(got, fmt.Sprintf(format, args...)) }

	// Desired members per Databricks group.
	desired, known := map[string]map[string]bool{}, map[string]bool{}
	for _, m := range c.Mappings {
		d := m.DatabricksGroup
		if desired[d] == nil {
			desired[d], known[d] = map[string]bool{}, true
		}
		i := slices.IndexFunc(o.BB.Groups, func(g *BBGroup) bool { return g.Slug == m.BitbucketGroup })
		for _, acct := range o.BB.Groups[i].Members {
			mail := email[acct]
			if mail == "" {
				add("unresolved_identity %s %s", d, o.BBUserByAccountID(acct).Nickname)
				known[d] = false
				continue
			}
			u := o.DBUserByName(mail)
			if u == nil || !u.Active {
				add("missing_user %s %s", d, strings.TrimSuffix(mail, "@acme.com"))
				continue
			}
			desired[d][u.ID] = true
		}
	}
	desiredAnywhere := map[string]bool{}
	for _, ids := range desired {
		for id := range ids {
			desiredAnywhere[id] = true
		}
	}
	departed := map[string]bool{}
	for _, m := range c.Mappings {
		d, g := m.DatabricksGroup, groups[m.DatabricksGroup]
		if g == nil {
			add("create_group %s", d)
			g = &DBGroup{}
		}
		for id := range desired[d] {
			if !slices.ContainsFunc(g.Members, func(mm DBMember) bool { return mm.Value == id }) {
				add("add_member %s %s", d, name(id))
			}
		}
		for _, mm := range g.Members {
			u := db.Users[mm.Value]
			if mm.Type != "User" || desired[d][mm.Value] || !m.Prune || slices.Contains(c.Policy.Protected, u.UserName) {
				continue
			}
			switch {
			case g.ExternalID != "":
				add("idp_managed %s %s", d, name(u.ID))
			case !known[d]:
				add("unknown_source %s %s", d, name(u.ID))
			default:
				add("remove_member %s %s", d, name(u.ID))
				if !desiredAnywhere[u.ID] && !inWorkspace[strings.ToLower(u.UserName)] {
					departed[u.ID] = true
				}
			}
		}
		if m.Entitlements != nil {
			for _, e := range m.Entitlements {
				if !slices.Contains(g.Entitlements, e) {
					add("add_entitlement %s %s", d, e)
				}
			}
			for _, e := range g.Entitlements {
				if !slices.Contains(m.Entitlements, e) {
					add("remove_entitlement %s %s", d, e)
				}
			}
		}
	}
	secrets := map[string]int{}
	for _, s := range db.Secrets {
		secrets[s.SPID]++
	}
	for id, n := range secrets {
		if n >= 4 {
			add("secret_limit %s", name(id))
		}
	}
	for _, tok := range db.Tokens {
		owner := name(tok.OwnerID)
		if u := db.Users[tok.OwnerID]; u != nil && slices.Contains(c.Policy.Protected, u.UserName) {
			continue
		}
		switch age := seedNow.Sub(tok.Created); {
		case age > 90*seedDay:
			add("revoke_token over_age %s %q", owner, tok.Comment)
		case tok.Expiry.IsZero():
			add("revoke_token no_expiry %s %q", owner, tok.Comment)
		case departed[tok.OwnerID]:
			add("revoke_token departed %s %q", owner, tok.Comment)
		case !tok.LastUsed.IsZero() && seedNow.Sub(tok.LastUsed) >= 80*seedDay:
			add("stale_token %s %q", owner, tok.Comment)
		}
	}
	slices.Sort(got)
	want := []string{
		`add_entitlement de-team databricks-sql-access`,
		`add_entitlement ml-team workspace-access`,
		`add_member analysts xena`,
		`add_member de-team bob`,
		`add_member de-team carol`,
		`add_member ml-team mia`,
		`add_member ml-team noah`,
		`add_member ml-team omar`,
		`add_member platform-eng tess`,
		`create_group ml-team`,
		`idp_managed partners ned`,
		`missing_user analysts gil@consultancy.example`,
		`missing_user ml-team kim`,
		`missing_user ml-team lee`,
		`remove_entitlement de-team allow-cluster-create`,
		`remove_member analysts olga`,
		`remove_member de-team eve`,
		`remove_member de-team fay`,
		`remove_member platform-eng gus`,
		`revoke_token departed fay "new"`,
		`revoke_token departed fay "old"`,
		`revoke_token departed gus "ci"`,
		`revoke_token no_expiry bob "cli"`,
		`revoke_token no_expiry reporting-bot "legacy"`,
		`revoke_token no_expiry tom "script"`,
		`revoke_token no_expiry vera "powerbi"`,
		`revoke_token over_age hana "laptop"`,
		`revoke_token over_age mia "notebook"`,
		`revoke_token over_age paul "terraform"`,
		`revoke_token over_age quinn "dbt"`,
		`revoke_token over_age reporting-bot "reporting"`,
		`secret_limit reporting-bot`,
		`stale_token carol "experiment"`,
		`stale_token noah "old notebook"`,
		`stale_token sam "sandbox"`,
		`stale_token walt "tableau"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("drift and findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// What the rules above must leave alone, shown by the seed's shape.
	deTeam := groups["de-team"]
	for _, typ := range []string{"ServicePrincipal", "Group"} {
		if !slices.ContainsFunc(deTeam.Members, func(m DBMember) bool { return m.Type == typ }) {
			t.Errorf("de-team (pruned) should hold a %s member", typ)
		}
	}
	if groups["platform-eng"].Kind != AccountGroup || deTeam.Kind != WorkspaceGroup || groups["partners"].ExternalID == "" {
		t.Error("want de-team workspace-local, platform-eng an account group, partners IdP-managed")
	}
	ivy := o.DBUserByName("ivy.chen@acme.com")
	if ivy == nil || ivy.UserName == "Ivy.Chen@acme.com" || !slices.ContainsFunc(deTeam.Members, func(m DBMember) bool { return m.Value == ivy.ID }) {
		t.Error("want Ivy in de-team under a userName that differs from her Atlassian email in case only")
	}
}

func TestDemoPipelinesAndCredentials(t *testing.T) {
	o := Demo(seedNow)
	db := o.DB
	vars := func(vs []*BBVariable) map[string]*BBVariable {
		m := map[string]*BBVariable{}
		for _, v := range vs {
			m[v.Key] = v
		}
		return m
	}
	sp := func(name string) *DBServicePrincipal {
		for _, sp := range db.ServicePrincipals {
			if sp.DisplayName == name {
				return sp
			}
		}
		t.Fatalf("no SP %s", name)
		return nil
	}
	if len(o.BB.Repos) != 2 {
		t.Fatalf("%d repositories", len(o.BB.Repos))
	}
	etl := vars(o.BB.Repos[0].Variables)
	tok := db.TokensByValue[etl["DATABRICKS_TOKEN"].Value]
	if !etl["DATABRICKS_TOKEN"].Secured || etl["DATABRICKS_TOKEN_ID"].Secured || tok == nil ||
		tok.ID != etl["DATABRICKS_TOKEN_ID"].Value || tok.OwnerID != sp("etl-deployer").ID {
		t.Fatal("etl: DATABRICKS_TOKEN must hold etl-deployer's token, DATABRICKS_TOKEN_ID its id")
	}
	if age := seedNow.Sub(tok.Created); age < 30*seedDay || age > 45*seedDay || tok.Expiry.Sub(tok.Created) != 45*seedDay ||
		tok.Comment != fmt.Sprintf("bitbricks:etl-prod:%d", tok.Created.Unix()) {
		t.Errorf("etl token: created %v, expiry %v, comment %q; want due at 30d, 45d lifetime", tok.Created, tok.Expiry, tok.Comment)
	}
	prod := o.BB.Repos[1].Environments[2]
	ml := vars(prod.Variables)
	sec := db.Secrets[ml["DATABRICKS_CLIENT_SECRET_ID"].Value]
	if o.BB.Repos[1].Slug != "ml-models" || prod.Name != "Production" || sec == nil || sec.SPID != sp("ml-deployer").ID ||
		sec.Secret != ml["DATABRICKS_CLIENT_SECRET"].Value || !ml["DATABRICKS_CLIENT_SECRET"].Secured ||
		ml["DATABRICKS_CLIENT_ID"].Value != sp("ml-deployer").ApplicationID {
		t.Error("ml-models Production must hold ml-deployer's client id, secret and secret id")
	}
	if db.Conf["maxTokenLifetimeDays"] != "90" {
		t.Error("maxTokenLifetimeDays")
	}

	// Credentials.
	admin := db.TokensByValue[o.Creds.DatabricksToken]
	if admin == nil || !db.Users[admin.OwnerID].Admin || !db.Users[admin.OwnerID].AccountAdmin || db.Users[admin.OwnerID].UserName != "admin@acme.com" {
		t.Error("Creds.DatabricksToken must be admin@acme.com's, a workspace and account admin")
	}
	owner := o.BBUserByAccountID(o.BB.AccessTokens[o.Creds.BitbucketBearer])
	if owner == nil || owner.Email != o.Creds.BitbucketUsername || owner.APIToken != o.Creds.BitbucketAPIToken ||
		owner.Permission != "owner" || !slices.Contains(o.Admin.APIKeys, o.Creds.AtlassianAdminKey) {
		t.Error("Bitbucket and Admin credentials must belong to the workspace owner")
	}

	// Sizes the design promises.
	if n := len(o.BB.Users); n < 38 || n > 45 {
		t.Errorf("%d people", n)
	}
	if n := len(db.Tokens); n < 55 || n > 65 {
		t.Errorf("%d tokens", n)
	}
	assignedSPs := 0
	for _, sp := range db.ServicePrincipals {
		if sp.Assigned {
			assignedSPs++
		} else if !sp.AccountAdmin || sp.ApplicationID != o.Creds.AccountClientID {
			t.Errorf("service principal %s is assigned to no workspace and not the account admin", sp.DisplayName)
		}
	}
	if assignedSPs != 3 || len(db.ServicePrincipals) != 4 || len(o.Admin.Groups) != 6 {
		t.Error("want 3 SPs in the workspace, the account admin SP, and the 6 Bitbucket groups mirrored in the Admin directory")
	}
	for i, g := range o.BB.Groups {
		if a := o.Admin.Groups[i]; a.Name != g.Slug || !slices.Equal(a.Members, g.Members) {
			t.Errorf("Admin group %s does not mirror %s", a.Name, g.Slug)
		}
	}
}

func TestLargeSeedShape(t *testing.T) {
	p := LargeParams{Users: 2000, BBGroups: 100, DBGroups: 150, SPs: 50, Tokens: 3000, GroupSize: 20, Seed: 1}
	o := Large(p, seedNow)
	checkReferences(t, o)
	if len(o.BB.Users) != p.Users || len(o.BB.Groups) != p.BBGroups || len(o.Admin.Groups) != p.BBGroups ||
		len(o.DB.Groups) != p.DBGroups+1 || len(o.DB.ServicePrincipals) != p.SPs+1 || len(o.DB.Tokens) != p.Tokens+1 {
		t.Errorf("sizes: %d users, %d/%d groups, %d SPs, %d tokens", len(o.BB.Users), len(o.BB.Groups), len(o.DB.Groups),
			len(o.DB.ServicePrincipals), len(o.DB.Tokens))
	}
	if u := o.DBUserByName(o.Creds.BitbucketUsername); u == nil || !u.Admin || o.DB.TokensByValue[o.Creds.DatabricksToken].OwnerID != u.ID {
		t.Error("the credentials must be the admin's")
	}
}

func BenchmarkLargeSeed(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Large(DefaultLarge(), seedNow)
	}
}
