package tui

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
	"github.com/bitbricks/bitbricks/sync"
	"github.com/charmbracelet/x/exp/golden"
)

// TestAccountWideChangesFromDevScope: in dev's scope, a applies dev's
// changes and the account-wide ones prod planned. The confirmation says
// those are written once, through prod (its lock, its name in the audit
// log), and asks for dev's name only; after the apply, dev's Audit view
// shows the account-wide lines as "account", none hidden as another
// workspace's, and the detail of one prod wrote says it is account-wide,
// written through prod.
func TestAccountWideChangesFromDevScope(t *testing.T) {
	for _, size := range [][2]int{{120, 34}, {80, 24}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			e := newTwoWorkspaceEnv(t)
			m := pick(t, loaded(t, e.b, size[0], size[1], false), emulator.DemoDevWorkspace)
			m = keys(t, m, "5", "a")
			v := flat(m.View())
			if m.modal != modalConfirm {
				t.Fatalf("a in dev's scope opened no confirmation (status %q)", m.status)
			}
			for _, want := range []string{
				"in workspace dev and account-wide (all workspaces)?",
				"account-wide changes (an account group's membership, the same in every workspace) are written once, through workspace prod, which planned them",
				"Type dev to confirm",
			} {
				if !strings.Contains(v, want) {
					t.Errorf("the confirmation does not say %q:\n%s", want, m.View())
				}
			}
			t.Run("confirm", func(t *testing.T) { golden.RequireEqual(t, screen(m)) })
			m = keys(t, m, "d", "e", "v", "enter")
			if !strings.Contains(m.status, "applied") {
				t.Fatalf("status after the apply: %q", m.status)
			}
			m = keys(t, m, "6")
			av := viewOf[*auditView](t, m)
			account := 0
			for _, ev := range av.table.Items() {
				if ev.Account {
					account++
					if !strings.Contains(auditWhere(ev), "account") {
						t.Errorf("an account-wide line's workspace column reads %q", auditWhere(ev))
					}
				}
			}
			if account == 0 || av.hidden != 0 {
				t.Errorf("dev's Audit view: %d account-wide lines shown, %d hidden as another workspace's:\n%s", account, av.hidden, m.View())
			}
			for i := 0; i < len(av.table.Items()); i++ {
				if ev, ok := av.table.Selected(); ok && ev.Account && strings.Join(ev.Workspaces, ",") == emulator.DemoWorkspace {
					break
				}
				m = keys(t, m, "j")
			}
			_, detail, _ := av.Detail()
			if !strings.Contains(detail, "Workspace: account-wide: an account group's membership, the same in every workspace (written through prod)") ||
				!strings.Contains(detail, "Time:      ") {
				t.Errorf("the detail of an account-wide line:\n%s", detail)
			}
			// The operator's OS user is this machine's.
			who := []byte(sync.CurrentOperator("").OSUser + " as ")
			t.Run("audit", func(t *testing.T) { golden.RequireEqual(t, bytes.ReplaceAll(screen(m), who, []byte("USER as "))) })
			t.Run("detail", func(t *testing.T) {
				golden.RequireEqual(t, bytes.ReplaceAll(screen(keys(t, m, "enter")), who, []byte("USER as ")))
			})
		})
	}
}
