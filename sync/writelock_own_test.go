package sync

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/emulator"
)

// TestLockHeldByThisRun: a run that asks again for a workspace lease it
// holds (prod's, through a second state directory, as two entries of one
// workspace would) is told that it holds it itself, not that another run
// is writing, and does not wait for itself; another run (a context that
// holds no lock) is still told of another run, and waits.
func TestLockHeldByThisRun(t *testing.T) {
	tw := newTwoWorkspaces(t)
	_, src, _ := tw.part(t, emulator.DemoWorkspace)
	ctx := context.Background()
	now := func() time.Time { return tw.org.Now() }
	opts := func(command string) WriteLockOptions {
		o := lockOpts(t, t.TempDir(), command, now)
		o.Timeout = 300 * time.Millisecond
		return o
	}
	var inner, other error
	err := src.Writing(ctx, opts("sync --apply"), func(ctx context.Context) error {
		inner = src.Writing(ctx, opts("sync --apply"), func(context.Context) error {
			t.Error("the lease was granted twice")
			return nil
		})
		other = src.Writing(context.Background(), opts("rotate etl-prod"), func(context.Context) error {
			t.Error("another run got the lease while it was held")
			return nil
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	held := heldError(t, inner)
	if !held.Own || held.Waited != 0 || !strings.Contains(inner.Error(), "this bitbricks run itself holds the write lock") ||
		strings.Contains(inner.Error(), "another bitbricks run") || strings.Contains(inner.Error(), "--lock-timeout") {
		t.Errorf("the run's own lease: own %v, waited %v: %v", held.Own, held.Waited, inner)
	}
	held = heldError(t, other)
	if held.Own || held.Waited == 0 || !strings.Contains(other.Error(), "another bitbricks run is writing") {
		t.Errorf("another run: own %v, waited %v: %v", held.Own, held.Waited, other)
	}
}
