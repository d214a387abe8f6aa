package main

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
)

// newTwoWorkspaceOrg serves the demo account's prod and dev workspaces on
// hosts of their own and writes the config over both, with a Databricks
// config file holding a profile per workspace.
func newTwoWorkspaceOrg(t *testing.T) *testOrg {
	t.Helper()
	return newTwoWorkspaceOrgWrapped(t, func(h http.Handler) http.Handler { return h })
}

// newTwoWorkspaceOrgWrapped is newTwoWorkspaceOrg with dev's handler
// wrapped by devWrap (a switch that takes dev down, say).
func newTwoWorkspaceOrgWrapped(t *testing.T, devWrap func(http.Handler) http.Handler) *testOrg {
	t.Helper()
	isolate(t)
	org := emulator.Demo(testNow)
	srv := emulator.New(org, emulator.Options{})
	prod := httptest.NewServer(srv.WorkspaceHandler(emulator.DemoWorkspace))
	dev := httptest.NewServer(devWrap(srv.WorkspaceHandler(emulator.DemoDevWorkspace)))
	t.Cleanup(prod.Close)
	t.Cleanup(dev.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bitbricks.yaml")
	profiles := filepath.Join(dir, "databrickscfg")
	_, ids := emulator.DemoConfigFiles(org, prod.URL)
	files := map[string][]byte{
		cfg:                                   append(emulator.DemoWorkspacesConfig(org, prod.URL), []byte("audit:\n  file: audit.jsonl\n")...),
		filepath.Join(dir, "identities.yaml"): ids,
		profiles:                              emulator.DemoProfiles(org, map[string]string{emulator.DemoWorkspace: prod.URL, emulator.DemoDevWorkspace: dev.URL}),
	}
	for path, b := range files {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	unpaced(t, cfg)
	env := maps.Clone(demoEnv(org, prod.URL))
	// Every Databricks credential is in the profiles, the account's too.
	for _, k := range []string{"DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_AUTH_TYPE"} {
		delete(env, k)
	}
	env["DATABRICKS_CONFIG_FILE"] = profiles
	return &testOrg{org: org, srv: srv, url: prod.URL, cfg: cfg, env: env, root: dir}
}

// TestSyncTwoWorkspaces: `sync --apply` over two workspaces, then
// `sync --detailed-exitcode` finds both in sync; `--workspace dev` on a
// fresh account writes to dev only.
func TestSyncTwoWorkspaces(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--detailed-exitcode")
	if r.code != 2 {
		t.Fatalf("plan: want exit 2, got %d: %s", r.code, r.err)
	}
	for _, section := range []string{"== Workspace prod ==", "== Workspace dev ==", "assign rita@acme.com to dev"} {
		if !strings.Contains(r.out, section) {
			t.Errorf("the text plan lacks %q", section)
		}
	}
	r = runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--yes", "--max-changes", "200")
	if r.code != 0 {
		t.Fatalf("apply: exit %d: %s\n%s", r.code, r.err, r.out)
	}
	r = runCLI(t, o.env, "", "sync", "--config", o.cfg, "--detailed-exitcode")
	if r.code != 0 {
		t.Fatalf("after apply: want exit 0, got %d: %s\n%s", r.code, r.err, r.out)
	}
	assertNoSecrets(t, o, r.out, r.err)

	o = newTwoWorkspaceOrg(t)
	r = runCLI(t, o.env, "", "sync", "--config", o.cfg, "--workspace", "stage")
	if r.code != 1 || !strings.Contains(r.err, "no such workspace") {
		t.Errorf("--workspace stage: exit %d: %s", r.code, r.err)
	}
	o.srv.ResetStats()
	r = runCLI(t, o.env, "", "sync", "--config", o.cfg, "--workspace", "dev", "--apply", "--yes", "--max-changes", "200")
	if r.code != 0 {
		t.Fatalf("--workspace dev --apply: exit %d: %s", r.code, r.err)
	}
	st := o.srv.Stats()
	// prod: only its departures ledger is read (an account group's
	// removal may be recorded there alone), nothing written.
	if st.WorkspaceWrites["dev"] == 0 || st.WorkspaceWrites["prod"] != 0 || st.Workspaces["prod"] > 1 {
		t.Errorf("--workspace dev: requests %v, writes %v; want dev only, and prod's ledger read", st.Workspaces, st.WorkspaceWrites)
	}
	t.Logf("--workspace dev: requests per workspace %v, writes %v", st.Workspaces, st.WorkspaceWrites)
}
