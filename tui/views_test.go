package tui

import (
	"fmt"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
)

// TestViewGoldens renders every view at the sizes that matter: 80x24 and 200x60 must
// read well, 60x20 must still be legible.
func TestViewGoldens(t *testing.T) {
	views := []struct {
		name  string
		keys  []string
		setup func(*fixtureBackend)
	}{
		{"mappings-members", []string{"1", "tab", "j"}, nil},
		{"principals", []string{"2"}, nil},
		{"credentials", []string{"3", "j", "j"}, nil},
		{"credentials-by-owner", []string{"3", "s", "/", "a", "l", "enter"}, nil},
		{"pipelines", []string{"4"}, nil},
		{"plan", []string{"5", "j", " "}, nil},
		{"help", []string{"3", "?"}, nil},
		{"confirm-apply", []string{"5", "a"}, nil},
		{"remap-picker", []string{"1", "m"}, nil},
		{"leaked-input", []string{"!", "d", "a", "p", "i"}, nil},
		{"audit", []string{"6"}, func(b *fixtureBackend) {
			b.event("add_member", "add_member/de-team/bob@acme.com", nil)
			b.event("revoke_token", "tok-hal-old", fmt.Errorf("PERMISSION_DENIED: not an admin"))
			b.event("remap", "mappings[0] -> platform-eng", nil)
		}},
	}
	for _, size := range [][2]int{{80, 24}, {200, 60}, {60, 20}} {
		for _, v := range views {
			t.Run(fmt.Sprintf("%dx%d/%s", size[0], size[1], v.name), func(t *testing.T) {
				b := newFixture(t)
				if v.setup != nil {
					v.setup(b)
				}
				m := keys(t, loaded(t, b, size[0], size[1], false), v.keys...)
				golden.RequireEqual(t, []byte(m.View()))
			})
		}
	}
}

// TestDetailPaneGoldens renders the detail pane enter opens in every view, at
// the two sizes that matter: nothing that matters is cut without a way to read it.
func TestDetailPaneGoldens(t *testing.T) {
	panes := []struct {
		name string
		keys []string
	}{
		{"mappings-group", []string{"1", "j", "j", "j", "enter"}},
		{"mappings-member", []string{"1", "tab", "j", "enter"}},
		{"principals", []string{"2", "enter"}},
		{"credentials", []string{"3", "enter"}},
		{"pipelines", []string{"4", "enter"}},
		{"plan-change", []string{"5", "j", "enter"}},
		{"plan-finding", []string{"5", "tab", "enter"}},
		{"audit", []string{"6", "enter"}},
	}
	for _, size := range [][2]int{{80, 24}, {120, 34}} {
		for _, p := range panes {
			t.Run(fmt.Sprintf("%dx%d/%s", size[0], size[1], p.name), func(t *testing.T) {
				b := newFixture(t)
				b.event("revoke_token", "token:tok-hal-old owner:hal@acme.com", fmt.Errorf("PERMISSION_DENIED: the caller is not a workspace admin and cannot revoke tokens of other users"))
				m := keys(t, loaded(t, b, size[0], size[1], false), p.keys...)
				if m.modal != modalPager {
					t.Fatalf("enter opened no detail pane:\n%s", m.View())
				}
				golden.RequireEqual(t, []byte(m.View()))
			})
		}
	}
}

// At 80 columns no view drops the column that says why (the reason, the error,
// the flags, the status) entirely.
func TestEveryViewKeepsItsReasonAt80Columns(t *testing.T) {
	reason := map[string]string{"Principals": "flags", "Credentials": "flags", "Pipelines": "status", "Plan": "reason", "Audit": "error"}
	b := newFixture(t)
	b.event("revoke_token", "token:tok-hal-old owner:hal@acme.com", fmt.Errorf("PERMISSION_DENIED: not an admin"))
	m := loaded(t, b, 80, 24, false)
	for i, v := range m.tabs {
		name, _ := v.Title()
		m = keys(t, m, fmt.Sprint(i+1))
		word, ok := reason[name]
		if !ok {
			continue // Mappings: the note beside each member, tested by its goldens
		}
		if lines := strings.Split(m.View(), "\n"); len(lines) < 4 || !strings.Contains(lines[3], word) {
			t.Errorf("%s at 80 columns has no %q column: %q", name, word, lines[3])
		}
	}
}

// The header's "read N ago" moves with the clock, with no key pressed.
func TestHeaderAgeTicksOnItsOwn(t *testing.T) {
	var mu gosync.Mutex
	now := testNow
	opts := testOptions(false)
	opts.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	opts.TickEvery = 10 * time.Millisecond
	tm := teatest.NewTestModel(t, NewModel(newFixture(t), opts), teatest.WithInitialTermSize(120, 30))
	waitFor(t, tm, "read just now")
	mu.Lock()
	now = now.Add(5 * time.Minute)
	mu.Unlock()
	waitFor(t, tm, "read 5m ago")
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	tm.WaitFinished(t, teatest.WithFinalTimeout(patience(t)))
}

func TestPrincipalsSort(t *testing.T) {
	m := keys(t, loaded(t, newFixture(t), 120, 30, false), "2")
	names := func() []string {
		var out []string
		for _, r := range viewOf[*principalsView](t, m).table.Items() {
			out = append(out, r.Kind+" "+r.Name)
		}
		return out
	}
	byType := names()
	if !slices.IsSortedFunc(viewOf[*principalsView](t, m).table.Items(), principalSorts[0].cmp) || !strings.HasPrefix(byType[0], "user ") {
		t.Errorf("not sorted by type, then name: %q", byType)
	}
	m = keys(t, m, "s", "s") // credentials, most first
	rows := viewOf[*principalsView](t, m).table.Items()
	if rows[0].Creds < rows[len(rows)-1].Creds || !strings.Contains(m.View(), "by credentials ↓") {
		t.Errorf("not sorted by credentials: first %+v, last %+v", rows[0], rows[len(rows)-1])
	}
}

// A status longer than the terminal is cut with a pointer to the help, which
// shows it whole.
func TestLongStatusIsReadableWhole(t *testing.T) {
	m := loaded(t, newFixture(t), 80, 24, false)
	long := "etl-prod rotated: new token 03d0…4fbe for etl-deployer, recorded; revoked 2 older: a8f6…669a, 52ed…294f; left for the next run: one newer credential"
	m.setStatus(statusOK, long)
	if line := m.statusView(); !strings.HasSuffix(line, statusMore) || lipgloss.Width(line) != 80 {
		t.Errorf("status line %q", line)
	}
	m = keys(t, m, "?")
	if m.modal != modalPager || !strings.Contains(m.helpText(), long) {
		t.Errorf("the help does not show the last message whole:\n%s", m.helpText())
	}
}
