package views

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/sync"
)

func TestPlanTextEndsWithProblems(t *testing.T) {
	p := sync.Plan{GeneratedAt: testNow, Problems: []sync.Problem{
		{System: "atlassian", What: "emails", Status: 401, Detail: "bad key \x1b]0;owned\a"},
		{System: "databricks", What: "tokens", Detail: "connection reset"},
	}}
	var b bytes.Buffer
	if err := RenderPlanText(&b, p, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "in step with Bitbucket.") {
		t.Errorf("claims to be in step:\n%s", out)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	want := []string{
		"  ✗ atlassian: emails failed (HTTP 401): bad key ",
		"  ✗ databricks: tokens failed (no HTTP answer): connection reset",
	}
	if got := lines[len(lines)-2:]; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("last lines = %q, want %q", got, want)
	}
	if strings.ContainsAny(out, "\x1b\a") {
		t.Errorf("a control character reached the text: %q", out)
	}
}
