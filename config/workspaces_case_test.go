package config

import (
	"strings"
	"testing"
)

// TestWorkspaceNamesEqualButForCaseRefused: prod and Prod are one name to
// a person (and one lock directory on a case-insensitive file system).
func TestWorkspaceNamesEqualButForCaseRefused(t *testing.T) {
	isolateEnv(t)
	src := "bitbucket:\n  workspace: acme\ndatabricks:\n  workspaces:\n    - {name: prod, profile: a}\n    - {name: Prod, profile: b}\n"
	_, err := Parse("b.yaml", []byte(src))
	if err == nil {
		t.Fatal("prod and Prod accepted")
	}
	if want := `b.yaml:6:14: databricks.workspaces[1].name "Prod" differs only in case from databricks.workspaces[0] ("prod")`; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}
}
