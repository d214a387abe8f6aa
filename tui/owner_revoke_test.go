package tui

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
	"github.com/bitbricks/bitbricks/sync"
	"github.com/charmbracelet/x/exp/golden"
)

// aliceCreds counts alice's credentials the console lists per workspace
// (Atlassian tokens left out: they are not revoked here).
func aliceCreds(t *testing.T, m Model) map[string][]string {
	out := map[string][]string{}
	for _, c := range viewOf[*credentialsView](t, m).inv {
		if c.Owner == "alice@acme.com" && c.Kind != sync.CredentialAtlassianToken {
			out[c.Workspace] = append(out[c.Workspace], c.ID)
		}
	}
	return out
}

// onAliceIn moves the Credentials cursor to a credential of alice in
// workspace ws.
func onAliceIn(t *testing.T, m Model, ws string) Model {
	t.Helper()
	m = keys(t, m, "3", "/")
	m = keys(t, m, strings.Split("alice", "")...)
	m = keys(t, m, "enter")
	for i := 0; ; i++ {
		c, ok := viewOf[*credentialsView](t, m).table.Selected()
		if ok && c.Workspace == ws && c.Kind != sync.CredentialAtlassianToken {
			return m
		}
		if i > 20 {
			t.Fatalf("no credential of alice in %s in the list", ws)
		}
		m = keys(t, m, "j")
	}
}

// TestOwnerWideRevokeInAllCoversEveryWorkspace: in all workspaces, X on
// one of alice's prod tokens revokes every credential of hers in prod and
// in dev, the confirmation grouping them by workspace and asking for her
// name; each workspace's go there (its own write lock), audited each.
func TestOwnerWideRevokeInAllCoversEveryWorkspace(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	for _, size := range [][2]int{{120, 34}, {80, 24}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := onAliceIn(t, loaded(t, e.b, size[0], size[1], false), emulator.DemoWorkspace)
			held := aliceCreds(t, m)
			inProd, inDev := len(held[emulator.DemoWorkspace]), len(held[emulator.DemoDevWorkspace])
			if inProd == 0 || inDev == 0 {
				t.Fatalf("alice holds %d credentials in prod and %d in dev; the test needs both", inProd, inDev)
			}
			m = keys(t, m, "X")
			v := flat(m.View())
			n := inProd + inDev
			for _, want := range []string{
				"Revoke all " + strconv.Itoa(n) + " credentials of alice@acme.com in workspaces prod and dev?",
				"In workspace prod (" + strconv.Itoa(inProd) + "):", "In workspace dev (" + strconv.Itoa(inDev) + "):",
				"Type alice@acme.com to confirm",
			} {
				if m.modal != modalConfirm || !strings.Contains(v, want) {
					t.Errorf("the confirmation does not say %q:\n%s", want, m.View())
				}
			}
			golden.RequireEqual(t, screen(m))
			m = keys(t, m, "esc")
		})
	}
	m := onAliceIn(t, loaded(t, e.b, 120, 34, false), emulator.DemoWorkspace)
	held := aliceCreds(t, m)
	e.srv.ResetStats()
	m = keys(t, m, "X")
	m = keys(t, m, strings.Split("alice@acme.com", "")...)
	m = keys(t, m, "enter")
	if !strings.Contains(m.status, "revoked "+strconv.Itoa(len(held["prod"])+len(held["dev"]))+" credentials of alice@acme.com in workspaces prod and dev") {
		t.Errorf("status: %q", m.status)
	}
	st := e.srv.Stats()
	t.Logf("writes per workspace %v", st.WorkspaceWrites)
	for _, ws := range []string{emulator.DemoWorkspace, emulator.DemoDevWorkspace} {
		if st.WorkspaceWrites[ws] == 0 { // the revocations, and the lease of its lock
			t.Errorf("no write to %s", ws)
		}
		state := e.org.Workspace(ws)
		e.org.Mu.Lock()
		for _, id := range held[ws] {
			if _, still := state.Tokens[id]; still {
				t.Errorf("%s still holds alice's token %s", ws, id)
			}
		}
		e.org.Mu.Unlock()
	}
	audit := strings.Join(e.audit(t), "\n")
	for ws, ids := range held {
		for _, id := range ids {
			if !strings.Contains(audit, "revoke_token token:"+id) || !strings.Contains(audit, "workspace:"+ws) {
				t.Errorf("the audit log does not record %s in %s:\n%s", id, ws, audit)
			}
		}
	}
	if got := aliceCreds(t, m); len(got) != 0 {
		t.Errorf("after the reload alice still holds %v", got)
	}
}

// TestOwnerWideRevokeInOneWorkspaceNamesTheOthers: in dev's scope, X
// revokes alice's dev credentials only, and the confirmation says so,
// naming what she holds in prod and how to revoke it too.
func TestOwnerWideRevokeInOneWorkspaceNamesTheOthers(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	all := loaded(t, e.b, 120, 34, false)
	held := aliceCreds(t, keys(t, all, "3"))
	m := onAliceIn(t, pick(t, all, emulator.DemoDevWorkspace), emulator.DemoDevWorkspace)
	inProd, inDev := len(held[emulator.DemoWorkspace]), len(held[emulator.DemoDevWorkspace])
	m = keys(t, m, "X")
	v := flat(m.View())
	title := "Revoke all " + strconv.Itoa(inDev) + " credentials of alice@acme.com in workspace dev only?"
	if inDev == 1 {
		title = "Revoke the 1 credential of alice@acme.com in workspace dev only?"
	}
	note := "alice@acme.com also holds " + strconv.Itoa(inProd) + " " + plural(inProd, "credential") + " in workspace prod, not included: X in all workspaces (w) revokes them in every workspace."
	if m.modal != modalConfirm || !strings.Contains(v, title) || !strings.Contains(v, note) {
		t.Errorf("the confirmation does not say %q and %q:\n%s", title, note, m.View())
	}
}
