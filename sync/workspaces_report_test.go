package sync

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
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

// stepRecorder records an apply's steps as the observer hears them.
type stepRecorder struct{ done []string }

func (r *stepRecorder) Start(int, int, Change) {}
func (r *stepRecorder) Done(i, n int, c Change, res Result) {
	r.done = append(r.done, fmt.Sprintf("%d/%d %s %s", i+1, n, c.ID, res.ID))
}

// TestApplyProgressOneCounter: the progress of an apply over prod and dev
// counts once over the whole run, and each step names its change as the
// plan does (workspace first).
func TestApplyProgressOneCounter(t *testing.T) {
	ctx := context.Background()
	tw := newTwoWorkspaces(t)
	svc := tw.service(t)
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := &stepRecorder{}
	results, err := svc.Apply(ctx, plan, rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.done) != len(plan.Changes) {
		t.Fatalf("observer heard %d steps for %d changes", len(rec.done), len(plan.Changes))
	}
	var want []string
	for i, r := range results {
		want = append(want, fmt.Sprintf("%d/%d %s %s", i+1, len(plan.Changes), r.ID, r.ID))
	}
	if !slices.Equal(rec.done, want) {
		t.Errorf("steps heard:\n%s\nwant:\n%s", strings.Join(rec.done, "\n"), strings.Join(want, "\n"))
	}
	for _, c := range plan.Changes {
		if !strings.HasPrefix(c.ID, c.Workspace+":") {
			t.Errorf("plan change %s does not start with its workspace %s", c.ID, c.Workspace)
		}
	}
}

// TestProblemsNameWorkspace: over prod and dev, a Databricks read that
// fails in both is a problem of each workspace, named in its line; a
// Bitbucket read (the run's, shared) is one problem naming none.
func TestProblemsNameWorkspace(t *testing.T) {
	ctx := context.Background()
	tw := newTwoWorkspaces(t)
	if err := tw.srv.SetFaults([]emulator.FaultRule{
		{Route: "/api/2.0/preview/scim/v2/Groups", Method: "GET", Kind: emulator.Fault500},
		{Route: "/1.0/groups/**", Method: "GET", Kind: emulator.Fault500},
	}); err != nil {
		t.Fatal(err)
	}
	svc := tw.service(t)
	fastRetries(svc.src)
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range plan.Problems {
		got = append(got, p.String())
		t.Log(p.String())
	}
	want := map[string]bool{}
	for _, p := range plan.Problems {
		want[p.System+"|"+p.What+"|"+p.Workspace] = true
	}
	for _, k := range []string{"databricks|groups|prod", "databricks|groups|dev", "bitbucket|groups|"} {
		if !want[k] {
			t.Errorf("no problem %s among %q", k, got)
		}
	}
	if len(plan.Problems) != len(want) {
		t.Errorf("a problem listed twice: %q", got)
	}
	if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "databricks (dev): groups failed (HTTP 500)") }) {
		t.Errorf("no line names dev's groups: %q", got)
	}
	b, err := json.Marshal(plan.Problems)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, `{"system":"databricks","what":"groups","status":500,"workspace":"dev"}`) ||
		!strings.Contains(s, `{"system":"bitbucket","what":"groups","status":500}`) {
		t.Errorf("problems JSON = %s", s)
	}
	if err := CheckProblems(plan.Problems); err == nil || !strings.Contains(err.Error(), "databricks in dev") {
		t.Errorf("CheckProblems = %v, want the workspaces named", err)
	}
}

// TestDepartureConfirmationFailureIsProblem: the direct membership lookups
// that confirm a departure all answering 500 leave fay and gus unknown
// (nothing revoked) and are a problem of Bitbucket, so the run is red;
// the rest of the plan stands.
func TestDepartureConfirmationFailureIsProblem(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	fastRetries(e.src)
	rules, err := emulator.ParseFaults("GET /2.0/workspaces/*/members/*=500")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetFaults(rules); err != nil {
		t.Fatal(err)
	}
	plan := ComputePlan(e.read(t), e.cfg, demoNow)
	if got := departedRevocations(plan); len(got) != 0 {
		t.Errorf("departed revocations %v on failed confirmations", got)
	}
	for _, who := range []string{"fay@acme.com", "gus@acme.com"} {
		if _, ok := departedUnknown(plan, who); !ok {
			t.Errorf("no departed_unknown finding for %s", who)
		}
	}
	i := slices.IndexFunc(plan.Problems, func(p Problem) bool {
		return p.System == SystemBitbucket && p.What == "workspace membership" && p.Status == 500
	})
	if i < 0 {
		t.Fatalf("problems %+v: no bitbucket workspace membership 500", plan.Problems)
	}
	if s := plan.Problems[i].String(); !strings.Contains(s, "departures not confirmed") {
		t.Errorf("problem line %q does not say what it left unconfirmed", s)
	}
	if CheckProblems(plan.Problems) == nil {
		t.Error("the run is green")
	}
	if !slices.ContainsFunc(plan.Changes, func(c Change) bool { return c.Action == ActionAddMember }) {
		t.Error("the rest of the plan is gone")
	}
}

// TestDepartureDirectoryFailureIsProblem: the Atlassian directory search
// for the absent people's accounts failing is a problem too (the emails
// read before it succeeds).
func TestDepartureDirectoryFailureIsProblem(t *testing.T) {
	const search = "/admin/v2/orgs/*/directories/*/users/search"
	probe := newDemo(t, emulator.Options{})
	snap := probe.read(t)
	if snap.PresenceSearches == 0 {
		t.Fatal("the demo confirms no departure: nothing to check")
	}
	searches := 0
	for route, n := range probe.srv.Stats().Routes {
		if strings.Contains(route, "users/search") {
			searches += int(n)
		}
	}
	if searches <= snap.PresenceSearches {
		t.Fatalf("%d directory searches, %d of them for departures", searches, snap.PresenceSearches)
	}
	e := newDemo(t, emulator.Options{})
	fastRetries(e.src)
	// The emails' searches pass; every later one (retries included) fails.
	seq := make([]emulator.FaultKind, searches+20)
	for i := range seq {
		seq[i] = emulator.FaultNone
		if i >= searches-snap.PresenceSearches {
			seq[i] = emulator.Fault500
		}
	}
	if err := e.srv.SetFaults([]emulator.FaultRule{{Route: search, Method: "POST", Sequence: seq}}); err != nil {
		t.Fatal(err)
	}
	plan := ComputePlan(e.read(t), e.cfg, demoNow)
	if got := departedRevocations(plan); len(got) != 0 {
		t.Errorf("departed revocations %v on a failed directory search", got)
	}
	if !slices.ContainsFunc(plan.Problems, func(p Problem) bool {
		return p.System == SystemAtlassian && p.What == "accounts by email" && p.Status == 500
	}) {
		t.Errorf("problems %+v: no atlassian accounts by email 500", plan.Problems)
	}
}
