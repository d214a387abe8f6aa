package main

import (
	"maps"
	"os"
	"strings"
	"testing"
)

// patOnlyEnv is o's environment with databricks.account_id in the config
// and only the workspace's personal access token: no account OAuth secret.
func patOnlyEnv(t *testing.T, o *testOrg) map[string]string {
	t.Helper()
	env := maps.Clone(o.env)
	for _, k := range []string{"DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_AUTH_TYPE"} {
		delete(env, k)
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	env["BITBRICKS_DEBUG"] = "1"
	return env
}

// TestWorkspaceWorkWithoutAccountCredential: with databricks.account_id set
// and only a workspace personal access token (the on-call engineer's),
// what needs the workspace alone runs: revoke --leaked and --token-id
// revoke the token, tokens lists the workspace's tokens, unlock runs; each
// says in one line what it could not cover (a service principal's account
// OAuth secrets) and why (the account API takes OAuth, what to set). sync
// still refuses before any write (exit 3). No secret in any output, debug
// logs included.
func TestWorkspaceWorkWithoutAccountCredential(t *testing.T) {
	o := newTestOrg(t)
	env := patOnlyEnv(t, o)

	// A service principal's token leaks: it dies; its OAuth secrets are
	// the account's and could not be searched, which the run says.
	smoke, ok := tokenByComment(o, "etl-deployer", "smoke test")
	if !ok {
		t.Fatal("no smoke test token of etl-deployer in the seed")
	}
	o.srv.ResetStats()
	r := runCLI(t, env, smoke.Value+"\n", "revoke", "--leaked", "--yes", "--config", o.cfg)
	t.Logf("revoke --leaked: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
	if alive(o, smoke.Value) {
		t.Fatalf("the leaked token survived: exit %d: %s", r.code, r.err)
	}
	if r.code == 3 {
		t.Errorf("revoke --leaked refused (exit 3): %s", r.err)
	}
	if !strings.Contains(r.out+r.err, "no longer authenticates") {
		t.Errorf("revoke --leaked does not say the leaked value no longer authenticates")
	}
	notCovered(t, "revoke --leaked", r.out+r.err, "OAuth secrets")
	assertNoSecrets(t, o, r.out, r.err)
	if n := o.srv.Stats().Routes[accountSecretsRoute]; n != 0 {
		t.Errorf("revoke --leaked sent the PAT to the account API (%d requests)", n)
	}

	// A token by id.
	victim, ok := tokenByComment(o, "dan@acme.com", "")
	if !ok {
		t.Fatal("no token of dan in the seed")
	}
	r = runCLI(t, env, "", "revoke", "--token-id", victim.ID, "--yes", "--config", o.cfg)
	if r.code != 0 || alive(o, victim.Value) {
		t.Fatalf("revoke --token-id: exit %d, token alive %v: %s\n%s", r.code, alive(o, victim.Value), r.err, r.out)
	}
	assertNoSecrets(t, o, r.out, r.err)

	// The inventory: the workspace's tokens listed, the account's OAuth
	// secrets named as not read, and why.
	r = runCLI(t, env, "", "tokens", "--config", o.cfg)
	t.Logf("tokens: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
	if r.code == 3 || !strings.Contains(r.out, smokeSibling(t, o)) {
		t.Fatalf("tokens does not list the workspace's tokens: exit %d: %s\n%s", r.code, r.err, r.out)
	}
	notCovered(t, "tokens", r.out+r.err, "OAuth secrets")
	assertNoSecrets(t, o, r.out, r.err)

	// unlock needs only the workspace (its lease folder).
	r = runCLI(t, env, "", "unlock", "--yes", "--config", o.cfg)
	if r.code == 3 || strings.Contains(r.err, "takes OAuth") {
		t.Errorf("unlock with a PAT only: exit %d: %s", r.code, r.err)
	}
	assertNoSecrets(t, o, r.out, r.err)

	// Account work still refuses before any write.
	o.srv.ResetStats()
	r = runCLI(t, env, "", "sync", "--apply", "--yes", "--config", o.cfg)
	if r.code != 3 || !strings.Contains(r.err, "takes OAuth") {
		t.Errorf("sync --apply with a PAT only: want exit 3 on the account's OAuth, got %d: %s", r.code, r.err)
	}
	if n := writeRequests(o); n != 0 {
		t.Errorf("sync --apply: %d write requests: %v", n, o.srv.Stats().Routes)
	}
	assertNoSecrets(t, o, r.out, r.err)
}

// accountSecretsRoute is the account API's listing of a service principal's
// OAuth secrets.
const accountSecretsRoute = "databricks GET /api/2.0/accounts/{account_id}/servicePrincipals/{sp_id}/credentials/secrets"

// notCovered checks that out has one line naming what (not covered) with
// the account API's OAuth and the settings that give it.
func notCovered(t *testing.T, cmd, out, what string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, what) && strings.Contains(line, "takes OAuth") &&
			strings.Contains(line, "DATABRICKS_CLIENT_ID") && strings.Contains(line, "databricks.account_profile") {
			return
		}
	}
	t.Errorf("%s: no line says that %s were not covered because the account API takes OAuth (and what to set):\n%s", cmd, what, out)
}

// smokeSibling is the id of a token of etl-deployer that is still alive.
func smokeSibling(t *testing.T, o *testOrg) string {
	t.Helper()
	tok, ok := tokenByComment(o, "etl-deployer", "bitbricks:etl-prod")
	if !ok {
		t.Fatal("no etl-prod token of etl-deployer")
	}
	return tok.ID
}
