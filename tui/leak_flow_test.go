package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/emulator"
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

// With several workspaces the rest of a leak goes to the workspace the
// leak was traced in, like the leaked token: the other gets no write.
func TestLeakRestStaysInItsWorkspace(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	ctx := context.Background()
	dev := e.org.Workspace(emulator.DemoDevWorkspace)
	e.org.Mu.Lock()
	var owner string
	for _, tok := range dev.Tokens {
		if u := dev.Users[tok.OwnerID]; u != nil && u.UserName == "alice@acme.com" {
			owner = tok.OwnerID
		}
	}
	e.org.Mu.Unlock()
	if owner == "" {
		t.Fatal("alice holds no dev token")
	}
	var leaked *emulator.DBToken
	e.org.InWorkspace(emulator.DemoDevWorkspace, func(*emulator.DatabricksState) {
		leaked = e.org.AddToken(emulator.DBToken{OwnerID: owner, Comment: "pasted", Created: testNow.Add(-time.Hour), Expiry: testNow.Add(24 * time.Hour)})
	})
	aliceIn := func(ws string) int {
		st := e.org.Workspace(ws)
		e.org.Mu.Lock()
		defer e.org.Mu.Unlock()
		n := 0
		for _, tok := range st.Tokens {
			if u := st.Users[tok.OwnerID]; u != nil && u.UserName == "alice@acme.com" {
				n++
			}
		}
		return n
	}
	prodBefore := aliceIn(emulator.DemoWorkspace)
	e.srv.ResetStats()
	l, err := e.b.FindLeaked(ctx, leaked.Value)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.b.RevokeLeaked(ctx, l)
	if err != nil || res.Leaked != leaked.ID || len(res.Rest) == 0 {
		t.Fatalf("search: %+v, %v; want the leaked token and a rest to offer", res, err)
	}
	rest, err := e.b.RevokeLeakRest(ctx, l)
	if err != nil || rest.Revoked != len(res.Rest) {
		t.Fatalf("rest: %+v, %v; want %d revoked", rest, err, len(res.Rest))
	}
	if n := aliceIn(emulator.DemoDevWorkspace); n != 0 {
		t.Errorf("alice keeps %d dev tokens", n)
	}
	if n := aliceIn(emulator.DemoWorkspace); n != prodBefore {
		t.Errorf("alice's prod tokens went from %d to %d", prodBefore, n)
	}
	if st := e.srv.Stats(); st.WorkspaceWrites[emulator.DemoWorkspace] != 0 {
		t.Errorf("writes per workspace = %v, want dev's only", st.WorkspaceWrites)
	}
}

// A revocation the search cannot make stops it: the console's error says
// the leaked token was not revoked, why, and what to do next, and nothing
// else of the owner's is revoked.
func TestLeakSearchStopInTheConsole(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	ctx := context.Background()
	dev := e.org.Workspace(emulator.DemoDevWorkspace)
	e.org.Mu.Lock()
	var owner string
	held := 0
	for _, tok := range dev.Tokens {
		if u := dev.Users[tok.OwnerID]; u != nil && u.UserName == "alice@acme.com" {
			owner = tok.OwnerID
			held++
		}
	}
	e.org.Mu.Unlock()
	var leaked *emulator.DBToken
	e.org.InWorkspace(emulator.DemoDevWorkspace, func(*emulator.DatabricksState) {
		leaked = e.org.AddToken(emulator.DBToken{OwnerID: owner, Comment: "pasted", Created: testNow.Add(-time.Hour), Expiry: testNow.Add(24 * time.Hour)})
	})
	if err := e.srv.SetFaults([]emulator.FaultRule{
		{Route: "/api/2.0/token-management/tokens/" + leaked.ID, Method: "DELETE", Kind: emulator.Fault500},
		{Route: "/api/2.0/token/delete", Method: "POST", Kind: emulator.Fault500},
	}); err != nil {
		t.Fatal(err)
	}
	l, err := e.b.FindLeaked(ctx, leaked.Value)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.b.RevokeLeaked(ctx, l)
	if err == nil {
		t.Fatalf("no error with the leak alive: %+v", res)
	}
	msg := err.Error()
	for _, want := range []string{"was not revoked: revoking " + leaked.ID + " failed", "it may be the leaked one", "next: revoke token " + leaked.ID} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	e.org.Mu.Lock()
	left := 0
	for _, tok := range dev.Tokens {
		if tok.OwnerID == owner {
			left++
		}
	}
	e.org.Mu.Unlock()
	if res.Revoked != 0 || left != held+1 {
		t.Errorf("revoked %d, alice keeps %d of %d dev tokens: want nothing revoked after the stop", res.Revoked, left, held+1)
	}
}
