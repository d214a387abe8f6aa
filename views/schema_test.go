package views

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/bitbricks/bitbricks/sync"
)

func planSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	s, err := c.Compile("../schema/plan.schema.json")
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return s
}

func validate(s *jsonschema.Schema, doc []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

func TestPlanJSONMatchesSchema(t *testing.T) {
	s := planSchema(t)
	p := samplePlan()
	seen := map[string]bool{}
	for _, c := range p.Changes {
		seen[c.Action.String()] = true
	}
	for _, f := range p.Findings {
		seen[string(f.Kind)] = true
	}
	for _, want := range []string{"create_group", "add_member", "remove_member", "add_entitlement", "remove_entitlement",
		"revoke_token", "revoke_secret", "rotate_credential", "unresolved_identity", "missing_user", "idp_managed", "unknown_source",
		"stale_token", "secret_limit", "account_group_no_access", "not_assigned", "departed_unknown", "could_federate", "federation_too_broad"} {
		if !seen[want] {
			t.Errorf("sample plan lacks %s", want)
		}
	}
	for _, tc := range []struct {
		name    string
		plan    sync.Plan
		results []sync.Result
	}{
		{"plan", p, nil},
		{"with results", p, []sync.Result{{ID: "create_group/ml-team", Status: "applied"}, {ID: "revoke_token/t-old", Status: "failed", Error: "HTTP 500"},
			{ID: "revoke_secret/s-1", Status: "skipped"}}},
		{"empty results", p, []sync.Result{}},
		{"empty plan", sync.Plan{GeneratedAt: testNow}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := RenderPlanJSON(&b, tc.plan, tc.results); err != nil {
				t.Fatal(err)
			}
			if err := validate(s, b.Bytes()); err != nil {
				t.Fatalf("%v\n%s", err, b.String())
			}
			var doc map[string]any
			if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if _, ok := doc["results"]; ok != (tc.results != nil) {
				t.Errorf("results present = %v, want %v", ok, tc.results != nil)
			}
			if doc["generated_at"] != tc.plan.GeneratedAt.UTC().Format("2006-01-02T15:04:05Z07:00") {
				t.Errorf("generated_at %v", doc["generated_at"])
			}
		})
	}
}

// The schema must be able to fail: break a valid document in ways the
// contract forbids.
func TestPlanSchemaRejects(t *testing.T) {
	s := planSchema(t)
	var b bytes.Buffer
	if err := RenderPlanJSON(&b, samplePlan(), nil); err != nil {
		t.Fatal(err)
	}
	valid := b.String()
	for _, tc := range []struct{ name, from, to string }{
		{"missing summary", `"summary"`, `"summery"`},
		{"missing token_id", `"token_id": "t-old",`, ``},
		{"unknown action", `"action": "revoke_token"`, `"action": "delete_everything"`},
		{"group_kind on a token change", `"token_id": "t-old",`, `"token_id": "t-old", "group_kind": "workspace",`},
		{"revoke not destructive", `"reason": "older than 90d (120d)"`, `"reason": "x", "destructive": false`},
		{"bad finding kind", `"kind": "stale_token"`, `"kind": "stale"`},
		{"bad format version", `"format_version": "1"`, `"format_version": "2"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(valid, tc.from, tc.to, 1)
			if doc == valid {
				t.Fatalf("%q not in the document", tc.from)
			}
			if err := validate(s, []byte(doc)); err == nil {
				t.Errorf("schema accepted:\n%s", doc)
			}
		})
	}
	bad := `{"format_version":"1","generated_at":"2026-11-26T12:00:00Z","summary":{"changes":0,"destructive":0,"findings":0,"by_action":{}},` +
		`"changes":[],"findings":[],"results":[{"id":"x","status":"done","error":""}]}`
	if err := validate(s, []byte(bad)); err == nil {
		t.Error("schema accepted an unknown result status")
	}
}
