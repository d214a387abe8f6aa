package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
)

// TestAuditFollowsTheScope: with several workspaces the Audit view names
// the workspaces each line wrote to in a column of its own (at 120 and at
// 80 columns); in dev's scope it lists dev's lines only and says how many
// of the others it hides, and all workspaces list every line.
func TestAuditFollowsTheScope(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	// Lines of both: alice's credentials revoked in prod and dev, and a
	// re-map that applies in both.
	m := onAliceIn(t, loaded(t, e.b, 120, 34, false), emulator.DemoWorkspace)
	m = keys(t, m, "X")
	m = keys(t, m, strings.Split("alice@acme.com", "")...)
	m = keys(t, m, "enter", "esc", "1", "/", "m", "l", "enter", "m")
	m = keys(t, m, strings.Split("platform-eng", "")...)
	m = keys(t, m, "enter", "y")
	if !strings.Contains(m.status, "ml now maps to platform-eng") {
		t.Fatalf("the re-map: %q", m.status)
	}
	evs, err := e.svc.Audit(-1)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string // intents included, as the view lists them
	for _, ev := range evs {
		lines = append(lines, ev.Action+" "+ev.Target+" "+ev.Result)
	}
	t.Logf("audit log:\n%s", strings.Join(lines, "\n"))
	prod, dev := 0, 0
	for _, l := range lines {
		if strings.Contains(l, "workspace:prod") || strings.Contains(l, "workspaces:prod,dev") {
			prod++
		}
		if strings.Contains(l, "workspace:dev") || strings.Contains(l, "workspaces:prod,dev") {
			dev++
		}
	}
	for _, size := range [][2]int{{120, 34}, {80, 24}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := send(t, m, tea.WindowSizeMsg{Width: size[0], Height: size[1]})
			m = keys(t, m, "6")
			v := viewOf[*auditView](t, m)
			if n := len(v.table.Items()); n != len(lines) {
				t.Errorf("all workspaces list %d audit lines of %d", n, len(lines))
			}
			if s := v.View(); !strings.Contains(s, "workspace") || !strings.Contains(s, " prod ") || !strings.Contains(s, " dev ") || !strings.Contains(s, "prod,dev") {
				t.Errorf("all workspaces' audit lines do not name their workspaces:\n%s", s)
			}
			m = pick(t, m, emulator.DemoDevWorkspace)
			v = viewOf[*auditView](t, m)
			for _, ev := range v.table.Items() {
				if !strings.Contains(ev.Target, "workspace:dev") && !strings.Contains(ev.Target, "workspaces:prod,dev") {
					t.Errorf("dev's audit lists %s %s", ev.Action, ev.Target)
				}
			}
			if n := len(v.table.Items()); n != dev || dev == 0 || dev == len(lines) {
				t.Errorf("dev's audit lists %d lines; %d of %d name dev", n, dev, len(lines))
			}
			if s := flat(v.View()); !strings.Contains(s, fmt.Sprintf("Audit log · workspace dev · 1/%d · %d other workspaces' lines hidden (w)", dev, len(lines)-dev)) {
				t.Errorf("dev's audit title:\n%s", v.View())
			}
			golden.RequireEqual(t, screen(m))
			m = pick(t, m, emulator.DemoWorkspace)
			if n := len(viewOf[*auditView](t, m).table.Items()); n != prod {
				t.Errorf("prod's audit lists %d lines; %d name prod", n, prod)
			}
			m = keys(t, m, "w", "a", "l", "l", "enter")
		})
	}
}
