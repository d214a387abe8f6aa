package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// isolateEnv clears the environment variables that change validation, so the tests do not
// depend on the machine they run on.
func isolateEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"DATABRICKS_HOST", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_ACCOUNT_ID", "BITBUCKET_WORKSPACE", "BITBRICKS_CONFIG"} {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", "/home/tester")
}

const head = "bitbucket:\n  workspace: acme\ndatabricks:\n  profile: prod\n" // lines 1-4

func TestParseErrors(t *testing.T) {
	const (
		pat    = "dapi0123456789abcdef0123456789abcdef"
		ose    = "dose0123456789abcdef0123456789abcdef"
		atatt  = "ATATT3xFfGF0aBcDeFgHiJkLmNoPqRsTuV=1A2B3C4D"
		jwtTok = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl"
	)
	tests := []struct {
		name      string
		src       string
		line, col int
		want      string
		secret    string // must not appear in the message
	}{
		{"empty", "", 1, 1, "empty config: run `bitbricks config init`", ""},
		{"only comments", "# nothing yet\n", 1, 1, "empty config", ""},
		{"syntax", "bitbucket:\n  workspace: [acme\n", 2, 14, "YAML syntax error: sequence end token ']' not found", ""},
		{"bad indentation", "bitbucket:\n  workspace: acme\n profile: x\n", 3, 2, "YAML syntax error", ""},
		{"duplicate key", head + "bitbucket:\n  workspace: other\n", 5, 1, `mapping key "bitbucket" already defined`, ""},
		{"two documents", head + "---\naudit:\n  file: x\n", 6, 1, "only one YAML document", ""},
		{"unknown key typo", "bitbucket:\n  worksapce: acme\n", 2, 3, `unknown key "worksapce" in bitbucket: did you mean "workspace"?`, ""},
		{"unknown top key", head + "colour: red\n", 5, 1, `unknown key "colour" at the top level: allowed keys are bitbucket, atlassian_admin, databricks`, ""},
		{"unknown mapping key", head + "mappings:\n  - bitbucket_group: a\n    databricks_grp: b\n", 7, 5, `did you mean "databricks_group"?`, ""},
		{"duration with words", head + "policy:\n  token_max_age: 90 days\n", 6, 18, `policy.token_max_age: "90 days" is not a duration; write it like 90d`, ""},
		{"negative duration", head + "policy:\n  token_max_age: -5d\n", 6, 18, "is negative", ""},
		{"garbage duration", head + "policy:\n  token_warn_age: abc\n", 6, 19, `"abc" is not a duration`, ""},
		{"number as duration", head + "pipelines:\n  - name: a\n    rotate_every: 30\n", 7, 19, `"30" is not a duration`, ""},
		{"warn not below max", head + "policy:\n  token_max_age: 30d\n  token_warn_age: 30d\n", 7, 19, "policy.token_warn_age (30d) must be shorter than policy.token_max_age (30d)", ""},
		{"workspace missing", "bitbucket:\n  groups_source: workspace\ndatabricks:\n  profile: p\n", 1, 1, "bitbucket.workspace is required", ""},
		{"workspace empty", "bitbucket:\n  workspace:\ndatabricks:\n  profile: p\n", 2, 3, "bitbucket.workspace is required", ""},
		{"no bitbucket section", "databricks:\n  profile: p\n", 1, 1, "bitbucket.workspace is required", ""},
		{"databricks neither", "bitbucket:\n  workspace: acme\ndatabricks:\n  account_id: abc\n", 3, 1, "databricks needs a profile or a host", ""},
		{"no databricks section", "bitbucket:\n  workspace: acme\n", 1, 1, "databricks needs a profile or a host", ""},
		{"mapping without databricks_group", head + "mappings:\n  - bitbucket_group: data\n", 6, 5, "mappings[0] has no databricks_group", ""},
		{"mapping without bitbucket_group", head + "mappings:\n  - databricks_group: de\n", 6, 5, "mappings[0] has no bitbucket_group", ""},
		{"duplicate mapping", head + "mappings:\n  - bitbucket_group: a\n    databricks_group: b\n  - {bitbucket_group: a, databricks_group: b}\n", 8, 5, "mappings[1] duplicates mappings[0] (a -> b, line 6)", ""},
		{"unknown entitlement", head + "mappings:\n  - bitbucket_group: a\n    databricks_group: b\n    entitlements: [workspace-access, allow-cluster-creat]\n", 8, 38, `unknown entitlement "allow-cluster-creat" in mappings[0].entitlements: did you mean "allow-cluster-create"?`, ""},
		{"secret key", head + "  token: " + pat + "\n", 5, 3, "databricks.token: secrets must not be written in the config: remove this key and set DATABRICKS_TOKEN in the environment instead", pat},
		{"secret key bitbucket", "bitbucket:\n  workspace: acme\n  api_token: hunter2\n", 3, 3, "set BITBUCKET_API_TOKEN", "hunter2"},
		{"secret key atlassian", head + "atlassian_admin:\n  org_id: o\n  api_key: \"k3y\"\n", 7, 3, "set ATLASSIAN_ADMIN_API_KEY", "k3y"},
		{"client secret key", head + "  client_secret: s3cr3t\n", 5, 3, "set DATABRICKS_CLIENT_SECRET", "s3cr3t"},
		{"pat as value", "bitbucket:\n  workspace: acme\ndatabricks:\n  host: " + pat + "\n", 4, 9, "databricks.host looks like a Databricks personal access token; never write secrets in the config: remove it and set DATABRICKS_TOKEN", pat},
		{"oauth secret as value", head + "audit:\n  file: \"" + ose + "\"\n", 6, 9, "set DATABRICKS_CLIENT_SECRET in the environment instead", ose},
		{"atlassian token as value", head + "policy:\n  protected: [" + atatt + "]\n", 6, 15, "policy.protected[0] looks like an Atlassian API token", atatt},
		{"jwt as value", "bitbucket:\n  workspace: " + jwtTok + "\n", 2, 14, "set BITBUCKET_ACCESS_TOKEN", jwtTok},
		{"bad groups_source", "bitbucket:\n  workspace: acme\n  groups_source: directory\ndatabricks:\n  profile: p\n", 3, 18, `bitbucket.groups_source must be "workspace" or "atlassian-admin", not "directory"`, ""},
		{"atlassian source without org", "bitbucket:\n  workspace: acme\n  groups_source: atlassian-admin\ndatabricks:\n  profile: p\n", 3, 18, "atlassian_admin.org_id is not set", ""},
		{"email_from without org", head + "identity:\n  email_from: atlassian-admin\n", 6, 15, "identity.email_from is atlassian-admin but atlassian_admin.org_id is not set", ""},
		{"atlassian_admin without org", head + "atlassian_admin:\n  directory_id: d\n", 5, 1, "atlassian_admin.org_id is not set", ""},
		{"bad email_from", head + "identity:\n  email_from: ldap\n", 6, 15, `identity.email_from must be "atlassian-admin" or "map", not "ldap"`, ""},
		{"pipeline without service principal", head + "pipelines:\n  - name: etl\n    repository: etl\n    variable: TOKEN_X\n", 6, 5, "pipelines[0] has no service_principal", ""},
		{"pipeline without name", head + "pipelines:\n  - repository: etl\n", 6, 5, "pipelines[0] has no name", ""},
		{"duplicate binding", head + "pipelines:\n  - {name: etl, repository: r, variable: V, service_principal: sp}\n  - name: etl\n    repository: r2\n    variable: W\n    service_principal: sp\n", 7, 11, `pipelines[1].name "etl" is already used by pipelines[0] (line 6)`, ""},
		{"binding name with a colon", head + "pipelines:\n  - name: etl:prod\n    repository: r\n    variable: V\n    service_principal: sp\n", 6, 11, `pipelines[0].name "etl:prod" may not contain a colon`, ""},
		{"bad credential", head + "pipelines:\n  - name: etl\n    repository: r\n    variable: V\n    service_principal: sp\n    credential: password-ish\n", 10, 17, `pipelines[0].credential must be "pat" or "oauth-secret", not "password-ish"`, ""},
		{"oauth without account", head + "pipelines:\n  - name: etl\n    repository: r\n    variable: V\n    service_principal: sp\n    credential: oauth-secret\n", 10, 17, "needs the Databricks account: set databricks.account_id", ""},
		{"bad variable name", head + "pipelines:\n  - name: etl\n    repository: r\n    variable: MY-VAR\n    service_principal: sp\n", 8, 15, `pipelines[0].variable "MY-VAR" is not a valid variable name`, ""},
		{"lifetime below rotation", head + "pipelines:\n  - name: etl\n    repository: r\n    variable: V\n    service_principal: sp\n    rotate_every: 30d\n    lifetime: 20d\n", 11, 15, "pipelines[0].lifetime (20d) is shorter than rotate_every (30d)", ""},
		{"default lifetime below rotation", head + "pipelines:\n  - name: etl\n    repository: r\n    variable: V\n    service_principal: sp\n    rotate_every: 60d\n", 10, 19, "lifetime (45d) is shorter than rotate_every (60d)", ""},
		{"negative max_changes", head + "policy:\n  max_changes: -1\n", 6, 16, "policy.max_changes must be 0 or more, not -1", ""},
		{"empty protected dash", head + "policy:\n  protected:\n    - admin@acme.com\n    -\n", 8, 5, "policy.protected[1] is empty", ""},
		{"empty protected", head + "policy:\n  protected:\n    - admin@acme.com\n    - \"\"\n", 8, 7, "policy.protected[1] is empty", ""},
		{"mappings not a list", head + "mappings: foo\n", 5, 11, `mappings must be a list of entries, each a mapping with keys bitbucket_group, databricks_group, entitlements, prune, workspaces, not "foo"`, ""},
		{"prune maybe", head + "mappings:\n  - bitbucket_group: a\n    databricks_group: b\n    prune: maybe\n", 8, 12, `mappings[0].prune must be true or false, not "maybe"`, ""},
		{"max_changes not a number", head + "policy:\n  max_changes: lots\n", 6, 16, "policy.max_changes must be a whole number", ""},
		{"section not a mapping", "bitbucket: acme\n", 1, 12, "bitbucket must be a mapping with keys workspace, groups_source, base_url", ""},
		{"top level list", "- a\n- b\n", 1, 1, "the config must be a mapping", ""},
		{"undefined env var", "bitbucket:\n  workspace: ws-${BITBRICKS_TEST_UNSET}\n", 2, 17, "bitbucket.workspace: environment variable BITBRICKS_TEST_UNSET is not set: export it or write ${BITBRICKS_TEST_UNSET:-default}", ""},
		{"undefined env var quoted", head + "audit:\n  file: \"${BITBRICKS_TEST_UNSET}/a\"\n", 6, 10, "environment variable BITBRICKS_TEST_UNSET is not set", ""},
		{"unterminated env var", "bitbucket:\n  workspace: ${WS\n", 2, 14, "unterminated ${", ""},
		{"bad base_url", "bitbucket:\n  workspace: acme\n  base_url: api.bitbucket.org\ndatabricks:\n  profile: p\n", 3, 13, "bitbucket.base_url must be an http(s) URL", ""},
		{"merge key", head + "policy:\n  <<: {max_changes: 3}\n", 6, 3, "merge keys (<<) are not supported", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateEnv(t)
			_, err := Parse("bitbricks.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse succeeded, want error containing %q", tt.want)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			prefix := fmt.Sprintf("bitbricks.yaml:%d:%d: ", tt.line, tt.col)
			if !strings.HasPrefix(msg, prefix) {
				t.Errorf("error = %q\nwant prefix %q", msg, prefix)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error = %q\nwant it to contain %q", msg, tt.want)
			}
			if tt.secret != "" && strings.Contains(msg, tt.secret) {
				t.Errorf("error echoes the secret: %q", msg)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Line != tt.line || ce.Col != tt.col {
				t.Errorf("error is not a *config.Error at %d:%d: %#v", tt.line, tt.col, err)
			}
		})
	}
}

const fullConfig = `# every field
bitbucket:
  workspace: acme
  groups_source: atlassian-admin
  base_url: https://bb.example.com/2.0
atlassian_admin:
  org_id: 0a1b
  directory_id: dir-1
  base_url: https://atl.example.com
databricks:
  profile: prod
  host: https://adb-1.cloud.databricks.com
  account_id: acc-1
  account_host: https://accounts.cloud.databricks.com
identity:
  email_from: map
  map_file: identities.yaml
mappings:
  - bitbucket_group: data-engineers
    databricks_group: de-team
    entitlements: [workspace-access, databricks-sql-access]
    prune: true
  - bitbucket_group: data-engineers
    databricks_group: all-data
  - bitbucket_group: analysts
    databricks_group: analysts
    entitlements:
      - allow-cluster-create
      - allow-instance-pool-create
policy:
  token_max_age: 60d
  token_warn_age: 1d12h
  require_expiry: true
  revoke_departed: true
  max_changes: 0
  protected: [admin@acme.com, etl-deployer]
pipelines:
  - name: etl-prod
    repository: etl
    environment: Production
    variable: DATABRICKS_TOKEN
    service_principal: etl-deployer
    credential: oauth-secret
    rotate_every: 12h
    lifetime: 2d
audit:
  file: /var/log/bitbricks/audit.jsonl
`

func TestParseFullConfig(t *testing.T) {
	isolateEnv(t)
	c, err := Parse("/etc/bitbricks/bitbricks.yaml", []byte(fullConfig))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Path:           "/etc/bitbricks/bitbricks.yaml",
		Bitbucket:      BitbucketConfig{Workspace: "acme", GroupsSource: "atlassian-admin", BaseURL: "https://bb.example.com/2.0"},
		AtlassianAdmin: &AtlassianAdminConfig{OrgID: "0a1b", DirectoryID: "dir-1", BaseURL: "https://atl.example.com"},
		Databricks: DatabricksConfig{Profile: "prod", Host: "https://adb-1.cloud.databricks.com",
			AccountID: "acc-1", AccountHost: "https://accounts.cloud.databricks.com"},
		Identity: IdentityConfig{EmailFrom: "map", MapFile: "/etc/bitbricks/identities.yaml"},
		Mappings: []Mapping{
			{BitbucketGroup: "data-engineers", DatabricksGroup: "de-team", Entitlements: []string{"workspace-access", "databricks-sql-access"}, Prune: true, Line: 19},
			{BitbucketGroup: "data-engineers", DatabricksGroup: "all-data", Line: 23},
			{BitbucketGroup: "analysts", DatabricksGroup: "analysts", Entitlements: []string{"allow-cluster-create", "allow-instance-pool-create"}, Line: 25},
		},
		Policy: Policy{
			TokenMaxAge: Duration(60 * 24 * time.Hour), TokenWarnAge: Duration(36 * time.Hour),
			RequireExpiry: true, RevokeDeparted: true, MaxChanges: 0,
			Protected: []string{"admin@acme.com", "etl-deployer"},
		},
		Pipelines: []Binding{{
			Name: "etl-prod", Repository: "etl", Environment: "Production", Variable: "DATABRICKS_TOKEN",
			ServicePrincipal: "etl-deployer", Credential: "oauth-secret",
			RotateEvery: Duration(12 * time.Hour), Lifetime: Duration(48 * time.Hour),
		}},
		Audit: AuditConfig{File: "/var/log/bitbricks/audit.jsonl"},
	}
	if c.at == nil {
		t.Error("Parse keeps no positions for ErrorAt")
	}
	c.at = nil // where each key was written; the error tests check positions
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", c, want)
	}
	if got := c.MappingFor("data-engineers"); len(got) != 2 || got[1].DatabricksGroup != "all-data" {
		t.Errorf("MappingFor(data-engineers) = %+v", got)
	}
	if got := c.MappingFor("nobody"); got != nil {
		t.Errorf("MappingFor(nobody) = %+v, want nil", got)
	}
	if b, ok := c.BindingByName("etl-prod"); !ok || b.Repository != "etl" {
		t.Errorf("BindingByName(etl-prod) = %+v, %v", b, ok)
	}
	if _, ok := c.BindingByName("nope"); ok {
		t.Error("BindingByName(nope) found a binding")
	}
}

func TestDefaults(t *testing.T) {
	isolateEnv(t)
	c, err := Parse("conf/bitbricks.yaml", []byte("bitbucket:\n  workspace: acme\ndatabricks:\n  host: https://h\npipelines:\n  - name: n\n    repository: r\n    variable: V\n    service_principal: sp\n"))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"groups_source", c.Bitbucket.GroupsSource, "workspace"},
		{"atlassian_admin", c.AtlassianAdmin, (*AtlassianAdminConfig)(nil)},
		{"email_from", c.Identity.EmailFrom, "map"},
		{"map_file", c.Identity.MapFile, ""},
		{"token_max_age", c.Policy.TokenMaxAge, Duration(90 * 24 * time.Hour)},
		{"token_warn_age", c.Policy.TokenWarnAge, Duration(60 * 24 * time.Hour)},
		{"max_changes", c.Policy.MaxChanges, 25},
		{"mappings", len(c.Mappings), 0},
		{"audit.file", c.Audit.File, "/home/tester/.local/state/bitbricks/audit.jsonl"},
		{"credential", c.Pipelines[0].Credential, "pat"},
		{"rotate_every", c.Pipelines[0].RotateEvery.String(), "30d"},
		{"lifetime", c.Pipelines[0].Lifetime.String(), "45d"},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}

	// With atlassian_admin present, emails come from it and the directory defaults to "-".
	c, err = Parse("b.yaml", []byte(head+"atlassian_admin:\n  org_id: o1\nmappings: []\npolicy:\n  token_max_age: 30d\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Identity.EmailFrom != "atlassian-admin" || c.AtlassianAdmin.DirectoryID != "-" {
		t.Errorf("email_from = %q, directory_id = %q", c.Identity.EmailFrom, c.AtlassianAdmin.DirectoryID)
	}
	// A short max age without a warn age warns at two thirds of it.
	if c.Policy.TokenWarnAge.String() != "20d" {
		t.Errorf("token_warn_age = %s, want 20d", c.Policy.TokenWarnAge)
	}
}

func TestDatabricksFromEnvironment(t *testing.T) {
	noDatabricks := "bitbucket:\n  workspace: acme\n"
	for _, env := range []string{"DATABRICKS_HOST", "DATABRICKS_CONFIG_PROFILE"} {
		t.Run(env, func(t *testing.T) {
			isolateEnv(t)
			t.Setenv(env, "x")
			if _, err := Parse("b.yaml", []byte(noDatabricks)); err != nil {
				t.Errorf("with %s set: %v", env, err)
			}
		})
	}
}

func TestEnvExpansion(t *testing.T) {
	isolateEnv(t)
	t.Setenv("BB_WS", "acme")
	t.Setenv("BB_EMPTY", "")
	t.Setenv("AUDIT_DIR", "/srv/audit")
	src := `bitbucket:
  workspace: ${BB_WS}
  base_url: ${BB_URL_UNSET:-https://bb.example.com/2.0}
databricks:
  profile: "${BB_EMPTY:-prod}"
  host: https://${BB_WS}-${BB_WS}.example.com
mappings:
  - bitbucket_group: ${BB_WS}-devs
    databricks_group: ${DBX_GROUP_UNSET:-devs}
audit:
  file: ${AUDIT_DIR}/audit.jsonl
`
	c, err := Parse("b.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range []struct{ got, want string }{
		{c.Bitbucket.Workspace, "acme"},
		{c.Bitbucket.BaseURL, "https://bb.example.com/2.0"},
		{c.Databricks.Profile, "prod"},
		{c.Databricks.Host, "https://acme-acme.example.com"},
		{c.Mappings[0].BitbucketGroup, "acme-devs"},
		{c.Mappings[0].DatabricksGroup, "devs"},
		{c.Audit.File, "/srv/audit/audit.jsonl"},
	} {
		if ck.got != ck.want {
			t.Errorf("got %q, want %q", ck.got, ck.want)
		}
	}
}

func TestDurationRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		in, out string
		want    time.Duration
	}{
		{"90d", "90d", 90 * 24 * time.Hour},
		{"12h", "12h", 12 * time.Hour},
		{"30m", "30m", 30 * time.Minute},
		{"45d", "45d", 45 * 24 * time.Hour},
		{"1d12h", "1d12h", 36 * time.Hour},
		{"36h", "1d12h", 36 * time.Hour},
		{"1d2h3m", "1d2h3m", 26*time.Hour + 3*time.Minute},
		{"90m", "1h30m", 90 * time.Minute},
	} {
		d, err := ParseDuration(tt.in)
		if err != nil {
			t.Errorf("ParseDuration(%q): %v", tt.in, err)
			continue
		}
		if d.Std() != tt.want || d.String() != tt.out {
			t.Errorf("ParseDuration(%q) = %v (%s), want %v (%s)", tt.in, d.Std(), d, tt.want, tt.out)
		}
		again, err := ParseDuration(d.String())
		if err != nil || again != d {
			t.Errorf("round trip of %s = %v, %v", d, again, err)
		}
		var viaText Duration
		if b, _ := d.MarshalText(); viaText.UnmarshalText(b) != nil || viaText != d {
			t.Errorf("text round trip of %s = %s", d, viaText)
		}
	}
	for _, bad := range []string{"", "90", "90 days", "-5d", "abc", "d", "5x", "1h2d", "1d1d", "0d", "5.5d", "999999999999d"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", bad)
		}
	}
	var flag Duration
	if err := flag.Set("30d"); err != nil || flag.Days() != 30 || flag.Type() != "duration" {
		t.Errorf("Set(30d) = %v, %v", flag, err)
	}
}

func TestExampleParses(t *testing.T) {
	isolateEnv(t)
	ex := Example()
	c, err := Parse("bitbricks.yaml", ex)
	if err != nil {
		t.Fatalf("Example() does not parse: %v", err)
	}
	if c.Bitbucket.Workspace != "acme" || len(c.Mappings) == 0 || len(c.Pipelines) == 0 {
		t.Errorf("Example() parsed to %+v", c)
	}
	// Every key of the schema is shown (some commented out).
	for _, typ := range []reflect.Type{
		reflect.TypeOf(Config{}), reflect.TypeOf(BitbucketConfig{}), reflect.TypeOf(AtlassianAdminConfig{}),
		reflect.TypeOf(DatabricksConfig{}), reflect.TypeOf(IdentityConfig{}), reflect.TypeOf(Mapping{}),
		reflect.TypeOf(Policy{}), reflect.TypeOf(Binding{}), reflect.TypeOf(AuditConfig{}),
	} {
		for _, name := range fieldNames(typ) {
			if !strings.Contains(string(ex), name+":") {
				t.Errorf("Example() does not mention %s.%s", typ.Name(), name)
			}
		}
	}
	ex[0] = 'X' // Example returns a copy
	if Example()[0] != '#' {
		t.Error("Example() returned shared bytes")
	}
}

func TestIsProtected(t *testing.T) {
	c := &Config{Policy: Policy{Protected: []string{"Admin@Acme.com", "etl-deployer", "6A1B2C3D-0000-4000-8000-00000000ABCD"}}}
	for _, tt := range []struct {
		name string
		want bool
	}{
		{"admin@acme.com", true},
		{"ADMIN@ACME.COM", true},
		{"Etl-Deployer", true},
		{"6a1b2c3d-0000-4000-8000-00000000abcd", true},
		{"admin@acme.co", false},
		{"", false},
	} {
		if got := c.IsProtected(tt.name); got != tt.want {
			t.Errorf("IsProtected(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestLoad(t *testing.T) {
	isolateEnv(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bitbricks.yaml")
	if err := os.WriteFile(cfg, []byte(head+"identity:\n  map_file: ids.yaml\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ids.yaml"), []byte("\"{b2c3}\": bot@acme.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != cfg || c.Identity.MapFile != filepath.Join(dir, "ids.yaml") {
		t.Errorf("Path = %q, MapFile = %q", c.Path, c.Identity.MapFile)
	}
	ids, err := LoadIdentityMap(c.Identity.MapFile)
	if err != nil || ids["{b2c3}"] != "bot@acme.com" {
		t.Errorf("LoadIdentityMap = %v, %v", ids, err)
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	if err == nil || !strings.Contains(err.Error(), "bitbricks config init") {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("BITBRICKS_CONFIG", "")
	if got := DefaultPath(); got != "bitbricks.yaml" {
		t.Errorf("DefaultPath() = %q", got)
	}
	t.Setenv("BITBRICKS_CONFIG", "/etc/bb.yaml")
	if got := DefaultPath(); got != "/etc/bb.yaml" {
		t.Errorf("DefaultPath() = %q", got)
	}
}

func TestAnchorsAndAliases(t *testing.T) {
	isolateEnv(t)
	src := head + `pipelines:
  - name: a
    repository: r
    variable: V
    service_principal: &sp etl-deployer
    rotate_every: &every 30d
    lifetime: *every
  - name: b
    repository: r
    variable: W
    service_principal: *sp
`
	c, err := Parse("b.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.Pipelines[0].Lifetime.String() != "30d" || c.Pipelines[1].ServicePrincipal != "etl-deployer" {
		t.Errorf("pipelines = %+v", c.Pipelines)
	}
}
