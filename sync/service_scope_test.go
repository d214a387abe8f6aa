package sync

import (
	"context"
	"strings"
	"testing"
)

// TestScopeWorkspace: a load over prod and dev narrowed to dev holds dev's
// changes, findings and member statuses, and the shared account group's
// membership change planned once under prod, which dev's statuses point at.
func TestScopeWorkspace(t *testing.T) {
	tw := newTwoWorkspaces(t)
	svc := tw.service(t)
	snap, plan, err := svc.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, c := range plan.Changes {
		ids[c.ID] = true
	}
	dangling := 0
	for _, m := range plan.Members {
		if m.ChangeID != "" && !ids[m.ChangeID] {
			dangling++
		}
	}
	if dangling == 0 {
		t.Fatal("no member status of the merged plan points at a change the merge dropped; the test needs the shared account group")
	}
	for _, m := range SharedMemberChanges(plan).Members {
		if m.ChangeID != "" && !ids[m.ChangeID] {
			t.Errorf("%s %s in %s: status points at %s, not in the plan", m.Group, m.Principal, m.Workspace, m.ChangeID)
		}
	}

	total := 0
	for _, name := range []string{"prod", "dev"} {
		wl, ok := svc.ScopeWorkspace(snap, plan, name)
		if !ok {
			t.Fatalf("no scope %s", name)
		}
		if wl.Snap != snap.Workspaces[map[string]int{"prod": 0, "dev": 1}[name]].Snap || wl.Config.Databricks.Workspace != name {
			t.Errorf("%s: the snapshot or config is not the workspace's", name)
		}
		in := map[string]bool{}
		shared := 0
		for _, c := range wl.Plan.Changes {
			in[c.ID] = true
			if c.Workspace != name {
				if c.GroupKind != KindAccount || (c.Action != ActionAddMember && c.Action != ActionRemoveMember) {
					t.Errorf("%s holds %s of %s", name, c.ID, c.Workspace)
				}
				shared++
			} else {
				total++
			}
		}
		if name == "dev" && shared == 0 {
			t.Error("dev's scope lacks the shared account group's change its statuses point at")
		}
		for _, m := range wl.Plan.Members {
			if m.Workspace != name {
				t.Errorf("%s holds a status of %s", name, m.Workspace)
			}
			if m.ChangeID != "" && !in[m.ChangeID] {
				t.Errorf("%s: %s %s points at %s, not in the scope", name, m.Group, m.Principal, m.ChangeID)
			}
		}
		for _, f := range wl.Plan.Findings {
			if f.Workspace != name {
				t.Errorf("%s holds finding %s of %s", name, f.Kind, f.Workspace)
			}
		}
	}
	if total != len(plan.Changes) {
		t.Errorf("the scopes hold %d of the plan's %d changes as their own", total, len(plan.Changes))
	}
	if _, ok := svc.ScopeWorkspace(snap, plan, "stage"); ok {
		t.Error("a scope of a workspace the load does not have")
	}

	inv := WorkspacesInventory(snap, svc.Config(), svc.Now())
	seen := map[string]bool{}
	byWS := map[string]int{}
	for i, c := range inv {
		byWS[c.Workspace]++
		if !isTokenKind(c.Kind) {
			if seen[string(c.Kind)+c.ID] {
				t.Errorf("%s %s listed twice", c.Kind, c.ID)
			}
			seen[string(c.Kind)+c.ID] = true
		}
		if i > 0 && inv[i-1].Age < c.Age {
			t.Errorf("inventory not oldest first at %d", i)
		}
	}
	if byWS["prod"] == 0 || byWS["dev"] == 0 || len(byWS) != 2 {
		t.Errorf("inventory by workspace = %v", byWS)
	}
}

// TestInWorkspace: a write goes to the named workspace's own service; a
// service of one workspace is its own.
func TestInWorkspace(t *testing.T) {
	tw := newTwoWorkspaces(t)
	svc := tw.service(t)
	dev, err := svc.InWorkspace("dev")
	if err != nil || dev == svc || len(dev.parts) != 0 || dev.Config().Databricks.Workspace != "dev" {
		t.Fatalf("InWorkspace(dev) = %v, %v", dev, err)
	}
	for _, bad := range []string{"", "stage"} {
		if _, err := svc.InWorkspace(bad); err == nil || !strings.Contains(err.Error(), "prod, dev") {
			t.Errorf("InWorkspace(%q): %v", bad, err)
		}
	}
	_, _, one := tw.part(t, "prod")
	if got, err := one.InWorkspace(""); err != nil || got != one {
		t.Errorf("one workspace, InWorkspace(\"\") = %v, %v", got, err)
	}
	if got, err := one.InWorkspace("prod"); err != nil || got != one {
		t.Errorf("one workspace, InWorkspace(prod) = %v, %v", got, err)
	}
	if _, err := one.InWorkspace("dev"); err == nil {
		t.Error("one workspace served dev")
	}
}
