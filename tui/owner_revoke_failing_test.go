package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
	"github.com/charmbracelet/x/exp/golden"
)

// failRevocations makes the emulator answer HTTP 500 to the revocation of
// each token id.
func failRevocations(t *testing.T, e *twoWorkspaceEnv, ids []string) {
	t.Helper()
	var rules []emulator.FaultRule
	for _, id := range ids {
		rules = append(rules, emulator.FaultRule{Route: "/api/2.0/token-management/tokens/" + id, Method: "DELETE", Kind: emulator.Fault500})
	}
	if err := e.srv.SetFaults(rules); err != nil {
		t.Fatal(err)
	}
}

// TestOwnerWideRevokeWithOneWorkspaceFailing: X in all workspaces on
// alice while dev refuses to revoke her token (HTTP 500). The
// confirmation says her Atlassian API token is not included and how it is
// revoked; the result says what was revoked in prod and what failed in
// dev, and that X again retries what is left. With two failures in one
// workspace (dan in prod), they are listed apart, not run together.
func TestOwnerWideRevokeWithOneWorkspaceFailing(t *testing.T) {
	for _, size := range [][2]int{{120, 34}, {80, 24}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			e := newTwoWorkspaceEnv(t)
			m := onAliceIn(t, loaded(t, e.b, size[0], size[1], false), emulator.DemoWorkspace)
			held := aliceCreds(t, m)
			prod, dev := held[emulator.DemoWorkspace], held[emulator.DemoDevWorkspace]
			if len(prod) != 2 || len(dev) != 1 {
				t.Fatalf("alice holds %v; the test needs 2 in prod and 1 in dev", held)
			}
			failRevocations(t, e, dev)
			m = keys(t, m, "X")
			if v := flat(m.View()); m.modal != modalConfirm || !strings.Contains(v, "Not included: 1 Atlassian API token of alice@acme.com (") ||
				!strings.Contains(v, "revoke it in admin.atlassian.com") {
				t.Errorf("the confirmation does not say the Atlassian token is left out:\n%s", m.View())
			}
			t.Run("confirm", func(t *testing.T) { golden.RequireEqual(t, screen(m)) })
			m = keys(t, m, strings.Split("alice@acme.com", "")...)
			m = keys(t, m, "enter")
			want := fmt.Sprintf("revoked 2 of 3 of alice@acme.com: prod %s, %s; failed in dev: %s (HTTP 500); X again retries what is left",
				shortID(prod[0]), shortID(prod[1]), shortID(dev[0]))
			if m.statusK != statusError || m.status != want {
				t.Errorf("status:\n%q\nwant\n%q", m.status, want)
			}
			t.Run("result", func(t *testing.T) { golden.RequireEqual(t, screen(m)) })
			if got := aliceCreds(t, keys(t, m, "3")); len(got[emulator.DemoWorkspace]) != 0 || len(got[emulator.DemoDevWorkspace]) != 1 {
				t.Errorf("after the reload alice holds %v; want dev's token only", got)
			}
		})
	}
	// dan: two tokens in prod fail, dev's goes.
	e := newTwoWorkspaceEnv(t)
	m := keys(t, loaded(t, e.b, 120, 34, false), "3", "/")
	m = keys(t, m, strings.Split("dan@", "")...)
	m = keys(t, m, "enter")
	var prod, dev []string
	for _, c := range viewOf[*credentialsView](t, m).inv {
		if c.Owner == "dan@acme.com" {
			switch c.Workspace {
			case emulator.DemoWorkspace:
				prod = append(prod, c.ID)
			case emulator.DemoDevWorkspace:
				dev = append(dev, c.ID)
			}
		}
	}
	if len(prod) != 2 || len(dev) != 1 {
		t.Fatalf("dan holds %v in prod and %v in dev; the test needs 2 and 1", prod, dev)
	}
	failRevocations(t, e, prod)
	m = keys(t, m, "X")
	m = keys(t, m, strings.Split("dan@acme.com", "")...)
	m = keys(t, m, "enter")
	// In the order the confirmation listed them.
	var listed []string
	for _, id := range prod {
		listed = append(listed, shortID(id)+" (HTTP 500)")
	}
	if !strings.Contains(m.status, "revoked 1 of 3 of dan@acme.com: dev "+shortID(dev[0])+"; failed in prod: ") ||
		!(strings.Contains(m.status, "in prod: "+listed[0]+", "+listed[1]) || strings.Contains(m.status, "in prod: "+listed[1]+", "+listed[0])) ||
		strings.Contains(m.status, "proxy") || strings.Contains(m.status, "500 revoke") {
		t.Errorf("status: %q", m.status)
	}
}
