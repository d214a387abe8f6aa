package main

import (
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
	_, _, prodHost, prodAt, aliasAt := o.listProdTwice(t, "prod-localhost", func(host string) string {
		if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(host) {
			t.Fatalf("prod's profile is not on 127.0.0.1: %s", host)
		}
		return strings.Replace(host, "127.0.0.1", "localhost", 1)
	})
	port := strings.TrimPrefix(prodHost, "http://127.0.0.1:")
	if r := runCLI(t, o.env, "", "config", "validate", "--config", o.cfg); r.code != 0 {
		t.Logf("config validate: exit %d: %s", r.code, r.err)
	}
	want := regexp.MustCompile(regexp.QuoteMeta(o.cfg) + `:` + itoa(aliasAt) + `:7: refused: databricks.workspaces\[2\] \(prod2, profile "prod-localhost", host http://localhost:` + port +
		`\) and databricks.workspaces\[0\] \(prod, profile "bitbricks-demo-prod", line ` + itoa(prodAt) + `, host http://127\.0\.0\.1:` + port +
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
