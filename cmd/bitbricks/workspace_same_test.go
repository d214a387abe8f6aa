package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestSameWorkspaceTwoHostsRefused: one workspace listed twice under two
// spellings of its host (http://127.0.0.1:P and http://localhost:P) passes
// the host check, and before the fix the run read it twice and tripped over
// its own lease. Both hosts answer SCIM Me with one X-Databricks-Org-Id: the
// run is refused in one line naming both entries (file:line), exit 3,
// before anything else is read or written.
func TestSameWorkspaceTwoHostsRefused(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	src, err := os.ReadFile(o.cfg)
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := os.ReadFile(o.env["DATABRICKS_CONFIG_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	prod := regexp.MustCompile(`\[bitbricks-demo-prod\]\nhost = http://127\.0\.0\.1:(\d+)\ntoken = (\S+)`).FindSubmatch(profiles)
	if prod == nil {
		t.Fatalf("no prod profile on 127.0.0.1 in\n%s", profiles)
	}
	alias := append(profiles, []byte("[prod-localhost]\nhost = http://localhost:"+string(prod[1])+"\ntoken = "+string(prod[2])+"\n")...)
	if err := os.WriteFile(o.env["DATABRICKS_CONFIG_FILE"], alias, 0o600); err != nil {
		t.Fatal(err)
	}
	devLine := regexp.MustCompile(`(?m)^    - \{name: dev, profile: bitbricks-demo-dev\}\n`)
	twice := devLine.ReplaceAllLiteral(src, []byte("    - {name: dev, profile: bitbricks-demo-dev}\n    - {name: prod2, profile: prod-localhost}\n"))
	if err := os.WriteFile(o.cfg, twice, 0o600); err != nil {
		t.Fatal(err)
	}
	prodAt, aliasAt := 0, 0
	for i, l := range strings.Split(string(twice), "\n") {
		switch {
		case strings.Contains(l, "{name: prod,"):
			prodAt = i + 1
		case strings.Contains(l, "{name: prod2,"):
			aliasAt = i + 1
		}
	}
	if r := runCLI(t, o.env, "", "config", "validate", "--config", o.cfg); r.code != 0 {
		t.Logf("config validate: exit %d: %s", r.code, r.err)
	}
	want := regexp.MustCompile(regexp.QuoteMeta(o.cfg) + `:` + itoa(aliasAt) + `:7: refused: databricks.workspaces\[2\] \(prod2, profile "prod-localhost", host http://localhost:` + string(prod[1]) +
		`\) and databricks.workspaces\[0\] \(prod, profile "bitbricks-demo-prod", line ` + itoa(prodAt) + `, host http://127\.0\.0\.1:` + string(prod[1]) +
		`\) are one workspace: both hosts answer as workspace id \d+ \(X-Databricks-Org-Id on /api/2\.0/preview/scim/v2/Me\)`)
	for _, args := range [][]string{{"sync"}, {"sync", "--apply", "--yes", "--max-changes", "500"}, {"tokens"}} {
		o.srv.ResetStats()
		r := runCLI(t, o.env, "", append(args, "--config", o.cfg)...)
		if r.code != 3 || !want.MatchString(r.err) || strings.Count(strings.TrimSpace(r.err), "\n") != 0 {
			t.Errorf("%v over prod listed as 127.0.0.1 and localhost: exit %d, stderr %q; want exit 3 and one line matching %s", args, r.code, r.err, want)
		}
		if w := writeRequests(o); w != 0 {
			t.Errorf("%v: %d write requests, want 0", args, w)
		}
		st := o.srv.Stats()
		var reads int64
		for route, n := range st.Routes {
			if strings.Contains(route, "/api/") && !strings.Contains(route, "/scim/v2/Me") {
				reads += n
			}
		}
		if reads != 0 {
			t.Errorf("%v: %d API requests other than SCIM Me before the refusal (%v), want 0", args, reads, st.Routes)
		}
		t.Logf("%v: exit %d, requests %v", args, r.code, st.Routes)
	}
}
