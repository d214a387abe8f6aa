package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/bitbricks/bitbricks/emulator"
)

// The CLI face of credential-free pipelines: pipelines lists each binding's
// status, federate runs phase 1 (and --dry-run changes nothing), --finish
// refuses without evidence (exit 3), asks before it deletes, and with --yes
// finishes; no secret is ever printed.
func TestFederateFromCLI(t *testing.T) {
	o := newTestOrg(t)
	clock := testNow
	o.org.Mu.Lock()
	o.org.Now = func() time.Time { return clock } // advanced only between commands
	o.org.Mu.Unlock()
	advance := func() {
		o.org.Mu.Lock()
		clock = clock.Add(time.Minute)
		o.org.Mu.Unlock()
	}
	statuses := func() map[string]string {
		t.Helper()
		r := runCLI(t, o.env, "", "pipelines", "--config", o.cfg, "--output", "json")
		if r.code != 0 {
			t.Fatalf("pipelines: exit %d: %s", r.code, r.err)
		}
		var doc struct {
			Bindings []struct {
				Binding     string `json:"binding"`
				Status      string `json:"status"`
				CanFederate bool   `json:"can_federate"`
			} `json:"bindings"`
		}
		if err := json.Unmarshal([]byte(r.out), &doc); err != nil {
			t.Fatalf("pipelines JSON: %v\n%s", err, r.out)
		}
		out := map[string]string{}
		for _, b := range doc.Bindings {
			out[b.Binding] = b.Status
			if b.CanFederate {
				out[b.Binding] += "+"
			}
		}
		return out
	}
	policies := func() int {
		o.org.Mu.Lock()
		defer o.org.Mu.Unlock()
		return len(o.org.DB.FederationPolicies)
	}
	var texts []string
	if got := statuses(); got["etl-prod"] != "stored+" || got["ml-prod"] != "stored+" {
		t.Fatalf("before: %v", got)
	}
	r := runCLI(t, o.env, "", "pipelines", "--config", o.cfg)
	if r.code != 0 || !strings.Contains(r.out, "○ etl-prod") || !strings.Contains(r.out, "ml-models (Production)") || !strings.Contains(r.out, "bitbricks federate etl-prod") {
		t.Fatalf("pipelines text: %d\n%s%s", r.code, r.out, r.err)
	}
	texts = append(texts, r.out, r.err)

	for _, bad := range [][]string{{"federate"}, {"federate", "etl-prod", "--all"}, {"federate", "--all", "--finish"}, {"federate", "etl-prod", "--finish", "--dry-run"}} {
		if r := runCLI(t, o.env, "", append(bad, "--config", o.cfg)...); r.code != 1 || strings.Count(strings.TrimSpace(r.err), "\n") != 0 {
			t.Errorf("%v: exit %d, %q", bad, r.code, r.err)
		}
	}
	r = runCLI(t, o.env, "", "federate", "etl-prod", "--dry-run", "--config", o.cfg)
	if r.code != 0 || !strings.Contains(r.out, "dry run: not created") || !strings.Contains(r.out, "oidc: true") || policies() != 0 {
		t.Fatalf("dry run: %d %d\n%s%s", r.code, policies(), r.out, r.err)
	}
	r = runCLI(t, o.env, "", "federate", "etl-prod", "--config", o.cfg)
	if r.code != 0 || !strings.Contains(r.out, "(created)") || !strings.Contains(r.out, "DATABRICKS_OIDC_TOKEN_ENV=BITBUCKET_STEP_OIDC_TOKEN") || policies() != 1 {
		t.Fatalf("phase 1: %d\n%s%s", r.code, r.out, r.err)
	}
	texts = append(texts, r.out, r.err)
	if got := statuses(); got["etl-prod"] != "federating" {
		t.Fatalf("after phase 1: %v", got)
	}

	// Without evidence: refused, exit 3, and it says what is missing.
	r = runCLI(t, o.env, "", "federate", "etl-prod", "--finish", "--yes", "--config", o.cfg)
	if r.code != 3 || !strings.Contains(r.err, "✗ no successful pipeline run") || !strings.Contains(r.err, "bitbucket-pipelines.yml") {
		t.Fatalf("finish without evidence: %d\n%s", r.code, r.err)
	}
	advance()
	if _, err := o.org.RecordPipelineRun("etl", "", "SUCCESSFUL"); err != nil {
		t.Fatal(err)
	}
	if err := o.org.SetRepoFile("etl", "bitbucket-pipelines.yml", "pipelines:\n  default:\n    - step:\n        oidc: true\n        script: [make]\n"); err != nil {
		t.Fatal(err)
	}
	// With evidence, but not confirmed: off a terminal it needs --yes, on one a no stops it.
	r = runCLI(t, o.env, "", "federate", "etl-prod", "--finish", "--config", o.cfg)
	if r.code != 3 || !strings.Contains(r.err, "- delete variable DATABRICKS_TOKEN") || !strings.Contains(r.err, "--yes") {
		t.Fatalf("finish off a terminal: %d\n%s", r.code, r.err)
	}
	r = runCLIOn(t, true, o.env, "n\n", "federate", "etl-prod", "--finish", "--config", o.cfg)
	if !strings.Contains(r.err, "[y/N]") || !strings.Contains(r.err, "Cancelled") {
		t.Fatalf("declined finish: %d\n%s", r.code, r.err)
	}
	if got := statuses(); got["etl-prod"] != "federating" {
		t.Fatalf("after a refused or declined finish: %v", got)
	}
	r = runCLI(t, o.env, "", "federate", "etl-prod", "--finish", "--yes", "--config", o.cfg, "--output", "json")
	var fin struct {
		Result struct{ Deleted, Revoked []string }
	}
	if r.code != 0 || json.Unmarshal([]byte(r.out), &fin) != nil || len(fin.Result.Deleted) != 2 || len(fin.Result.Revoked) == 0 {
		t.Fatalf("finish: %d\n%s%s", r.code, r.out, r.err)
	}
	texts = append(texts, r.out, r.err)
	if got := statuses(); got["etl-prod"] != "federated" || got["ml-prod"] != "stored+" {
		t.Fatalf("after phase 2: %v", got)
	}

	// --all offers what is left; federated bindings are not touched again.
	r = runCLI(t, o.env, "", "federate", "--all", "--dry-run", "--config", o.cfg, "--output", "json")
	var all struct {
		Results []struct{ Binding string } `json:"results"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.out), &all) != nil || len(all.Results) != 1 || all.Results[0].Binding != "ml-prod" {
		t.Fatalf("--all --dry-run: %d\n%s%s", r.code, r.out, r.err)
	}
	assertNoSecrets(t, o, texts...)
}

// bitbricks' own pipeline example authenticates to Databricks by OIDC: each
// step that runs bitbricks against Databricks has oidc: true and exports
// env-oidc, and the example stores no Databricks credential at all.
func TestPipelinesExampleUsesOIDC(t *testing.T) {
	text := readFile(t, filepath.Join("..", "..", "docs", "bitbucket-pipelines.yml"))
	var doc struct {
		Pipelines struct {
			Custom map[string][]struct {
				Step struct {
					Name   string   `yaml:"name"`
					OIDC   bool     `yaml:"oidc"`
					Script []string `yaml:"script"`
				} `yaml:"step"`
			} `yaml:"custom"`
		} `yaml:"pipelines"`
	}
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	steps := 0
	for name, ss := range doc.Pipelines.Custom {
		for _, s := range ss {
			script := strings.Join(s.Step.Script, "\n")
			if !strings.Contains(script, "bin/bitbricks ") || !strings.Contains(script, "--config") {
				continue // the install step
			}
			steps++
			if !s.Step.OIDC || !strings.Contains(script, "DATABRICKS_AUTH_TYPE=env-oidc") ||
				!strings.Contains(script, "DATABRICKS_OIDC_TOKEN_ENV=BITBUCKET_STEP_OIDC_TOKEN") {
				t.Errorf("%s: step %q does not authenticate by OIDC", name, s.Step.Name)
			}
		}
	}
	if steps < 2 {
		t.Errorf("found %d bitbricks steps", steps)
	}
	for _, stored := range []string{"DATABRICKS_CLIENT_SECRET", "DATABRICKS_TOKEN"} {
		if strings.Contains(text, stored) {
			t.Errorf("the example stores %s", stored)
		}
	}
}

// --all on a terminal offers the eligible bindings and a no creates nothing.
func TestFederateAllOffersFirst(t *testing.T) {
	o := newTestOrg(t)
	r := runCLIOn(t, true, o.env, "n\n", "federate", "--all", "--config", o.cfg)
	o.org.Mu.Lock()
	n := len(o.org.DB.FederationPolicies)
	o.org.Mu.Unlock()
	if !strings.Contains(r.err, "etl-prod, ml-prod?") || !strings.Contains(r.err, "Cancelled") || n != 0 {
		t.Fatalf("declined --all: %d policies; %s", n, r.err)
	}
	r = runCLIOn(t, true, o.env, "y\n", "federate", "--all", "--config", o.cfg)
	o.org.Mu.Lock()
	n = len(o.org.DB.FederationPolicies)
	o.org.Mu.Unlock()
	if r.code != 0 || n != 2 || strings.Count(r.out, "(created)") != 2 {
		t.Fatalf("accepted --all: exit %d, %d policies\n%s%s", r.code, n, r.out, r.err)
	}
}

// `pipelines` with a binding's variables unreadable prints what it could,
// the binding as unknown, and exits 1: an unknown status is not green.
func TestPipelinesUnknownBindingExitsOne(t *testing.T) {
	o := newTestOrg(t)
	r := runCLI(t, o.env, "", "pipelines", "--config", o.cfg)
	if r.code != 0 {
		t.Fatalf("clean run: exit %d: %s", r.code, r.err)
	}
	o.srv.SetFaults([]emulator.FaultRule{{Route: "/2.0/repositories/{workspace}/{repo_slug}/deployments_config/environments/{environment_uuid}/variables", Method: "GET", Kind: emulator.Fault500}})
	for _, args := range [][]string{{"pipelines"}, {"pipelines", "--output", "json"}} {
		r := runCLI(t, o.env, "", append(args, "--config", o.cfg)...)
		if r.code != 1 || !strings.Contains(r.out, "unknown") || !strings.Contains(r.out, "etl-prod") || !strings.Contains(r.err, "ml-prod") {
			t.Errorf("%v: exit %d, want 1 with ml-prod unknown and etl-prod listed\nstdout:\n%s\nstderr:\n%s", args, r.code, r.out, r.err)
		}
	}
}
