package tui

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
)

// TestLeakDialogFitsAt80x24: the leaked-token confirmation of admin (four
// tokens, bitbricks' own among them: the longest notes) fits an 80x24
// terminal: its long paragraphs scroll as drawn, and the field to type the
// owner into, the dialog's bottom and the key hints stay on screen.
func TestLeakDialogFitsAt80x24(t *testing.T) {
	e := newEngineEnv(t, false)
	toks := e.tokens("admin@acme.com")
	if len(toks) < 2 {
		t.Fatalf("admin holds %d tokens, want several", len(toks))
	}
	m := loaded(t, e.b, 80, 24, false)
	m = keys(t, m, "!")
	m = send(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(toks[0].Value), Paste: true})
	m = keys(t, m, "enter")
	v := m.View()
	if m.modal != modalConfirm || !strings.Contains(v, "Revoke the leaked token of admin@acme.com") {
		t.Fatalf("no leak confirmation:\n%s", v)
	}
	lines := strings.Split(v, "\n")
	if len(lines) > 24 {
		t.Errorf("the screen has %d lines", len(lines))
	}
	for _, want := range []string{"Type admin@acme.com to confirm:", "esc cancel", "enter confirm", "┗", "↑↓ lines 1-"} {
		if !strings.Contains(v, want) {
			t.Errorf("%q is not on the 80x24 screen:\n%s", want, v)
		}
	}
	if strings.Contains(v, toks[0].Value) {
		t.Fatal("the leaked value is on screen")
	}
	golden.RequireEqual(t, screen(m))
	// The rest of the notes scroll into view.
	m = keys(t, m, "down", "down", "down", "down", "down", "down", "down", "down", "down", "down")
	if v := flat(m.View()); !strings.Contains(v, "audited as leaked") || !strings.Contains(v, "Type admin@acme.com to confirm:") {
		t.Errorf("scrolled to the end, the notes' last line or the field is missing:\n%s", v)
	}
}
