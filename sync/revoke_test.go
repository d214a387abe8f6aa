package sync

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
)

// captureDefaultLog sends the process-wide slog (and so the standard log,
// which the Databricks SDK writes to) into the env's log buffer.
func captureDefaultLog(t *testing.T, e *credEnv) {
	prev := slog.Default()
	slog.SetDefault(e.creds.Log)
	t.Cleanup(func() { slog.SetDefault(prev) })
}

func (e *credEnv) tokenValue(ownerID, comment string) emulator.DBToken {
	for _, tk := range e.tokens(ownerID, comment) {
		if tk.Comment == comment {
			return tk
		}
	}
	return emulator.DBToken{}
}

// A leaked token of a service principal bound to a pipeline: the binding is
// rotated first, every token of the owner is revoked, the value stops
// working, and it shows nowhere.
func TestLeakedTokenOfBoundServicePrincipal(t *testing.T) {
	e := newCredEnv(t)
	captureDefaultLog(t, e)
	ctx := context.Background()
	b := e.binding(t, "etl-prod")
	sp := e.sp("etl-deployer")
	leaked, _ := e.bound(b) // the pipeline's own token leaked
	owned := e.tokens(sp.ID, "")

	leak, err := e.creds.FindLeaked(ctx, leaked+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if leak.Owner.Name != "etl-deployer" || leak.Owner.Type != PrincipalServicePrincipal || len(leak.Tokens) != len(owned) ||
		len(leak.Bindings) != 1 || leak.Bindings[0].Name != "etl-prod" || leak.Redacted != Redact(leaked) {
		t.Fatalf("leak %+v, want etl-deployer's %d tokens and binding etl-prod", leak, len(owned))
	}
	out, err := e.creds.RevokeLeaked(ctx, leak, LeakOptions{Rest: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Revoked) != len(owned) || len(out.Failed) != 0 || out.StillValid || len(out.Rotations) != 1 {
		t.Errorf("revocation %+v, want all %d tokens revoked after one rotation", out, len(owned))
	}
	// Databricks answers a revoked token with 403 "Invalid access token."
	if _, err := e.authenticatesAs(t, b, leaked); !isAuth(err) {
		t.Errorf("Me with the leaked value: %v, want refused (401 or 403)", err)
	}
	if left := e.tokens(sp.ID, ""); len(left) != 1 || left[0].ID != out.Rotations[0].NewID {
		t.Errorf("etl-deployer has %d tokens left, want only the new pipeline token", len(left))
	}
	e.mustConverge(t, b, out.Rotations[0])

	js, _ := json.Marshal([]any{leak, out})
	newValue, _ := e.bound(b)
	e.mustNotShow(t, []string{leaked, newValue}, string(js), fmt.Sprintf("%+v %#v %+v", leak, leak, out))
	if !strings.Contains(e.logs.String(), leak.Redacted) {
		t.Errorf("the log does not name the leaked token by its redacted form %s", leak.Redacted)
	}
}

// A leaked token of a user: every token of the user goes.
func TestLeakedTokenOfUser(t *testing.T) {
	e := newCredEnv(t)
	captureDefaultLog(t, e)
	ctx := context.Background()
	hana := e.userID(t, "hana@acme.com")
	leaked := e.tokenValue(hana, "laptop").Value
	n := len(e.tokens(hana, ""))

	leak, err := e.creds.FindLeaked(ctx, leaked)
	if err != nil {
		t.Fatal(err)
	}
	if leak.Owner.Name != "hana@acme.com" || leak.Owner.Type != PrincipalUser || len(leak.Tokens) != n || len(leak.Bindings) != 0 {
		t.Fatalf("leak %+v, want hana's %d tokens", leak, n)
	}
	out, err := e.creds.RevokeLeaked(ctx, leak, LeakOptions{Rest: true})
	if err != nil || len(out.Revoked) != n || out.StillValid {
		t.Fatalf("revocation %+v, %v", out, err)
	}
	if left := e.tokens(hana, ""); len(left) != 0 {
		t.Errorf("hana still has %d tokens", len(left))
	}

	// The same value again: it no longer authenticates, and the error says so
	// without showing it.
	_, err = e.creds.FindLeaked(ctx, leaked)
	if err == nil || !strings.Contains(err.Error(), "does not authenticate") || !strings.Contains(err.Error(), Redact(leaked)) {
		t.Errorf("second lookup: %v, want a 'does not authenticate' error naming %s", err, Redact(leaked))
	}
	e.mustNotShow(t, []string{leaked}, err2s(err), fmt.Sprintf("%+v %+v", leak, out))
	if err := VerifyAudit(e.creds.AuditFile); err != nil {
		t.Error(err)
	}
}

// Revocation by owner lists first (tokens and OAuth secrets), then revokes.
func TestRevokeCredentialsByOwner(t *testing.T) {
	e := newCredEnv(t)
	ctx := context.Background()
	sp := e.sp("reporting-bot")
	wantTokens, wantSecrets := len(e.tokens(sp.ID, "")), len(e.secrets(sp.ID))

	owned, err := e.creds.OwnerCredentials(ctx, "reporting-bot")
	if err != nil {
		t.Fatal(err)
	}
	if owned.Principal.ID != sp.ID || owned.Unknown != "" || len(owned.Credentials) != wantTokens+wantSecrets {
		t.Fatalf("owned %+v, want %d tokens and %d secrets of reporting-bot", owned, wantTokens, wantSecrets)
	}
	rev, err := e.creds.RevokeCredentials(ctx, owned.Credentials)
	if err != nil || len(rev.Revoked) != len(owned.Credentials) {
		t.Fatalf("revocation %+v, %v", rev, err)
	}
	if len(e.tokens(sp.ID, "")) != 0 || len(e.secrets(sp.ID)) != 0 {
		t.Errorf("reporting-bot still has credentials")
	}

	// A user by userName.
	owned, err = e.creds.OwnerCredentials(ctx, "paul@acme.com")
	if err != nil || owned.Principal.Type != PrincipalUser || len(owned.Credentials) != 2 {
		t.Errorf("paul's credentials: %+v, %v; want 2 tokens", owned, err)
	}
	if _, err := e.creds.OwnerCredentials(ctx, "nobody@acme.com"); err == nil {
		t.Error("an unknown owner: no error")
	}
}

func TestRevokeCredentialByID(t *testing.T) {
	e := newCredEnv(t)
	ctx := context.Background()
	tk := e.tokenValue(e.userID(t, "paul@acme.com"), "terraform")
	c, err := e.creds.RevokeToken(ctx, tk.ID)
	if err != nil || c.Owner != "paul@acme.com" || c.Kind != CredentialPAT {
		t.Fatalf("revoke token: %+v, %v", c, err)
	}
	if _, err := e.creds.RevokeToken(ctx, tk.ID); err == nil || !strings.Contains(err.Error(), "no token") {
		t.Errorf("revoking it again: %v, want 'no token'", err)
	}

	sp := e.sp("reporting-bot")
	sec := e.secrets(sp.ID)[0]
	c, err = e.creds.RevokeSecret(ctx, "reporting-bot", sec.ID)
	if err != nil || c.Kind != CredentialOAuthSecret || c.Owner != "reporting-bot" {
		t.Fatalf("revoke secret: %+v, %v", c, err)
	}
	if len(e.secrets(sp.ID)) != 3 {
		t.Errorf("reporting-bot has %d secrets, want 3", len(e.secrets(sp.ID)))
	}
	if _, err := e.creds.RevokeSecret(ctx, "reporting-bot", sec.ID); err == nil || !strings.Contains(err.Error(), "has no OAuth secret") {
		t.Errorf("revoking it again: %v", err)
	}
	if err := VerifyAudit(e.creds.AuditFile); err != nil {
		t.Error(err)
	}
}

// Atlassian API tokens are listed, never revoked through Databricks: the
// refusal says where to revoke them and nothing is sent.
func TestRevokeAtlassianTokenRefused(t *testing.T) {
	e := newCredEnv(t)
	tok := Credential{ID: "8d91b2b9", Kind: CredentialAtlassianToken, Owner: "alice@acme.com"}
	rev, err := e.creds.RevokeCredentials(context.Background(), []Credential{tok})
	if err == nil || len(rev.Failed) != 1 || !strings.Contains(rev.Failed[0].Error, "Atlassian Administration") {
		t.Fatalf("want a refusal pointing to Atlassian Administration, got %+v, %v", rev, err)
	}
	if len(rev.Revoked) != 0 {
		t.Fatalf("revoked %+v", rev.Revoked)
	}
}

// orphanLeak sets up a leak of etl-deployer's unrecorded bitbricks-made token
// whose revocation fails everywhere (through the leaked value and the admin
// way), plus any extra fault rules, and runs the whole leak response.
func orphanLeak(t *testing.T, e *credEnv, extra string) (config.Binding, string, LeakRevocation, error) {
	t.Helper()
	ctx := context.Background()
	b := e.binding(t, "etl-prod")
	_, recorded := e.bound(b)
	var leaked emulator.DBToken
	for _, tk := range e.tokens(e.sp("etl-deployer").ID, bindingMarker(b.Name)) {
		if tk.ID != recorded {
			leaked = tk
		}
	}
	if leaked.ID == "" {
		t.Fatal("the demo has no unrecorded etl-prod token")
	}
	rules, err := emulator.ParseFaults("DELETE /api/2.0/token-management/tokens/" + leaked.ID + "=500;POST /api/2.0/token/delete=500" + extra)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetFaults(rules); err != nil {
		t.Fatal(err)
	}
	leak, err := e.creds.FindLeaked(ctx, leaked.Value)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.creds.RevokeLeaked(ctx, leak, LeakOptions{Rest: true})
	return b, recorded, out, err
}

// A leak whose revocation fails stops the search there: the token left may
// be the leak, so nothing more is revoked (not the token the pipeline runs
// on, nor the rest), no binding is rotated, and the result says what was and
// was not done, and what to do next; the leak still authenticates.
func TestLeakSearchStopsAtAFailedRevocation(t *testing.T) {
	e := newCredEnv(t)
	b, recorded, out, err := orphanLeak(t, e, "")
	if err == nil || !out.StillValid {
		t.Fatalf("err %v, still valid %v: want an error, the leak still authenticating", err, out.StillValid)
	}
	if len(out.Failed) != 1 || out.Stopped == "" || !strings.Contains(out.Stopped, out.Failed[0].Credential.ID) || out.Next == "" {
		t.Fatalf("failed %+v, stopped %q, next %q: want the one failure named as where the search stopped, and a next step", out.Failed, out.Stopped, out.Next)
	}
	if len(out.Rotations) != 0 {
		t.Errorf("rotations %+v after the search stopped, want none", out.Rotations)
	}
	e.org.Mu.Lock()
	_, alive := e.org.DB.Tokens[recorded]
	e.org.Mu.Unlock()
	if !alive {
		t.Errorf("the pipeline's recorded token %s was revoked, before any rotation of %s", recorded, b.Name)
	}
	e.mustWork(t, b)
	if !slices.ContainsFunc(out.NotTried, func(c Credential) bool { return c.ID == recorded }) {
		t.Errorf("not tried %+v, want the recorded %s among them", out.NotTried, recorded)
	}
	for _, r := range out.Revoked {
		if r.ID == recorded || r.ID == out.Failed[0].Credential.ID {
			t.Errorf("revoked %s", r.ID)
		}
	}
}

// The leak is the very token a pipeline runs on, and the pipeline's
// rotation fails: the token is not revoked before its binding records a new
// one, so the search stops there, naming the pipeline and the command that
// lets it go on; the pipeline keeps working.
func TestLeakOfPipelineTokenWaitsForItsRotation(t *testing.T) {
	e := newCredEnv(t)
	ctx := context.Background()
	b := e.binding(t, "etl-prod")
	leaked, recorded := e.bound(b)
	rules, err := emulator.ParseFaults("PUT /2.0/repositories/**=500")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetFaults(rules); err != nil {
		t.Fatal(err)
	}
	leak, err := e.creds.FindLeaked(ctx, leaked)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.creds.RevokeLeaked(ctx, leak, LeakOptions{Rest: true})
	if err == nil || !out.StillValid || out.Leaked != "" {
		t.Fatalf("err %v, still valid %v, leaked %q: want the leak alive and an error", err, out.StillValid, out.Leaked)
	}
	e.mustWork(t, b)
	for _, r := range out.Revoked {
		if r.ID == recorded {
			t.Fatalf("the recorded %s was revoked although its binding's rotation failed", recorded)
		}
	}
	if !strings.Contains(out.Stopped, b.Name) || !strings.Contains(out.Stopped, recorded) || !strings.Contains(out.Next, "bitbricks rotate "+b.Name) {
		t.Errorf("stopped %q, next %q: want the pipeline, its token and bitbricks rotate %s", out.Stopped, out.Next, b.Name)
	}
	if len(out.Broken) != 0 {
		t.Errorf("broken %+v, want none: the pipeline runs on what it recorded", out.Broken)
	}
}

// The leak is the token a pipeline runs on, and the rotation works: the
// binding records a new credential first, then the leaked one goes, and
// the rest does not rotate the binding a second time.
func TestLeakOfPipelineTokenRotatesFirst(t *testing.T) {
	e := newCredEnv(t)
	ctx := context.Background()
	b := e.binding(t, "etl-prod")
	leaked, recorded := e.bound(b)
	leak, err := e.creds.FindLeaked(ctx, leaked)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.creds.RevokeLeaked(ctx, leak, LeakOptions{})
	if err != nil || out.Leaked != recorded || out.StillValid || len(out.Rotations) != 1 || out.Rotations[0].Done < StepRecord {
		t.Fatalf("err %v, leaked %q (want %s), still valid %v, rotations %+v", err, out.Leaked, recorded, out.StillValid, out.Rotations)
	}
	e.mustWork(t, b)
	rest, err := e.creds.RevokeLeakRest(ctx, leak, LeakOptions{})
	if err != nil || len(rest.Rotations) != 0 {
		t.Errorf("rest: err %v, rotations %+v: want no second rotation", err, rest.Rotations)
	}
	e.mustWork(t, b)
	if left := e.tokens(e.sp("etl-deployer").ID, ""); len(left) != 1 || left[0].ID != out.Rotations[0].NewID {
		t.Errorf("etl-deployer keeps %d tokens, want only the new pipeline token", len(left))
	}
	if _, err := e.creds.RevokeLeakRest(ctx, leak, LeakOptions{}); err == nil {
		t.Error("the rest revoked twice")
	}
}
