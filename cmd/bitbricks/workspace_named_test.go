package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/emulator"
)

// TestWorkspaceNamedInPlanAndPrompt: with --workspace dev the text plan has
// dev's section and the confirmation names dev; over both, it names both.
func TestWorkspaceNamedInPlanAndPrompt(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	r := runCLIOn(t, true, o.env, "n\n", "sync", "--config", o.cfg, "--workspace", "dev", "--apply")
	t.Logf("exit %d\n%s\n%s", r.code, r.out, r.err)
	if !strings.Contains(r.out, "== Workspace dev ==") || strings.Contains(r.out, "== Workspace prod ==") {
		t.Errorf("--workspace dev: the plan does not say it is dev's only:\n%s", r.out)
	}
	if !strings.Contains(r.out+r.err, "destructive) in workspace dev? [y/N]") {
		t.Errorf("--workspace dev: the confirmation does not name dev:\n%s", r.err)
	}
	r = runCLIOn(t, true, o.env, "n\n", "sync", "--config", o.cfg, "--apply")
	if !strings.Contains(r.out+r.err, "destructive) in workspaces prod, dev? [y/N]") {
		t.Errorf("over both: the confirmation does not name them:\n%s", r.err)
	}
}

// TestDemoWorkspacesConfigAppliesWithinItsLimit: the two-workspace config
// `emulate --write-config` writes applies its own first plan without
// --max-changes.
func TestDemoWorkspacesConfigAppliesWithinItsLimit(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--yes")
	if r.code != 0 {
		t.Errorf("first apply of the demo's two-workspace config: exit %d: %s", r.code, r.err)
	}
}

// TestSavedPlanWorkspaceGoneFromConfig: a saved plan over prod and dev,
// applied with a config that no longer lists dev (and no --workspace),
// says dev is not in the config, not "outside --workspace prod".
func TestSavedPlanWorkspaceGoneFromConfig(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	plan := filepath.Join(o.root, "plan.json")
	if r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--out", plan); r.code != 2 && r.code != 0 {
		t.Fatalf("sync --out: exit %d: %s", r.code, r.err)
	}
	b, err := os.ReadFile(o.cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(b), "    - {name: dev, profile: bitbricks-demo-dev}\n", "", 1)
	if src == string(b) {
		t.Fatal("no dev entry in the config")
	}
	if err := os.WriteFile(o.cfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--plan", plan, "--yes")
	t.Logf("exit %d: %s", r.code, r.err)
	if r.code != 3 || strings.Contains(r.err, "outside --workspace") || !strings.Contains(r.err, "in workspace(s) dev, which databricks.workspaces of the config no longer lists") {
		t.Errorf("exit %d: %s", r.code, r.err)
	}
}

// TestLeakCandidateCreatedJustNow: a token created seconds ago is listed
// "created just now", not "created now ago".
func TestLeakCandidateCreatedJustNow(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	dan := userID(t, o, "dan@acme.com")
	leaked := wsAddToken(o, "dev", emulator.DBToken{OwnerID: dan, Comment: "fresh", Created: testNow.Add(-5 * time.Second)})
	r := runCLI(t, o.env, leaked.Value+"\n", "revoke", "--config", o.cfg, "--leaked", "--yes")
	t.Logf("exit %d\n%s", r.code, r.err)
	if strings.Contains(r.err, "now ago") || !strings.Contains(r.err, "created just now") {
		t.Errorf("the candidate list says:\n%s", r.err)
	}
}
