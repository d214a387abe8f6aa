package tui

import (
	"strconv"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
	"github.com/bitbricks/bitbricks/sync"
)

// TestOwnerWideRevokeInAllNamesTheOtherWorkspaces: in all workspaces, X on
// one of alice's prod tokens revokes her prod credentials only, and the
// confirmation says so, naming her credentials in dev that stay.
func TestOwnerWideRevokeInAllNamesTheOtherWorkspaces(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	m := keys(t, loaded(t, e.b, 120, 34, false), "3", "/")
	m = keys(t, m, strings.Split("alice", "")...)
	m = keys(t, m, "enter")
	inProd, inDev := 0, 0
	for _, c := range viewOf[*credentialsView](t, m).inv {
		if c.Owner != "alice@acme.com" || c.Kind == sync.CredentialAtlassianToken {
			continue
		}
		switch c.Workspace {
		case emulator.DemoWorkspace:
			inProd++
		case emulator.DemoDevWorkspace:
			inDev++
		}
	}
	if inProd == 0 || inDev == 0 {
		t.Fatalf("alice holds %d credentials in prod and %d in dev; the test needs both", inProd, inDev)
	}
	for i := 0; ; i++ {
		c, ok := viewOf[*credentialsView](t, m).table.Selected()
		if ok && c.Workspace == emulator.DemoWorkspace && c.Kind != sync.CredentialAtlassianToken {
			break
		}
		if i > 20 {
			t.Fatal("no prod credential of alice in the list")
		}
		m = keys(t, m, "j")
	}
	m = keys(t, m, "X")
	v := flat(m.View())
	title := "Revoke all " + strconv.Itoa(inProd) + " " + plural(inProd, "credential") + " of alice@acme.com in workspace prod only?"
	note := "alice@acme.com also holds " + strconv.Itoa(inDev) + " " + plural(inDev, "credential") + " in workspace dev, not included"
	if m.modal != modalConfirm || !strings.Contains(v, title) || !strings.Contains(v, note) {
		t.Errorf("the confirmation does not say %q and %q:\n%s", title, note, m.View())
	}
}
