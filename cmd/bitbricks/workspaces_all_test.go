package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
)

// TestSyncWorkspacesAll: `databricks.workspaces: all` over the emulated
// demo account: the account API lists prod and dev, BITBRICKS_WORKSPACE_HOSTS
// gives their loopback hosts, and each is served by the profile whose host
// is its host. Without a credential for a workspace, or with an unreachable
// account, the run stops with exit 1 and one line.
func TestSyncWorkspacesAll(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	hosts, profiles := useWorkspacesAll(t, o)
	o.env["BITBRICKS_WORKSPACE_HOSTS"] = "prod=" + hosts[emulator.DemoWorkspace] + ",dev=" + hosts[emulator.DemoDevWorkspace]

	r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--detailed-exitcode")
	if r.code != 2 {
		t.Fatalf("plan over all: want exit 2, got %d: %s", r.code, r.err)
	}
	for _, want := range []string{"== Workspace prod ==", "== Workspace dev ==", "assign rita@acme.com to dev"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("the plan lacks %q", want)
		}
	}
	assertNoSecrets(t, o, r.out, r.err)

	// dev's profile gone: no credential for dev.
	if err := os.WriteFile(o.env["DATABRICKS_CONFIG_FILE"], []byte(strings.Split(string(profiles), "[bitbricks-demo-dev]")[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, o.env, "", "sync", "--config", o.cfg)
	if r.code != 1 || !strings.Contains(r.err, "no credential for workspace dev") || strings.Count(strings.TrimSpace(r.err), "\n") != 0 {
		t.Errorf("no credential for dev: exit %d:\n%s", r.code, r.err)
	}
	// No host for dev.
	o.env["BITBRICKS_WORKSPACE_HOSTS"] = "prod=" + hosts[emulator.DemoWorkspace]
	r = runCLI(t, o.env, "", "sync", "--config", o.cfg)
	if r.code != 1 || !strings.Contains(r.err, "cannot derive the host of workspace dev") || strings.Count(strings.TrimSpace(r.err), "\n") != 0 {
		t.Errorf("no host for dev: exit %d:\n%s", r.code, r.err)
	}
}

// useWorkspacesAll turns the two-workspace config of o into
// `workspaces: all`, with the prod admin's profile as the account
// credential (the emulator's account API takes it), and returns each
// workspace's host by name and the Databricks config file as it was.
// BITBRICKS_WORKSPACE_HOSTS is the caller's to set.
func useWorkspacesAll(t *testing.T, o *testOrg) (hosts map[string]string, profiles []byte) {
	t.Helper()
	src, err := os.ReadFile(o.cfg)
	if err != nil {
		t.Fatal(err)
	}
	list := regexp.MustCompile(`(?m)^  workspaces:.*\n(    - .*\n)+`)
	if !list.Match(src) {
		t.Fatalf("the demo config has no workspace list:\n%s", src)
	}
	if err := os.WriteFile(o.cfg, list.ReplaceAll(src, []byte("  workspaces: all\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	profiles, err = os.ReadFile(o.env["DATABRICKS_CONFIG_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	hosts = map[string]string{}
	for _, m := range regexp.MustCompile(`\[bitbricks-demo-(\w+)\]\nhost = (\S+)`).FindAllStringSubmatch(string(profiles), -1) {
		hosts[m[1]] = m[2]
	}
	o.env["DATABRICKS_CONFIG_PROFILE"] = "bitbricks-demo-" + emulator.DemoWorkspace
	return hosts, profiles
}
