package emulator

import (
	"encoding/json"
	"flag"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// specSubset is the part of Bitbucket's OpenAPI document the contract test
// needs, vendored so the tests need nothing beside the repository; see
// testdata/README.md for its source.
const specSubset = "testdata/bitbucket-openapi.json"

var specFrom = flag.String("bitbucket-openapi", "",
	"rewrite "+specSubset+" from this copy of Bitbucket's full OpenAPI document (YAML or JSON)")

// contractPaths are the document paths of bbContractOps.
func contractPaths() []string {
	var out []string
	for op := range bbContractOps {
		_, path, _ := strings.Cut(op, " ")
		if !slices.Contains(out, path) {
			out = append(out, path)
		}
	}
	slices.Sort(out)
	return out
}

// TestBitbucketSpecSubset keeps the vendored subset in step with the
// contract test: every path bbContractOps validates is there, and nothing
// else. With -bitbucket-openapi FILE it first rewrites the subset from the
// full document: the paths of bbContractOps (all their methods) and every
// component they reference, transitively, plus the security schemes.
func TestBitbucketSpecSubset(t *testing.T) {
	if *specFrom != "" {
		writeSpecSubset(t, *specFrom)
	}
	b, err := os.ReadFile(specSubset)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for op, note := range bbContractOps {
		_, path, _ := strings.Cut(op, " ")
		want[path] = true
		if note == "" && doc.Paths[path] == nil {
			t.Errorf("%s is validated but not in %s: regenerate it (see testdata/README.md)", op, specSubset)
		}
	}
	for path := range doc.Paths {
		if !want[path] {
			t.Errorf("%s holds %s, which no contract operation uses", specSubset, path)
		}
	}
}

func writeSpecSubset(t *testing.T, from string) {
	t.Helper()
	// The loader reads the YAML (references kept as references); its JSON
	// is then cut down as plain maps.
	doc, err := openapi3.NewLoader().LoadFromFile(from)
	if err != nil {
		t.Fatalf("read %s: %v", from, err)
	}
	src, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var full map[string]any
	if err := json.Unmarshal(src, &full); err != nil {
		t.Fatal(err)
	}
	paths, _ := full["paths"].(map[string]any)
	comps, _ := full["components"].(map[string]any)
	out := map[string]any{"openapi": full["openapi"], "info": full["info"], "servers": full["servers"]}
	subPaths := map[string]any{}
	for _, p := range contractPaths() {
		if item, ok := paths[p]; ok {
			subPaths[p] = item
		}
	}
	out["paths"] = subPaths

	// Every "#/components/KIND/NAME" reachable from the paths.
	keep := map[string]map[string]any{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if kind, name, ok := strings.Cut(strings.TrimPrefix(ref, "#/components/"), "/"); ok && keep[kind][name] == nil {
					if def, ok := comps[kind].(map[string]any)[name]; ok {
						if keep[kind] == nil {
							keep[kind] = map[string]any{}
						}
						keep[kind][name] = def
						walk(def)
					}
				}
			}
			for _, k := range slices.Sorted(maps.Keys(v)) {
				walk(v[k])
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(subPaths)
	if ss, ok := comps["securitySchemes"].(map[string]any); ok {
		if keep["securitySchemes"] == nil {
			keep["securitySchemes"] = map[string]any{}
		}
		maps.Copy(keep["securitySchemes"], ss)
	}
	if s, ok := comps["schemas"].(map[string]any)["error"]; ok { // the contract test restores it
		keep["schemas"]["error"] = s
	}
	out["components"] = keep
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(specSubset, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s: %d paths, %d bytes", specSubset, len(subPaths), len(b))
}
