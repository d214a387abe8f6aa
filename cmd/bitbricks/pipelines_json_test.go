package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// A federation policy not created yet (the one `pipelines` proposes) has no
// create_time in the JSON, rather than the zero time 0001-01-01T00:00:00Z.
func TestPipelinesJSONOmitsCreateTimeOfProposedPolicy(t *testing.T) {
	o := newTestOrg(t)
	r := runCLI(t, o.env, "", "pipelines", "--config", o.cfg, "--output", "json")
	if r.code != 0 {
		t.Fatalf("pipelines: exit %d: %s", r.code, r.err)
	}
	if strings.Contains(r.out, "0001-01-01") {
		t.Errorf("the JSON holds a zero time:\n%s", r.out)
	}
	var doc struct {
		Bindings []map[string]json.RawMessage `json:"bindings"`
	}
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil {
		t.Fatalf("pipelines JSON: %v\n%s", err, r.out)
	}
	proposed := 0
	for _, b := range doc.Bindings {
		var p map[string]any
		var inPlace bool
		_ = json.Unmarshal(b["policy_in_place"], &inPlace)
		if raw, ok := b["policy"]; ok && json.Unmarshal(raw, &p) == nil && p != nil {
			if !inPlace {
				proposed++
				if _, ok := p["create_time"]; ok {
					t.Errorf("proposed policy %v carries create_time", p)
				}
			}
		}
	}
	if proposed == 0 {
		t.Fatalf("no proposed policy in the output, nothing checked:\n%s", r.out)
	}
}
