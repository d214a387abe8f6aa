package main

import (
	"strings"
	"testing"
	"time"

	bbsync "github.com/bitbricks/bitbricks/sync"
)

// userToken is the id of a token of a user (not a bound service principal).
func (o *testOrg) userToken(t *testing.T) string {
	t.Helper()
	o.org.Mu.Lock()
	defer o.org.Mu.Unlock()
	// hana's: a plain member's token. Not one of the caller's own or a
	// protected principal's, which revoke refuses without --force (a token
	// picked in map order would sometimes be one of those).
	for id, tok := range o.org.DB.Tokens {
		if u, ok := o.org.DB.Users[tok.OwnerID]; ok && u.UserName == "hana@acme.com" {
			return id
		}
	}
	t.Fatal("no token of hana@acme.com in the demo")
	return ""
}

// A token DELETE whose connection is always reset: the revoke fails after at
// most BreakerFailures attempts (the SDK alone would retry for its whole
// 30 s budget), and a whole apply of revokes behind it does not try each
// one for as long. The times are logged, not asserted (shared machine): the
// bound is in attempts.
func TestPersistentResetOnTokenDeleteFailsFast(t *testing.T) {
	o := newTestOrg(t)
	id := o.userToken(t)
	o.setFaults(t, "DELETE /api/2.0/token-management/tokens/*=reset")
	start := time.Now()
	r := runCLI(t, o.env, "", "revoke", "--token-id", id, "--yes", "--config", o.cfg)
	took := time.Since(start)
	if r.code != 1 || strings.Count(r.err, "bitbricks: ") != 1 {
		t.Fatalf("revoke: exit %d, want 1 with one error line:\n%s", r.code, r.err)
	}
	resets := o.srv.Stats().Faults["reset"]
	if resets < 1 || resets > bbsync.BreakerFailures {
		t.Errorf("revoke sent %d DELETEs into the reset, want 1..%d", resets, bbsync.BreakerFailures)
	}
	t.Logf("revoke --token-id against a persistent reset: exit %d after %d attempts in %s: %s",
		r.code, resets, took.Round(100*time.Millisecond), lastLine(r.err))

	// A fresh process (a fresh breaker): sync --apply with every revoke behind the reset.
	o2 := newTestOrg(t)
	o2.setFaults(t, "DELETE /api/2.0/token-management/tokens/*=reset")
	start = time.Now()
	r = runCLI(t, o2.env, "", "sync", "--apply", "--yes", "--max-changes", "100", "--config", o2.cfg)
	took = time.Since(start)
	revokes := strings.Count(r.out, "failed revoke_token/")
	resets = o2.srv.Stats().Faults["reset"]
	if r.code != 1 {
		t.Errorf("apply: exit %d, want 1", r.code)
	}
	if revokes < 5 || resets > 2*bbsync.BreakerFailures {
		t.Errorf("apply: %d revokes sent %d DELETEs into the reset, want at most %d in all", revokes, resets, 2*bbsync.BreakerFailures)
	}
	t.Logf("sync --apply with %d token revokes against a persistent reset: exit %d, %d DELETE attempts, %s",
		revokes, r.code, resets, took.Round(100*time.Millisecond))
}

// A secured-variable PUT whose connection is always reset: the rotation
// fails after RetryAttempts requests. The bound is in attempts: runCLI
// shortens the transport's backoff, so the count does not hang on the
// machine being fast enough to fit the real backoff into RetryBudget.
func TestPersistentResetOnVariableWriteIsBounded(t *testing.T) {
	o := newTestOrg(t)
	o.setFaults(t, "PUT /2.0/repositories/*/etl/pipelines_config/variables/*=reset")
	start := time.Now()
	r := runCLI(t, o.env, "", "rotate", "etl-prod", "--yes", "--config", o.cfg)
	took := time.Since(start)
	resets := o.srv.Stats().Faults["reset"]
	if r.code != 1 || resets != bbsync.RetryAttempts {
		t.Errorf("rotate: exit %d after %d PUT attempts, want 1 after %d", r.code, resets, bbsync.RetryAttempts)
	}
	t.Logf("rotate against a persistent reset on the variable PUT: exit %d after %d attempts in %s",
		r.code, resets, took.Round(100*time.Millisecond))
}
