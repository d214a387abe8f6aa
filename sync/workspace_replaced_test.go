package sync

import (
	"context"
	"strconv"
	"strings"
	"testing"
)

// TestWorkspaceReplacedHoldsDestructiveChanges: a run records the id the
// workspace answers with. The workspace behind the same host is then
// replaced (another X-Databricks-Org-Id): the next run holds every
// destructive change there, makes the additive ones, and says so (a
// workspace_replaced finding and a problem, so it exits 1). The run after
// plans as usual. Before, nothing told the two workspaces apart.
func TestWorkspaceReplacedHoldsDestructiveChanges(t *testing.T) {
	e, _ := newServiceEnv(t)
	// A state directory of its own: the record is kept by host, and a later
	// test's emulator may get this one's port.
	state := t.TempDir()
	svc := NewService(e.src, e.cfg, ServiceOptions{Now: e.org.Now, StateDir: state})
	svc.LimitChanges(-1)
	ctx := context.Background()
	_, first, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	destructive, additive := first.Destructive(), len(first.Changes)-first.Destructive()
	if destructive == 0 || additive == 0 {
		t.Fatalf("the demo plan has %d destructive and %d additive changes; want both", destructive, additive)
	}
	e.org.Mu.Lock()
	old := e.org.DB.WorkspaceID
	e.org.DB.WorkspaceID = old + 1
	e.org.Mu.Unlock()

	// A new service, as the next run is: the id is asked afresh.
	next := NewService(e.sources(t, e.org.Creds.DatabricksToken), e.cfg, ServiceOptions{Now: e.org.Now, StateDir: state})
	next.LimitChanges(-1)
	_, held, err := next.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := held.Destructive(); n != 0 {
		t.Errorf("after the workspace was replaced, %d destructive changes are planned, want 0 (held)", n)
	}
	if n := len(held.Changes); n != additive {
		t.Errorf("after the workspace was replaced, %d changes are planned, want the %d additive ones", n, additive)
	}
	var found []Finding
	for _, f := range held.Findings {
		if f.Kind == FindingWorkspaceReplaced {
			found = append(found, f)
		}
	}
	if len(found) != 1 || !strings.Contains(found[0].Detail, "recorded workspace id 1234567890123456") ||
		!strings.Contains(found[0].Detail, "holds its "+strconv.Itoa(destructive)+" destructive changes") {
		t.Errorf("workspace_replaced findings: %+v", found)
	}
	if err := CheckProblems(held.Problems); err == nil || ExitCode(err) != 1 {
		t.Errorf("a replaced workspace is no problem of the run: %v", held.Problems)
	}
	t.Logf("held %d destructive changes, kept %d additive: %s", destructive, len(held.Changes), found[0].Detail)

	// A preview does not use up the hold: the next plan holds too.
	preview := NewService(e.sources(t, e.org.Creds.DatabricksToken), e.cfg, ServiceOptions{Now: e.org.Now, StateDir: state})
	preview.LimitChanges(-1)
	_, still, err := preview.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if still.Destructive() != 0 {
		t.Errorf("a second plan after the replacement: %d destructive changes, want 0 (still held)", still.Destructive())
	}
	// The run that applies the held plan records the new id.
	if _, err := preview.Apply(ctx, still, nil); err != nil {
		t.Fatal(err)
	}
	again := NewService(e.sources(t, e.org.Creds.DatabricksToken), e.cfg, ServiceOptions{Now: e.org.Now, StateDir: state})
	again.LimitChanges(-1)
	_, after, err := again.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Destructive() == 0 {
		t.Error("the run after the held apply: no destructive change, want them planned again")
	}
	for _, f := range after.Findings {
		if f.Kind == FindingWorkspaceReplaced {
			t.Errorf("the run after still finds the workspace replaced: %+v", f)
		}
	}
}

// TestWorkspaceReplacedInOneOfTwo: with prod and dev, dev is replaced
// between runs: dev's destructive changes are held, prod's are planned, and
// the finding and the problem name dev.
func TestWorkspaceReplacedInOneOfTwo(t *testing.T) {
	tw := newTwoWorkspaces(t)
	src := tw.service(t).src
	state := t.TempDir()
	run := func() Plan {
		t.Helper()
		svc := NewService(src, tw.cfg, ServiceOptions{Now: tw.org.Now, StateDir: state})
		svc.LimitChanges(-1)
		_, p, err := svc.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	destructiveIn := func(p Plan, ws string) int {
		n := 0
		for _, c := range p.Changes {
			if c.Destructive && c.Workspace == ws {
				n++
			}
		}
		return n
	}
	first := run()
	if destructiveIn(first, "dev") == 0 || destructiveIn(first, "prod") == 0 {
		t.Fatalf("the two-workspace plan has %d destructive changes in dev and %d in prod; want both", destructiveIn(first, "dev"), destructiveIn(first, "prod"))
	}
	dev := tw.org.Workspace("dev")
	tw.org.Mu.Lock()
	dev.WorkspaceID += 7
	tw.org.Mu.Unlock()
	held := run()
	if n := destructiveIn(held, "dev"); n != 0 {
		t.Errorf("dev replaced: %d destructive changes planned in dev, want 0", n)
	}
	if destructiveIn(held, "prod") != destructiveIn(first, "prod") {
		t.Errorf("dev replaced: %d destructive changes in prod, want %d (prod is not held)", destructiveIn(held, "prod"), destructiveIn(first, "prod"))
	}
	found := 0
	for _, f := range held.Findings {
		if f.Kind == FindingWorkspaceReplaced {
			found++
			if f.Workspace != "dev" {
				t.Errorf("workspace_replaced names %q, want dev", f.Workspace)
			}
		}
	}
	problem := false
	for _, p := range held.Problems {
		problem = problem || (p.What == "workspace replaced" && p.Workspace == "dev")
	}
	if found != 1 || !problem {
		t.Errorf("dev replaced: %d findings, problem naming dev %v: %+v", found, problem, held.Problems)
	}
}

// TestWorkspaceReplacedSeenByAnEphemeralPipeline: every run is a pipeline
// whose runner keeps nothing (a fresh state directory each time), with the
// audit log on a volume. The record next to the audit log still tells the
// replaced workspace: the run after the replacement holds its destructive
// changes (before, with no state directory kept, no run could tell).
func TestWorkspaceReplacedSeenByAnEphemeralPipeline(t *testing.T) {
	e, _ := newServiceEnv(t)
	run := func() Plan {
		t.Helper()
		src := e.sources(t, e.org.Creds.DatabricksToken)
		src.Audit = &VolumeAudit{Dir: "/Volumes/main/ops/audit/bitbricks", Files: src.Databricks.(*Databricks).w.Files}
		svc := NewService(src, e.cfg, ServiceOptions{Now: e.org.Now, StateDir: t.TempDir()})
		svc.LimitChanges(-1)
		_, p, err := svc.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := run()
	if first.Destructive() == 0 {
		t.Fatal("the demo plan has no destructive change")
	}
	e.org.Mu.Lock()
	e.org.DB.WorkspaceID += 3
	e.org.Mu.Unlock()
	held := run()
	if n := held.Destructive(); n != 0 {
		t.Errorf("after the workspace was replaced, a fresh runner plans %d destructive changes, want 0 (held)", n)
	}
	replaced := 0
	for _, f := range held.Findings {
		if f.Kind == FindingWorkspaceReplaced {
			replaced++
		}
	}
	if replaced != 1 {
		t.Errorf("%d workspace_replaced findings, want 1", replaced)
	}
	if still := run(); still.Destructive() != 0 {
		t.Errorf("a second plan on another fresh runner: %d destructive changes, want 0 (still held)", still.Destructive())
	}
}
