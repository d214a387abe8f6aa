package tui

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"
)

// A leaked token over several workspaces: whatever the console shows, the
// value is traced through every workspace the service serves, and the
// confirmation names the one it authenticates at.

// tokensIn are the emulator's tokens of owner (a userName) in workspace ws.
func (e *twoWorkspaceEnv) tokensIn(ws, owner string) []emulator.DBToken {
	st := e.org.Workspace(ws) // takes the org's lock itself
	e.org.Mu.Lock()
	defer e.org.Mu.Unlock()
	var out []emulator.DBToken
	for _, tok := range st.Tokens {
		if u := st.Users[tok.OwnerID]; u != nil && u.UserName == owner {
			out = append(out, *tok)
		}
	}
	return out
}

// recorder keeps every frame a flow drew, to check what was never shown.
type recorder struct{ seen bytes.Buffer }

// waitFor is the package's waitFor, keeping what was drawn meanwhile.
func (r *recorder) waitFor(t *testing.T, tm *teatest.TestModel, want ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(out []byte) bool {
		for _, w := range want {
			if !bytes.Contains(out, []byte(w)) {
				return false
			}
		}
		r.seen.Write(out)
		return true
	}, waitOpts(t)...)
}

// settled is the package's settled (the reload after an operation drawn),
// keeping what was drawn meanwhile.
func (r *recorder) settled(t *testing.T, tm *teatest.TestModel, want ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(out []byte) bool {
		for _, w := range want {
			if !bytes.Contains(out, []byte(w)) {
				return false
			}
		}
		i := bytes.LastIndex(out, []byte("drift "))
		if i >= 0 && bytes.HasSuffix(out[:i], []byte("loading · ")) {
			return false
		}
		r.seen.Write(out)
		return true
	}, waitOpts(t)...)
}

// pasteLeak opens !, pastes value and sends it.
func (r *recorder) pasteLeak(t *testing.T, tm *teatest.TestModel, value string) {
	t.Helper()
	press(tm, "!")
	r.waitFor(t, tm, "Revoke a leaked token", "Traced in every workspace, whichever is shown: prod, dev.")
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(value), Paste: true})
	r.waitFor(t, tm, "characters)")
	press(tm, "enter")
}

// TestLeakOfDevTracedInAnyScope: dan's dev token, pasted after ! while
// the console shows all workspaces or prod, is found in dev; the
// confirmation names dev, the token is revoked there, and prod gets no
// write (its tokens of dan stay). The value is never drawn.
func TestLeakOfDevTracedInAnyScope(t *testing.T) {
	for _, scope := range []string{"all", emulator.DemoWorkspace} {
		t.Run(scope, func(t *testing.T) {
			e := newTwoWorkspaceEnv(t)
			dev := e.tokensIn(emulator.DemoDevWorkspace, "dan@acme.com")
			prodBefore := len(e.tokensIn(emulator.DemoWorkspace, "dan@acme.com"))
			if len(dev) != 1 || prodBefore == 0 {
				t.Fatalf("dan holds %d dev tokens and %d prod tokens; want one in dev and some in prod", len(dev), prodBefore)
			}
			leaked := dev[0]
			var r recorder
			tm := teatest.NewTestModel(t, NewModel(e.b, testOptions(false)), teatest.WithInitialTermSize(120, 34))
			r.waitFor(t, tm, "all workspaces (2)")
			if scope != "all" {
				press(tm, "w")
				r.waitFor(t, tm, "Show which workspace?")
				tm.Type(scope)
				press(tm, "enter")
				r.waitFor(t, tm, "showing workspace "+scope)
			}
			e.srv.ResetStats()
			r.pasteLeak(t, tm, leaked.Value)
			want := []string{"Revoke the leaked token of dan@acme.com in workspace dev?",
				"authenticates at workspace dev (asked: prod, dev).", "Type dan@acme.com to confirm"}
			if scope != "all" {
				want = append(want, "Not a token of prod, the workspace shown: only dev is written to.")
			} else {
				want = append(want, "Only dev is written to.")
			}
			r.waitFor(t, tm, want...)
			tm.Type("dan@acme.com")
			press(tm, "enter")
			r.settled(t, tm, "revoked the leaked token", "of dan@acme.com in workspace dev; audited")
			m := finish(t, tm, leaked.ID, "<token id>", shortID(leaked.ID), "<token>")
			_, _ = io.Copy(&r.seen, tm.FinalOutput(t))

			if got := e.tokensIn(emulator.DemoDevWorkspace, "dan@acme.com"); len(got) != 0 {
				t.Errorf("dan still holds %d dev tokens", len(got))
			}
			if got := len(e.tokensIn(emulator.DemoWorkspace, "dan@acme.com")); got != prodBefore {
				t.Errorf("dan's prod tokens went from %d to %d", prodBefore, got)
			}
			st := e.srv.Stats()
			t.Logf("requests per workspace %v, writes %v", st.Workspaces, st.WorkspaceWrites)
			if st.WorkspaceWrites[emulator.DemoWorkspace] != 0 || st.WorkspaceWrites[emulator.DemoDevWorkspace] == 0 {
				t.Errorf("writes per workspace = %v, want dev's only", st.WorkspaceWrites)
			}
			if st.Workspaces[emulator.DemoWorkspace] == 0 {
				t.Errorf("prod was not asked: requests per workspace %v", st.Workspaces)
			}
			audit := e.audit(t)
			t.Logf("audit: %q", audit)
			found := false
			for _, line := range audit {
				if strings.Contains(line, leaked.Value) {
					t.Error("the audit log holds the token value")
				}
				found = found || strings.HasPrefix(line, "revoke_token token:"+leaked.ID+" owner:dan@acme.com through:leaked-token workspace:dev applied")
			}
			if !found {
				t.Errorf("no audited revocation of %s in dev: %q", leaked.ID, audit)
			}
			if wantScope := strings.TrimPrefix(scope, "all"); m.scope != wantScope {
				t.Errorf("the scope after the revocation is %q, want %q", m.scope, wantScope)
			}
			if bytes.Contains(r.seen.Bytes(), []byte(leaked.Value)) || strings.Contains(m.View(), leaked.Value) || m.input.Value() != "" {
				t.Error("the token value was drawn or is still held")
			}
		})
	}
}

// TestDeadLeakSaysEveryWorkspaceTried: a value no workspace takes (dan's
// dev token once revoked) is reported as tried at prod and at dev, with
// what to do next; nothing is written anywhere.
func TestDeadLeakSaysEveryWorkspaceTried(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	leaked := e.tokensIn(emulator.DemoDevWorkspace, "dan@acme.com")[0]
	e.org.InWorkspace(emulator.DemoDevWorkspace, func(st *emulator.DatabricksState) {
		e.org.Mu.Lock()
		delete(st.Tokens, leaked.ID) // revoked: it no longer authenticates
		delete(st.TokensByValue, leaked.Value)
		e.org.Mu.Unlock()
	})
	var r recorder
	tm := teatest.NewTestModel(t, NewModel(e.b, testOptions(false)), teatest.WithInitialTermSize(200, 34))
	r.waitFor(t, tm, "all workspaces (2)")
	press(tm, "w")
	r.waitFor(t, tm, "Show which workspace?")
	tm.Type("prod")
	press(tm, "enter")
	r.waitFor(t, tm, "showing workspace prod")
	e.srv.ResetStats()
	r.pasteLeak(t, tm, leaked.Value)
	r.waitFor(t, tm, "does not authenticate at any of the workspaces prod, dev (each was asked)")
	m := finish(t, tm)
	_, _ = io.Copy(&r.seen, tm.FinalOutput(t))
	for _, want := range []string{"no credential matches that token: the token " + leaked.Value[:4] + "…",
		"does not authenticate at any of the workspaces prod, dev (each was asked): already revoked, expired, or not of these workspaces; nothing was revoked",
		"check it was copied whole, or revoke by owner in Credentials (3, then X)"} {
		if !strings.Contains(m.status, want) {
			t.Errorf("status %q\nwant %q", m.status, want)
		}
	}
	st := e.srv.Stats()
	t.Logf("requests per workspace %v, writes %v", st.Workspaces, st.WorkspaceWrites)
	if len(st.WorkspaceWrites) != 0 || st.Workspaces[emulator.DemoWorkspace] == 0 || st.Workspaces[emulator.DemoDevWorkspace] == 0 {
		t.Errorf("requests %v, writes %v: want both asked, nothing written", st.Workspaces, st.WorkspaceWrites)
	}
	if bytes.Contains(r.seen.Bytes(), []byte(leaked.Value)) || strings.Contains(m.status, leaked.Value) {
		t.Error("the token value was drawn")
	}
}

// TestLeakWithAWorkspaceDown: while dev does not answer, a value prod does
// not take is not called revoked: the status says dev could not be asked,
// that the token may be dev's, and to try again; a dev token is still
// found in dev while prod is down.
func TestLeakWithAWorkspaceDown(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	leaked := e.tokensIn(emulator.DemoDevWorkspace, "dan@acme.com")[0]
	m := loaded(t, e.b, 200, 34, false)
	m = pick(t, m, emulator.DemoWorkspace)

	e.down[emulator.DemoDevWorkspace].Store(true)
	m = keys(t, m, "!")
	m = send(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(leaked.Value), Paste: true})
	m = keys(t, m, "enter")
	for _, want := range []string{"leaked token: the token " + leaked.Value[:4] + "…",
		"does not authenticate at workspace prod, and workspace dev could not be asked (",
		"it may be a token of dev, so nothing was revoked: try again once dev answers"} {
		if !strings.Contains(m.status, want) {
			t.Errorf("dev down: status %q\nwant %q", m.status, want)
		}
	}
	if strings.Contains(m.status, "already revoked") || strings.Contains(m.status, leaked.Value) {
		t.Errorf("dev down: status %q", m.status)
	}

	e.down[emulator.DemoDevWorkspace].Store(false)
	e.down[emulator.DemoWorkspace].Store(true)
	m = keys(t, m, "!")
	m = send(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(leaked.Value), Paste: true})
	m = keys(t, m, "enter")
	if v := m.View(); m.modal != modalConfirm || !strings.Contains(v, "Revoke the leaked token of dan@acme.com in workspace dev?") {
		t.Errorf("prod down: modal %d, status %q:\n%s", m.modal, m.status, v)
	}
}
