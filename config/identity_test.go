package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseIdentityMap(t *testing.T) {
	src := `# Bitbucket account -> Databricks userName
"557058:4f2c0d1e-aaaa-bbbb-cccc-0123456789ab": dee@partner.com
"{b2c3d4e5-0000-4000-8000-000000000001}": bot@acme.com
712020:abc: "Eve@Acme.com"
`
	got, err := ParseIdentityMap("ids.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"557058:4f2c0d1e-aaaa-bbbb-cccc-0123456789ab": "dee@partner.com",
		"{b2c3d4e5-0000-4000-8000-000000000001}":      "bot@acme.com",
		"712020:abc":                                  "Eve@Acme.com",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseIdentityMap = %v, want %v", got, want)
	}
	if got, err := ParseIdentityMap("ids.yaml", []byte("# nobody yet\n")); err != nil || len(got) != 0 {
		t.Errorf("empty map = %v, %v", got, err)
	}
}

func TestIdentityMapErrors(t *testing.T) {
	for _, tt := range []struct {
		name      string
		src       string
		line, col int
		want      string
	}{
		{"unquoted uuid key", "a: x@acme.com\n{b2c3}: bot@acme.com\n", 2, 7, `quote {uuid} keys`},
		{"bare uuid", "b2c3d4e5-0000-4000-8000-000000000001: bot@acme.com\n", 1, 1, `needs braces: write "{b2c3d4e5-0000-4000-8000-000000000001}"`},
		{"no value", "a: x@acme.com\n\"557058:1\":\n", 2, 1, "557058:1 has no Databricks userName"},
		{"list value", "\"557058:1\": [a, b]\n", 1, 13, "must map to a Databricks userName, not a list"},
		{"not a map", "- a\n", 1, 1, "the identity map must be a mapping"},
		{"duplicate", "a: x\na: y\n", 2, 1, `mapping key "a" already defined`},
		{"unbalanced braces", "\"{b2c3\": x\n", 1, 1, "unbalanced braces"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseIdentityMap("ids.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("ParseIdentityMap succeeded, want %q", tt.want)
			}
			msg := err.Error()
			prefix := fmt.Sprintf("ids.yaml:%d:%d: ", tt.line, tt.col)
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tt.want) {
				t.Errorf("error = %q\nwant one line starting %q containing %q", msg, prefix, tt.want)
			}
		})
	}
}

func TestLoadIdentityMapFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ids.yaml")
	if err := os.WriteFile(path, []byte("\"557058:1\": a@acme.com\n\"557058:2\": {x: y}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadIdentityMap(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":2:13: ") {
		t.Errorf("LoadIdentityMap error = %v", err)
	}
	if _, err := LoadIdentityMap(path + ".missing"); err == nil || !strings.Contains(err.Error(), "identity.map_file") {
		t.Errorf("missing file error = %v", err)
	}
}
