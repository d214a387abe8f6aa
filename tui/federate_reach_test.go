package tui

import (
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/charmbracelet/x/exp/teatest"
)

// TestFederateWarnsOfOtherWorkspaces: etl-deployer is assigned to prod and
// dev; the confirmation of phase 1 for etl-prod says its policy (the
// service principal's, naming no workspace) reaches dev too.
func TestFederateWarnsOfOtherWorkspaces(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	var r recorder
	tm := teatest.NewTestModel(t, NewModel(e.b, testOptions(false)), teatest.WithInitialTermSize(160, 40))
	r.waitFor(t, tm, "all workspaces (2)")
	press(tm, "4")
	r.waitFor(t, tm, "etl-prod")
	press(tm, "f")
	r.waitFor(t, tm, "Federate etl-prod, account-wide (all workspaces)? (phase 1)", "also assigned to workspace(s) dev", "confirming federates anyway")
	press(tm, "n")
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	tm.WaitFinished(t, teatest.WithFinalTimeout(patience(t)))
	if st := e.srv.Stats(); st.WorkspaceWrites[emulator.DemoWorkspace] != 0 || st.WorkspaceWrites["account"] != 0 {
		t.Errorf("declined, yet writes %v", st.WorkspaceWrites)
	}
}
