package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const multiHead = "bitbucket:\n  workspace: acme\ndatabricks:\n  account_id: acct-1\n  workspaces:\n" +
	"    - {name: prod, profile: prod}\n    - name: dev\n      host: https://adb-222.azuredatabricks.net\n" // lines 1-8

func TestParseWorkspaces(t *testing.T) {
	isolateEnv(t)
	src := multiHead + `mappings:
  - bitbucket_group: data
    databricks_group: de-team
    workspaces: [prod]
  - bitbucket_group: data
    databricks_group: de-team
    entitlements: [workspace-access]
    workspaces: [dev]
  - bitbucket_group: platform
    databricks_group: platform-eng
pipelines:
  - name: etl
    workspace: dev
    repository: etl
    variable: DATABRICKS_TOKEN
    service_principal: etl-deployer
`
	c, err := Parse("b.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []Workspace{{Name: "prod", Profile: "prod"}, {Name: "dev", Host: "https://adb-222.azuredatabricks.net"}}
	if !reflect.DeepEqual(c.Databricks.Workspaces.List, want) || c.Databricks.Workspaces.All {
		t.Errorf("workspaces = %+v", c.Databricks.Workspaces)
	}
	if !c.Mappings[0].AppliesTo("prod") || c.Mappings[0].AppliesTo("dev") || !c.Mappings[2].AppliesTo("dev") {
		t.Errorf("mappings' workspaces = %v %v", c.Mappings[0].Workspaces, c.Mappings[2].Workspaces)
	}
	if c.Pipelines[0].Workspace != "dev" {
		t.Errorf("pipeline workspace = %q", c.Pipelines[0].Workspace)
	}

	all, err := Parse("b.yaml", []byte("bitbucket:\n  workspace: acme\ndatabricks:\n  account_id: acct-1\n  account_host: https://accounts.cloud.databricks.com\n  workspaces: all\n"))
	if err != nil || !all.Databricks.Workspaces.All {
		t.Fatalf("workspaces: all = %+v, %v", all, err)
	}

	// The single form is one workspace named after its host.
	if got := SingleWorkspaceName("https://adb-111.azuredatabricks.net/", ""); got != "adb-111.azuredatabricks.net" {
		t.Errorf("single name = %q", got)
	}
	if got := SingleWorkspaceName("", "prod"); got != "prod" {
		t.Errorf("single name by profile = %q", got)
	}
}

func TestParseWorkspacesErrors(t *testing.T) {
	isolateEnv(t)
	const pipe = "pipelines:\n  - name: etl\n    repository: etl\n    variable: V\n    service_principal: sp\n"
	tests := []struct {
		name      string
		src       string
		line, col int
		want      string
	}{
		{"host and workspaces", "bitbucket:\n  workspace: acme\ndatabricks:\n  host: https://a.b\n  workspaces:\n    - {name: prod, profile: p}\n", 4, 9, "databricks.host and databricks.workspaces are exclusive"},
		{"not all", "bitbucket:\n  workspace: acme\ndatabricks:\n  workspaces: some\n", 4, 15, "must be `all` or a list"},
		{"all without account", "bitbucket:\n  workspace: acme\ndatabricks:\n  workspaces: all\n", 4, 15, "set databricks.account_id"},
		{"no name", "bitbucket:\n  workspace: acme\ndatabricks:\n  workspaces:\n    - {host: https://a.b}\n", 5, 7, "databricks.workspaces[0] has no name"},
		{"neither host nor profile", "bitbucket:\n  workspace: acme\ndatabricks:\n  workspaces:\n    - name: dev\n", 5, 7, "needs a host or a profile"},
		{"duplicate name", multiHead + "    - {name: dev, profile: x}\n", 9, 14, `"dev" is already used`},
		{"unknown in mapping", multiHead + "mappings:\n  - bitbucket_group: a\n    databricks_group: b\n    workspaces: [deev]\n", 12, 18, `no workspace "deev" in databricks.workspaces (did you mean "dev"?)`},
		{"pipeline without workspace", multiHead + pipe, 10, 5, "pipelines[0] (etl) has no workspace"},
		{"pipeline unknown workspace", multiHead + pipe + "    workspace: stage\n", 14, 16, `pipelines[0].workspace: no workspace "stage"`},
		{"mapping workspaces in single form", head + "mappings:\n  - bitbucket_group: a\n    databricks_group: b\n    workspaces: [prod]\n", 8, 17, "needs several workspaces"},
		{"duplicate mapping in one workspace", multiHead + "mappings:\n  - {bitbucket_group: a, databricks_group: b}\n  - {bitbucket_group: a, databricks_group: b, workspaces: [dev]}\n", 11, 5, "duplicates mappings[0]"},
		{"unknown workspace key", "bitbucket:\n  workspace: acme\ndatabricks:\n  workspaces:\n    - {name: dev, hots: x}\n", 5, 19, `did you mean "host"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("b.yaml", []byte(tt.src))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a config error", err)
			}
			if ce.Line != tt.line || ce.Col != tt.col || !strings.Contains(ce.Msg, tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want b.yaml:%d:%d: ...%s...", err, tt.line, tt.col, tt.want)
			}
		})
	}
}

// TestSharedPipelineVariableRefused: two bindings that write one pipeline
// variable (same repository and deployment environment) would overwrite
// each other's credential at every rotation; with several workspaces each
// would then hold a token of the wrong workspace.
func TestSharedPipelineVariableRefused(t *testing.T) {
	isolateEnv(t)
	bind := func(name, ws, variable, env string) string {
		s := "  - name: " + name + "\n    repository: etl\n    variable: " + variable + "\n    service_principal: sp\n"
		if ws != "" {
			s += "    workspace: " + ws + "\n"
		}
		if env != "" {
			s += "    environment: " + env + "\n"
		}
		return s
	}
	tests := []struct {
		name      string
		src       string
		line, col int
		want      string
	}{
		// pipelines[0] is lines 10-14, pipelines[1] starts at line 15.
		{"two workspaces", multiHead + "pipelines:\n" + bind("etl-prod", "prod", "DATABRICKS_TOKEN", "") + bind("etl-dev", "dev", "DATABRICKS_TOKEN", ""), 17, 15,
			"pipelines[1] (etl-dev, workspace dev) writes the same variable DATABRICKS_TOKEN of repository etl, as pipelines[0] (etl-prod, line 10, workspace prod) does"},
		{"repository case", multiHead + "pipelines:\n" + bind("etl-prod", "prod", "DATABRICKS_TOKEN", "") +
			strings.Replace(bind("etl-dev", "dev", "DATABRICKS_TOKEN", ""), "etl\n", "ETL\n", 1), 17, 15, "the same variable DATABRICKS_TOKEN"},
		{"one environment", multiHead + "pipelines:\n" + bind("a", "prod", "T", "Production") + bind("b", "dev", "T", "production"), 18, 15,
			"of repository etl, deployment environment production, as pipelines[0] (a, line 10, workspace prod) does"},
		{"id record", multiHead + "pipelines:\n" + bind("a", "prod", "T", "") + bind("b", "dev", "T_ID", ""), 17, 15, "writes T_ID, where a records its credential's id"},
		{"one workspace", head + "pipelines:\n" + bind("a", "", "T", "") + bind("b", "", "T", ""), 12, 15,
			"pipelines[1] (b) writes the same variable T of repository etl, as pipelines[0] (a, line 6) does"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("b.yaml", []byte(tt.src))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a config error", err)
			}
			if ce.Line != tt.line || ce.Col != tt.col || !strings.Contains(ce.Msg, tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want b.yaml:%d:%d: ...%s...", err, tt.line, tt.col, tt.want)
			}
		})
	}
	// Distinct variables, or one repository variable and one deployment
	// variable of the same name, are separate and accepted.
	for _, src := range []string{
		multiHead + "pipelines:\n" + bind("etl-prod", "prod", "DATABRICKS_TOKEN", "") + bind("etl-dev", "dev", "DATABRICKS_DEV_TOKEN", ""),
		multiHead + "pipelines:\n" + bind("etl-prod", "prod", "T", "") + bind("etl-dev", "dev", "T", "Staging"),
	} {
		if _, err := Parse("b.yaml", []byte(src)); err != nil {
			t.Errorf("separate variables refused: %v", err)
		}
	}
}

// TestEmptyMappingWorkspacesRefused: `workspaces: []` reads as "none" but a
// mapping without workspaces acts in every workspace.
func TestEmptyMappingWorkspacesRefused(t *testing.T) {
	isolateEnv(t)
	const m = "mappings:\n  - bitbucket_group: a\n    databricks_group: b\n    prune: true\n    workspaces:"
	for _, tt := range []struct {
		name, src string
		line, col int
	}{
		{"several", multiHead + m + " []\n", 13, 17},
		{"null", multiHead + m + "\n", 13, 5},
		{"one workspace", head + m + " []\n", 9, 17},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("b.yaml", []byte(tt.src))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a config error", err)
			}
			if ce.Line != tt.line || ce.Col != tt.col || !strings.Contains(ce.Msg, "mappings[0].workspaces is empty: omit workspaces: for every workspace, or name at least one") {
				t.Errorf("err = %v, want b.yaml:%d:%d: mappings[0].workspaces is empty...", err, tt.line, tt.col)
			}
		})
	}
}

// TestWorkspaceListedTwiceRefused: two entries of one workspace (hosts
// equal once normalised, or one profile) would be planned and written
// twice; the later entry is refused, naming the earlier one and its line.
func TestWorkspaceListedTwiceRefused(t *testing.T) {
	isolateEnv(t)
	tests := []struct {
		name      string
		entry     string
		line, col int
		want      string
	}{
		{"same host", "    - {name: dev2, host: 'HTTPS://ADB-222.azuredatabricks.net:443/'}\n", 9, 26,
			"databricks.workspaces[2] (dev2) has the host of databricks.workspaces[1] (dev, line 7): https://adb-222.azuredatabricks.net is one workspace; list it once"},
		{"same profile", "    - {name: prod2, profile: prod}\n", 9, 30,
			`databricks.workspaces[2] (prod2) has the profile of databricks.workspaces[0] (prod, line 6): profile "prod" is one workspace`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("b.yaml", []byte(multiHead+tt.entry))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a config error", err)
			}
			if ce.Line != tt.line || ce.Col != tt.col || !strings.Contains(ce.Msg, tt.want) {
				t.Errorf("err = %v, want b.yaml:%d:%d: ...%s...", err, tt.line, tt.col, tt.want)
			}
		})
	}
	// Other ports or hosts are other workspaces.
	if _, err := Parse("b.yaml", []byte(multiHead+"    - {name: dev2, host: 'https://adb-222.azuredatabricks.net:8443'}\n")); err != nil {
		t.Errorf("another port: %v", err)
	}
	for _, pair := range [][2]string{{"https://A.b/", "https://a.b:443"}, {"http://127.0.0.1:80", "HTTP://127.0.0.1"}} {
		if !SameHost(pair[0], pair[1]) {
			t.Errorf("SameHost(%q, %q) = false", pair[0], pair[1])
		}
	}
	if SameHost("http://127.0.0.1:1", "http://127.0.0.1:2") {
		t.Error("two ports are one host")
	}
}
