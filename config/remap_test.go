package config

import (
	"strings"
	"testing"
)

const remapSrc = `# bitbricks config
bitbucket:
  workspace: acme      # aligned comment
databricks:
  profile: prod
mappings:
  # the data people
  - bitbucket_group: data-engineers   # who
    databricks_group: de-team         # where; this comment stays
    entitlements: [workspace-access]
  - bitbucket_group: analysts
    databricks_group: "analysts"  # quoted
  - {bitbucket_group: ml, databricks_group: 'ml-team'}   # flow style

policy:
  max_changes: 25   # trailing
`

func TestRemapKeepsEverythingElse(t *testing.T) {
	isolateEnv(t)
	tests := []struct {
		index    int
		group    string
		line     int // 1-based line that changes
		wantLine string
	}{
		{0, "platform-eng", 9, "    databricks_group: platform-eng         # where; this comment stays"},
		{1, "data analysts", 12, `    databricks_group: "data analysts"  # quoted`},
		{2, "ml's team", 13, `  - {bitbucket_group: ml, databricks_group: 'ml''s team'}   # flow style`},
		{0, "team: a # b", 9, `    databricks_group: "team: a # b"         # where; this comment stays`},
		{2, "a, b", 13, `  - {bitbucket_group: ml, databricks_group: 'a, b'}   # flow style`},
	}
	for _, tt := range tests {
		t.Run(tt.group, func(t *testing.T) {
			out, err := Remap([]byte(remapSrc), tt.index, tt.group)
			if err != nil {
				t.Fatal(err)
			}
			before := strings.Split(remapSrc, "\n")
			after := strings.Split(string(out), "\n")
			if len(after) != len(before) {
				t.Fatalf("line count changed: %d -> %d\n%s", len(before), len(after), out)
			}
			for i := range before {
				want := before[i]
				if i+1 == tt.line {
					want = tt.wantLine
				}
				if after[i] != want {
					t.Errorf("line %d = %q, want %q", i+1, after[i], want)
				}
			}
			c, err := Parse("b.yaml", out)
			if err != nil {
				t.Fatalf("re-mapped config does not parse: %v", err)
			}
			if got := c.Mappings[tt.index].DatabricksGroup; got != tt.group {
				t.Errorf("mappings[%d].databricks_group = %q, want %q", tt.index, got, tt.group)
			}
		})
	}
}

func TestRemapFallsBackToPrinter(t *testing.T) {
	// A block scalar cannot be replaced in place; the printer keeps comments elsewhere.
	src := "# top\nmappings:\n  - bitbucket_group: a # keep me\n    databricks_group: |\n      old\n"
	out, err := Remap([]byte(src), 0, "new")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "# top") || !strings.Contains(string(out), "# keep me") || !strings.Contains(string(out), `databricks_group: "new"`) {
		t.Errorf("Remap =\n%s", out)
	}
}

func TestRemapErrors(t *testing.T) {
	for _, tt := range []struct {
		name  string
		src   string
		index int
		group string
		want  string
	}{
		{"index out of range", remapSrc, 3, "x", "no mappings[3].databricks_group"},
		{"negative index", remapSrc, -1, "x", "no mapping -1"},
		{"empty group", remapSrc, 0, " ", "non-empty"},
		{"multi-line group", remapSrc, 0, "a\nb", "one non-empty line"},
		{"broken yaml", "mappings: [\n", 0, "x", "YAML syntax error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Remap([]byte(tt.src), tt.index, tt.group)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Remap error = %v, want %q", err, tt.want)
			}
		})
	}
}
