package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
)

// TestWorkspaceListedTwiceRefused: a config listing one workspace under two
// names (a second profile of prod's host; or, with `workspaces: all`,
// BITBRICKS_WORKSPACE_HOSTS giving two names prod's host) would plan every
// change twice and then lock itself out at its own lease. The run is
// refused with one line naming both entries (file:line:col), or with
// `workspaces: all` the name whose host answers as another workspace, and
// nothing is written.
func TestWorkspaceListedTwiceRefused(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	src, profiles, prodHost, prodAt, aliasAt := o.listProdTwice(t, "prod-alias", func(host string) string { return host + "/" })
	o.srv.ResetStats()
	for _, args := range [][]string{{"config", "validate"}, {"sync"}, {"sync", "--apply", "--yes", "--max-changes", "500"}} {
		r := runCLI(t, o.env, "", append(args, "--config", o.cfg)...)
		want := regexp.MustCompile(regexp.QuoteMeta(o.cfg) + `:` + itoa(aliasAt) + `:7: databricks.workspaces\[2\] \(prod2, profile "prod-alias"\) is the workspace of databricks.workspaces\[0\] \(prod, profile "bitbricks-demo-prod", line ` + itoa(prodAt) + `\): both resolve to host http://127\.0\.0\.1:\d+; list each workspace once`)
		if r.code == 0 || r.code == 2 || !want.MatchString(r.err) || strings.Count(strings.TrimSpace(r.err), "\n") != 0 {
			t.Errorf("%v over prod listed twice: exit %d, stderr %q; want one line matching %s", args, r.code, r.err, want)
		}
	}
	if w := writeRequests(o); w != 0 {
		t.Errorf("%d write requests with prod listed twice, want 0", w)
	}

	// workspaces: all, BITBRICKS_WORKSPACE_HOSTS giving dev prod's host.
	if err := os.WriteFile(o.env["DATABRICKS_CONFIG_FILE"], profiles, 0o600); err != nil {
		t.Fatal(err)
	}
	list := regexp.MustCompile(`(?m)^  workspaces:.*\n(    - .*\n)+`)
	if err := os.WriteFile(o.cfg, list.ReplaceAll(src, []byte("  workspaces: all\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	o.env["BITBRICKS_WORKSPACE_HOSTS"] = "prod=" + prodHost + ",dev=" + prodHost
	o.env["DATABRICKS_CONFIG_PROFILE"] = "bitbricks-demo-" + emulator.DemoWorkspace
	r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--yes", "--max-changes", "500")
	if r.code != 3 || !strings.Contains(r.err, "workspace dev") || !strings.Contains(r.err, prodHost) ||
		strings.Count(strings.TrimSpace(r.err), "\n") != 0 {
		t.Errorf("workspaces: all with two names for prod's host: exit %d, stderr %q", r.code, r.err)
	}
	if w := writeRequests(o); w != 0 {
		t.Errorf("%d write requests with two names for prod's host, want 0", w)
	}
}

// listProdTwice lists prod a second time, as workspace prod2 after dev,
// through a new profile (named profile, prod's token) whose host is
// alias(prod's host). It returns the config and the profiles file as they
// were, prod's host, and the lines of prod's and prod2's entries.
func (o *testOrg) listProdTwice(t *testing.T, profile string, alias func(host string) string) (src, profiles []byte, prodHost string, prodAt, aliasAt int) {
	t.Helper()
	src, err := os.ReadFile(o.cfg)
	if err != nil {
		t.Fatal(err)
	}
	profiles, err = os.ReadFile(o.env["DATABRICKS_CONFIG_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	prod := regexp.MustCompile(`\[bitbricks-demo-prod\]\nhost = (\S+)\ntoken = (\S+)`).FindSubmatch(profiles)
	if prod == nil {
		t.Fatalf("no prod profile in\n%s", profiles)
	}
	prodHost = string(prod[1])
	more := append(slices.Clone(profiles), []byte("["+profile+"]\nhost = "+alias(prodHost)+"\ntoken = "+string(prod[2])+"\n")...)
	if err := os.WriteFile(o.env["DATABRICKS_CONFIG_FILE"], more, 0o600); err != nil {
		t.Fatal(err)
	}
	devLine := regexp.MustCompile(`(?m)^    - \{name: dev, profile: bitbricks-demo-dev\}\n`)
	if !devLine.Match(src) {
		t.Fatalf("no dev entry in\n%s", src)
	}
	twice := devLine.ReplaceAllLiteral(src, []byte("    - {name: dev, profile: bitbricks-demo-dev}\n    - {name: prod2, profile: "+profile+"}\n"))
	if err := os.WriteFile(o.cfg, twice, 0o600); err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(twice), "\n") {
		switch {
		case strings.Contains(l, "{name: prod,"):
			prodAt = i + 1
		case strings.Contains(l, "{name: prod2,"):
			aliasAt = i + 1
		}
	}
	return src, profiles, prodHost, prodAt, aliasAt
}
