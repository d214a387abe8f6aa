package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// A plan saved with --out is applied exactly by --apply --plan.
func TestSavedPlanAppliesExactlyThePlan(t *testing.T) {
	o := newTestOrg(t)
	planFile := filepath.Join(t.TempDir(), "plan.json")
	r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--out", planFile, "--output", "json")
	if r.code != 0 {
		t.Fatalf("sync --out: exit %d: %s", r.code, r.err)
	}
	saved := planOf(t, readFile(t, planFile))
	if d, _ := saved["snapshot_digest"].(string); !strings.HasPrefix(d, "sha256:") {
		t.Fatalf("saved plan has no snapshot digest: %v", saved["snapshot_digest"])
	}
	if st, _ := os.Stat(planFile); st.Mode().Perm() != 0o600 {
		t.Errorf("saved plan mode %v, want 0600", st.Mode().Perm())
	}
	sch, err := jsonschema.NewCompiler().Compile(filepath.Join("..", "..", "schema", "plan.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(readFile(t, planFile)))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("the saved plan does not match schema/plan.schema.json: %v", err)
	}
	want := changesOf(saved)
	if len(want) == 0 {
		t.Fatal("the demo plan has no changes")
	}

	r = runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--yes", "--plan", planFile, "--output", "json")
	if r.code != 0 {
		t.Fatalf("apply --plan: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	if !strings.Contains(r.err, "Applying the saved plan "+planFile+": nothing changed since it was made") {
		t.Errorf("stderr does not say which plan is applied: %s", r.err)
	}
	doc := planOf(t, r.out)
	results := doc["results"].([]any)
	if len(results) != len(want) {
		t.Fatalf("%d results for %d saved changes", len(results), len(want))
	}
	for i, res := range results {
		m := res.(map[string]any)
		if m["id"] != want[i]["id"] || m["status"] != "applied" {
			t.Errorf("result %d = %v, want %s applied", i, m, want[i]["id"])
		}
	}
	// Applied: the same saved plan no longer holds.
	r = runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--yes", "--plan", planFile)
	if r.code != 3 || !strings.Contains(r.err, "no longer hold") {
		t.Errorf("re-applying an applied plan: exit %d, %s", r.code, r.err)
	}
}

// A change that no longer holds refuses the whole saved plan, before any
// change is made.
func TestSavedPlanRefusedAfterTheWorldChanged(t *testing.T) {
	o := newTestOrg(t)
	planFile := filepath.Join(t.TempDir(), "plan.json")
	if r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--out", planFile); r.code != 0 {
		t.Fatalf("sync --out: exit %d: %s", r.code, r.err)
	}
	var revoked string
	for _, c := range changesOf(planOf(t, readFile(t, planFile))) {
		if c["action"] == "revoke_token" {
			revoked = c["token_id"].(string)
			break
		}
	}
	if revoked == "" {
		t.Fatal("the demo plan revokes no token")
	}
	// Someone revoked that token by hand in between.
	o.org.Mu.Lock()
	tok := o.org.DB.Tokens[revoked]
	delete(o.org.DB.Tokens, revoked)
	delete(o.org.DB.TokensByValue, tok.Value)
	o.org.Mu.Unlock()
	o.srv.ResetStats()

	r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--yes", "--plan", planFile, "--output", "json")
	if r.code != 3 {
		t.Fatalf("apply of a stale plan: exit %d, want 3\n%s", r.code, r.err)
	}
	if !strings.Contains(r.err, "revoke_token/"+revoked+": no longer called for") {
		t.Errorf("stderr does not name the stale change: %s", r.err)
	}
	for route, n := range o.srv.Stats().Routes {
		if !isRead(route) {
			t.Errorf("a stale plan made %d %s requests", n, route)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil {
		t.Fatalf("stdout is not the JSON plan: %v", err)
	}
	for _, res := range doc["results"].([]any) {
		if res.(map[string]any)["status"] != "skipped" {
			t.Errorf("result %v, want skipped", res)
		}
	}

	// Misuse is one clear line.
	if r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--plan", planFile); r.code != 1 || !strings.Contains(r.err, "add --apply") {
		t.Errorf("--plan without --apply: exit %d, %s", r.code, r.err)
	}
	os.WriteFile(planFile, []byte(`{"format_version":"1"}`), 0o600)
	if r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--yes", "--plan", planFile); r.code != 1 || !strings.Contains(r.err, "snapshot_digest") {
		t.Errorf("a plan without a digest: exit %d, %s", r.code, r.err)
	}
}

func TestVersionFromBuildInfo(t *testing.T) {
	installed := &debug.BuildInfo{Main: debug.Module{Path: "github.com/bitbricks/bitbricks", Version: "v1.4.2"}}
	checkout := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}}}
	for _, tc := range []struct {
		version, commit, date string
		info                  *debug.BuildInfo
		want                  string
	}{
		{"dev", "", "", installed, "bitbricks v1.4.2"},
		{"dev", "", "", checkout, "bitbricks dev (0123456789ab)"},
		{"dev", "", "", nil, "bitbricks dev"},
		{"1.5.0", "abc1234", "2026-11-30", installed, "bitbricks 1.5.0 (abc1234, 2026-11-30)"},
	} {
		if got := describeVersion(tc.version, tc.commit, tc.date, tc.info); got != tc.want {
			t.Errorf("describeVersion(%q, %+v) = %q, want %q", tc.version, tc.info, got, tc.want)
		}
	}
}
