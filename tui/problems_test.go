package tui

import (
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/sync"
)

func TestConsoleShowsSourceProblemsInABanner(t *testing.T) {
	b := newFakeBackend(t)
	m := loaded(t, b, 120, 40, false)
	if strings.Contains(m.View(), "could not be read") {
		t.Fatalf("a banner without problems:\n%s", m.View())
	}
	b.snap.Problems = []sync.SourceProblem{{System: "bitbucket", Source: "groups", Status: 500, Err: "HTTP 500 \x1b]0;x\x07"}}
	m = loaded(t, b, 120, 40, false)
	view := m.View()
	lines := strings.Split(view, "\n")
	if len(lines) < 2 || !strings.Contains(lines[1], "1 source(s) could not be read") || !strings.Contains(lines[1], "bitbucket groups (HTTP 500)") {
		t.Fatalf("no problems banner under the header:\n%s", view)
	}
	if n := strings.Count(view, "\n") + 1; n > 40 {
		t.Errorf("view is %d lines, taller than the terminal", n)
	}
}
