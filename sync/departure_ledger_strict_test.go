package sync

import (
	"context"
	"encoding/base64"
	"errors"
	"path"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
	"github.com/databricks/databricks-sdk-go/service/workspace"
)

// zedLedger is a ledger naming a person an earlier run took out of a
// mapped group (de-team).
const zedLedger = `{"format_version":"1","about":"x","former_members":{"zed@acme.com":{"group":"de-team","removed":"2026-01-01T00:00:00Z"}}}`

// ledgerExport is a fault route for the ledger's read only.
const ledgerExport = "/api/2.0/workspace/export?path=" + DefaultDeparturesLedger

// putLedger writes content as the departures ledger of d's workspace,
// through the workspace import API.
func putLedger(t *testing.T, d *Databricks, content string) {
	t.Helper()
	ctx := context.Background()
	if err := d.w.Workspace.MkdirsByPath(ctx, path.Dir(DefaultDeparturesLedger)); err != nil {
		t.Fatal(err)
	}
	if err := d.w.Workspace.Import(ctx, workspace.Import{Path: DefaultDeparturesLedger, Format: workspace.ImportFormatAuto,
		Content: base64.StdEncoding.EncodeToString([]byte(content)), Overwrite: true}); err != nil {
		t.Fatal(err)
	}
}

// ledgerProblem is the plan's departures ledger problem, if any.
func ledgerProblem(plan Plan) (Problem, bool) {
	for _, p := range plan.Problems {
		if p.System == SystemDatabricks && p.What == "departures ledger" {
			return p, true
		}
	}
	return Problem{}, false
}

// removalResults counts the results of user removals by status.
func removalResults(plan Plan, results []Result) map[string]int {
	out := map[string]int{}
	for i, r := range results {
		if i < len(plan.Changes) && plan.Changes[i].Action == ActionRemoveMember && plan.Changes[i].PrincipalType == PrincipalUser {
			out[r.Status]++
		}
	}
	return out
}

// TestLedgerOnlyCleanNotFoundIsNone (L1): a ledger read answered by a 404
// other than RESOURCE_DOES_NOT_EXIST (ENDPOINT_NOT_FOUND from a misrouted
// request, a gateway's code-less {"message":"Not Found"}) is not "no ledger
// yet": the plan has a departures ledger problem (exit 1), the apply skips
// the removals it cannot record, and the ledger keeps the people it named.
// Before, such a read was an empty ledger, rewritten with the run's
// removals only: zed's evidence was gone and every run green.
func TestLedgerOnlyCleanNotFoundIsNone(t *testing.T) {
	for _, kind := range []emulator.FaultKind{emulator.Fault404Endpoint, emulator.Fault404Bare} {
		t.Run(string(kind), func(t *testing.T) {
			e, svc := newServiceEnv(t)
			svc.LimitChanges(-1)
			putLedger(t, e.db, zedLedger)
			ctx := context.Background()
			if err := e.srv.SetFaults([]emulator.FaultRule{{Route: ledgerExport, Method: "GET", Kind: kind}}); err != nil {
				t.Fatal(err)
			}
			_, plan, err := svc.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			p, ok := ledgerProblem(plan)
			if !ok || p.Status != 404 || CheckProblems(plan.Problems) == nil {
				t.Fatalf("a ledger read answered %s is no problem of the run: %+v", kind, plan.Problems)
			}
			results, err := svc.Apply(ctx, plan, nil)
			var le *LedgerError
			if !errors.As(err, &le) {
				t.Fatalf("apply: %v, want a LedgerError", err)
			}
			got := removalResults(plan, results)
			if got[ResultApplied] != 0 || got[ResultSkipped] == 0 {
				t.Errorf("user removals: %v, want all skipped (their departure cannot be recorded)", got)
			}
			b, _ := e.org.WorkspaceFile(DefaultDeparturesLedger)
			if string(b) != zedLedger {
				t.Errorf("the ledger was rewritten from a read answered %s:\n%s", kind, b)
			}
			t.Logf("%s: %s; removals %v", kind, p, got)
		})
	}
}

// TestLedgerNotALedgerIsKept (L1, L3): a ledger file that answers (HTTP
// 200) but is not a ledger of format_version "1" with former_members
// (unparsable, null, {}, a future format) is a problem of the run that
// says what it is and what to do, and is never rewritten: its removals
// are skipped. Before, null, {} and a future format read as an empty
// ledger and were rewritten.
func TestLedgerNotALedgerIsKept(t *testing.T) {
	for name, content := range map[string]string{
		"unparsable":     `{"former_members": {"alice@acme.com": {"group": "de-team"`,
		"null":           `null`,
		"empty":          `{}`,
		"future":         `{"format_version":"2","entries":[{"user":"zed@acme.com","group":"de-team"}]}`,
		"null_members":   `{"format_version":"1","former_members":null}`,
		"no_version":     `{"former_members":{"zed@acme.com":{"group":"de-team"}}}`,
		"members_a_list": `{"format_version":"1","former_members":["zed@acme.com"]}`,
	} {
		t.Run(name, func(t *testing.T) {
			e, svc := newServiceEnv(t)
			svc.LimitChanges(-1)
			putLedger(t, e.db, content)
			ctx := context.Background()
			_, plan, err := svc.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			p, ok := ledgerProblem(plan)
			if !ok {
				t.Fatalf("a ledger %s is no problem of the run: %+v", content, plan.Problems)
			}
			line := p.String()
			for _, want := range []string{"HTTP 200", DefaultDeparturesLedger, "repair it", "deleting it forgets"} {
				if !strings.Contains(line, want) {
					t.Errorf("the problem line lacks %q: %s", want, line)
				}
			}
			if strings.Contains(line, "no HTTP answer") || strings.HasSuffix(line, "…") {
				t.Errorf("the problem line: %s", line)
			}
			results, err := svc.Apply(ctx, plan, nil)
			var le *LedgerError
			if !errors.As(err, &le) {
				t.Fatalf("apply: %v, want a LedgerError", err)
			}
			if got := removalResults(plan, results); got[ResultApplied] != 0 {
				t.Errorf("user removals: %v, want none made", got)
			}
			b, _ := e.org.WorkspaceFile(DefaultDeparturesLedger)
			if string(b) != content {
				t.Errorf("the ledger %s was rewritten:\n%s", content, b)
			}
			t.Logf("%s", line)
		})
	}
}

// TestLedgerCreateDoesNotOverwrite (L1): the ledger's read answers a clean
// RESOURCE_DOES_NOT_EXIST while a ledger is there (it appeared meanwhile,
// or the read did not see it yet): the ledger bitbricks then creates does
// not replace it (import with overwrite false answers
// RESOURCE_ALREADY_EXISTS), and the removals are skipped.
func TestLedgerCreateDoesNotOverwrite(t *testing.T) {
	e, svc := newServiceEnv(t)
	svc.LimitChanges(-1)
	putLedger(t, e.db, zedLedger)
	ctx := context.Background()
	if err := e.srv.SetFaults([]emulator.FaultRule{{Route: ledgerExport, Method: "GET", Kind: emulator.Fault404Missing}}); err != nil {
		t.Fatal(err)
	}
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	results, err := svc.Apply(ctx, plan, nil)
	var le *LedgerError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "is there now") {
		t.Fatalf("apply: %v, want a LedgerError: the ledger appeared meanwhile", err)
	}
	if got := removalResults(plan, results); got[ResultApplied] != 0 || got[ResultSkipped] == 0 {
		t.Errorf("user removals: %v, want all skipped", got)
	}
	b, _ := e.org.WorkspaceFile(DefaultDeparturesLedger)
	if string(b) != zedLedger {
		t.Errorf("the ledger that appeared meanwhile was replaced:\n%s", b)
	}
	t.Logf("%s", err)
}

// countingObserver counts the results it hears.
type countingObserver struct{ done int }

func (o *countingObserver) Start(int, int, Change)        {}
func (o *countingObserver) Done(int, int, Change, Result) { o.done++ }

// TestLedgerProblemDoesNotStopOtherWorkspaces (L3): over prod and dev,
// prod's ledger is not a ledger (unparsable). prod's removals are skipped
// (their departure cannot be recorded), its other changes made, and dev's
// changes are all attempted: every change of the plan has a result, the
// observer hears each, and the run ends in prod's LedgerError only, which
// the run's problems name with its workspace. Before, the apply returned
// after prod: dev's changes had no result at all.
func TestLedgerProblemDoesNotStopOtherWorkspaces(t *testing.T) {
	tw := newTwoWorkspaces(t)
	_, prodSrc, _ := tw.part(t, emulator.DemoWorkspace)
	const bad = `{"former_members": {"alice@acme.com": {"group": "de-team"`
	putLedger(t, prodSrc.Databricks.(*Databricks), bad)
	svc := tw.service(t)
	ctx := context.Background()
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := ledgerProblem(plan); !ok || p.Workspace != emulator.DemoWorkspace {
		t.Fatalf("prod's ledger is no problem of the run: %+v", plan.Problems)
	}
	devChanges := 0
	for _, c := range plan.Changes {
		if c.Workspace == emulator.DemoDevWorkspace {
			devChanges++
		}
	}
	if devChanges == 0 {
		t.Fatalf("the plan has no dev change: %v", changeIDs(plan))
	}
	obs := &countingObserver{}
	results, err := svc.Apply(ctx, plan, obs)
	if err == nil || !onlyLedger(err) || len(ledgerErrors(err)) != 1 || ledgerErrors(err)[0].Workspace != emulator.DemoWorkspace {
		t.Fatalf("apply: %v, want prod's LedgerError only", err)
	}
	if len(results) != len(plan.Changes) || obs.done != len(plan.Changes) {
		t.Fatalf("%d results, %d heard, for %d changes", len(results), obs.done, len(plan.Changes))
	}
	byID := map[string]Result{}
	for _, r := range results {
		byID[r.ID] = r
	}
	devApplied, prodSkipped := 0, 0
	for _, c := range plan.Changes {
		r, ok := byID[c.ID]
		switch {
		case !ok:
			t.Errorf("%s has no result", c.ID)
		case r.Status == ResultSkipped && r.Error == "":
			t.Errorf("%s skipped without a reason", c.ID)
		case c.Workspace == emulator.DemoDevWorkspace && strings.Contains(r.Error, "workspace "+emulator.DemoWorkspace+":"):
			t.Errorf("%s not run because of prod: %s", c.ID, r.Error)
		case c.Workspace == emulator.DemoDevWorkspace && r.Status == ResultApplied:
			devApplied++
		case c.Workspace == emulator.DemoWorkspace && r.Status == ResultSkipped && strings.Contains(r.Error, "departure could not be recorded"):
			prodSkipped++
		}
	}
	if devApplied == 0 || prodSkipped == 0 {
		t.Errorf("dev changes applied %d of %d, prod removals skipped %d", devApplied, devChanges, prodSkipped)
	}
	ps := ApplyProblems(plan.Problems, err)
	n := 0
	for _, p := range ps {
		if p.What == "departures ledger" {
			n++
			if p.Workspace != emulator.DemoWorkspace || p.Status != 200 {
				t.Errorf("the ledger problem: %+v", p)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d departures ledger problems, want 1: %+v", n, ps)
	}
	b, _ := tw.org.WorkspaceFile(DefaultDeparturesLedger)
	t.Logf("dev: %d of %d applied; prod: %d removals skipped; ledger kept: %v; %v", devApplied, devChanges, prodSkipped, string(b) == bad, err)
}
