package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/bitbricks/bitbricks/emulator"
)

// setFaults injects fault rules (emulator syntax) into o's emulator.
func (o *testOrg) setFaults(t *testing.T, rules string) {
	t.Helper()
	rs, err := emulator.ParseFaults(rules)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.srv.SetFaults(rs); err != nil {
		t.Fatal(err)
	}
}

// validatePlan checks a JSON plan against schema/plan.schema.json.
func validatePlan(t *testing.T, js string) {
	t.Helper()
	sch, err := jsonschema.NewCompiler().Compile(filepath.Join("..", "..", "schema", "plan.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("plan does not match schema/plan.schema.json: %v", err)
	}
}

// problemsOf is the plan's problems as system/what/status.
func problemsOf(t *testing.T, js string) []map[string]any {
	t.Helper()
	ps, ok := planOf(t, js)["problems"].([]any)
	if !ok {
		t.Fatalf("no problems array in the plan:\n%s", js)
	}
	var out []map[string]any
	for _, p := range ps {
		out = append(out, p.(map[string]any))
	}
	return out
}

// The blind runs of the past: a source fails, yet the run said "in step"
// and exited 0. Each must now exit 1, name the system in a problems block
// (text) and in problems (JSON), and still print the safe plan.
func TestSourceProblemMakesTheRunRed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults string
		env    map[string]string
		system string
		status float64
	}{
		{name: "wrong Atlassian key", env: map[string]string{"ATLASSIAN_ADMIN_API_KEY": "ATCTT3xwrongwrongwrongwrong"}, system: "atlassian", status: 401},
		{name: "500 on /1.0/groups", faults: "/1.0/groups/**=500", system: "bitbucket", status: 500},
		{name: "500 on SCIM groups", faults: "GET /api/2.0/preview/scim/v2/Groups=500", system: "databricks", status: 500},
		{name: "500 on account federation policies", faults: "GET /api/2.0/accounts/*/federationPolicies=500", system: "databricks", status: 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newTestOrg(t)
			o.setFaults(t, tc.faults)
			env := map[string]string{}
			for k, v := range o.env {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			for _, detailed := range []bool{false, true} {
				args := []string{"sync", "--config", o.cfg}
				if detailed {
					args = append(args, "--detailed-exitcode")
				}
				r := runCLI(t, env, "", args...)
				if r.code != 1 {
					t.Fatalf("%v: exit %d, want 1\n%s\n%s", args, r.code, r.out, r.err)
				}
				i := strings.Index(r.out, "Problems: ")
				if i < 0 || !strings.Contains(r.out[i:], "✗ "+tc.system+": ") {
					t.Fatalf("text plan does not end with a problems block naming %s:\n%s", tc.system, r.out)
				}
				if strings.Contains(r.out, "Databricks is in step") {
					t.Errorf("the plan claims to be in step:\n%s", r.out)
				}
				if !strings.Contains(lastLine(r.err), "could not be read ("+tc.system) {
					t.Errorf("last stderr line = %q", lastLine(r.err))
				}
			}
			r := runCLI(t, env, "", "sync", "--config", o.cfg, "--output", "json")
			if r.code != 1 {
				t.Fatalf("json: exit %d: %s", r.code, r.err)
			}
			validatePlan(t, r.out)
			found := false
			for _, p := range problemsOf(t, r.out) {
				if p["system"] == tc.system && p["status"] == tc.status && p["what"] != "" {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s problem with status %v in %v", tc.system, tc.status, problemsOf(t, r.out))
			}
			// Apply makes what is safe and still exits 1.
			r = runCLI(t, env, "", "sync", "--config", o.cfg, "--apply", "--yes", "--max-changes", "100")
			if r.code != 1 || !strings.Contains(r.out, "Apply complete") || !strings.Contains(r.out[strings.LastIndex(r.out, "Apply complete"):], "✗ "+tc.system+": ") {
				t.Errorf("apply: exit %d, want 1 with the problems after the results:\n%s\n%s", r.code, r.out, r.err)
			}
			// tokens lists what it read and exits 1 too.
			r = runCLI(t, env, "", "tokens", "--config", o.cfg)
			if r.code != 1 || !strings.Contains(r.out, "✗ "+tc.system+": ") {
				t.Errorf("tokens: exit %d, want 1 with a problems block:\n%s\n%s", r.code, r.out, r.err)
			}
		})
	}
}

func TestSyncInStepHasEmptyProblems(t *testing.T) {
	isolate(t)
	r := runCLI(t, nil, "", "demo", "--headless", "--output", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	if ps := problemsOf(t, r.out); len(ps) != 0 {
		t.Errorf("problems reading the demo: %v", ps)
	}
}

// A truncated token list once made `rotate --due` say nothing was due.
func TestTruncatedTokenListMakesRotateDueRed(t *testing.T) {
	o := newTestOrg(t)
	o.setFaults(t, "GET /api/2.0/token-management/tokens=truncated")
	r := runCLI(t, o.env, "", "rotate", "--due", "--yes", "--config", o.cfg)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.out, r.err)
	}
	if !strings.Contains(r.out, "✗ databricks: tokens failed") {
		t.Errorf("no problem naming the token list:\n%s", r.out)
	}
	if strings.Contains(r.err, "No binding is due for rotation.") {
		t.Errorf("claims nothing is due:\n%s", r.err)
	}
	r = runCLI(t, o.env, "", "rotate", "--due", "--yes", "--config", o.cfg, "--output", "json")
	if r.code != 1 || !strings.Contains(r.out, `"system": "databricks"`) {
		t.Errorf("json: exit %d\n%s", r.code, r.out)
	}
}

func TestConfigValidateChecksTheMapFile(t *testing.T) {
	o := newTestOrg(t)
	src, err := os.ReadFile(o.cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, mapFile := range map[string]string{"missing": filepath.Join(dir, "nope.yaml"), "directory": dir} {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "bitbricks.yaml")
			// The demo config names its identity map: point it elsewhere.
			body := regexp.MustCompile(`(?m)^  map_file: .*\n`).ReplaceAllString(string(src), "")
			body = strings.Replace(body, "identity:\n", "identity:\n  map_file: "+mapFile+"\n", 1)
			if !strings.Contains(body, "map_file") {
				body += "identity:\n  map_file: " + mapFile + "\n"
			}
			if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			r := runCLI(t, o.env, "", "config", "validate", "--config", cfg)
			if r.code != 1 || !strings.Contains(r.err, "identity.map_file") || strings.Count(r.err, "\n") != 1 {
				t.Errorf("exit %d, want 1 with one line about identity.map_file: %q", r.code, r.err)
			}
		})
	}
}
