package main

import (
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/emulator"
)

// TestDemoWorkspacesHeadless: `demo --workspaces --headless` plans the demo
// account's prod and dev in one run, a section each; dev's own change
// (rita assigned to dev) is in dev's section; the plain demo stays one
// workspace. No credential value of the seed is printed.
func TestDemoWorkspacesHeadless(t *testing.T) {
	isolate(t)
	r := runCLI(t, nil, "", "demo", "--workspaces", "--headless")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	dev, prod := strings.Index(r.out, "== Workspace dev =="), strings.Index(r.out, "== Workspace prod ==")
	if dev < 0 || prod < 0 {
		t.Fatalf("the plan lacks a section per workspace:\n%s", r.out)
	}
	sections := map[string]string{"dev": r.out[dev:], "prod": r.out[prod:]}
	if dev < prod {
		sections["dev"] = r.out[dev:prod]
	} else {
		sections["prod"] = r.out[prod:dev]
	}
	const rita = "+ assign rita@acme.com to dev"
	if !strings.Contains(sections["dev"], rita) || strings.Contains(sections["prod"], rita) {
		t.Errorf("dev's assignment of rita is not in dev's section alone:\n%s", r.out)
	}
	for ws, s := range sections {
		if !strings.Contains(s, "Databricks group de-team") {
			t.Errorf("workspace %s plans nothing of its de-team:\n%s", ws, s)
		}
	}
	if !strings.Contains(r.out, "Plan: 52 to add, 22 to remove, 1 to rotate;") {
		t.Errorf("the plan's total is not the two workspaces' (75 changes):\n%s", r.out)
	}

	r2 := runCLI(t, nil, "", "demo", "--workspaces", "--headless", "--detailed-exitcode")
	if r2.code != 2 {
		t.Errorf("--detailed-exitcode: exit %d, want 2 (changes pending): %s", r2.code, r2.err)
	}
	one := runCLI(t, nil, "", "demo", "--headless")
	if one.code != 0 || strings.Contains(one.out, "== Workspace") || !strings.Contains(one.out, "Plan: 10 to add, 17 to remove, 1 to rotate;") {
		t.Errorf("the plain demo changed: exit %d\n%s", one.code, one.out)
	}

	org := emulator.Demo(time.Now())
	secrets := []string{org.Creds.DatabricksToken, org.Creds.BitbucketAPIToken, org.Creds.AtlassianAdminKey}
	for _, name := range []string{emulator.DemoWorkspace, emulator.DemoDevWorkspace} {
		secrets = append(secrets, org.Creds.WorkspaceTokens[name])
		st := org.Workspace(name)
		org.Mu.Lock()
		for _, tok := range st.Tokens {
			secrets = append(secrets, tok.Value)
		}
		org.Mu.Unlock()
	}
	for _, s := range secrets {
		if s != "" && (strings.Contains(r.out, s) || strings.Contains(r.err, s)) {
			t.Fatalf("a credential value (%s…) appears in the output", s[:4])
		}
	}
}
