package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestExampleConfigValidates: the shipped example (config/example.yaml)
// and what `config init` writes validate as they are, with nothing else
// beside them.
func TestExampleConfigValidates(t *testing.T) {
	isolate(t)
	r := runCLI(t, nil, "", "config", "validate", "--config", filepath.Join("..", "..", "config", "example.yaml"))
	if r.code != 0 || !strings.Contains(r.out, "ok (") {
		t.Errorf("config validate of config/example.yaml: exit %d, %q %q", r.code, r.out, r.err)
	}
	path := filepath.Join(t.TempDir(), "bitbricks.yaml")
	if r := runCLI(t, nil, "", "config", "init", "--config", path); r.code != 0 {
		t.Fatalf("config init: exit %d %s", r.code, r.err)
	}
	if r := runCLI(t, nil, "", "config", "validate", "--config", path); r.code != 0 {
		t.Errorf("config validate of what config init wrote: exit %d, %s", r.code, r.err)
	}
}
