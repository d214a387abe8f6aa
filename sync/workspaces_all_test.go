package sync

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
	sdkconfig "github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/provisioning"
)

// allService is the Service over `databricks.workspaces: all`: the account
// API lists the workspaces; each name is given its emulated host and token.
func (tw *twoWorkspaces) allService(t *testing.T, hosts map[string]DatabricksOptions) (*Service, error) {
	t.Helper()
	cfg := *tw.cfg
	cfg.Databricks.Workspaces = config.Workspaces{All: true}
	cfg.Databricks.AccountHost = ""
	src, err := NewSources(&cfg, SourceOptions{
		Env: MapEnv(map[string]string{
			"BITBUCKET_USERNAME":      tw.org.Creds.BitbucketUsername,
			"BITBUCKET_API_TOKEN":     tw.org.Creds.BitbucketAPIToken,
			"ATLASSIAN_ADMIN_API_KEY": tw.org.Creds.AtlassianAdminKey,
		}),
		Databricks: withAccount(tw.org, DatabricksOptions{Host: tw.prod.URL, Token: tw.org.Creds.DatabricksToken, RateLimit: 1000,
			Workspaces: hosts}),
	})
	if err != nil {
		return nil, err
	}
	svc := NewService(src, &cfg, ServiceOptions{Now: func() time.Time { return demoNow }, StateDir: t.TempDir()})
	svc.LimitChanges(-1)
	return svc, nil
}

func (tw *twoWorkspaces) hosts() map[string]DatabricksOptions {
	return map[string]DatabricksOptions{
		emulator.DemoWorkspace:    {Host: tw.prod.URL, Token: tw.org.Creds.WorkspaceTokens[emulator.DemoWorkspace]},
		emulator.DemoDevWorkspace: {Host: tw.dev.URL, Token: tw.org.Creds.WorkspaceTokens[emulator.DemoDevWorkspace]},
	}
}

// TestWorkspacesAll: `workspaces: all` over the demo account lists prod and
// dev through the account API and plans both exactly as the config that
// lists them; a workspace that is not RUNNING is skipped and reported.
func TestWorkspacesAll(t *testing.T) {
	tw := newTwoWorkspaces(t)
	stage := tw.org.AddWorkspace(emulator.DemoWorkspace, "stage", 3333333333333333)
	tw.org.Mu.Lock()
	stage.Status = "PROVISIONING"
	tw.org.Mu.Unlock()
	ctx := context.Background()

	svc, err := tw.allService(t, tw.hosts())
	if err != nil {
		t.Fatal(err)
	}
	if got := svc.Workspaces(); !slices.Equal(got, []string{"dev", "prod"}) {
		t.Fatalf("workspaces = %v, want dev and prod (stage is not running)", got)
	}
	if got := svc.Config().Databricks.Workspaces.Names(); !slices.Equal(got, []string{"dev", "prod"}) {
		t.Errorf("the service's config lists %v", got)
	}
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, listed, err := tw.service(t).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(p Plan) []string {
		var out []string
		for _, c := range p.Changes {
			if c.GroupKind == KindAccount && (c.Action == ActionAddMember || c.Action == ActionRemoveMember) {
				// Planned once, in the first workspace (dev by name, prod in the listed config).
				_, c.ID, _ = strings.Cut(c.ID, ":")
			}
			out = append(out, c.ID)
		}
		slices.Sort(out)
		return out
	}
	if got, want := ids(plan), ids(listed); !slices.Equal(got, want) {
		t.Errorf("plan over all:\n%v\nwant the listed config's:\n%v\nproblems %v / %v", got, want, plan.Problems, listed.Problems)
	}
	perWS := map[string]int{}
	for _, c := range plan.Changes {
		perWS[c.Workspace]++
	}
	if perWS["prod"] == 0 || perWS["dev"] == 0 || len(perWS) != 2 {
		t.Errorf("changes per workspace: %v", perWS)
	}
	i := slices.IndexFunc(plan.Findings, func(f Finding) bool { return f.Subject == "stage" })
	if i < 0 {
		t.Fatalf("no finding for the skipped workspace stage: %v", plan.Findings)
	}
	if f := plan.Findings[i]; f.Kind != FindingUnknownSource || f.Workspace != "stage" || !strings.Contains(f.Detail, "PROVISIONING, not RUNNING") {
		t.Errorf("stage finding: %+v", f)
	}
	t.Logf("stage: %s", plan.Findings[i].Detail)
}

// TestWorkspacesAllErrors: what stops `workspaces: all`, each in one line
// that says what to do.
func TestWorkspacesAllErrors(t *testing.T) {
	tw := newTwoWorkspaces(t)
	// The emulator's account host is loopback: no host derives from it.
	_, err := tw.allService(t, map[string]DatabricksOptions{emulator.DemoWorkspace: tw.hosts()[emulator.DemoWorkspace]})
	if err == nil || !strings.Contains(err.Error(), "cannot derive the host of workspace dev") || !strings.Contains(err.Error(), WorkspaceHostsEnv) {
		t.Errorf("no host for dev: %v", err)
	}
	// A mapping naming a workspace the account does not list.
	tw.cfg.Mappings[0].Workspaces = []string{"stage"}
	_, err = tw.allService(t, tw.hosts())
	if err == nil || !strings.Contains(err.Error(), `mappings[0].workspaces names workspace "stage", which the account does not list (running: dev, prod)`) {
		t.Errorf("unknown workspace in a mapping: %v", err)
	}
	tw.cfg.Mappings[0].Workspaces = nil
	// An account credential the account refuses.
	cfg := *tw.cfg
	cfg.Databricks.Workspaces = config.Workspaces{All: true}
	_, err = NewSources(&cfg, SourceOptions{Env: MapEnv(nil),
		Databricks: DatabricksOptions{Host: tw.prod.URL, Token: tw.org.Creds.DatabricksToken, RetryTimeout: time.Second,
			AccountClientID: tw.org.Creds.AccountClientID, AccountClientSecret: "dose" + strings.Repeat("0", 32)}})
	if err == nil || !strings.Contains(err.Error(), "cannot list the workspaces of account") {
		t.Errorf("refused account credential: %v", err)
	}
	// A personal access token alone: the account API takes OAuth only.
	_, patErr := NewSources(&cfg, SourceOptions{Env: MapEnv(nil),
		Databricks: DatabricksOptions{Host: tw.prod.URL, Token: tw.org.Creds.DatabricksToken, RetryTimeout: time.Second}})
	if !errors.As(patErr, new(*AccountCredentialError)) || ExitCode(patErr) != 3 {
		t.Errorf("PAT only: want an AccountCredentialError (exit 3), got %v", patErr)
	}
	for _, e := range []error{err, patErr} {
		if e != nil && strings.Contains(e.Error(), "\n") {
			t.Errorf("error of several lines: %q", e)
		}
	}
}

// TestPlaceWorkspaces: hosts and credentials of discovered workspaces in
// a real cloud: the SDK's derived host, a profile matched by host, the
// account-wide OAuth credential, and the refusals.
func TestPlaceWorkspaces(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "databrickscfg")
	if err := os.WriteFile(cfgFile, []byte("[acct]\nhost = https://accounts.cloud.databricks.com\naccount_id = a1\n\n"+
		"[dev-profile]\nhost = https://dbc-dev.cloud.databricks.com/\ntoken = x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	aws := &sdkconfig.Config{Host: "https://accounts.cloud.databricks.com", AccountID: "a1"}
	gcp := &sdkconfig.Config{Host: "https://accounts.gcp.databricks.com", AccountID: "a1"}
	list := []provisioning.Workspace{
		{WorkspaceId: 2, WorkspaceName: "dev", DeploymentName: "dbc-dev", WorkspaceStatus: provisioning.WorkspaceStatusRunning},
		{WorkspaceId: 1, WorkspaceName: "prod", DeploymentName: "dbc-prod", WorkspaceStatus: provisioning.WorkspaceStatusRunning},
		{WorkspaceId: 3, WorkspaceName: "Old sandbox", DeploymentName: "dbc-old", WorkspaceStatus: provisioning.WorkspaceStatusFailed},
	}
	env := map[string]string{"DATABRICKS_CONFIG_FILE": cfgFile}

	// No credential for prod: refused, saying what to add.
	_, err := placeWorkspaces(slices.Clone(list), aws, MapEnv(env), DatabricksOptions{})
	if err == nil || !strings.Contains(err.Error(), "no credential for workspace prod (https://dbc-prod.cloud.databricks.com)") ||
		!strings.Contains(err.Error(), "add a profile with host = https://dbc-prod.cloud.databricks.com") {
		t.Errorf("no credential: %v", err)
	}

	// The account-wide OAuth credential serves the workspace without a profile.
	env["DATABRICKS_CLIENT_ID"], env["DATABRICKS_CLIENT_SECRET"] = "sp", "secret"
	got, err := placeWorkspaces(slices.Clone(list), aws, MapEnv(env), DatabricksOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []config.Workspace{{Name: "dev", Profile: "dev-profile"}, {Name: "prod", Host: "https://dbc-prod.cloud.databricks.com"}}
	if !slices.Equal(got.list, want) {
		t.Errorf("placed %+v, want %+v", got.list, want)
	}
	if len(got.skipped) != 1 || got.skipped[0].Subject != "3" || !strings.Contains(got.skipped[0].Detail, "FAILED, not RUNNING") {
		t.Errorf("skipped: %+v (the name with a space falls back to the workspace id)", got.skipped)
	}

	// GCP: the GCP DNS zone; BITBRICKS_WORKSPACE_HOSTS overrides a host.
	env[WorkspaceHostsEnv] = "prod=https://prod.example.com/"
	got, err = placeWorkspaces(slices.Clone(list), gcp, MapEnv(env), DatabricksOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want = []config.Workspace{{Name: "dev", Host: "https://dbc-dev.gcp.databricks.com"}, {Name: "prod", Host: "https://prod.example.com"}}
	if !slices.Equal(got.list, want) {
		t.Errorf("gcp placed %+v, want %+v", got.list, want)
	}

	// Refusals.
	for name, c := range map[string]struct {
		list []provisioning.Workspace
		env  string
		want string
	}{
		"azure":       {[]provisioning.Workspace{{WorkspaceName: "az", WorkspaceStatus: provisioning.WorkspaceStatusRunning, Cloud: "azure"}}, "", "Azure workspace"},
		"none":        {nil, "", "lists no workspace"},
		"none-run":    {list[2:], "", "has no RUNNING workspace"},
		"bad-env":     {list, "prod", WorkspaceHostsEnv + `: "prod" is not name=https://host`},
		"bad-env-url": {list, "prod=ftp://x", "is not name=https://host"},
	} {
		e := map[string]string{"DATABRICKS_CLIENT_ID": "sp", "DATABRICKS_CLIENT_SECRET": "s", WorkspaceHostsEnv: c.env}
		_, err := placeWorkspaces(slices.Clone(c.list), aws, MapEnv(e), DatabricksOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line with %q", name, err, c.want)
		}
	}
}

// TestBitbucketReadOncePerRun: a read over two workspaces asks Bitbucket
// and the Atlassian directory exactly what a read of one asks: their
// answers are shared by the workspaces of a run.
func TestBitbucketReadOncePerRun(t *testing.T) {
	tw := newTwoWorkspaces(t)
	ctx := context.Background()
	_, _, one := tw.part(t, emulator.DemoWorkspace)
	two := tw.service(t)
	count := func(svc *Service) (bb, atl int64) {
		tw.srv.ResetStats()
		if _, err := svc.Read(ctx); err != nil {
			t.Fatal(err)
		}
		st := tw.srv.Stats()
		for r, n := range st.Routes {
			if strings.HasPrefix(r, "bitbucket ") || strings.HasPrefix(r, "atlassian ") {
				t.Logf("  %s: %d", r, n)
			}
		}
		return st.Families["bitbucket"], st.Families["atlassian"]
	}
	bb1, atl1 := count(one)
	bb2, atl2 := count(two)
	t.Logf("Bitbucket requests: one workspace %d, two workspaces %d; Atlassian: %d, %d", bb1, bb2, atl1, atl2)
	if bb1 == 0 || bb2 != bb1 {
		t.Errorf("Bitbucket requests: one workspace %d, two workspaces %d; want equal", bb1, bb2)
	}
	if atl2 != atl1 {
		t.Errorf("Atlassian requests: one workspace %d, two workspaces %d; want equal", atl1, atl2)
	}
	// A second read of the same service reads Bitbucket afresh (nothing is
	// kept from one run to the next).
	if again, _ := count(two); again != bb2 {
		t.Errorf("second read: %d Bitbucket requests, want %d", again, bb2)
	}
}

// TestDiscoveredNamesStable: a discovered workspace is named by its own
// workspace_name only; a name reached by fallback never stands for a
// workspace in the config. The account had {"zeta team", deployment dev};
// an admin then creates {dev, deployment dbc-new}: `dev` is the new one
// by its own name, the old one is named by its id, and a config that
// relied on the old fallback (`dev` = deployment dev) no longer could have
// (the old code named the first `dev` and then silently moved `dev` to
// the new workspace). Ambiguous names and names by id are refused in the
// config, one line each.
func TestDiscoveredNamesStable(t *testing.T) {
	aws := &sdkconfig.Config{Host: "https://accounts.cloud.databricks.com", AccountID: "a1"}
	env := MapEnv(map[string]string{"DATABRICKS_CLIENT_ID": "sp", "DATABRICKS_CLIENT_SECRET": "s"})
	run := provisioning.WorkspaceStatusRunning
	before := []provisioning.Workspace{
		{WorkspaceId: 1, WorkspaceName: "prod", DeploymentName: "dbc-prod", WorkspaceStatus: run},
		{WorkspaceId: 2, WorkspaceName: "zeta team", DeploymentName: "dev", WorkspaceStatus: run},
	}
	names := func(d discovered) map[string]string {
		out := map[string]string{}
		for _, w := range d.list {
			out[w.Name] = w.Host
		}
		return out
	}
	got, err := placeWorkspaces(slices.Clone(before), aws, env, DatabricksOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := names(got); n["2"] != "https://dev.cloud.databricks.com" || len(n) != 2 || n["dev"] != "" {
		t.Errorf("before: %v, want zeta team named by its id 2 (never by its deployment name dev)", n)
	}
	if got.ids["2"].ID != 2 || got.ids["prod"].ID != 1 {
		t.Errorf("ids: %+v", got.ids)
	}
	after := append(slices.Clone(before), provisioning.Workspace{WorkspaceId: 3, WorkspaceName: "dev", DeploymentName: "dbc-new", WorkspaceStatus: run})
	got2, err := placeWorkspaces(after, aws, env, DatabricksOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := names(got2); n["dev"] != "https://dbc-new.cloud.databricks.com" || n["2"] != "https://dev.cloud.databricks.com" || got2.ids["dev"].ID != 3 || got2.ids["2"].ID != 2 {
		t.Errorf("after: %v %+v: each name must stay with its workspace", n, got2.ids)
	}

	cfg := &config.Config{Path: "bitbricks.yaml"}
	refer := func(d discovered, name string) error {
		cfg.Mappings = []config.Mapping{{Workspaces: []string{name}, Line: 7}}
		return checkDiscovered(cfg, d)
	}
	// Before dev existed, the deployment name dev is refused as a name.
	if err := refer(got, "dev"); err == nil || !strings.Contains(err.Error(), `bitbricks.yaml:7: mappings[0].workspaces names workspace "dev", the deployment name of workspace id 2`) {
		t.Errorf("dev as a deployment name: %v", err)
	}
	// A name by id cannot be referred to either: it is not the workspace's own.
	if err := refer(got2, "2"); err == nil || !strings.Contains(err.Error(), "named by its id") || !strings.Contains(err.Error(), "list it in databricks.workspaces by name") {
		t.Errorf("a name by id: %v", err)
	}
	if err := refer(got2, "dev"); err != nil {
		t.Errorf("dev, now a workspace's own name: %v", err)
	}

	// Two workspaces with one workspace_name: both named by id, the name refused.
	twin := append(slices.Clone(before), provisioning.Workspace{WorkspaceId: 4, WorkspaceName: "prod", DeploymentName: "dbc-prod2", WorkspaceStatus: run})
	got3, err := placeWorkspaces(twin, aws, env, DatabricksOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := names(got3); n["prod"] != "" || n["1"] == "" || n["4"] == "" {
		t.Errorf("twins: %v, want both named by id", n)
	}
	err = refer(got3, "prod")
	if err == nil || !strings.Contains(err.Error(), `names workspace "prod", which the account gives to 2 workspaces (ids 1, 4): list them in databricks.workspaces by name with their hosts`) || strings.Contains(err.Error(), "\n") {
		t.Errorf("ambiguous prod: %v", err)
	}
	cfg.Mappings = nil
	cfg.Pipelines = []config.Binding{{Name: "etl", Workspace: "prod"}}
	if err := checkDiscovered(cfg, got3); err == nil || !strings.Contains(err.Error(), "pipelines[0].workspace names workspace \"prod\"") {
		t.Errorf("ambiguous prod in a pipeline: %v", err)
	}
	cfg.Pipelines = nil

	// A workspace whose id is another workspace's name has no name: skipped.
	clash := []provisioning.Workspace{
		{WorkspaceId: 5, WorkspaceName: "bad name", DeploymentName: "dbc-5", WorkspaceStatus: run},
		{WorkspaceId: 6, WorkspaceName: "5", DeploymentName: "dbc-6", WorkspaceStatus: run},
	}
	got4, err := placeWorkspaces(clash, aws, env, DatabricksOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := names(got4); n["5"] != "https://dbc-6.cloud.databricks.com" || len(n) != 1 || len(got4.skipped) != 1 || !strings.Contains(got4.skipped[0].Detail, "its id is another workspace's name") {
		t.Errorf("clash: %v, skipped %+v", n, got4.skipped)
	}
}

// TestDeploymentNameHostile: a deployment name that is not DNS labels
// never makes a host (where the account-wide credential would be
// presented): the workspace is skipped with a finding, and refused when
// the config names it; real names (AWS dbc-…, GCP id.digit) derive.
func TestDeploymentNameHostile(t *testing.T) {
	aws := &sdkconfig.Config{Host: "https://accounts.cloud.databricks.com", AccountID: "a1"}
	gcp := &sdkconfig.Config{Host: "https://accounts.gcp.databricks.com", AccountID: "a1"}
	env := MapEnv(map[string]string{"DATABRICKS_CLIENT_ID": "sp", "DATABRICKS_CLIENT_SECRET": "s"})
	run := provisioning.WorkspaceStatusRunning
	for _, bad := range []string{"evil.example.com/x?", "evil.example.com#", "a@evil.example.com", "x:443", "Dev", "-dev", "dev-", "a..b", "dev/..", "dev%2f"} {
		list := []provisioning.Workspace{
			{WorkspaceId: 1, WorkspaceName: "dev", DeploymentName: "dbc-dev", WorkspaceStatus: run},
			{WorkspaceId: 2, WorkspaceName: "prod", DeploymentName: bad, WorkspaceStatus: run},
		}
		got, err := placeWorkspaces(list, aws, env, DatabricksOptions{})
		if err != nil {
			t.Fatalf("%q: %v", bad, err)
		}
		for _, w := range got.list {
			if w.Name == "prod" || !strings.HasSuffix(w.Host, ".cloud.databricks.com") {
				t.Errorf("%q: placed %+v", bad, w)
			}
		}
		if len(got.skipped) != 1 || got.skipped[0].Subject != "prod" || !strings.Contains(got.skipped[0].Detail, "is not a DNS label") {
			t.Errorf("%q: skipped %+v", bad, got.skipped)
		}
		cfg := &config.Config{Path: "b.yaml", Pipelines: []config.Binding{{Name: "etl", Workspace: "prod"}}}
		if err := checkDiscovered(cfg, got); err == nil || !strings.Contains(err.Error(), "is not a DNS label: give its host in "+WorkspaceHostsEnv) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q referred to: %v", bad, err)
		}
		if h := deploymentHost(aws, bad); h != "" {
			t.Errorf("deploymentHost(%q) = %q", bad, h)
		}
	}
	for acc, c := range map[*sdkconfig.Config][2]string{
		aws: {"dbc-1a2b3c4d-5e6f", "https://dbc-1a2b3c4d-5e6f.cloud.databricks.com"},
		gcp: {"1234567890123456.7", "https://1234567890123456.7.gcp.databricks.com"},
	} {
		if h := deploymentHost(acc, c[0]); h != c[1] {
			t.Errorf("deploymentHost(%q) = %q, want %q", c[0], h, c[1])
		}
	}
	// An override gives a host whatever the deployment name.
	env2 := MapEnv(map[string]string{"DATABRICKS_CLIENT_ID": "sp", "DATABRICKS_CLIENT_SECRET": "s", WorkspaceHostsEnv: "prod=https://prod.example.com"})
	got, err := placeWorkspaces([]provisioning.Workspace{{WorkspaceId: 2, WorkspaceName: "prod", DeploymentName: "evil.example.com/x?", WorkspaceStatus: run}}, aws, env2, DatabricksOptions{})
	if err != nil || len(got.list) != 1 || got.list[0].Host != "https://prod.example.com" {
		t.Errorf("override: %+v %v", got.list, err)
	}
}
