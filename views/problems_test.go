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

func TestSanitizeNeutralisesBidiAndKeepsUnicode(t *testing.T) {
	in := "Zoë \u202egnp.exe\u202c 日本 \u2066x\u2069 \u200fy"
	if got, want := Sanitize(in), "Zoë gnp.exe 日本 x y"; got != want {
		t.Errorf("Sanitize = %q, want %q", got, want)
	}
	if got := Sanitize("plain Ünïcödé ✓"); got != "plain Ünïcödé ✓" {
		t.Errorf("ordinary text changed: %q", got)
	}
}

func TestTerminalWriterGatesEveryLine(t *testing.T) {
	var b bytes.Buffer
	w := NewTerminalWriter(&b, true)
	in := "\x1b[31mred\x1b[0m \x1b]0;title\x07name\u202e\nline 2 dapi0123456789abcdef0123456789abcdef\n"
	n, err := w.Write([]byte(in))
	if err != nil || n != len(in) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	want := "\x1b[31mred\x1b[0m name\nline 2 dapi…cdef\n"
	if b.String() != want {
		t.Errorf("colour on: got %q, want %q", b.String(), want)
	}
	b.Reset()
	w = NewTerminalWriter(&b, false)
	w.MaxLine = 10
	w.Write([]byte(in))
	if want := "red name\nline 2 dap…\n"; b.String() != want {
		t.Errorf("colour off, cut at 10: got %q, want %q", b.String(), want)
	}
	if got := ShowFilter("dapi0123456789abcdef0123456789abcdef"); strings.Contains(got, "0123") {
		t.Errorf("ShowFilter shows the credential: %q", got)
	}
}
