package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/emulator"
)

// One workspace of the demo's two down: dev's host answers 500, drops the
// connection or rejects the credential, while prod answers. The commands
// show prod's part and name dev, revoke by id or value acts in prod and
// says dev was not searched, and a write over both is refused whole.

// downSwitch makes a workspace's host fail on demand.
type downSwitch struct {
	mu   gosync.Mutex
	mode string // "", "500", "drop", "401"
}

func (d *downSwitch) set(mode string) {
	d.mu.Lock()
	d.mode = mode
	d.mu.Unlock()
}

func (d *downSwitch) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		mode := d.mode
		d.mu.Unlock()
		switch mode {
		case "500":
			http.Error(w, `{"error_code":"INTERNAL_ERROR","message":"injected"}`, http.StatusInternalServerError)
		case "401":
			http.Error(w, `{"error_code":"UNAUTHENTICATED","message":"Invalid access token."}`, http.StatusUnauthorized)
		case "drop":
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			http.Error(w, "", http.StatusBadGateway)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// newTwoWorkspaceOrgDevSwitch is newTwoWorkspaceOrg with dev's host behind
// a downSwitch.
func newTwoWorkspaceOrgDevSwitch(t *testing.T) (*testOrg, *downSwitch) {
	t.Helper()
	sw := &downSwitch{}
	return newTwoWorkspaceOrgWrapped(t, sw.wrap), sw
}

// TestOneWorkspaceDownReads: sync (plan), tokens and pipelines show prod's
// part and a problem naming dev as an outage (exit 1); a rejected
// credential is told apart from an outage.
func TestOneWorkspaceDownReads(t *testing.T) {
	o, dev := newTwoWorkspaceOrgDevSwitch(t)
	for _, mode := range []string{"500", "drop"} {
		dev.set(mode)
		r := runCLI(t, o.env, "", "sync", "--config", o.cfg)
		t.Logf("sync, dev %s: exit %d\nstdout:\n%s\nstderr:\n%s", mode, r.code, r.out, r.err)
		if r.code != 1 {
			t.Errorf("sync, dev %s: exit %d, want 1", mode, r.code)
		}
		if !strings.Contains(r.out, "== Workspace prod ==") || !strings.Contains(r.out, "revoke token") {
			t.Errorf("sync, dev %s: prod's plan is not shown:\n%s", mode, r.out)
		}
		if !strings.Contains(r.out, "databricks (dev)") || !strings.Contains(r.out+r.err, "workspace dev (http://") {
			t.Errorf("sync, dev %s: no problem names dev and its host:\n%s\n%s", mode, r.out, r.err)
		}
		if strings.Contains(r.out+r.err, "check DATABRICKS_TOKEN") || !strings.Contains(r.out+r.err, "not a credential problem") {
			t.Errorf("sync, dev %s: an outage is not told apart from a credential problem:\n%s\n%s", mode, r.out, r.err)
		}
		r = runCLI(t, o.env, "", "sync", "--config", o.cfg, "--output", "json")
		if r.code != 1 || !strings.Contains(r.out, `"workspace":"dev"`) && !strings.Contains(r.out, `"workspace": "dev"`) {
			t.Errorf("sync JSON, dev %s: exit %d, no problem with workspace dev:\n%s", mode, r.code, r.out)
		}
	}
	dev.set("500")
	r := runCLI(t, o.env, "", "tokens", "--config", o.cfg)
	if r.code != 1 || !strings.Contains(r.out, "prod ") || !strings.Contains(r.out+r.err, "dev") {
		t.Errorf("tokens, dev 500: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	addDevBinding(t, o)
	r = runCLI(t, o.env, "", "pipelines", "--config", o.cfg)
	t.Logf("pipelines, dev 500: exit %d\n%s\n%s", r.code, r.out, r.err)
	if r.code != 1 || !strings.Contains(r.out, "etl-prod") || !strings.Contains(r.out, "workspace dev (http://") || !strings.Contains(r.err, "etl-dev could not be read") {
		t.Errorf("pipelines, dev 500: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	dev.set("401")
	r = runCLI(t, o.env, "", "sync", "--config", o.cfg)
	if r.code != 1 || !strings.Contains(r.out+r.err, "workspace dev (http://") || !strings.Contains(r.out+r.err, "rejected bitbricks' credential (HTTP 401): check") {
		t.Errorf("sync, dev 401: exit %d, no credential problem naming dev:\n%s\n%s", r.code, r.out, r.err)
	}
	assertNoSecrets(t, o, r.out, r.err)
}

// TestOneWorkspaceDownWrites: with dev down, revoke --token-id and
// --leaked act in prod (where the token is) and exit 1 naming dev as not
// searched; sync --apply, rotate --due and revoke --owner over both are
// refused whole (nothing changes in prod), naming dev and --workspace prod.
func TestOneWorkspaceDownWrites(t *testing.T) {
	o, dev := newTwoWorkspaceOrgDevSwitch(t)
	before := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--output", "json")
	saved := filepath.Join(o.root, "plan.json")
	if r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--out", saved); r.code != 0 && r.code != 2 {
		t.Fatalf("sync --out: exit %d: %s", r.code, r.err)
	}
	byID := wsToken(t, o, "prod", "dan@acme.com", "")
	leaked := wsToken(t, o, "prod", "carol@acme.com", "")
	dev.set("500")

	r := runCLI(t, o.env, "", "revoke", "--config", o.cfg, "--token-id", byID.ID, "--yes")
	t.Logf("revoke --token-id: exit %d\n%s\n%s", r.code, r.out, r.err)
	if r.code != 1 || wsHas(o, "prod", byID.ID) || !strings.Contains(r.out, "in workspace prod") ||
		!strings.Contains(r.err, "workspace dev could not be read, so it was not searched") || !strings.Contains(r.err, "retry when it answers") {
		t.Errorf("revoke --token-id, dev down: exit %d, revoked %v\n%s\n%s", r.code, !wsHas(o, "prod", byID.ID), r.out, r.err)
	}

	r = runCLI(t, o.env, leaked.Value+"\n", "revoke", "--config", o.cfg, "--leaked", "--yes")
	t.Logf("revoke --leaked: exit %d\n%s\n%s", r.code, r.out, r.err)
	if r.code != 1 || wsHas(o, "prod", leaked.ID) || !strings.Contains(r.out, "workspace dev could not be read") {
		t.Errorf("revoke --leaked, dev down: exit %d, revoked %v\n%s\n%s", r.code, !wsHas(o, "prod", leaked.ID), r.out, r.err)
	}
	prodTokens := wsCount(o, "prod") // after the revocations above
	for _, args := range [][]string{
		{"sync", "--apply", "--yes", "--max-changes", "200"},
		{"rotate", "--due", "--yes"},
		{"revoke", "--owner", "dan@acme.com", "--yes"},
		{"sync", "--apply", "--plan", saved, "--yes", "--max-changes", "200"},
	} {
		r = runCLI(t, o.env, "", append(args, "--config", o.cfg)...)
		t.Logf("%v: exit %d\n%s", args, r.code, r.err)
		if r.code != 1 || !strings.Contains(r.err, "workspace dev (http://") || !strings.Contains(r.err, "the others only: --workspace prod") || !strings.Contains(r.err, "refused") {
			t.Errorf("%v, dev down: exit %d, not refused naming dev and --workspace prod:\n%s", args, r.code, r.err)
		}
		if n := wsCount(o, "prod"); n != prodTokens {
			t.Errorf("%v, dev down: prod holds %d tokens, want %d (nothing written)", args, n, prodTokens)
		}
	}
	dev.set("")
	after := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--output", "json")
	var b, a struct{ Changes []struct{ ID string } }
	if err := json.Unmarshal([]byte(before.out), &b); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(after.out), &a); err != nil {
		t.Fatal(err)
	}
	// The revocations above may each remove a planned change; nothing else was applied.
	if len(a.Changes) < len(b.Changes)-3 || len(b.Changes) == 0 {
		t.Errorf("plan before %d changes, after %d: something was applied from a partial read", len(b.Changes), len(a.Changes))
	}
	dev.set("drop")
	r = runCLI(t, o.env, "", "sync", "--apply", "--yes", "--max-changes", "200", "--config", o.cfg, "--workspace", "prod")
	if r.code != 0 {
		t.Errorf("--workspace prod --apply, dev down: exit %d\n%s", r.code, r.err)
	}
	assertNoSecrets(t, o, r.out, r.err)
}

// TestLeakFinishCommandNamesWorkspace: a leak of a protected owner's token
// in dev keeps the rest, and the command to finish names dev (without it,
// revoke --owner would cover the owner's credentials in prod too).
func TestLeakFinishCommandNamesWorkspace(t *testing.T) {
	o, _ := newTwoWorkspaceOrgDevSwitch(t)
	admin := userID(t, o, "admin@acme.com")
	leaked := wsAddToken(o, "dev", emulator.DBToken{OwnerID: admin, Comment: "leaked", Created: testNow.Add(-time.Hour)})
	wsAddToken(o, "dev", emulator.DBToken{OwnerID: admin, Comment: "laptop", Created: testNow.Add(-48 * time.Hour)})
	r := runCLI(t, o.env, leaked.Value+"\n", "revoke", "--config", o.cfg, "--leaked", "--yes")
	t.Logf("exit %d\n%s\n%s", r.code, r.out, r.err)
	if wsHas(o, "dev", leaked.ID) {
		t.Fatal("the leaked token is still in dev")
	}
	if !strings.Contains(r.out, "to finish: `bitbricks revoke --owner admin@acme.com --force --workspace dev`") {
		t.Errorf("the command to finish does not name dev:\n%s", r.out)
	}
	assertNoSecrets(t, o, r.out, r.err)
}
