package tui

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// Once the search has found the leaked token, the console offers a choice:
// only that token (the default: enter) or the owner's rest too. Enter keeps
// the rest, and the status says how many were kept and what revokes them.
func TestLeakedTokenOnlyThatToken(t *testing.T) {
	tm, e := engineConsole(t, 160, 30, false)
	toks := e.tokens("hana@acme.com")
	if len(toks) < 2 {
		t.Fatalf("hana holds %d tokens, want several", len(toks))
	}
	leaked := toks[0]
	press(tm, "!")
	waitFor(t, tm, "Revoke a leaked token")
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(leaked.Value), Paste: true})
	press(tm, "enter")
	waitFor(t, tm, "Revoke the leaked token of hana@acme.com?", "or the rest too.", "Type hana@acme.com to confirm")
	tm.Type("hana@acme.com")
	press(tm, "enter")
	waitFor(t, tm, "Revoke the rest of hana@acme.com's credentials too?",
		"is revoked: dapi", "hana@acme.com still holds 1 credential:", "[ Only that token ]", "The rest too")
	press(tm, "enter")
	settled(t, tm, "revoked the leaked token", "of hana@acme.com; 1 other credential kept (`bitbricks revoke --owner hana@acme.com`)")
	m := finish(t, tm)
	if e.hasToken("hana@acme.com", leaked.ID) {
		t.Error("the leaked token survived")
	}
	if left := e.tokens("hana@acme.com"); len(left) != len(toks)-1 {
		t.Errorf("hana holds %d tokens, want %d: only the leaked one gone", len(left), len(toks)-1)
	}
	if m.modal != modalNone {
		t.Errorf("a dialog is still open (%v)", m.modal)
	}
}
