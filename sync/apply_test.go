package sync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
)

// recorder is an Observer that keeps what it heard.
type recorder struct{ events []string }

func (r *recorder) Start(i, n int, c Change) { r.events = append(r.events, "start "+c.ID) }
func (r *recorder) Done(i, n int, c Change, res Result) {
	r.events = append(r.events, "done "+c.ID+" "+res.Status)
}

// handPlan is a small plan on the demo: an add to a workspace group, an add
// to an account group, a new group with a member and an entitlement, a
// token revocation and a rotation.
func handPlan(t *testing.T, e *demoEnv, snap *Snapshot) Plan {
	t.Helper()
	var hanaToken string
	var botSecret Credential
	for _, c := range snap.Credentials {
		if c.Owner == "hana@acme.com" && c.Comment == "laptop" {
			hanaToken = c.ID
		}
		if c.Kind == CredentialOAuthSecret && c.Owner == "reporting-bot" {
			botSecret = c
		}
	}
	de, pe := snap.DBGroups["de-team"], snap.DBGroups["platform-eng"]
	return Plan{Changes: []Change{
		{ID: "create_group/new-team", Action: ActionCreateGroup, Group: "new-team", GroupKind: KindWorkspace, Route: RouteWorkspace},
		{ID: "add_member/de-team/bob@acme.com", Action: ActionAddMember, Group: "de-team", GroupKind: KindWorkspace, Principal: "bob@acme.com",
			PrincipalType: PrincipalUser, GroupID: de.ID, PrincipalID: e.userID(t, "bob@acme.com"), Route: RouteWorkspace},
		{ID: "add_member/new-team/alice@acme.com", Action: ActionAddMember, Group: "new-team", GroupKind: KindWorkspace, Principal: "alice@acme.com",
			PrincipalType: PrincipalUser, PrincipalID: e.userID(t, "alice@acme.com"), Route: RouteWorkspace},
		{ID: "add_member/platform-eng/tess@acme.com", Action: ActionAddMember, Group: "platform-eng", GroupKind: KindAccount, Principal: "tess@acme.com",
			PrincipalType: PrincipalUser, GroupID: pe.ID, PrincipalID: e.userID(t, "tess@acme.com"), Route: RouteProxy},
		{ID: "add_entitlement/new-team/workspace-access", Action: ActionAddEntitlement, Group: "new-team", GroupKind: KindWorkspace,
			Entitlement: "workspace-access", Route: RouteWorkspace},
		{ID: "rotate_credential/etl-prod", Action: ActionRotateCredential, Principal: "etl-deployer", PrincipalType: PrincipalServicePrincipal, Binding: "etl-prod"},
		{ID: "remove_member/platform-eng/gus@acme.com", Action: ActionRemoveMember, Group: "platform-eng", GroupKind: KindAccount, Principal: "gus@acme.com",
			PrincipalType: PrincipalUser, GroupID: pe.ID, PrincipalID: e.userID(t, "gus@acme.com"), Route: RouteAccount, Destructive: true},
		{ID: "revoke_token/" + hanaToken, Action: ActionRevokeToken, Principal: "hana@acme.com", PrincipalType: PrincipalUser, TokenID: hanaToken, Destructive: true},
		{ID: "revoke_secret/" + botSecret.ID, Action: ActionRevokeSecret, Principal: "reporting-bot", PrincipalType: PrincipalServicePrincipal,
			TokenID: botSecret.ID, PrincipalID: botSecret.OwnerID, Destructive: true},
	}}
}

func TestApplyHandPlan(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	snap := e.read(t)
	plan := handPlan(t, e, snap)
	audit := filepath.Join(t.TempDir(), "state", "audit.jsonl")
	obs := &recorder{}
	results, err := Apply(context.Background(), plan, e.db, obs, ApplyOptions{
		MaxChanges: 25, AuditFile: audit, Operator: Operator{OSUser: "tester", Databricks: snap.Caller}})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	want := map[string]string{"rotate_credential/etl-prod": ResultSkipped}
	for i, r := range results {
		status := want[r.ID]
		if status == "" {
			status = ResultApplied
		}
		if r.ID != plan.Changes[i].ID || r.Status != status {
			t.Errorf("result %d = %+v, want %s %s", i, r, plan.Changes[i].ID, status)
		}
	}
	if r := results[5]; r.Error != "rotation not available" {
		t.Errorf("rotation result = %+v", r)
	}
	if len(obs.events) != 2*len(plan.Changes)-1 || obs.events[0] != "start create_group/new-team" {
		t.Errorf("observer heard %v", obs.events)
	}

	// The emulator's state is what the plan said.
	if g := e.dbGroup(t, "new-team"); g == nil || !slices.Equal(e.memberNames(g), []string{"alice@acme.com"}) || !slices.Equal(g.Entitlements, []string{"workspace-access"}) {
		t.Errorf("new-team = %+v", g)
	}
	if names := e.memberNames(e.dbGroup(t, "de-team")); !slices.Contains(names, "bob@acme.com") {
		t.Errorf("de-team lacks bob: %v", names)
	}
	if names := e.memberNames(e.dbGroup(t, "platform-eng")); !slices.Contains(names, "tess@acme.com") || slices.Contains(names, "gus@acme.com") {
		t.Errorf("platform-eng = %v, want tess in and gus out", names)
	}
	e.org.Mu.Lock()
	_, tokenLeft := e.org.DB.Tokens[plan.Changes[7].TokenID]
	_, secretLeft := e.org.DB.Secrets[plan.Changes[8].TokenID]
	e.org.Mu.Unlock()
	if tokenLeft || secretLeft {
		t.Errorf("revoked: token %v, secret %v", !tokenLeft, !secretLeft)
	}

	// Two audit lines per change that ran, intent then outcome (the skipped
	// rotation has none).
	lines := auditLines(t, audit)
	if len(lines) != 2*(len(plan.Changes)-1) {
		t.Errorf("audit has %d lines, want %d", len(lines), 2*(len(plan.Changes)-1))
	}
	if err := VerifyAudit(audit); err != nil {
		t.Errorf("VerifyAudit: %v", err)
	}
	if !strings.Contains(lines[0], `"operator":{"os_user":"tester","databricks":"admin@acme.com"},"action":"create_group","target":"group:new-team","result":"intent"`) ||
		!strings.Contains(lines[1], `"action":"create_group","target":"group:new-team","result":"applied"`) {
		t.Errorf("first audit lines = %s\n%s", lines[0], lines[1])
	}
	fileMode(t, audit, 0o600)
	fileMode(t, filepath.Dir(audit), 0o700|os.ModeDir)
}

func TestApplyGuardChangesNothing(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	snap := e.read(t)
	plan := handPlan(t, e, snap)
	e.srv.ResetStats()
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	results, err := Apply(context.Background(), plan, e.db, nil, ApplyOptions{MaxChanges: len(plan.Changes) - 1, AuditFile: audit})
	var g *GuardError
	if !errors.As(err, &g) || g.Changes != len(plan.Changes) || g.Max != len(plan.Changes)-1 {
		t.Fatalf("err = %v, want a GuardError", err)
	}
	if ExitCode(err) != 3 || results != nil {
		t.Errorf("exit code %d, results %v; want 3 and none", ExitCode(err), results)
	}
	if st := e.srv.Stats(); st.Total != 0 || writes(st) != 0 {
		t.Errorf("the guard let %d requests (%d writes) through", st.Total, writes(st))
	}
	if _, err := os.Stat(audit); !os.IsNotExist(err) {
		t.Errorf("audit log written by a refused plan: %v", err)
	}
}

func TestApplyContinuesPastFailures(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	snap := e.read(t)
	plan := handPlan(t, e, snap)
	// The group creation fails once, and so does the first PATCH of de-team.
	if err := e.srv.SetFaults([]emulator.FaultRule{
		{Route: "/api/2.0/preview/scim/v2/Groups", Method: "POST", Sequence: []emulator.FaultKind{emulator.Fault500}},
		{Route: "/api/2.0/preview/scim/v2/Groups/" + snap.DBGroups["de-team"].ID, Method: "PATCH", Sequence: []emulator.FaultKind{emulator.Fault500}},
	}); err != nil {
		t.Fatal(err)
	}
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	results, err := Apply(context.Background(), plan, e.db, nil, ApplyOptions{MaxChanges: 25, AuditFile: audit})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	want := []string{ResultFailed, ResultFailed, ResultSkipped, ResultApplied, ResultSkipped, ResultSkipped, ResultApplied, ResultApplied, ResultApplied}
	for i, r := range results {
		if r.Status != want[i] {
			t.Errorf("%s: %s (%s), want %s", r.ID, r.Status, r.Error, want[i])
		}
		if r.Status == ResultFailed && (r.Error == "" || strings.Contains(r.Error, "\n")) {
			t.Errorf("%s: error %q, want one line", r.ID, r.Error)
		}
	}
	if r := results[2]; r.Error != "group new-team was not created" {
		t.Errorf("skipped member of the failed group: %+v", r)
	}
	// Failed changes are audited too: 2 failed + 4 applied, each after its intent.
	lines := auditLines(t, audit)
	if len(lines) != 12 || !strings.Contains(lines[0], `"result":"intent"`) || !strings.Contains(lines[1], `"result":"failed"`) {
		t.Errorf("audit lines = %d: %v", len(lines), lines)
	}
	if e.dbGroup(t, "new-team") != nil {
		t.Error("new-team exists after a failed create")
	}
}

// fakeExec fails the changes named in fail and records the rest.
type fakeExec struct {
	fail map[string]bool
	ran  []string
}

func (f *fakeExec) do(c Change) error {
	f.ran = append(f.ran, c.ID+"@"+c.GroupID)
	if f.fail[c.ID] {
		return errors.New("boom\nsecond line")
	}
	return nil
}
func (f *fakeExec) CreateGroup(_ context.Context, c Change) (string, error) {
	return "g-" + c.Group, f.do(c)
}
func (f *fakeExec) AddMember(_ context.Context, c Change) error         { return f.do(c) }
func (f *fakeExec) RemoveMember(_ context.Context, c Change) error      { return f.do(c) }
func (f *fakeExec) AddEntitlement(_ context.Context, c Change) error    { return f.do(c) }
func (f *fakeExec) RemoveEntitlement(_ context.Context, c Change) error { return f.do(c) }
func (f *fakeExec) RevokeToken(_ context.Context, c Change) error       { return f.do(c) }
func (f *fakeExec) RevokeSecret(_ context.Context, c Change) error      { return f.do(c) }
func (f *fakeExec) AssignWorkspace(_ context.Context, c Change) error   { return f.do(c) }
func (f *fakeExec) UnassignWorkspace(_ context.Context, c Change) error { return f.do(c) }

type fakeRotator struct{ n int }

func (r *fakeRotator) Rotate(context.Context, Change) error { r.n++; return nil }

func TestApplyOrderIDsAndCancel(t *testing.T) {
	plan := Plan{Changes: []Change{
		{ID: "create_group/x", Action: ActionCreateGroup, Group: "x"},
		{ID: "add_member/x/a", Action: ActionAddMember, Group: "x"},
		{ID: "rotate_credential/b", Action: ActionRotateCredential, Binding: "b"},
		{ID: "revoke_token/1", Action: ActionRevokeToken, TokenID: "1"},
		{ID: "revoke_secret/2", Action: ActionRevokeSecret, TokenID: "2"},
	}}
	f, rot := &fakeExec{fail: map[string]bool{"revoke_token/1": true}}, &fakeRotator{}
	results, err := Apply(context.Background(), plan, f, nil, ApplyOptions{MaxChanges: -1, Rotator: rot})
	if err != nil {
		t.Fatal(err)
	}
	// The new group's id reaches its later changes; nothing ran out of order.
	if want := []string{"create_group/x@", "add_member/x/a@g-x", "revoke_token/1@", "revoke_secret/2@"}; !slices.Equal(f.ran, want) || rot.n != 1 {
		t.Errorf("ran %v (rotations %d), want %v", f.ran, rot.n, want)
	}
	if r := results[3]; r.Status != ResultFailed || r.Error != "boom second line" {
		t.Errorf("failed result = %+v", r)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	results, err = Apply(ctx, plan, &fakeExec{}, nil, ApplyOptions{MaxChanges: -1})
	if !errors.Is(err, context.Canceled) || len(results) != len(plan.Changes) || results[0].Status != ResultSkipped {
		t.Errorf("cancelled Apply = %v, %+v", err, results)
	}
	if _, err := Apply(context.Background(), plan, &fakeExec{}, nil, ApplyOptions{}); ExitCode(err) != 3 {
		t.Errorf("zero MaxChanges must refuse a non-empty plan, got %v", err)
	}
}

func fileMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode() & (os.ModePerm | os.ModeDir); got != want {
		t.Errorf("%s mode %v, want %v", path, got, want)
	}
}

func auditLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestApplyStopsWhenAuditFails(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o600)
	plan := Plan{Changes: []Change{
		{ID: "revoke_token/1", Action: ActionRevokeToken, TokenID: "1"},
		{ID: "revoke_token/2", Action: ActionRevokeToken, TokenID: "2"},
	}}
	f := &fakeExec{}
	results, err := Apply(context.Background(), plan, f, nil, ApplyOptions{MaxChanges: -1, AuditFile: filepath.Join(blocker, "audit.jsonl")})
	if err == nil || !strings.Contains(err.Error(), "audit") || ExitCode(err) != 1 {
		t.Fatalf("err = %v, want the audit failure (exit 1)", err)
	}
	// No audit, no action: not even the first change runs.
	if len(f.ran) != 0 || results[0].Status != ResultSkipped || results[1].Status != ResultSkipped {
		t.Errorf("ran %v, results %+v: an unaudited change must not be made", f.ran, results)
	}
}

// failingSink stores the first ok events, then fails like a full disk.
type failingSink struct {
	ok     int
	events []AuditEvent
}

func (s *failingSink) Append(_ context.Context, ev AuditEvent) error {
	if len(s.events) >= s.ok {
		return fmt.Errorf("write audit.jsonl: %w", syscall.ENOSPC)
	}
	s.events = append(s.events, ev)
	return nil
}
func (s *failingSink) Head(context.Context) (AuditHead, error) { return AuditHead{}, nil }
func (s *failingSink) Where() string                           { return "audit.jsonl" }

func TestApplyFullDiskStopsTheChange(t *testing.T) {
	plan := Plan{Changes: []Change{
		{ID: "revoke_token/1", Action: ActionRevokeToken, TokenID: "1"},
		{ID: "revoke_token/2", Action: ActionRevokeToken, TokenID: "2"},
		{ID: "revoke_token/3", Action: ActionRevokeToken, TokenID: "3"},
	}}
	// The disk fills after the first change's intent and outcome and the
	// second's intent: the second change is made (its intent is on disk),
	// its outcome fails, and the third is not made.
	sink := &failingSink{ok: 3}
	f := &fakeExec{}
	results, err := Apply(context.Background(), plan, f, nil, ApplyOptions{MaxChanges: -1, Audit: sink})
	if !errors.Is(err, syscall.ENOSPC) || ExitCode(err) != 1 {
		t.Fatalf("err = %v, want the full disk, exit 1", err)
	}
	if len(f.ran) != 2 || results[2].Status != ResultSkipped {
		t.Errorf("ran %v, results %+v", f.ran, results)
	}
	for i, ev := range sink.events {
		if want := []string{ResultIntent, ResultApplied, ResultIntent}[i]; ev.Result != want {
			t.Errorf("event %d = %s, want %s", i, ev.Result, want)
		}
	}

	// Full from the start: nothing is made.
	sink, f = &failingSink{}, &fakeExec{}
	results, err = Apply(context.Background(), plan, f, nil, ApplyOptions{MaxChanges: -1, Audit: sink})
	if err == nil || len(f.ran) != 0 {
		t.Errorf("full disk: err %v, ran %v", err, f.ran)
	}
	for _, r := range results {
		if r.Status != ResultSkipped || !strings.Contains(r.Error, "audit log audit.jsonl could not be written") {
			t.Errorf("result %+v", r)
		}
	}
}
