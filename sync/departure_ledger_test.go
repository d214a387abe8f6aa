package sync

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
)

// otherMachine is a service over the same workspace whose audit log is a
// fresh local file: a console on a laptop after a pipeline's run, or a
// pipeline whose runner (and audit log) is gone.
func otherMachine(t *testing.T, e *demoEnv) *Service {
	t.Helper()
	cfg := *e.cfg
	cfg.Audit.File = filepath.Join(t.TempDir(), "audit.jsonl")
	svc := NewService(e.src, &cfg, ServiceOptions{Now: e.org.Now, StateDir: t.TempDir()})
	svc.LimitChanges(-1)
	return svc
}

// departedTokens are the token changes of plan revoked because their owner
// left, by change id -> owner.
func departedTokens(plan Plan) map[string]string {
	out := map[string]string{}
	for _, c := range plan.Changes {
		if c.Action == ActionRevokeToken && c.Reason == "owner left the Bitbucket workspace" {
			out[c.ID] = c.Principal
		}
	}
	return out
}

// TestDepartureEvidenceSurvivesAnotherAuditLog (A16/N1): a run takes the
// departed people (fay, gus) out of their mapped group while every direct
// membership lookup fails (500), so their tokens are kept and the run
// exits 1. The next run is made on another machine, with an audit log of
// its own: before the ledger it asked nobody about them (they are in no
// mapped group any more) and their tokens survived with every run green.
// Now the departures ledger in the workspace names them: the next run asks,
// and revokes on the clean 404. A ledger that cannot be read is a problem
// of the run and revokes nothing; it is left as it is, and the run after
// still revokes.
func TestDepartureEvidenceSurvivesAnotherAuditLog(t *testing.T) {
	e, svc := newServiceEnv(t)
	svc.LimitChanges(-1)
	ctx := context.Background()
	_, first, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := departedTokens(first)
	if len(want) == 0 {
		t.Fatal("the demo plan revokes no departed person's token")
	}
	lookups := []emulator.FaultRule{{Route: "/2.0/workspaces/*/members/*", Method: "GET", Kind: emulator.Fault500}}
	if err := e.srv.SetFaults(lookups); err != nil {
		t.Fatal(err)
	}
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := departedTokens(plan); len(got) != 0 {
		t.Fatalf("with the lookups failing, tokens are still revoked as departed: %v", got)
	}
	results, err := svc.Apply(ctx, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	removed := map[string]bool{}
	for _, r := range results {
		if strings.HasPrefix(r.ID, "remove_member/") && r.Status == ResultApplied {
			removed[r.ID[strings.LastIndex(r.ID, "/")+1:]] = true
		}
	}
	for _, owner := range want {
		if !removed[owner] {
			t.Fatalf("%s was not taken out of a mapped group (removed: %v)", owner, removed)
		}
	}
	if err := e.srv.SetFaults(nil); err != nil {
		t.Fatal(err)
	}

	// Another machine, another audit log.
	other := otherMachine(t, e)
	_, next, err := other.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := departedTokens(next)
	for id, owner := range want {
		if got[id] != owner {
			t.Errorf("on another machine, %s of %s (who left) is not revoked: the evidence was lost (plan: %v)", id, owner, changeIDs(next))
		}
	}
	t.Logf("another machine's plan revokes %d departed tokens of %d", len(got), len(want))

	// The ledger cannot be read: a problem, nothing revoked as departed,
	// and the ledger is still there for the next run.
	ledgerDown := []emulator.FaultRule{{Route: "/api/2.0/workspace/export", Method: "GET", Kind: emulator.Fault500}}
	if err := e.srv.SetFaults(ledgerDown); err != nil {
		t.Fatal(err)
	}
	_, down, err := otherMachine(t, e).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := departedTokens(down); len(got) != 0 {
		t.Errorf("with the ledger unreadable, tokens revoked as departed: %v", got)
	}
	found := false
	for _, p := range down.Problems {
		found = found || (p.System == SystemDatabricks && p.What == "departures ledger")
	}
	if !found {
		t.Errorf("an unreadable ledger is no problem of the run: %+v", down.Problems)
	}
	if err := e.srv.SetFaults(nil); err != nil {
		t.Fatal(err)
	}
	_, again, err := otherMachine(t, e).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := departedTokens(again); len(got) != len(want) {
		t.Errorf("after the ledger answered again, %d departed tokens revoked, want %d", len(got), len(want))
	}
	if err := checkNoProblems(again); err != nil {
		t.Error(err)
	}
}

func checkNoProblems(p Plan) error { return CheckProblems(p.Problems) }

// TestDepartureLedgerAcrossWorkspaces: a run limited to dev takes gus out
// of the account group platform-eng (his tokens and own assignment are in
// prod, which that run does not touch). The next full run is made on
// another machine: dev's ledger names gus, so his prod tokens are revoked
// and his prod assignment taken back (before, only the dev machine's audit
// log knew).
func TestDepartureLedgerAcrossWorkspaces(t *testing.T) {
	tw := newTwoWorkspaces(t)
	ctx := context.Background()
	devOnly := tw.applyDevRemovingGus(t)
	cfg := *tw.cfg
	cfg.Audit.File = filepath.Join(t.TempDir(), "audit.jsonl")
	other := NewService(devOnly.src, &cfg, ServiceOptions{Now: tw.org.Now, StateDir: t.TempDir()})
	other.LimitChanges(-1)
	_, after, err := other.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	revoked := 0
	for _, c := range after.Changes {
		if c.Workspace == emulator.DemoWorkspace && c.Action == ActionRevokeToken && c.Principal == "gus@acme.com" && c.Reason == "owner left the Bitbucket workspace" {
			revoked++
		}
	}
	if revoked == 0 {
		t.Errorf("on another machine, gus's prod tokens are not revoked after dev's run took him out (plan: %v)", changeIDs(after))
	}
	if changeNamed(after, "prod:unassign_workspace/gus@acme.com") == nil {
		t.Errorf("on another machine, gus's prod assignment is kept (plan: %v)", changeIDs(after))
	}
	t.Logf("gus's prod tokens revoked on another machine: %d", revoked)
}

// TestDepartureLedgerNotWritten (L2): the ledger cannot be written before
// the removals (its import answers 500). No record, no removal: the
// removals it was to record are skipped, saying why, the apply's other
// changes are made, and it ends in a *LedgerError (exit 1) naming the
// people, which the run's problems list (system databricks, "departures
// ledger"). The next apply, the ledger writable again, records them and
// makes the removals.
func TestDepartureLedgerNotWritten(t *testing.T) {
	e, svc := newServiceEnv(t)
	svc.LimitChanges(-1)
	ctx := context.Background()
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The lease's import passes; the ledger's fails.
	rule := emulator.FaultRule{Route: "/api/2.0/workspace/import", Method: "POST",
		Sequence: []emulator.FaultKind{emulator.FaultNone, emulator.Fault500, emulator.Fault500, emulator.Fault500}}
	if err := e.srv.SetFaults([]emulator.FaultRule{rule}); err != nil {
		t.Fatal(err)
	}
	// The removals, and one change that is not a removal.
	var part Plan
	others := 0
	for _, c := range plan.Changes {
		if c.Action == ActionRemoveMember {
			part.Changes = append(part.Changes, c)
		} else if others == 0 && c.Action == ActionAddMember {
			part.Changes = append(part.Changes, c)
			others++
		}
	}
	if others == 0 || len(part.Changes) < 2 {
		t.Fatalf("the demo plan lacks a removal or an addition: %v", changeIDs(plan))
	}
	results, err := svc.Apply(ctx, part, nil)
	var le *LedgerError
	if !errors.As(err, &le) || ExitCode(err) != 1 {
		t.Fatalf("apply with the ledger unwritable: %v (exit %d), want a LedgerError, exit 1", err, ExitCode(err))
	}
	if len(results) != len(part.Changes) {
		t.Fatalf("%d results for %d changes", len(results), len(part.Changes))
	}
	skipped, applied := 0, 0
	for i, r := range results {
		c := part.Changes[i]
		switch {
		case c.Action == ActionRemoveMember && c.PrincipalType == PrincipalUser:
			if r.Status != ResultSkipped || !strings.Contains(r.Error, "departure could not be recorded") {
				t.Errorf("%s: %s %q, want skipped: its departure could not be recorded", r.ID, r.Status, r.Error)
			}
			skipped++
		case c.Action == ActionAddMember:
			if r.Status != ResultApplied {
				t.Errorf("%s: %s %q, want applied (the ledger concerns removals only)", r.ID, r.Status, r.Error)
			}
			applied++
		}
	}
	if skipped == 0 || len(le.Users) == 0 || !strings.Contains(err.Error(), le.Users[0]) {
		t.Errorf("removals skipped %d, ledger error %v", skipped, err)
	}
	if _, ok := e.org.WorkspaceFile(DefaultDeparturesLedger); ok {
		t.Error("the ledger was written despite the fault")
	}
	if got := formerMembers(e.cfg.Audit.File, e.cfg); len(got) != 0 {
		t.Errorf("the local audit log names removals that were not to be made: %v", got)
	}
	ps := ApplyProblems(nil, err)
	if len(ps) != 1 || ps[0].System != SystemDatabricks || ps[0].What != "departures ledger" || ps[0].Status != 500 {
		t.Errorf("the apply's problems: %+v, want one databricks departures ledger problem, status 500", ps)
	}
	t.Logf("%d removals skipped, %d other changes applied; %s", skipped, applied, err)

	// The next apply records them, then removes.
	if err := e.srv.SetFaults(nil); err != nil {
		t.Fatal(err)
	}
	_, next, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	results, err = svc.Apply(ctx, next, nil)
	if err != nil {
		t.Fatal(err)
	}
	removed := 0
	for _, r := range results {
		if strings.HasPrefix(r.ID, "remove_member/") && r.Status == ResultApplied {
			removed++
		}
	}
	b, ok := e.org.WorkspaceFile(DefaultDeparturesLedger)
	for _, u := range le.Users {
		if !ok || !strings.Contains(string(b), `"`+u+`"`) {
			t.Errorf("after the next apply the ledger does not name %s:\n%s", u, b)
		}
	}
	if removed < skipped {
		t.Errorf("the next apply removed %d, want the %d skipped before", removed, skipped)
	}
}
