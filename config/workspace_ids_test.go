package config

import (
	"strings"
	"testing"
)

// TestWorkspaceIDs: databricks.workspaces[].workspace_id, written as a
// number or a string, is kept as its digits; anything else, or one id
// under two names, is refused at file:line:col.
func TestWorkspaceIDs(t *testing.T) {
	isolateEnv(t)
	head := "bitbucket:\n  workspace: acme\ndatabricks:\n  account_id: acct-1\n  workspaces:\n"
	c, err := Parse("b.yaml", []byte(head+"    - {name: prod, profile: prod, workspace_id: 1234567890123456}\n    - {name: dev, profile: dev, workspace_id: \"2222222222222222\"}\n    - {name: qa, profile: qa}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Databricks.Workspaces.List; l[0].WorkspaceID != "1234567890123456" || l[1].WorkspaceID != "2222222222222222" || l[2].WorkspaceID != "" {
		t.Errorf("ids: %+v", l)
	}
	for name, c := range map[string]struct{ src, want string }{
		"not digits": {"    - {name: prod, profile: prod, workspace_id: abc}\n", `b.yaml:6:`},
		"negative":   {"    - {name: prod, profile: prod, workspace_id: -5}\n", `"-5" is not a workspace id`},
		"twice":      {"    - {name: prod, profile: prod, workspace_id: 7}\n    - {name: dev, profile: dev, workspace_id: 7}\n", `b.yaml:7:`},
	} {
		_, err := Parse("b.yaml", []byte(head+c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line with %q", name, err, c.want)
		}
		if name == "twice" && (err == nil || !strings.Contains(err.Error(), "one workspace under two names")) {
			t.Errorf("twice: %v", err)
		}
	}
}
