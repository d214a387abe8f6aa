package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
	"github.com/bitbricks/bitbricks/sync"
	"github.com/charmbracelet/x/exp/golden"
)

// TestAtlassianTokensInAWorkspaceScope: in dev's scope the Atlassian API
// tokens are listed, marked as nobody's workspace, and left out of dev's
// over-age figure in the header; all workspaces count every credential.
func TestAtlassianTokensInAWorkspaceScope(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	for _, size := range [][2]int{{120, 34}, {80, 24}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			all := loaded(t, e.b, size[0], size[1], false)
			total := 0
			for _, c := range all.d.inv {
				if c.Has(sync.FlagOverAge) {
					total++
				}
			}
			if !strings.Contains(all.headerView(), fmt.Sprintf("%d over age", total)) {
				t.Errorf("all workspaces do not count %d over age:\n%s", total, all.headerView())
			}
			m := keys(t, pick(t, all, emulator.DemoDevWorkspace), "3")
			own, atl := 0, 0
			for _, c := range m.d.inv {
				switch {
				case !c.Has(sync.FlagOverAge):
				case c.Kind == sync.CredentialAtlassianToken:
					atl++
				default:
					own++
				}
			}
			if atl == 0 {
				t.Fatal("no Atlassian token over age in dev's scope; the test needs one")
			}
			if h := m.headerView(); !strings.Contains(h, fmt.Sprintf(" %d over age", own)) {
				t.Errorf("dev's header does not count its own %d credentials over age (and not the %d Atlassian):\n%s", own, atl, h)
			}
			if v := m.View(); !strings.Contains(v, "atl: Atlassian's, not in dev's count") {
				t.Errorf("dev's credentials do not say the Atlassian tokens are not dev's:\n%s", v)
			}
			golden.RequireEqual(t, screen(m))
			for i := 0; i < 10; i++ {
				if c, ok := viewOf[*credentialsView](t, m).table.Selected(); ok && c.Kind == sync.CredentialAtlassianToken {
					_, body, _ := viewOf[*credentialsView](t, m).Detail()
					if !strings.Contains(flat(body), "Workspace: none: an Atlassian API token is the organisation's") {
						t.Errorf("an Atlassian token's detail:\n%s", body)
					}
					return
				}
				m = keys(t, m, "j")
			}
			t.Error("no Atlassian token in dev's list")
		})
	}
}
