package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/emulator"
)

// tokenByComment finds a token of the owner (userName or SP display name)
// with comment; ok is false when it is gone.
func tokenByComment(o *testOrg, owner, comment string) (emulator.DBToken, bool) {
	o.org.Mu.Lock()
	defer o.org.Mu.Unlock()
	for _, tok := range o.org.DB.Tokens {
		name := ""
		if u := o.org.DB.Users[tok.OwnerID]; u != nil {
			name = u.UserName
		} else if sp := o.org.DB.ServicePrincipals[tok.OwnerID]; sp != nil {
			name = sp.DisplayName
		}
		if name == owner && strings.HasPrefix(tok.Comment, comment) {
			return *tok, true
		}
	}
	return emulator.DBToken{}, false
}

func alive(o *testOrg, value string) bool {
	o.org.Mu.Lock()
	defer o.org.Mu.Unlock()
	return o.org.DB.TokensByValue[value] != nil
}

// The commonest leak: the operator's own token. The leaked token dies
// first, the operator's other tokens after it, and the token bitbricks is
// using last, named as such; exit 0.
func TestLeakOfTheOperatorsOwnToken(t *testing.T) {
	o := newTestOrg(t)
	admin, _ := tokenByComment(o, "admin@acme.com", "bitbricks admin")
	o.org.Mu.Lock()
	adminID := admin.OwnerID
	o.org.Mu.Unlock()
	leaked := o.org.AddToken(emulator.DBToken{OwnerID: adminID, Comment: "pasted in a chat", Created: testNow.Add(-time.Hour), Expiry: testNow.Add(24 * time.Hour)})
	session := o.org.Creds.DatabricksToken

	r := runCLI(t, o.env, leaked.Value+"\n", "revoke", "--leaked", "--yes", "--force", "--config", o.cfg)
	t.Logf("stdout:\n%s\nstderr:\n%s", r.out, r.err)
	if r.code != 0 {
		t.Fatalf("exit %d: %s\n%s", r.code, r.err, r.out)
	}
	if alive(o, leaked.Value) || alive(o, session) {
		t.Errorf("alive after the revocation: leaked %v, session %v", alive(o, leaked.Value), alive(o, session))
	}
	if !strings.Contains(r.out, "was revoked first") || !strings.Contains(r.out, leaked.ID) {
		t.Errorf("the leaked token is not reported as revoked first:\n%s", r.out)
	}
	// The order of the revoked lines: the leaked token first, bitbricks' own last.
	var order []string
	for _, l := range strings.Split(r.out, "\n") {
		if f := strings.Fields(l); len(f) >= 4 && f[0] == "-" && f[1] == "revoked" {
			order = append(order, f[3])
		}
	}
	if len(order) < 3 || order[0] != leaked.ID || order[len(order)-1] != admin.ID {
		t.Errorf("revocation order %v, want %s first and bitbricks' own %s last", order, leaked.ID, admin.ID)
	}
	if !strings.Contains(r.out, admin.ID+" was the credential bitbricks was using: revoked last") {
		t.Errorf("bitbricks' own credential is not named:\n%s", r.out)
	}
	if !strings.Contains(r.out, "no longer authenticates") || strings.Contains(r.out, "nothing was changed") {
		t.Errorf("final check:\n%s", r.out)
	}
	assertNoSecrets(t, o, r.out, r.err)
}

// Without --force, a protected operator loses only the leaked token.
func TestLeakOfAProtectedOwnerKeepsTheRest(t *testing.T) {
	o := newTestOrg(t)
	admin, _ := tokenByComment(o, "admin@acme.com", "bitbricks admin")
	leaked := o.org.AddToken(emulator.DBToken{OwnerID: admin.OwnerID, Comment: "pasted", Created: testNow.Add(-time.Hour), Expiry: testNow.Add(24 * time.Hour)})
	r := runCLI(t, o.env, leaked.Value+"\n", "revoke", "--leaked", "--yes", "--config", o.cfg)
	if r.code != 0 || alive(o, leaked.Value) || !alive(o, o.org.Creds.DatabricksToken) {
		t.Fatalf("exit %d, leaked alive %v, session alive %v: %s\n%s", r.code, alive(o, leaked.Value), alive(o, o.org.Creds.DatabricksToken), r.err, r.out)
	}
	if _, ok := tokenByComment(o, "admin@acme.com", "break-glass"); !ok {
		t.Error("the protected admin's break-glass token went without --force")
	}
	if !strings.Contains(r.out, "policy.protected") || !strings.Contains(r.out, "--force") {
		t.Errorf("the kept credentials are not explained:\n%s", r.out)
	}
}

// A service principal's token leaks while its pipeline's rotation fails:
// the leaked value dies, the pipeline keeps its credential, and the output
// says which pipeline is on which credential and what finishes the job.
func TestLeakOfBoundServicePrincipalWithFailingRotation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(o *testOrg, env map[string]string)
	}{
		{"variable write fails", func(o *testOrg, env map[string]string) {
			o.srv.SetFaults([]emulator.FaultRule{{Route: "/2.0/repositories/**", Method: "PUT", Kind: emulator.Fault500}})
		}},
		{"Bitbucket unreachable", func(o *testOrg, env map[string]string) {
			env["BITBUCKET_API_BASE_URL"] = "http://127.0.0.1:1/2.0"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newTestOrg(t)
			smoke, _ := tokenByComment(o, "etl-deployer", "smoke test")
			recorded := variableOf(o, "etl-prod", "DATABRICKS_TOKEN_ID")
			if recorded == "" {
				t.Fatal("etl-prod records no credential in DATABRICKS_TOKEN_ID")
			}
			env := map[string]string{}
			for k, v := range o.env {
				env[k] = v
			}
			tc.setup(o, env)
			r := runCLI(t, env, smoke.Value+"\n", "revoke", "--leaked", "--yes", "--config", o.cfg)
			t.Logf("stdout:\n%s\nstderr:\n%s", r.out, r.err)
			if alive(o, smoke.Value) {
				t.Fatalf("the leaked token survived: exit %d\n%s\n%s", r.code, r.err, r.out)
			}
			if r.code != 1 {
				t.Errorf("exit %d, want 1 (the rotation failed)", r.code)
			}
			o.org.Mu.Lock()
			_, recordedAlive := o.org.DB.Tokens[recorded]
			o.org.Mu.Unlock()
			if !recordedAlive {
				t.Errorf("the pipeline's recorded credential %s was revoked although its rotation failed\n%s", recorded, r.out)
			}
			all := r.out + r.err
			for _, want := range []string{"etl-prod", recorded, "bitbricks rotate etl-prod", "no longer authenticates"} {
				if !strings.Contains(all, want) {
					t.Errorf("output lacks %q:\n%s", want, all)
				}
			}
			for _, never := range []string{"~ rotated", "nothing was changed"} {
				if strings.Contains(all, never) {
					t.Errorf("output says %q:\n%s", never, all)
				}
			}
			assertNoSecrets(t, o, r.out, r.err)
		})
	}
}

// Manual revocation of a protected principal's credential, of one bitbricks
// itself may be using, or of one a pipeline holds needs --force: without it,
// exit 3, a line naming why (the pipeline, and rotate instead), nothing
// revoked; with it, revoked.
func TestRevokeProtectedSelfAndBoundNeedForce(t *testing.T) {
	o := newTestOrg(t)
	breakGlass, _ := tokenByComment(o, "admin@acme.com", "break-glass")
	recorded := variableOf(o, "etl-prod", "DATABRICKS_TOKEN_ID")
	if recorded == "" {
		t.Fatal("etl-prod records no credential in DATABRICKS_TOKEN_ID")
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
		id   string
	}{
		{"protected and self", []string{"revoke", "--token-id", breakGlass.ID, "--yes"}, []string{"policy.protected", "identity bitbricks is using"}, breakGlass.ID},
		{"pipeline-bound", []string{"revoke", "--token-id", recorded, "--yes"}, []string{"pipeline binding etl-prod", "bitbricks rotate etl-prod"}, recorded},
		{"owner-wide", []string{"revoke", "--owner", "etl-deployer", "--yes"}, []string{"pipeline binding etl-prod"}, recorded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o.srv.ResetStats()
			r := runCLI(t, o.env, "", append(tc.args, "--config", o.cfg)...)
			if r.code != 3 {
				t.Fatalf("exit %d, want 3: %s", r.code, r.err)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.err, w) {
					t.Errorf("refusal lacks %q: %s", w, r.err)
				}
			}
			o.org.Mu.Lock()
			_, ok := o.org.DB.Tokens[tc.id]
			o.org.Mu.Unlock()
			if !ok {
				t.Errorf("token %s revoked without --force", tc.id)
			}
			if n := writeRequests(o); n != 0 {
				t.Errorf("%d write requests (the lease aside) on a refusal: %v", n, o.srv.Stats().Routes)
			}
		})
	}
	r := runCLI(t, o.env, "", "revoke", "--token-id", breakGlass.ID, "--yes", "--force", "--config", o.cfg)
	if r.code != 0 || !strings.Contains(r.err, "--force: ") {
		t.Fatalf("with --force: exit %d: %s", r.code, r.err)
	}
	if _, ok := tokenByComment(o, "admin@acme.com", "break-glass"); ok {
		t.Error("--force did not revoke the break-glass token")
	}
}

// The leaked value is the very token bitbricks runs with: it dies (first and
// alone, since nothing can be done after it), the JSON says it was
// bitbricks' own credential, and what could not be revoked is listed with
// the command that finishes the job.
func TestLeakOfTheCredentialBitbricksUses(t *testing.T) {
	o := newTestOrg(t)
	session := o.org.Creds.DatabricksToken
	own, _ := tokenByComment(o, "admin@acme.com", "bitbricks admin")
	r := runCLI(t, o.env, session+"\n", "revoke", "--leaked", "--yes", "--force", "--config", o.cfg, "--output", "json")
	t.Logf("stdout:\n%s\nstderr:\n%s", r.out, r.err)
	if alive(o, session) {
		t.Fatalf("the leaked session token survived: exit %d", r.code)
	}
	var got struct {
		Leaked     string `json:"leaked_token_id"`
		Session    string `json:"bitbricks_credential_revoked"`
		StillValid bool   `json:"still_authenticates"`
		Checked    bool   `json:"checked"`
		Kept       []struct {
			ID, Command string
		} `json:"kept"`
	}
	if err := json.Unmarshal([]byte(r.out), &got); err != nil {
		t.Fatalf("JSON: %v\n%s", err, r.out)
	}
	if got.Leaked != own.ID || got.Session != own.ID || got.StillValid || !got.Checked {
		t.Errorf("report %+v, want leaked = bitbricks' own = %s, checked dead", got, own.ID)
	}
	if _, ok := tokenByComment(o, "admin@acme.com", "break-glass"); ok {
		if len(got.Kept) == 0 || !strings.Contains(got.Kept[0].Command, "revoke --owner admin@acme.com") {
			t.Errorf("the break-glass token is alive but not reported as kept with a command: %+v", got.Kept)
		}
	}
	assertNoSecrets(t, o, r.out, r.err)
}

// A leaked token whose revocation fails: the search stops there (the token
// left may be the leak), so nothing else is revoked, not the token the
// pipeline runs on, and no binding is rotated; the output says it was not
// revoked, names the token whose revocation failed, what was and was not
// done and the next step, says the failure once, and exits 1.
func TestLeakWhoseRevocationFailsIsNamed(t *testing.T) {
	o := newTestOrg(t)
	smoke, _ := tokenByComment(o, "etl-deployer", "smoke test")
	recorded := variableOf(o, "etl-prod", "DATABRICKS_TOKEN_ID")
	o.srv.SetFaults([]emulator.FaultRule{
		{Route: "/api/2.0/token-management/tokens/" + smoke.ID, Method: "DELETE", Kind: emulator.Fault500},
		{Route: "/api/2.0/token/delete", Method: "POST", Kind: emulator.Fault500},
	})
	r := runCLI(t, o.env, smoke.Value+"\n", "revoke", "--leaked", "--yes", "--config", o.cfg)
	t.Logf("stdout:\n%s\nstderr:\n%s", r.out, r.err)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (the leak still authenticates)\n%s\n%s", r.code, r.out, r.err)
	}
	if !strings.Contains(r.out, "was not revoked: revoking "+smoke.ID) || strings.Contains(r.out, "was not found") {
		t.Errorf("stdout does not say which revocation failed:\n%s", r.out)
	}
	for _, want := range []string{"STILL AUTHENTICATES", "  done: nothing revoked", "  not done: the search stopped there: 2 tokens not tried", "  next: revoke token " + smoke.ID} {
		if !strings.Contains(r.out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.out)
		}
	}
	if !strings.Contains(r.err, "may still be alive") {
		t.Errorf("the last line does not say the leak may be alive:\n%s", r.err)
	}
	if _, ok := tokenByComment(o, "etl-deployer", "bitbricks:etl-prod"); !ok || variableOf(o, "etl-prod", "DATABRICKS_TOKEN_ID") != recorded {
		t.Errorf("etl-prod's tokens or record changed after the search stopped")
	}
	o.org.Mu.Lock()
	_, recordedAlive := o.org.DB.Tokens[recorded]
	o.org.Mu.Unlock()
	if !recordedAlive {
		t.Errorf("the pipeline's recorded token %s was revoked after the search failed", recorded)
	}
	// The injected failure, said once.
	if n := strings.Count(r.out+r.err, "injected by the emulator"); n != 1 {
		t.Errorf("the failure is said %d times, want once:\n%s\n%s", n, r.out, r.err)
	}
	for _, never := range []string{"~ rotated", "the pipeline fails until", "- revoked"} {
		if strings.Contains(r.out, never) {
			t.Errorf("stdout says %q after the search stopped:\n%s", never, r.out)
		}
	}
	assertNoSecrets(t, o, r.out, r.err)
}

// Several errors of one run end as one line whose parts stay apart.
func TestOneLineKeepsJoinedErrorsApart(t *testing.T) {
	err := errors.Join(errors.New("revoke token a: failed."), errors.New("binding etl-prod was not rotated (x)"), errors.New("the leaked token dapi…84ce still authenticates"))
	want := "revoke token a: failed.; binding etl-prod was not rotated (x); the leaked token dapi…84ce still authenticates"
	if got := oneLine(err.Error()); got != want {
		t.Errorf("oneLine = %q, want %q", got, want)
	}
	if got := oneLine("a\n\n  b   c\n"); got != "a; b c" {
		t.Errorf("oneLine = %q, want %q", got, "a; b c")
	}
}
