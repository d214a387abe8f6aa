package tui

import (
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
)

// TestApplyUnassignBringsItsRemoval: in prod, applying eve's
// unassign_workspace on its own brings the removal from de-team it exists
// for; the confirmation says so, and both are applied, the removal first.
func TestApplyUnassignBringsItsRemoval(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	m := pick(t, loaded(t, e.b, 120, 34, false), emulator.DemoWorkspace)
	m = keys(t, m, "5", "t", "/")
	m = keys(t, m, strings.Split("unassign", "")...)
	m = keys(t, m, "enter", " ", "a")
	v := m.View()
	if m.modal != modalConfirm || !strings.Contains(v, "Apply 2 changes in workspace prod?") ||
		!strings.Contains(v, "Includes what it depends on: remove_member de-team eve@acme.com.") || !strings.Contains(v, "unassign_workspace") {
		t.Fatalf("the confirmation does not bring eve's removal:\n%s", v)
	}
	m = keys(t, m, strings.Split("prod", "")...)
	m = keys(t, m, "enter")
	if !strings.Contains(m.status, "applied 2 changes") {
		t.Errorf("status: %q", m.status)
	}
	got := e.audit(t)
	want := []string{"remove_member group:de-team user:eve@acme.com workspace:prod applied", "unassign_workspace workspace:prod user:eve@acme.com applied"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
