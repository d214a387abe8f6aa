package tui

import (
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/sync"
)

func TestConsoleShowsSourceProblemsInABanner(t *testing.T) {
	b := newFixture(t)
	m := loaded(t, b, 120, 40, false)
	if strings.Contains(m.View(), "could not be read") {
		t.Fatalf("a banner without problems:\n%s", m.View())
	}
	b.snap.Problems = []sync.SourceProblem{{System: "bitbucket", Source: "groups", Status: 500, Err: "HTTP 500 \x1b]0;x\x07"}}
	m = loaded(t, b, 120, 40, false)
	view := m.View()
	lines := strings.Split(view, "\n")
	if len(lines) < 2 || !strings.Contains(lines[1], "1 source could not be read") || !strings.Contains(lines[1], "bitbucket groups (HTTP 500)") {
		t.Fatalf("no problems banner under the header:\n%s", view)
	}
	if n := strings.Count(view, "\n") + 1; n > 40 {
		t.Errorf("view is %d lines, taller than the terminal", n)
	}
}

// A token value pasted into the filter by mistake stays off the screen:
// neither the input line nor any pane title shows it.
func TestFilterMasksACredential(t *testing.T) {
	const pasted = "dapi0123456789abcdef0123456789abcdef"
	for _, tab := range []string{"1", "2", "3", "4", "5"} {
		m := loaded(t, newFixture(t), 160, 40, false)
		m = keys(t, m, tab, "/", pasted)
		if v := m.View(); strings.Contains(v, "0123456789") {
			t.Errorf("tab %s: the filter input shows the credential:\n%s", tab, v)
		}
		m = keys(t, m, "enter")
		if v := m.View(); strings.Contains(v, "0123456789") || !strings.Contains(v, "hidden") {
			t.Errorf("tab %s: a pane title shows the credential (or no mask):\n%s", tab, v)
		}
	}
}
