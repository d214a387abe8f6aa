package tui

import (
	"github.com/bitbricks/bitbricks/emulator"
	tea "github.com/charmbracelet/bubbletea"
	"strings"
	"testing"
	"time"
)

// Revoking the protected admin's break-glass token (the admin is also the
// identity bitbricks uses) or the token a pipeline runs on: the dialog says
// so in a line of its own, names the pipeline with rotate as the way out,
// and a y does not do: the owner's name must be typed.
func TestRevokeProtectedSelfAndBoundInTheConsole(t *testing.T) {
	for _, tc := range []struct {
		name, owner, comment string
		lines                []string
	}{
		{"protected and self", "admin@acme.com", "break-glass", []string{"is protected by", "is the identity", "bitbricks' own"}},
		{"pipeline-held", "etl-deployer", "bitbricks:etl-prod", []string{"binding etl-prod runs on it", "esc, then r on etl-prod"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tm, e := engineConsole(t, 200, 40, false)
			var id string
			for _, tok := range e.tokens(tc.owner) {
				if strings.HasPrefix(tok.Comment, tc.comment) && (id == "" || tok.Created.After(e.tokenCreated(tc.owner, id))) {
					id = tok.ID
				}
			}
			press(tm, "3", "/")
			tm.Type(id)
			press(tm, "enter")
			waitFor(t, tm, "Credentials · 1/1")
			press(tm, "x")
			waitFor(t, tm, append([]string{"Type " + tc.owner + " to confirm"}, tc.lines...)...)
			press(tm, "y", "enter")
			finish(t, tm)
			if !e.hasToken(tc.owner, id) {
				t.Errorf("token %s was revoked with a y", id)
			}
		})
	}
}

func (e *engineEnv) tokenCreated(owner, id string) (t0 time.Time) {
	for _, tok := range e.tokens(owner) {
		if tok.ID == id {
			return tok.Created
		}
	}
	return t0
}

func (e *engineEnv) hasToken(owner, id string) bool {
	for _, tok := range e.tokens(owner) {
		if tok.ID == id {
			return true
		}
	}
	return false
}

// A leaked token of the protected admin (the identity the console runs
// as): the dialog says both, the leaked token dies, the rest is kept and
// the status says so with the command that finishes it.
func TestLeakOfTheProtectedAdminInTheConsole(t *testing.T) {
	tm, e := engineConsole(t, 200, 40, false)
	var adminID string
	for _, tok := range e.tokens("admin@acme.com") {
		adminID = tok.OwnerID
	}
	leaked := e.org.AddToken(emulator.DBToken{OwnerID: adminID, Comment: "pasted", Created: testNow.Add(-time.Hour), Expiry: testNow.Add(24 * time.Hour)})
	held := len(e.tokens("admin@acme.com"))
	press(tm, "!")
	waitFor(t, tm, "Revoke a leaked token")
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(leaked.Value), Paste: true})
	press(tm, "enter")
	waitFor(t, tm, "Revoke the leaked token of admin@acme.com", "is the identity bitbricks is using", "is protected (policy.protected)")
	tm.Type("admin@acme.com")
	press(tm, "enter")
	settled(t, tm, "revoked the leaked token", "of admin@acme.com; kept 2 other credentials", "revoke --owner admin@acme.com --force")
	finish(t, tm)
	if e.hasToken("admin@acme.com", leaked.ID) {
		t.Error("the leaked token survived")
	}
	if left := len(e.tokens("admin@acme.com")); left != held-1 {
		t.Errorf("admin holds %d tokens, want %d (only the leaked one gone)", left, held-1)
	}
}
