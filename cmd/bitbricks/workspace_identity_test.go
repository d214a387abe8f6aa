package main

import (
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
)

// TestWorkspacesAllWrongHost: `workspaces: all` with a typo'd
// BITBRICKS_WORKSPACE_HOSTS giving prod dev's host (dev's profile then
// serves it): rotating prod's pipeline, or applying in prod, is refused
// with exit 3 and one line naming prod, the host and the entry that gave
// it, and nothing is written in any workspace (before, the rotation
// created the pipeline's token in dev and wrote it into prod's pipeline).
func TestWorkspacesAllWrongHost(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	hosts, _ := useWorkspacesAll(t, o)
	dev := hosts[emulator.DemoDevWorkspace]
	o.env["BITBRICKS_WORKSPACE_HOSTS"] = "prod=" + dev + ",dev=" + dev

	o.srv.ResetStats()
	for _, args := range [][]string{
		{"rotate", "etl-prod", "--config", o.cfg, "--workspace", "prod", "--yes"},
		{"sync", "--apply", "--config", o.cfg, "--workspace", "prod", "--yes"},
		{"sync", "--config", o.cfg},
		{"tokens", "--config", o.cfg, "--workspace", "prod"},
		{"revoke", "--config", o.cfg, "--owner", "dan@acme.com", "--yes"},
	} {
		r := runCLI(t, o.env, "", args...)
		// Progress of dev's read may come first (sync on a terminal-less run);
		// the error is one line, the last.
		lines := strings.Split(strings.TrimSpace(r.err), "\n")
		line := lines[len(lines)-1]
		if r.code != 3 || strings.Count(r.err, "bitbricks:") != 1 || !strings.HasPrefix(line, "bitbricks: ") || !strings.Contains(line, "workspace prod") || !strings.Contains(line, dev) ||
			!strings.Contains(line, "BITBRICKS_WORKSPACE_HOSTS entry prod="+dev) || !strings.Contains(line, "nothing was read or written there") {
			t.Errorf("%s: exit %d, want 3 and one line naming prod, %s and the entry:\n%s", args[0], r.code, dev, r.err)
		}
		assertNoSecrets(t, o, r.out, r.err)
	}
	st := o.srv.Stats()
	for ws, n := range st.WorkspaceWrites {
		if n != 0 {
			t.Errorf("%d write(s) in %s", n, ws)
		}
	}
	t.Logf("requests %v, writes %v", st.Workspaces, st.WorkspaceWrites)
}
