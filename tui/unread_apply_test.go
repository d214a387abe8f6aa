package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
	"github.com/bitbricks/bitbricks/sync"
	"github.com/charmbracelet/x/exp/golden"
)

// TestApplyInAllWithAWorkspaceUnread: dev closes every connection. In all
// workspaces, a (every change of prod, account-wide ones included) is
// refused as `sync --apply` refuses it, in one line pointing to prod's
// scope, and nothing is written. In prod's scope the confirmation says dev
// was not read and is not included, and that the account-wide changes are
// made without it (a run of prod alone, as `--workspace prod`); confirmed,
// it writes to prod and the account, never to dev.
func TestApplyInAllWithAWorkspaceUnread(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	e.drop[emulator.DemoDevWorkspace].Store(true)
	for _, size := range [][2]int{{120, 34}, {80, 24}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := loaded(t, e.b, size[0], size[1], false)
			if h := m.headerView(); !strings.Contains(h, "all workspaces (2, dev unread)") {
				t.Fatalf("dev is not unread:\n%s", h)
			}
			e.srv.ResetStats()
			m = keys(t, m, "5", "a")
			if m.modal != modalNone || m.statusK != statusError {
				t.Fatalf("a in all workspaces with dev unread opened a dialog:\n%s", m.View())
			}
			for _, want := range []string{"refused, dev not read: w prod applies prod alone; nothing was applied: a run over several workspaces does not write from a partial read", "R retries dev"} {
				if !strings.Contains(m.status, want) {
					t.Errorf("the refusal does not say %q: %q", want, m.status)
				}
			}
			if strings.Contains(m.status, "--workspace") || strings.Contains(m.status, "\n") {
				t.Errorf("the refusal is not one line of the console's: %q", m.status)
			}
			t.Run("all", func(t *testing.T) { golden.RequireEqual(t, screen(m)) })
			m = pick(t, m, emulator.DemoWorkspace)
			m = keys(t, m, "5", "a")
			v := flat(m.View())
			if m.modal != modalConfirm {
				t.Fatalf("a in prod's scope opened no confirmation (status %q):\n%s", m.status, m.View())
			}
			for _, want := range []string{
				"workspace dev was not read: its changes are not included, and this applies in workspace prod alone",
				"account-wide changes (an account group's membership, shared by workspace dev too) are made without it",
				"remove_member platform-eng gus@acme.com",
			} {
				if !strings.Contains(v, want) && (size[0] > 80 || !strings.Contains(want, "gus")) { // 80x24 shows the list's first lines
					t.Errorf("the confirmation does not say %q:\n%s", want, m.View())
				}
			}
			t.Run("prod", func(t *testing.T) { golden.RequireEqual(t, screen(m)) })
			if st := e.srv.Stats(); len(st.WorkspaceWrites) != 0 {
				t.Errorf("writes before a confirmation: %v", st.WorkspaceWrites)
			}
		})
	}
	m := pick(t, loaded(t, e.b, 120, 34, false), emulator.DemoWorkspace)
	account := 0
	for _, c := range m.d.plan.Changes {
		if c.GroupKind == sync.KindAccount && (c.Action == sync.ActionAddMember || c.Action == sync.ActionRemoveMember) {
			account++
		}
	}
	if account == 0 {
		t.Fatal("prod's plan has no account-wide change; the test needs one")
	}
	e.srv.ResetStats()
	m = keys(t, m, "5", "a")
	m = keys(t, m, strings.Split("prod", "")...)
	m = keys(t, m, "enter")
	st := e.srv.Stats()
	t.Logf("status %q; writes per workspace %v", m.status, st.WorkspaceWrites)
	if st.WorkspaceWrites[emulator.DemoDevWorkspace] != 0 || st.WorkspaceWrites[emulator.DemoWorkspace] == 0 || st.WorkspaceWrites["account"] == 0 {
		t.Errorf("writes per workspace = %v, want prod's and the account's", st.WorkspaceWrites)
	}
	if !strings.Contains(m.status, "applied") {
		t.Errorf("status after the apply: %q", m.status)
	}
}
