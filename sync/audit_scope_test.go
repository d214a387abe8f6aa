package sync

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestAccountWideChangesAuditedAsAccount: over two workspaces, each audit
// line of an account group's membership (made through prod's part) says
// "scope":"account", whichever workspace's part made it; no other line
// does, and the log still verifies.
func TestAccountWideChangesAuditedAsAccount(t *testing.T) {
	tw := newTwoWorkspaces(t)
	svc := tw.service(t)
	ctx := context.Background()
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	account := map[string]bool{}
	for _, c := range plan.Changes {
		if c.GroupKind == KindAccount && (c.Action == ActionAddMember || c.Action == ActionRemoveMember) {
			account[c.ID] = true
		}
	}
	if len(account) == 0 {
		t.Fatal("the demo plans no account group membership")
	}
	if _, err := svc.Apply(ctx, plan, nil); err != nil {
		t.Fatal(err)
	}
	path := svc.Config().Audit.File
	if !filepath.IsAbs(path) {
		t.Fatalf("audit file %s", path)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines, marked := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.ChangeID == "" {
			continue
		}
		lines++
		switch {
		case account[ev.ChangeID] && ev.Scope != AuditScopeAccount:
			t.Errorf("%s (%s): scope %q, want %q; target %s", ev.ChangeID, ev.Result, ev.Scope, AuditScopeAccount, ev.Target)
		case !account[ev.ChangeID] && ev.Scope != "":
			t.Errorf("%s: scope %q, want none", ev.ChangeID, ev.Scope)
		case account[ev.ChangeID]:
			marked++
		}
	}
	t.Logf("%d change lines, %d marked account-wide (%d account changes)", lines, marked, len(account))
	if marked != 2*len(account) {
		t.Errorf("%d account-wide lines, want an intent and an outcome for each of %d", marked, len(account))
	}
	if err := VerifyAudit(path); err != nil {
		t.Errorf("verify: %v", err)
	}
}
