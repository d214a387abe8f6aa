package sync

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
)

const assignmentDeleteRoute = "databricks DELETE /api/2.0/accounts/{account_id}/workspaces/{workspace_id}/permissionassignments/principals/{principal_id}"

// TestUnassignWaitsForItsRemoval: over the demo's two workspaces, every
// group membership change fails (500) in the apply of the full plan: each
// unassign_workspace, which exists for a removal that did not happen, is
// skipped saying so, and every user keeps their assignment (no DELETE
// reaches the account API).
func TestUnassignWaitsForItsRemoval(t *testing.T) {
	tw := newTwoWorkspaces(t)
	ctx := context.Background()
	svc := tw.service(t)
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	unassigns := map[string]Change{}
	for _, c := range plan.Changes {
		if c.Action == ActionUnassignWorkspace {
			unassigns[c.ID] = c
		}
	}
	if len(unassigns) == 0 {
		t.Fatal("the demo plan unassigns nobody")
	}
	before := assignedUsers(t, svc, emulator.DemoWorkspace)
	if err := tw.srv.SetFaults([]emulator.FaultRule{
		{Route: "/api/2.0/preview/scim/v2/Groups/*", Method: "PATCH", Kind: emulator.Fault500},
		{Route: "/api/2.0/accounts/*/scim/v2/Groups/*", Method: "PATCH", Kind: emulator.Fault500},
	}); err != nil {
		t.Fatal(err)
	}
	tw.srv.ResetStats()
	results, err := svc.Apply(ctx, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	failedRemovals := 0
	for _, r := range results {
		if strings.Contains(r.ID, ":remove_member/") && r.Status == ResultFailed {
			failedRemovals++
		}
		c, ok := unassigns[r.ID]
		if !ok {
			continue
		}
		delete(unassigns, r.ID)
		if r.Status != ResultSkipped || !strings.Contains(r.Error, "its removal from "+c.RemovedFrom[0]+" failed, so "+c.Principal+" stays assigned") {
			t.Errorf("%s: %s %q, want skipped because its removal from %s failed", r.ID, r.Status, r.Error, c.RemovedFrom[0])
		}
	}
	if failedRemovals == 0 {
		t.Fatal("no removal failed: the fault did not apply")
	}
	if len(unassigns) > 0 {
		t.Errorf("no result for %v", unassigns)
	}
	if n := tw.srv.Stats().Routes[assignmentDeleteRoute]; n != 0 {
		t.Errorf("%d assignments deleted although every removal failed", n)
	}
	if after := assignedUsers(t, svc, emulator.DemoWorkspace); !slices.Equal(after, before) {
		t.Errorf("prod assignments %v -> %v", before, after)
	}
}

// TestUnassignAloneBringsItsRemoval: applying one unassign_workspace on its
// own (the console's selection) brings the removals it exists for, which
// are applied first; an unassign applied without them is skipped.
func TestUnassignAloneBringsItsRemoval(t *testing.T) {
	tw := newTwoWorkspaces(t)
	ctx := context.Background()
	svc := tw.service(t)
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const eve = "prod:unassign_workspace/eve@acme.com"
	i := slices.IndexFunc(plan.Changes, func(c Change) bool { return c.ID == eve })
	if i < 0 {
		t.Fatalf("no %s in the plan", eve)
	}
	// Without its removal, the unassign is skipped.
	results, err := svc.Apply(ctx, Plan{Changes: []Change{plan.Changes[i]}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Status != ResultSkipped || !strings.Contains(results[0].Error, "its removal from de-team is not part of this apply") {
		t.Fatalf("unassign alone: %+v", results)
	}
	if !slices.Contains(assignedUsers(t, svc, emulator.DemoWorkspace), "eve@acme.com") {
		t.Fatal("eve unassigned without her removal")
	}
	changes, err := plan.WithDependencies(eve)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range changes {
		ids = append(ids, c.ID)
	}
	if want := []string{"prod:remove_member/de-team/eve@acme.com", eve}; !slices.Equal(ids, want) {
		t.Fatalf("with dependencies: %v, want %v", ids, want)
	}
	results, err = svc.Apply(ctx, Plan{Changes: changes}, nil)
	requireApplied(t, results, err)
	if slices.Contains(assignedUsers(t, svc, emulator.DemoWorkspace), "eve@acme.com") {
		t.Error("eve still assigned to prod")
	}
	// A plan that no longer holds the removal cannot take the unassign alone.
	without := Plan{Changes: slices.DeleteFunc(slices.Clone(plan.Changes), func(c Change) bool { return c.ID == "prod:remove_member/de-team/eve@acme.com" })}
	if _, err := without.WithDependencies(eve); err == nil || !strings.Contains(err.Error(), "it exists for the removal of eve@acme.com from de-team, which the plan no longer holds") {
		t.Errorf("unassign without its removal in the plan: %v", err)
	}
}

// TestUnassignDependsAcrossWorkspaces: an account group's membership is
// planned once, in the first workspace; an unassign in another workspace
// that exists for it waits for the outcome of that workspace's apply.
func TestUnassignDependsAcrossWorkspaces(t *testing.T) {
	removal := Change{ID: "remove_member/platform-eng/gus@acme.com", Action: ActionRemoveMember, Group: "platform-eng", GroupKind: KindAccount,
		Principal: "gus@acme.com", PrincipalType: PrincipalUser, PrincipalID: "u9", Workspace: "prod"}
	local := removal
	local.GroupKind, local.Group = KindWorkspace, "de-team"
	unassign := Change{ID: "unassign_workspace/gus@acme.com", Action: ActionUnassignWorkspace, Principal: "gus@acme.com",
		PrincipalType: PrincipalUser, PrincipalID: "u9", Workspace: "dev", RemovedFrom: []string{"platform-eng"}}
	for _, tt := range []struct {
		name    string
		earlier []Outcome
		want    string
	}{
		{"applied in prod", []Outcome{{removal, ResultApplied}}, ""},
		{"failed in prod", []Outcome{{removal, ResultFailed}}, "its removal from platform-eng failed, so gus@acme.com stays assigned"},
		{"skipped in prod", []Outcome{{removal, ResultSkipped}}, "its removal from platform-eng was not made"},
		{"none", nil, "its removal from platform-eng is not part of this apply"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := newOutcomes(tt.earlier).unmet(unassign); got != tt.want && !strings.Contains(got, tt.want) || (tt.want == "") != (got == "") {
				t.Errorf("unmet = %q, want %q", got, tt.want)
			}
		})
	}
	// A workspace group of another workspace is another group.
	u := unassign
	u.RemovedFrom = []string{"de-team"}
	if got := newOutcomes([]Outcome{{local, ResultApplied}}).unmet(u); !strings.Contains(got, "not part of this apply") {
		t.Errorf("prod's de-team removal counted for dev's unassign: %q", got)
	}
}
