package main

import (
	"strings"
	"testing"
)

// TestSyncHoldsAReplacedWorkspace: a plan records the workspace's id; the
// workspace is replaced; `sync` (a preview) and then `sync --apply` both
// hold every destructive change and say so (exit 1); the apply records the
// new id, so the next plan has the destructive changes again.
func TestSyncHoldsAReplacedWorkspace(t *testing.T) {
	o := newTestOrg(t)
	first := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--output", "json")
	destructive := 0
	for _, c := range changesOf(planOf(t, first.out)) {
		if c["destructive"] == true {
			destructive++
		}
	}
	if first.code != 0 || destructive == 0 {
		t.Fatalf("first plan: exit %d, %d destructive changes", first.code, destructive)
	}
	o.org.Mu.Lock()
	o.org.DB.WorkspaceID += 11
	o.org.Mu.Unlock()
	for _, args := range [][]string{{"sync"}, {"sync", "--apply", "--yes", "--max-changes", "200"}} {
		r := runCLI(t, o.env, "", append(args, "--config", o.cfg)...)
		if r.code != 1 || !strings.Contains(r.out, "workspace_replaced") && !strings.Contains(r.out+r.err, "workspace replaced") {
			t.Errorf("%v after the replacement: exit %d, want 1 and the replacement named\n%s\n%s", args, r.code, r.out, r.err)
		}
		if strings.Contains(r.out, "revoke token") || strings.Contains(r.out, "✓ applied remove_member") {
			t.Errorf("%v after the replacement plans or applies a destructive change:\n%s", args, r.out)
		}
	}
	after := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--output", "json")
	n := 0
	for _, c := range changesOf(planOf(t, after.out)) {
		if c["destructive"] == true {
			n++
		}
	}
	if n == 0 || strings.Contains(after.out, "workspace_replaced") {
		t.Errorf("after the held apply: %d destructive changes planned, want them back, and no workspace_replaced\n%s", n, after.out)
	}
	t.Logf("destructive changes: %d before, held by the preview and the apply, %d after", destructive, n)
}
