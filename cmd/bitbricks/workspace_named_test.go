package main

import (
	"encoding/json"
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

// TestFederateWidensToOtherWorkspaces: etl-deployer is assigned to prod and
// dev; a federation policy (the service principal's, naming no workspace)
// for the dev binding etl-dev would let etl's pipeline exchange its token
// at prod too. The plan says so (federation_too_broad naming prod);
// federate refuses it without --force (exit 3, nothing created) and with
// --force says it.
func TestFederateWidensToOtherWorkspaces(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	addDevBinding(t, o)
	r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--output", "json")
	var doc struct {
		Findings []struct{ Kind, Subject, Detail, Workspace string }
	}
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil {
		t.Fatalf("plan JSON: %v: %s", err, r.out)
	}
	found := false
	for _, f := range doc.Findings {
		if f.Kind == "federation_too_broad" && f.Subject == "binding etl-dev" {
			found = f.Workspace == "dev" && strings.Contains(f.Detail, "also assigned to workspace(s) prod")
			t.Logf("finding: %+v", f)
		}
		if f.Kind == "federation_too_broad" && f.Subject == "binding ml-prod" {
			t.Errorf("ml-deployer is assigned to prod only, yet: %+v", f)
		}
	}
	if !found {
		t.Errorf("no federation_too_broad finding for etl-dev naming prod: %+v", doc.Findings)
	}
	o.srv.ResetStats()
	r = runCLI(t, o.env, "", "federate", "--config", o.cfg, "etl-dev")
	st := o.srv.Stats()
	if r.code != 3 || !strings.Contains(r.err, "also assigned to workspace(s) prod") || !strings.Contains(r.err, "--force") {
		t.Errorf("federate etl-dev: exit %d: %s", r.code, r.err)
	}
	for ws, n := range st.WorkspaceWrites {
		if n != 0 {
			t.Errorf("federate etl-dev refused, yet %d write(s) in %s (%v)", n, ws, st.WorkspaceWrites)
		}
	}
	r = runCLI(t, o.env, "", "federate", "--config", o.cfg, "etl-dev", "--force")
	if r.code != 0 || !strings.Contains(r.out, "for etl-dev") || !strings.Contains(r.err, "! a federation policy for etl-dev is etl-deployer's") {
		t.Errorf("federate etl-dev --force: exit %d: %s\n%s", r.code, r.err, r.out)
	}
	r = runCLI(t, o.env, "", "federate", "--config", o.cfg, "ml-prod")
	if r.code != 0 || strings.Contains(r.err, "also assigned") {
		t.Errorf("federate ml-prod (prod only): exit %d: %s", r.code, r.err)
	}
}
