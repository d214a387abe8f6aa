package tui

import (
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
	"github.com/bitbricks/bitbricks/sync"
)

// TestAccountWideWritesAreConfirmedAsSuch: with several workspaces, an
// OAuth secret's revocation, a federation and an account group's
// membership change are the account's: their confirmations say
// "account-wide (all workspaces)", not one workspace.
func TestAccountWideWritesAreConfirmedAsSuch(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	m := loaded(t, e.b, 120, 34, false)

	// x on an OAuth secret.
	m = keys(t, m, "3", "/")
	m = keys(t, m, strings.Split("secret", "")...)
	m = keys(t, m, "enter")
	c, ok := viewOf[*credentialsView](t, m).table.Selected()
	if !ok || c.Kind != sync.CredentialOAuthSecret {
		t.Fatalf("the first credential matching secret is %v (%s)", ok, c.Kind)
	}
	m = keys(t, m, "x")
	v := flat(m.View())
	if m.modal != modalConfirm || !strings.Contains(v, "of "+c.Owner+", account-wide (all workspaces)?") ||
		!strings.Contains(v, "An OAuth secret is the account's") || strings.Contains(v, "in workspace "+c.Workspace+"?") {
		t.Errorf("the secret's revocation is not confirmed as the account's:\n%s", m.View())
	}
	m = keys(t, m, "esc", "esc")

	// f on etl-prod: the policy is the service principal's.
	m = keys(t, m, "4", "/")
	m = keys(t, m, strings.Split("etl-prod", "")...)
	m = keys(t, m, "enter", "f")
	v = flat(m.View())
	if m.modal != modalConfirm || !strings.Contains(v, "Federate etl-prod, account-wide (all workspaces)? (phase 1)") ||
		!strings.Contains(v, "is assigned to (prod, dev), not only at prod") {
		t.Errorf("the federation is not confirmed as account-wide:\n%s", m.View())
	}
	m = keys(t, m, "esc", "esc")

	// An account group's membership change, applied from dev's scope.
	m = pick(t, m, emulator.DemoDevWorkspace)
	m = keys(t, m, "5", "t")
	var shared sync.Change
	for _, ch := range m.d.plan.Changes {
		if ch.GroupKind == sync.KindAccount && ch.Action == sync.ActionAddMember {
			shared = ch
			break
		}
	}
	if shared.ID == "" {
		t.Fatal("dev's plan has no account group membership change")
	}
	m = filterPlan(t, m, shared.Principal)
	for i := 0; ; i++ {
		if c, ok := viewOf[*planView](t, m).changes.Selected(); ok && c.ID == shared.ID {
			break
		}
		if i > 20 {
			t.Fatalf("%s is not in the filtered list", shared.ID)
		}
		m = keys(t, m, "j")
	}
	m = keys(t, m, " ", "a")
	v = flat(m.View())
	if m.modal != modalConfirm || !strings.Contains(v, "Apply 1 change account-wide (all workspaces)?") || strings.Contains(v, "in workspace prod") {
		t.Errorf("%s is not confirmed as account-wide:\n%s", shared.ID, m.View())
	}
	if st := e.srv.Stats(); st.WorkspaceWrites[emulator.DemoWorkspace] != 0 || st.WorkspaceWrites[emulator.DemoDevWorkspace] != 0 {
		t.Errorf("nothing confirmed, yet writes %v", st.WorkspaceWrites)
	}
}
