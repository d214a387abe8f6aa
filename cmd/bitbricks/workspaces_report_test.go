package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestApplyProgressNamesWorkspace: `sync --apply` over prod and dev counts
// its steps once over the whole run ([k/N], k from 1 to N), each step
// naming its change as the plan does, workspace first.
func TestApplyProgressNamesWorkspace(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--yes", "--max-changes", "200")
	if r.code != 0 {
		t.Fatalf("apply: exit %d: %s\n%s", r.code, r.err, r.out)
	}
	step := regexp.MustCompile(`(?m)^\[(\d+)/(\d+)\] ✓ applied (\S+)$`)
	steps := step.FindAllStringSubmatch(r.out, -1)
	if len(steps) == 0 {
		t.Fatalf("no progress lines:\n%s", r.out)
	}
	total := strconv.Itoa(len(steps))
	seen := map[string]bool{}
	for i, s := range steps {
		if s[1] != strconv.Itoa(i+1) || s[2] != total {
			t.Errorf("step %d printed as [%s/%s], want [%d/%s]", i+1, s[1], s[2], i+1, total)
		}
		if !strings.HasPrefix(s[3], "prod:") && !strings.HasPrefix(s[3], "dev:") {
			t.Errorf("step %s names no workspace", s[0])
		}
		if seen[s[3]] {
			t.Errorf("step %s printed twice", s[3])
		}
		seen[s[3]] = true
	}
	if !seen["prod:create_group/ml-team"] || !seen["dev:create_group/ml-team"] {
		t.Errorf("ml-team's creation in prod and in dev not both named: %d steps", len(steps))
	}
}

// TestProblemsNameWorkspaceCLI: the SCIM group list failing in both
// workspaces is a problem of each, in the text block, on stderr and in
// the JSON plan (which still matches the schema); the run exits 1.
func TestProblemsNameWorkspaceCLI(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	o.setFaults(t, "GET /api/2.0/preview/scim/v2/Groups=500")
	r := runCLI(t, o.env, "", "sync", "--config", o.cfg)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1: %s", r.code, r.err)
	}
	for _, ws := range []string{"prod", "dev"} {
		if !strings.Contains(r.out, "✗ databricks ("+ws+"): groups failed (HTTP 500)") {
			t.Errorf("the problems block does not name %s:\n%s", ws, r.out)
		}
	}
	if !strings.Contains(r.err, "2 sources could not be read (databricks in prod, databricks in dev)") {
		t.Errorf("stderr = %s", r.err)
	}
	r = runCLI(t, o.env, "", "sync", "--config", o.cfg, "--output", "json")
	if r.code != 1 {
		t.Fatalf("json: exit %d, want 1: %s", r.code, r.err)
	}
	validatePlan(t, r.out)
	got := map[string]bool{}
	for _, p := range problemsOf(t, r.out) {
		got[fmt.Sprint(p["system"], "|", p["what"], "|", p["status"], "|", p["workspace"])] = true
	}
	for _, want := range []string{"databricks|groups|500|prod", "databricks|groups|500|dev"} {
		if !got[want] {
			t.Errorf("JSON problems %v lack %s", got, want)
		}
	}
}

// TestDepartureConfirmationFailureExits1: Bitbucket answering 500 to every
// direct membership lookup makes `sync` exit 1 with the problem named
// (text and JSON), the plan still printed and no departed person's token
// revoked.
func TestDepartureConfirmationFailureExits1(t *testing.T) {
	o := newTestOrg(t)
	o.setFaults(t, "GET /2.0/workspaces/*/members/*=500")
	r := runCLI(t, o.env, "", "sync", "--config", o.cfg)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1: %s\n%s", r.code, r.err, r.out)
	}
	for _, want := range []string{"✗ bitbucket: workspace membership failed (HTTP 500)", "departed_unknown", " to add"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
	if !strings.Contains(r.err, "could not be read (bitbucket)") {
		t.Errorf("stderr = %s", r.err)
	}
	r = runCLI(t, o.env, "", "sync", "--config", o.cfg, "--output", "json")
	if r.code != 1 {
		t.Fatalf("json: exit %d, want 1: %s", r.code, r.err)
	}
	validatePlan(t, r.out)
	found := false
	for _, p := range problemsOf(t, r.out) {
		found = found || fmt.Sprint(p["system"], "|", p["what"], "|", p["status"]) == "bitbucket|workspace membership|500"
	}
	if !found {
		t.Errorf("JSON problems %v lack bitbucket workspace membership 500", problemsOf(t, r.out))
	}
	for _, c := range planOf(t, r.out)["changes"].([]any) {
		if c := c.(map[string]any); c["action"] == "revoke_token" && (c["principal"] == "fay@acme.com" || c["principal"] == "gus@acme.com") {
			t.Errorf("revokes %s's token %s on an unconfirmed departure", c["principal"], c["token_id"])
		}
	}
}
