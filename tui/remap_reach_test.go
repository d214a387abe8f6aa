package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
	"github.com/charmbracelet/x/exp/golden"
)

// TestRemapNamesItsWorkspaces: a re-map asked in one workspace's scope
// names every workspace whose plan it changes (the mapping names none, so
// all of them), says so in the title, and says the group it points at is
// an account group shared by every workspace.
func TestRemapNamesItsWorkspaces(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	for _, size := range [][2]int{{120, 34}, {80, 24}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := pick(t, loaded(t, e.b, size[0], size[1], false), emulator.DemoDevWorkspace)
			m = keys(t, m, "1", "/", "m", "l", "enter", "m")
			if m.modal != modalPicker {
				t.Fatalf("m opened no picker:\n%s", m.View())
			}
			m = keys(t, m, strings.Split("platform-eng", "")...)
			m = keys(t, m, "enter")
			v := flat(m.View())
			for _, want := range []string{
				"Re-map ml from ml-team to platform-eng in workspaces prod and dev?",
				"Applies in prod, dev: mappings[3] has no workspaces:, so it covers every workspace.",
				"Not only dev, the workspace shown: the plan of prod changes too.",
				"platform-eng is an account group, shared by every workspace (prod, dev)",
			} {
				if m.modal != modalConfirm || !strings.Contains(v, want) {
					t.Errorf("the re-map's confirmation does not say %q:\n%s", want, m.View())
				}
			}
			golden.RequireEqual(t, screen(m))
		})
	}
}
