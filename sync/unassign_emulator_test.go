package sync

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
)

// assignedUsers reads back, through the account API, the users assigned
// directly to the named workspace of svc.
func assignedUsers(t *testing.T, svc *Service, workspace string) []string {
	t.Helper()
	i := slices.IndexFunc(svc.src.Workspaces, func(w WorkspaceSources) bool { return w.Name == workspace })
	db, ok := svc.src.Workspaces[i].Sources.Databricks.(*Databricks)
	if !ok {
		t.Fatalf("workspace %s has no Databricks adapter", workspace)
	}
	as, err := db.UserAssignments(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		out = append(out, a.UserName)
	}
	slices.Sort(out)
	return out
}

// TestUnassignWorkspaceApplied: over the demo's two workspaces, prune
// removes eve and fay from de-team, olga from analysts and gus from
// platform-eng in prod, where each holds an assignment of their own and no
// mapping wants them: the plan unassigns them from prod (not from dev,
// where none of them is assigned directly), the account API applies it,
// the assignments read back without them, and the next plan unassigns
// nobody.
func TestUnassignWorkspaceApplied(t *testing.T) {
	tw := newTwoWorkspaces(t)
	ctx := context.Background()
	svc := tw.service(t)
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names, ids []string
	for _, c := range plan.Changes {
		if c.Action == ActionUnassignWorkspace {
			if c.Workspace != emulator.DemoWorkspace || !c.Destructive {
				t.Errorf("%s: workspace %q, destructive %v", c.ID, c.Workspace, c.Destructive)
			}
			ids = append(ids, c.ID)
			names = append(names, c.Principal)
		}
	}
	want := []string{"eve@acme.com", "fay@acme.com", "gus@acme.com", "olga@acme.com"}
	if !slices.Equal(names, want) {
		t.Fatalf("unassign_workspace for %v, want %v", names, want)
	}
	// Each comes with the removal it exists for.
	changes, err := plan.WithDependencies(ids...)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2*len(want) {
		t.Errorf("unassigns with their dependencies: %d changes, want %d", len(changes), 2*len(want))
	}
	unassign := Plan{Changes: changes}
	before := assignedUsers(t, svc, emulator.DemoWorkspace)
	devBefore := assignedUsers(t, svc, emulator.DemoDevWorkspace)
	tw.srv.ResetStats()
	results, err := svc.Apply(ctx, unassign, nil)
	requireApplied(t, results, err)
	st := tw.srv.Stats()
	if n := st.Routes["databricks DELETE /api/2.0/accounts/{account_id}/workspaces/{workspace_id}/permissionassignments/principals/{principal_id}"]; n != int64(len(want)) {
		t.Errorf("%d assignment deletes, want %d (routes %v)", n, len(want), st.Routes)
	}
	after := assignedUsers(t, svc, emulator.DemoWorkspace)
	for _, n := range want {
		if slices.Contains(after, n) || !slices.Contains(before, n) {
			t.Errorf("%s: assigned before %v, after %v", n, slices.Contains(before, n), slices.Contains(after, n))
		}
	}
	if len(after) != len(before)-len(want) {
		t.Errorf("prod assignments: %d before, %d after; want %d fewer", len(before), len(after), len(want))
	}
	if dev := assignedUsers(t, svc, emulator.DemoDevWorkspace); !slices.Equal(dev, devBefore) {
		t.Errorf("dev assignments changed: %v -> %v", devBefore, dev)
	}
	_, again, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range again.Changes {
		if c.Action == ActionUnassignWorkspace {
			t.Errorf("second plan: %s", c.ID)
		}
	}
}

// TestNoUnassignWithoutPrune: the same account with prune off everywhere
// plans no unassign_workspace, and applying its plan leaves every
// assignment in place.
func TestNoUnassignWithoutPrune(t *testing.T) {
	tw := newTwoWorkspaces(t)
	for i := range tw.cfg.Mappings {
		tw.cfg.Mappings[i].Prune = false
	}
	ctx := context.Background()
	svc := tw.service(t)
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range plan.Changes {
		if c.Action == ActionUnassignWorkspace || c.Action == ActionRemoveMember {
			t.Errorf("without prune: %s", c.ID)
		}
	}
	before := map[string][]string{}
	for _, ws := range svc.Workspaces() {
		before[ws] = assignedUsers(t, svc, ws)
	}
	if _, err := svc.Apply(ctx, plan, nil); err != nil {
		t.Fatal(err)
	}
	for _, ws := range svc.Workspaces() {
		after := assignedUsers(t, svc, ws)
		for _, n := range before[ws] {
			if !slices.Contains(after, n) {
				t.Errorf("%s: %s lost its assignment without prune", ws, n)
			}
		}
	}
	if st := tw.srv.Stats(); st.Routes["databricks DELETE /api/2.0/accounts/{account_id}/workspaces/{workspace_id}/permissionassignments/principals/{principal_id}"] != 0 {
		t.Errorf("an assignment was deleted without prune")
	}
}

// TestUserAssignmentsEmptyIsUnknown: a workspace whose permission
// assignments come back empty cannot be true (somebody reaches it), so the
// read fails as implausible instead of counting nobody as assigned.
func TestUserAssignmentsEmptyIsUnknown(t *testing.T) {
	tw := newTwoWorkspaces(t)
	svc := tw.service(t)
	i := slices.IndexFunc(svc.src.Workspaces, func(w WorkspaceSources) bool { return w.Name == emulator.DemoDevWorkspace })
	db := svc.src.Workspaces[i].Sources.Databricks.(*Databricks)
	if _, err := db.workspaceID(context.Background()); err != nil {
		t.Fatal(err)
	}
	dev := tw.org.Workspace(emulator.DemoDevWorkspace)
	tw.org.Mu.Lock()
	for _, u := range dev.Users {
		u.Assigned = false
	}
	for _, sp := range dev.ServicePrincipals {
		sp.Assigned = false
	}
	for _, g := range dev.Groups {
		g.Assigned = false
	}
	tw.org.Mu.Unlock()
	_, err := db.UserAssignments(context.Background())
	var ie *ImplausibleError
	if !errors.As(err, &ie) {
		t.Fatalf("empty assignments: %v, want an implausible answer", err)
	}
}
