package tui

import (
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/sync"
)

// Only a failure reads as one in the Audit view: an intent (written before
// a rotation's step) and a skipped change are not marked ✗, which the help
// keeps for errors; after a clean rotation half the lines are intents.
func TestAuditResultMarks(t *testing.T) {
	th := newTheme(asciiRenderer())
	for result, want := range map[string]string{
		sync.ResultApplied: "✓ applied",
		sync.ResultIntent:  "· intent",
		sync.ResultSkipped: "! skipped",
		sync.ResultFailed:  "✗ failed",
		"\x1b[2Jodd":       "✗ ",
	} {
		got := auditResult(th, result)
		if !strings.HasPrefix(got, want) {
			t.Errorf("%q is shown %q, want it to start %q", result, got, want)
		}
		if strings.Contains(got, "\x1b") {
			t.Errorf("%q is shown with an escape: %q", result, got)
		}
	}
}
