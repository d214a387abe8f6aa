package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
)

// TestBenchJSONShape runs `bitbricks bench --output json` on the demo seed at
// 1 ms a request, the emulator in a child process (this test binary, see
// TestMain), and checks that every figure is there, of the right kind; the
// request counts are checked against what the data needs, never the times.
func TestBenchJSONShape(t *testing.T) {
	isolate(t)
	r := runCLI(t, nil, "", "bench", "--seed", "demo", "--latency", "1ms", "--output", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.out)
	}
	figures := []string{"snapshot_ms", "plan_ms", "plan_cpu_ms", "peak_heap_mb", "emulator_cpu_ms", "client_cpu_ms"}
	for _, k := range append(figures, "lower_bound_ms", "efficiency", "latency_ms", "scim_concurrency") {
		if _, ok := rep[k].(float64); !ok {
			t.Errorf("%s = %#v, want a number", k, rep[k])
		}
	}
	counts := func(where map[string]any, k string) map[string]float64 {
		m, ok := where[k].(map[string]any)
		if !ok {
			t.Fatalf("%s = %#v, want an object", k, where[k])
		}
		out := map[string]float64{}
		for _, sys := range []string{"bitbucket", "atlassian", "databricks", "total"} {
			n, ok := m[sys].(float64)
			if !ok {
				t.Errorf("%s.%s = %#v, want a number", k, sys, m[sys])
			}
			out[sys] = n
		}
		if out["total"] != out["bitbucket"]+out["atlassian"]+out["databricks"] {
			t.Errorf("%s: total %v is not the sum of %v", k, out["total"], out)
		}
		return out
	}
	req, min := counts(rep, "requests"), counts(rep, "min_requests")
	if min["total"] <= 0 || req["total"] < min["total"] || req["total"] > 1.1*min["total"] {
		t.Errorf("requests %v against min_requests %v: want between 1 and 1.1 times", req, min)
	}
	lb, _ := rep["lower_bound"].(map[string]any)
	if d, _ := lb["derivation"].([]any); len(d) < 3 {
		t.Errorf("lower_bound.derivation = %#v, want the steps", lb["derivation"])
	}
	if rounds, _ := lb["rounds"].(float64); rounds < 2 || rep["lower_bound_ms"].(float64) != rounds*1 {
		t.Errorf("lower_bound_ms %v with %v rounds at 1 ms", rep["lower_bound_ms"], rounds)
	}
	base, ok := rep["baseline"].(map[string]any)
	if !ok {
		t.Fatalf("baseline = %#v, want the naive read's figures", rep["baseline"])
	}
	for _, k := range figures {
		if _, ok := base[k].(float64); !ok {
			t.Errorf("baseline.%s = %#v, want a number", k, base[k])
		}
	}
	if breq := counts(base, "requests"); breq["total"] <= req["total"] {
		t.Errorf("naive requests %v, want more than bitbricks' %v", breq, req)
	}
	ratio, _ := rep["ratio"].(map[string]any)
	if _, ok := ratio["snapshot_ms"].(float64); !ok {
		t.Errorf("ratio = %#v, want snapshot_ms and the others", rep["ratio"])
	}
}

// `emulate --seed large --write-config` writes a config that maps the large
// organisation's groups to their Databricks twins, and it validates.
func TestEmulateLargeWritesConfig(t *testing.T) {
	isolate(t)
	org, err := emulator.Seed("large", testNow)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "large.yaml")
	if err := writeSeedConfig("large", org, "http://127.0.0.1:1", path); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cfg.Mappings); n != emulator.DefaultLarge().BBGroups {
		t.Errorf("%d mappings, want one per Bitbucket group (%d)", n, emulator.DefaultLarge().BBGroups)
	}
	if m := cfg.Mappings[0]; m.BitbucketGroup != "team-0000" || m.DatabricksGroup != "team-0000" || !m.Prune {
		t.Errorf("first mapping %+v, want team-0000 to its twin, pruned", m)
	}
	if !cfg.Policy.RevokeDeparted {
		t.Error("the large config does not act on departures, as a scheduled sync would")
	}
	if r := runCLI(t, nil, "", "config", "validate", "--config", path); r.code != 0 {
		t.Errorf("config validate: %d %s", r.code, r.err)
	}
}

// sync never reads or writes the console's snapshot cache, and prints the
// read's progress counts on stderr.
func TestSyncLeavesTheSnapshotCacheAlone(t *testing.T) {
	o := newTestOrg(t)
	cacheHome := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cacheHome)
	r := runCLI(t, o.env, "", "sync", "--config", o.cfg)
	if r.code != 0 && r.code != 2 {
		t.Fatalf("sync: exit %d: %s", r.code, r.err)
	}
	entries, err := os.ReadDir(filepath.Join(cacheHome, "bitbricks"))
	if err == nil && len(entries) > 0 {
		t.Errorf("sync wrote to the snapshot cache: %v", entries)
	}
	if !strings.Contains(r.err, "Databricks users: 1 of 1 pages") || !strings.Contains(r.err, "emails resolved") {
		t.Errorf("stderr lacks the progress counts:\n%s", r.err)
	}
}
