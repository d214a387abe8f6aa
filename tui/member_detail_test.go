package tui

import (
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
	"github.com/bitbricks/bitbricks/sync"
)

// A member in sync with the group whom the plan still assigns to the
// workspace is not told "nothing changes": in dev, platform-eng's members
// who cannot reach dev have their assign_workspace named instead.
func TestMemberInSyncWithAPlannedAssignment(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	m := pick(t, loaded(t, e.b, 200, 50, false), emulator.DemoDevWorkspace)
	v := viewOf[*mappingsView](t, m)
	seen := 0
	for _, g := range m.d.groups {
		if g.Target != "platform-eng" {
			continue
		}
		for _, row := range m.d.membersOf(g) {
			if row.Mark != markInSync || row.Status.Reason != sync.ReasonAssignWorkspace {
				continue
			}
			seen++
			text := v.memberDetail(g, row)
			if strings.Contains(text, "nothing changes") || !strings.Contains(text, "assign") {
				t.Errorf("%s: %s", row.Name, text)
			}
		}
	}
	if seen == 0 {
		t.Fatal("dev's platform-eng has no member in sync with a planned change: the case is gone from the demo")
	}
}
