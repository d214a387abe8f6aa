package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
)

// TestStartWithAWorkspaceDown: the console starts while prod answers
// nothing but HTTP 500. dev is loaded and shown; the header counts prod
// as unread and the banner names it. Choosing prod in the switcher opens
// its scope: every view says prod could not be read and why, the header
// makes up no count, and nothing can be applied there.
func TestStartWithAWorkspaceDown(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	e.down[emulator.DemoWorkspace].Store(true)
	m := loaded(t, e.b, 120, 34, false)
	if m.d == nil {
		t.Fatalf("nothing loaded with prod down:\n%s", m.View())
	}
	if h := m.headerView(); !strings.Contains(h, "all workspaces (2, prod unread)") || !strings.Contains(h, "workspace prod could not be read: workspace prod (") {
		t.Errorf("the header does not name prod as unread:\n%s", h)
	}
	devChanges := 0
	for _, c := range m.d.plan.Changes {
		if c.Workspace != emulator.DemoDevWorkspace {
			t.Errorf("with prod unread the plan holds %s", c.ID)
		}
		devChanges++
	}
	if devChanges == 0 {
		t.Error("dev's changes are not loaded")
	}
	for _, size := range [][2]int{{120, 34}, {80, 24}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := send(t, m, tea.WindowSizeMsg{Width: size[0], Height: size[1]})
			m = keys(t, m, "w")
			m = keys(t, m, strings.Split("prod", "")...)
			m = keys(t, m, "enter")
			if m.scope != emulator.DemoWorkspace {
				t.Fatalf("choosing prod: scope %q, status %q", m.scope, m.status)
			}
			if h := m.headerView(); strings.Contains(h, "drift") || strings.Contains(h, "over age") || !strings.Contains(h, "not read") {
				t.Errorf("the header of unread prod:\n%s", h)
			}
			for _, tab := range []string{"2", "3", "4", "5"} { // a title counts nothing not read
				if title := strings.Split(keys(t, m, tab).View(), "\n")[3]; !strings.Contains(title, "not read") || strings.Contains(title, "· 0") {
					t.Errorf("view %s of unread prod is titled %q", tab, title)
				}
			}
			for _, tab := range []string{"1", "2", "3", "4", "5"} {
				v := flat(keys(t, m, tab).View())
				if !strings.Contains(v, "workspace prod could not be read: workspace prod (") || !strings.Contains(v, "HTTP 500") {
					t.Errorf("view %s of unread prod does not say why it is empty:\n%s", tab, keys(t, m, tab).View())
				}
			}
			m = keys(t, m, "5")
			if len(m.d.plan.Changes) != 0 || viewOf[*planView](t, m).keys.Apply.Enabled() {
				t.Errorf("unread prod shows %d changes; apply enabled %v", len(m.d.plan.Changes), viewOf[*planView](t, m).keys.Apply.Enabled())
			}
			golden.RequireEqual(t, screen(m))
			m = keys(t, m, "a", "3", "x", "X", "1", "m", "4", "r", "f")
			if m.modal != modalNone {
				t.Errorf("a key in unread prod opened a dialog:\n%s", m.View())
			}
		})
	}
}

// TestStartWithAWorkspaceUnreachable: the console starts while prod closes
// every connection unanswered: dev is loaded and shown, and prod is named
// as unreachable, an outage, not a credential problem.
func TestStartWithAWorkspaceUnreachable(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	e.drop[emulator.DemoWorkspace].Store(true)
	m := loaded(t, e.b, 120, 34, false)
	if m.d == nil {
		t.Fatalf("nothing loaded with prod unreachable:\n%s", m.View())
	}
	h := m.headerView()
	t.Logf("header:\n%s", h)
	if !strings.Contains(h, "all workspaces (2, prod unread)") || !strings.Contains(h, "workspace prod could not be read: workspace prod (") ||
		strings.Contains(h, "check DATABRICKS_TOKEN") {
		t.Errorf("the header does not name prod as unread:\n%s", h)
	}
	if len(m.d.plan.Changes) == 0 || len(m.d.inv) == 0 {
		t.Errorf("dev's part is not shown: %d changes, %d credentials", len(m.d.plan.Changes), len(m.d.inv))
	}
	m = pick(t, m, emulator.DemoWorkspace)
	if v := flat(keys(t, m, "3").View()); !strings.Contains(v, "an outage there, not a credential problem") {
		t.Errorf("prod's credentials do not say it is an outage:\n%s", keys(t, m, "3").View())
	}
}
