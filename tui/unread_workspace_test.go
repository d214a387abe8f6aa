package tui

import (
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
)

// TestRefreshWithAWorkspaceDownKeepsIt: prod is shown, prod goes down, R
// reloads: prod stays shown, every view saying it could not be read, and
// the status says so; prod stays in the switcher and the header's count,
// marked unread, the banner names it and why, and a view that would be
// empty says prod could not be read. (One reload: a workspace down takes
// the SDK's retry budget to be given up.)
func TestRefreshWithAWorkspaceDownKeepsIt(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	m := pick(t, loaded(t, e.b, 120, 34, false), emulator.DemoWorkspace)
	e.down[emulator.DemoWorkspace].Store(true)
	m = keys(t, m, "R")
	if m.d == nil || len(m.last.snap.Unread) != 1 {
		t.Fatalf("the reload with prod down read %v, unread %v", m.d != nil, m.last.snap.Unread)
	}
	if m.scope != emulator.DemoWorkspace || !strings.Contains(m.status, "workspace prod could not be read: nothing of it is shown; R retries") ||
		!strings.Contains(viewOf[*credentialsView](t, m).View(), "workspace prod could not be read: workspace prod (") {
		t.Errorf("after the reload: scope %q, status %q", m.scope, m.status)
	}
	m = pick(t, m, emulator.DemoDevWorkspace)
	banner := m.problemsBanner()
	if !strings.Contains(banner, "workspace prod could not be read: workspace prod (") || !strings.Contains(banner, "HTTP 500") {
		t.Errorf("the banner does not name prod and why:\n%s", banner)
	}
	m = keys(t, m, "w")
	v := m.View()
	if m.modal != modalPicker || strings.Index(m.picker.View(), " prod            ") > strings.Index(m.picker.View(), " dev             ") || !strings.Contains(v, "prod            ✗ not read (R retries)") ||
		!strings.Contains(v, "changes in one plan; prod unread") {
		t.Fatalf("the switcher does not list prod as not read:\n%s", v)
	}
	m = keys(t, m, "esc")
	m = keys(t, m, "w")
	m = keys(t, m, strings.Split("all", "")...)
	m = keys(t, m, "enter")
	if h := m.headerView(); !strings.Contains(h, "all workspaces (2, prod unread)") {
		t.Errorf("the header does not count prod as unread:\n%s", h)
	}
	m = keys(t, m, "4")
	if v := m.View(); !strings.Contains(v, "workspace prod could not be read") || strings.Contains(v, "no pipeline bindings in the config") {
		t.Errorf("Pipelines does not say prod could not be read:\n%s", v)
	}
	// prod answers again: R shows it read, and no line says it is not.
	m = pick(t, m, emulator.DemoWorkspace)
	e.down[emulator.DemoWorkspace].Store(false)
	m = keys(t, m, "R")
	if v := m.View(); m.d.ws.why != "" || len(m.d.plan.Changes) == 0 || strings.Contains(v, "could not be read") || !strings.Contains(m.status, "workspace prod read again") {
		t.Errorf("prod read again: status %q\n%s", m.status, v)
	}
}
