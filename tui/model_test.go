package tui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views/components"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/term"
)

// enabled returns copies of bs, all enabled: conflicts are checked for the worst case.
func enabled(bs ...[]key.Binding) []key.Binding {
	var out []key.Binding
	for _, list := range bs {
		for _, b := range list {
			b.SetEnabled(true)
			out = append(out, b)
		}
	}
	return out
}

func TestNoTwoBindingsInAScopeShareAKey(t *testing.T) {
	m := loaded(t, newFixture(t), 80, 24, false)
	global := components.Bindings(m.keys)
	scopes := map[string][]key.Binding{
		"confirm": enabled(components.Bindings(components.DefaultConfirmKeyMap())),
		"input":   enabled(components.Bindings(m.inputKeys), components.Bindings(components.DefaultInputKeyMap())),
		"pager":   enabled(components.Bindings(components.DefaultPagerKeyMap())),
	}
	for _, v := range m.tabs { // a view's help lists every key it answers
		name, _ := v.Title()
		help := slices.Concat(v.FullHelp()...)
		scopes[name] = enabled(global, help)
		for _, mk := range v.MutatingKeys() {
			if !slices.ContainsFunc(help, func(b key.Binding) bool { return slices.Equal(b.Keys(), mk.Keys()) }) {
				t.Errorf("%s: the mutating key %q is not in the view's help", name, mk.Keys())
			}
		}
	}
	for name, bs := range scopes {
		if c := components.Conflicts(bs); len(c) > 0 {
			t.Errorf("%s: %q", name, c)
		}
	}
}

func TestHelpFooterListsOnlyEnabledKeys(t *testing.T) {
	for _, ro := range []bool{false, true} {
		m := loaded(t, newFixture(t), 300, 40, ro)
		for _, tb := range []string{"1", "2", "3", "4", "5", "6"} {
			m = keys(t, m, tb)
			for _, pane := range []string{"", "tab"} { // both panes where there are two
				if pane != "" {
					m = keys(t, m, pane)
				}
				footer := m.footerView()
				for _, b := range m.helpKeys().short {
					desc := b.Help().Desc
					if got := strings.Contains(footer, b.Help().Key+" "+desc); got != b.Enabled() {
						t.Errorf("read-only=%v view %s: %q shown=%v, enabled=%v\n%s", ro, tb, desc, got, b.Enabled(), footer)
					}
				}
				if ro {
					for _, word := range []string{"revoke", "re-map", "apply", "rotate", "leaked"} {
						if strings.Contains(footer, word) {
							t.Errorf("read-only view %s offers %q: %s", tb, word, footer)
						}
					}
				}
			}
		}
	}
}

func TestMappingsApplyKeyFollowsTheSelection(t *testing.T) {
	m := loaded(t, newFixture(t), 120, 30, false)
	if viewOf[*mappingsView](t, m).keys.Apply.Enabled() {
		t.Error("apply is enabled with the groups pane focused")
	}
	m = keys(t, m, "tab") // + bob
	if !viewOf[*mappingsView](t, m).keys.Apply.Enabled() {
		t.Error("apply is disabled on a + row")
	}
	m = keys(t, m, "j", "j") // ✓ alice
	if viewOf[*mappingsView](t, m).keys.Apply.Enabled() {
		t.Error("apply is enabled on an in-sync row")
	}
}

func TestStaleLoadIsDropped(t *testing.T) {
	b := newFixture(t)
	m := loaded(t, b, 80, 24, false)
	old := m.loadCmd(1)().(loadedMsg) // generation 1, already applied
	m, _ = m.reload()                 // generation 2 is now the newest
	if !m.loading {
		t.Fatal("reload did not start a load")
	}
	old.snap.Workspace = "stale"
	tm, _ := m.Update(old)
	m = tm.(Model)
	if m.d.snap.Workspace == "stale" || !m.loading {
		t.Error("a stale load replaced the data")
	}
	tm, _ = m.Update(m.loadCmd(m.gen)())
	if m = tm.(Model); m.loading {
		t.Error("the newest load did not finish loading")
	}
	// Answers to old questions are dropped too.
	m = keys(t, m, "3", "x")
	if m.modal != modalConfirm {
		t.Fatal("x did not ask")
	}
	tm, _ = m.Update(components.ConfirmMsg{ID: m.op - 1, Yes: true})
	if m = tm.(Model); m.modal != modalConfirm || m.busy != "" {
		t.Error("an answer to an older question was taken")
	}
}

func TestLoadErrorIsAStatusNotACrash(t *testing.T) {
	b := newFixture(t)
	b.loadErr = &sync.SystemError{System: "databricks", Problem: "authentication failed at https://adb-1234", Check: "DATABRICKS_TOKEN"}
	m := loaded(t, b, 80, 24, false)
	if !strings.Contains(m.View(), "could not load: databricks: authentication failed") || !strings.Contains(m.View(), "press R to retry") {
		t.Errorf("no useful error:\n%s", m.View())
	}
	m = keys(t, m, "3", "x", "j", "5", "a", "m", "1") // nothing loaded: keys do nothing, nothing panics
	b.loadErr = nil
	m = keys(t, m, "R")
	if m.d == nil || strings.Contains(m.statusView(), "could not load") {
		t.Errorf("R did not recover:\n%s", m.View())
	}
}

func TestEveryViewFitsTheTerminal(t *testing.T) {
	m := loaded(t, newFixture(t), 80, 24, false)
	for _, size := range [][2]int{{80, 24}, {200, 60}, {60, 20}, {40, 12}, {120, 30}} {
		m = send(t, m, tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		for _, k := range []string{"1", "tab", "2", "3", "4", "5", "6", "?", "1", "?", "m"} {
			m = keys(t, m, k)
			v := m.View()
			lines := strings.Split(v, "\n")
			if len(lines) != size[1] {
				t.Errorf("%dx%d after %q: %d lines", size[0], size[1], k, len(lines))
			}
			for i, l := range lines {
				if w := lipgloss.Width(l); w > size[0] {
					t.Errorf("%dx%d after %q: line %d is %d wide: %q", size[0], size[1], k, i, w, l)
				}
			}
		}
		m = keys(t, m, "esc")
	}
}

func TestLogsGoToTheLogWriter(t *testing.T) {
	var log bytes.Buffer
	opts := testOptions(false)
	opts.LogWriter = &log
	m := NewModel(newFixture(t), opts)
	m = send(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	m = send(t, m, m.loadCmd(1)())
	keys(t, m, "3", "j", "x", "n") // the second row: the first is the protected admin's
	if !strings.Contains(log.String(), "cancelled") {
		t.Errorf("the log lacks the status: %q", log.String())
	}
}

func TestRunNeedsATerminal(t *testing.T) {
	if term.IsTerminal(os.Stdin.Fd()) && term.IsTerminal(os.Stdout.Fd()) {
		t.Skip("running on a terminal")
	}
	err := Run(context.Background(), newFixture(t), testOptions(false))
	if !errors.Is(err, ErrNoTerminal) || strings.Contains(err.Error(), "\n") {
		t.Errorf("Run without a terminal: %v", err)
	}
}

// BenchmarkCredentialsKeyPress is one key press (Update and View) in the Credentials
// view holding 30,000 tokens.
func BenchmarkCredentialsKeyPress(b *testing.B) {
	fb := newFixture(b)
	owners := 3000
	for i := range owners {
		id := fmt.Sprintf("u-bench-%d", i)
		fb.snap.Users[id] = &sync.User{ID: id, UserName: fmt.Sprintf("user%04d@acme.com", i), Active: true, Assigned: true}
	}
	fb.snap.Credentials = fb.snap.Credentials[:0]
	for i := range 30000 {
		o := i % owners
		fb.snap.Credentials = append(fb.snap.Credentials, sync.Credential{
			ID: fmt.Sprintf("%032x", i), Kind: sync.CredentialPAT, OwnerID: fmt.Sprintf("u-bench-%d", o),
			Owner: fmt.Sprintf("user%04d@acme.com", o), OwnerType: sync.PrincipalUser, Comment: fmt.Sprintf("token %d", i),
			Created: testNow.Add(-time.Duration(i%400) * 24 * time.Hour), LastUsed: testNow.Add(-time.Duration(i%30) * time.Hour),
		})
	}
	m := loaded(b, fb, 200, 60, false)
	m = keys(b, m, "3")
	if n := viewOf[*credentialsView](b, m).table.Len(); n != 30000 {
		b.Fatalf("the view holds %d credentials", n)
	}
	down, top := keyMsg("j"), keyMsg("g")
	var tm tea.Model = m
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := down
		if i%29999 == 29998 {
			k = top
		}
		tm, _ = tm.Update(k)
		_ = tm.View()
	}
}

// panicky is a backend with a bug.
type panicky struct{ *fixtureBackend }

func (panicky) Revoke(context.Context, []sync.Credential) (sync.Revocation, error) { panic("nil map") }

func TestBackendPanicIsAnError(t *testing.T) {
	m := loaded(t, panicky{newFixture(t)}, 80, 24, false)
	m = keys(t, m, "3", "j", "x", "y") // the second row: the first is the protected admin's
	if s := m.statusView(); !strings.Contains(s, "internal error: nil map") {
		t.Errorf("status after a panicking revoke: %q", s)
	}
}

// An owner-wide revocation always asks for a typed name: when the owner's name is
// unresolved, its id; y alone never answers it.
func TestOwnerWideRevokeOfUnresolvedOwnerNeedsTheID(t *testing.T) {
	b := newFixture(t)
	b.snap.Credentials = append(b.snap.Credentials, sync.Credential{ID: "tok-ghost-1", Kind: sync.CredentialPAT, OwnerID: "u-ghost",
		OwnerType: sync.PrincipalUser, Comment: "orphan", Created: ago(30), Expiry: in(30)})
	m := loaded(t, b, 100, 30, false)
	m = keys(t, m, append(append([]string{"3", "/"}, strings.Split("tok-ghost", "")...), "enter", "X")...)
	if m.modal != modalConfirm {
		t.Fatalf("no confirmation; status %q", m.status)
	}
	if v := m.View(); !strings.Contains(v, "Type u-ghost to confirm") || !strings.Contains(v, "owner u-ghost (name unresolved)") {
		t.Fatalf("the owner-wide confirmation does not ask for the owner's id:\n%s", v)
	}
	m = keys(t, m, "y")
	if m.modal != modalConfirm || m.busy != "" {
		t.Fatal("y answered an owner-wide revocation")
	}
	m = send(t, m, tea.KeyMsg{Type: tea.KeyCtrlU}) // the y went into the answer
	m = keys(t, m, strings.Split("u-ghost", "")...)
	// The answer, without running the revocation it starts (the fixture only loads).
	tm, cmd := m.Update(keyMsg("enter"))
	m = tm.(Model)
	tm, _ = m.Update(cmd())
	if m = tm.(Model); m.modal != modalNone || !strings.Contains(m.busy, "revoking 1 credential of owner u-ghost") {
		t.Errorf("typing the id did not start the revocation: busy %q, status %q", m.busy, m.status)
	}
}

// An owner with neither a name nor an id: the owner-wide revocation is refused, and
// the status says why.
func TestOwnerWideRevokeWithoutNameOrIDIsRefused(t *testing.T) {
	b := newFixture(t)
	m := loaded(t, b, 100, 30, false)
	m, _ = m.askRevoke(revokeIntent{ownerWide: true, creds: []sync.CredentialStatus{{Credential: sync.Credential{ID: "tok-x", Kind: sync.CredentialPAT, Owner: "\x1b[31m"}}}})
	if m.modal != modalNone || m.statusK != statusError || !strings.Contains(m.status, "neither a name nor an id") {
		t.Errorf("modal %v, status %q; want a refusal that says why", m.modal, m.status)
	}
	// A leaked token's owner without a name is typed by id, too.
	m, _ = m.askLeaked(Leak{Redacted: "dapi…cdef", OwnerID: "u-ghost", OwnerType: sync.PrincipalUser})
	if v := m.View(); m.modal != modalConfirm || !strings.Contains(v, "Type u-ghost to confirm") {
		t.Errorf("the leak confirmation does not ask for the owner's id:\n%s", v)
	}
}
