package config

import (
	"strings"
	"testing"
)

func TestAddMappingKeepsTheFile(t *testing.T) {
	src := Example()
	out, err := AddMapping(src, "interns", "interns-team")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), strings.Split(string(src), "mappings:")[0]) {
		t.Error("the text before the mappings changed")
	}
	cfg, err := Parse("config", out)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := Parse("config", src)
	if len(cfg.Mappings) != len(before.Mappings)+1 {
		t.Fatalf("%d mappings, want %d", len(cfg.Mappings), len(before.Mappings)+1)
	}
	if got := cfg.Mappings[len(cfg.Mappings)-1]; got.BitbucketGroup != "interns" || got.DatabricksGroup != "interns-team" || got.Prune {
		t.Errorf("the new mapping is %+v", got)
	}
	// Every original line is still there, comments included.
	for _, l := range strings.Split(string(src), "\n") {
		if !strings.Contains(string(out), l) {
			t.Errorf("line %q was lost", l)
		}
	}
}

func TestAddMappingQuotesAndRefuses(t *testing.T) {
	src := []byte("bitbucket:\n  workspace: acme\ndatabricks:\n  host: https://x.cloud.databricks.com\nmappings:\n- bitbucket_group: a\n  databricks_group: b\n# trailing\npolicy:\n  max_changes: 5\n")
	out, err := AddMapping(src, "x: y", "#team")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "- bitbucket_group: \"x: y\"\n  databricks_group: \"#team\"\n") {
		t.Errorf("quoting or indentation wrong:\n%s", out)
	}
	for _, bad := range []string{"bitbucket:\n  workspace: acme\n", "mappings: []\n", "mappings:\npolicy:\n  max_changes: 5\n"} {
		if _, err := AddMapping([]byte(bad), "a", "b"); err == nil || !strings.Contains(err.Error(), "by hand") {
			t.Errorf("AddMapping(%q): %v, want a refusal that says to edit by hand", bad, err)
		}
	}
	if _, err := AddMapping(src, "a\nb", "c"); err == nil {
		t.Error("a multi-line name was accepted")
	}
}
