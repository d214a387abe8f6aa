package main

import (
	"maps"
	"os"
	"strings"
	"testing"
)

// TestAccountAPINeedsOAuth: with databricks.account_id set and only a
// workspace token (DATABRICKS_TOKEN), plan and apply stop before any write
// with one line saying the account API takes OAuth and what to set (exit
// 3), no secret in it; with the account admin's DATABRICKS_CLIENT_ID and
// DATABRICKS_CLIENT_SECRET beside the token, the same run plans.
func TestAccountAPINeedsOAuth(t *testing.T) {
	o := newTestOrg(t)
	env := maps.Clone(o.env)
	for _, k := range []string{"DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_AUTH_TYPE"} {
		delete(env, k)
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	for _, args := range [][]string{{"sync"}, {"sync", "--apply", "--yes"}} {
		o.srv.ResetStats()
		r := runCLI(t, env, "", append(args, "--config", o.cfg)...)
		if r.code != 3 {
			t.Fatalf("%v with a PAT only: want exit 3, got %d: %s", args, r.code, r.err)
		}
		line := strings.TrimSpace(r.err)
		if strings.Count(line, "\n") != 0 || !strings.Contains(line, "the account API") || !strings.Contains(line, "takes OAuth, not a personal access token") ||
			!strings.Contains(line, "DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET") || strings.Contains(line, "401") {
			t.Errorf("%v: want one line on the account API's OAuth, got %q", args, r.err)
		}
		assertNoSecrets(t, o, r.out, r.err)
		if n := writeRequests(o); n != 0 {
			t.Errorf("%v: %d write requests: %v", args, n, o.srv.Stats().Routes)
		}
	}
	t.Setenv("DATABRICKS_CLIENT_ID", o.env["DATABRICKS_CLIENT_ID"])
	t.Setenv("DATABRICKS_CLIENT_SECRET", o.env["DATABRICKS_CLIENT_SECRET"])
	env["DATABRICKS_CLIENT_ID"], env["DATABRICKS_CLIENT_SECRET"] = o.env["DATABRICKS_CLIENT_ID"], o.env["DATABRICKS_CLIENT_SECRET"]
	if r := runCLI(t, env, "", "sync", "--config", o.cfg, "--detailed-exitcode"); r.code != 2 {
		t.Errorf("with the account's OAuth secret beside the token: want exit 2, got %d: %s", r.code, r.err)
	}
}
