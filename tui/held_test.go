package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/sync"
)

// A write refused because another run holds the write lock shows who holds
// it and since when, as information, not as a failure.
func TestConsoleShowsTheWriteLockHolder(t *testing.T) {
	held := &sync.LockHeldError{Where: "workspace lease /Shared/.bitbricks/lease/writer.3.json", By: sync.Holder{
		Holder: "ci (etl-deployer)", Host: "runner-7", Process: 4242, Command: "sync --apply",
		Start: time.Date(2026, 11, 26, 11, 58, 0, 0, time.UTC)}}
	for _, msg := range []func(op int) any{
		func(op int) any {
			return opDoneMsg{op: op, err: fmt.Errorf("rotate etl-prod: %w", held), next: "press r to retry"}
		},
		func(op int) any { return applyDoneMsg{op: op, err: held} },
	} {
		m := loaded(t, newFixture(t), 120, 40, false)
		m = send(t, m, msg(m.op))
		if m.statusK == statusError || !strings.Contains(m.status, "ci (etl-deployer) on runner-7 (process 4242, sync --apply) since 2026-11-26T11:58:00Z") ||
			!strings.Contains(m.status, "nothing was changed") {
			t.Errorf("status %q (kind %v), want the holder shown as information", m.status, m.statusK)
		}
	}
}
