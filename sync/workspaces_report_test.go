package sync

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// readAuditEvents reads every line of the local audit log at path.
func readAuditEvents(t *testing.T, path string) []AuditEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []AuditEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit line %d: %v", len(out)+1, err)
		}
		out = append(out, ev)
	}
	return out
}

// TestAuditNamesWorkspace: every audit line of an apply over prod and dev
// names the workspace it acted in, by its change id (as the plan prints
// it) and its target; the log verifies.
func TestAuditNamesWorkspace(t *testing.T) {
	ctx := context.Background()
	tw := newTwoWorkspaces(t)
	svc := tw.service(t)
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]Change{}
	for _, c := range plan.Changes {
		ids[c.ID] = c
	}
	if _, err := svc.Apply(ctx, plan, nil); err != nil {
		t.Fatal(err)
	}
	path := svc.Config().Audit.File
	evs := readAuditEvents(t, path)
	if len(evs) < 2*len(plan.Changes) {
		t.Fatalf("%d audit lines for %d changes", len(evs), len(plan.Changes))
	}
	for i, ev := range evs {
		t.Logf("%s %s %s %s", ev.Action, ev.ChangeID, ev.Target, ev.Result)
		if ev.ChangeID == "" {
			if !strings.Contains(ev.Target, "workspace:") {
				t.Errorf("line %d (%s %s) names no workspace", i+1, ev.Action, ev.Target)
			}
			continue
		}
		c, ok := ids[ev.ChangeID]
		if !ok {
			t.Errorf("line %d: change_id %q is not an id of the plan", i+1, ev.ChangeID)
			continue
		}
		if !strings.Contains(" "+ev.Target+" ", " workspace:"+c.Workspace+" ") {
			t.Errorf("line %d: target %q does not name workspace %s", i+1, ev.Target, c.Workspace)
		}
	}
	if err := VerifyAudit(path); err != nil {
		t.Errorf("VerifyAudit: %v", err)
	}
}

// TestAuditOneWorkspaceUnchanged: with one workspace an apply's audit
// lines carry the plan's ids and targets as they always did.
func TestAuditOneWorkspaceUnchanged(t *testing.T) {
	ctx := context.Background()
	_, svc := newServiceEnv(t)
	svc.LimitChanges(-1)
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Apply(ctx, plan, nil); err != nil {
		t.Fatal(err)
	}
	byID := map[string]Change{}
	for _, c := range plan.Changes {
		byID[c.ID] = c
	}
	n := 0
	for i, ev := range readAuditEvents(t, svc.Config().Audit.File) {
		if ev.ChangeID == "" {
			continue
		}
		n++
		c, ok := byID[ev.ChangeID]
		if !ok || ev.Target != c.AuditTarget() {
			t.Errorf("line %d: change_id %q target %q, want a plan id and its target %q", i+1, ev.ChangeID, ev.Target, c.AuditTarget())
		}
	}
	if n < 2*len(plan.Changes)-2 {
		t.Errorf("%d change lines for %d changes", n, len(plan.Changes))
	}
}
