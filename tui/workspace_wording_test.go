package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/emulator"
	tea "github.com/charmbracelet/bubbletea"
)

// TestWorkspaceWording reads what the console prints over two workspaces
// where a count or a command could mislead: the switcher's counts (an
// account group's change counted in each workspace it reaches), the 80x24
// Mappings detail in all workspaces, a principal's credentials in all
// workspaces, a change another workspace planned shown in dev, and the
// leak dialog of a token created just now and of a protected owner in dev.
func TestWorkspaceWording(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	admin := e.tokensIn(emulator.DemoDevWorkspace, "admin@acme.com")[0]
	var fresh *emulator.DBToken
	e.org.InWorkspace(emulator.DemoDevWorkspace, func(*emulator.DatabricksState) {
		fresh = e.org.AddToken(emulator.DBToken{OwnerID: admin.OwnerID, Comment: "fresh", Created: testNow, Expiry: testNow.Add(24 * time.Hour)})
	})
	m := loaded(t, e.b, 120, 34, false)

	// L2: the switcher says which changes each workspace counts that the
	// one plan holds once.
	if v := keys(t, m, "w").View(); !strings.Contains(v, "45 changes (2 account-wide)") || !strings.Contains(v, "75 changes, account-wide once") {
		t.Errorf("the switcher does not say the account-wide changes are counted in each workspace:\n%s", v)
	}

	// The help says what X and an account-wide write cover.
	if h := m.helpText(); !strings.Contains(h, "in all workspaces, the owner's credentials in every workspace read") || !strings.Contains(h, "one write for every workspace") {
		t.Errorf("the help does not say what X and account-wide writes cover:\n%s", h)
	}

	// L6: at 80x24 the Mappings detail of a workspace's own group in all
	// workspaces says what it is, uncut.
	small := send(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	if v := flat(keys(t, small, "1").View()); !strings.Contains(v, "de-team (a workspace group of its own in each of workspaces prod and dev: members listed by workspace, counts over all; w shows one)") {
		t.Errorf("the 80x24 detail of de-team in all workspaces:\n%s", keys(t, small, "1").View())
	}

	// L8: alice's credentials in all workspaces each name where they are,
	// her Atlassian token included.
	for _, r := range m.d.principal {
		if r.Name != "alice@acme.com" {
			continue
		}
		_, body := viewOf[*principalsView](t, m).principalDetail(r)
		for _, want := range []string{"\n  prod      ", "\n  dev       ", "Also holds 1 Atlassian API token (revoked in admin.atlassian.com, not here):\n  Atlassian "} {
			if !strings.Contains(body, want) {
				t.Errorf("alice's detail in all workspaces lacks %q:\n%s", want, body)
			}
		}
	}

	// L9: in dev, an account group's change prod planned says so.
	dev := pick(t, m, emulator.DemoDevWorkspace)
	dev = keys(t, dev, "5")
	dev = filterPlan(t, dev, "gus@")
	if v := viewOf[*planView](t, dev).View(); !strings.Contains(v, "by prod, account-wide: ") {
		t.Errorf("dev's plan does not say gus's removal is account-wide and prod's:\n%s", v)
	}
	if _, body, _ := viewOf[*planView](t, dev).Detail(); !strings.Contains(flat(body), "shown in dev because its members' access there depends on it too") {
		t.Errorf("the detail of gus's removal in dev:\n%s", body)
	}

	// L5, L7: the leak dialog of admin's dev token made just now.
	m = keys(t, m, "!")
	m = send(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(fresh.Value), Paste: true})
	m = keys(t, m, "enter")
	v := flat(m.View())
	for _, want := range []string{"Revoke the leaked token of admin@acme.com in workspace dev?", "pat, created just now",
		"`bitbricks revoke --owner admin@acme.com --workspace dev --force` revokes the rest"} {
		if m.modal != modalConfirm || !strings.Contains(v, want) {
			t.Errorf("the leak dialog lacks %q:\n%s", want, m.View())
		}
	}
	if strings.Contains(v, "now ago") {
		t.Errorf("the leak dialog says \"now ago\":\n%s", m.View())
	}
}
