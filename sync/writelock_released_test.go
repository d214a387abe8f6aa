package sync

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// holdAt holds an apply inside its observer: at the Start of change i (after
// the change's checks and intent line, before its request), or at the Done
// of the last change (after every change, before the write lock is let go).
type holdAt struct {
	i            int // -1: the Done of the last change
	held, resume chan struct{}
}

func (h *holdAt) Start(i, _ int, _ Change) {
	if i == h.i {
		close(h.held)
		<-h.resume
	}
}

func (h *holdAt) Done(i, n int, _ Change, _ Result) {
	if h.i < 0 && i == n-1 {
		close(h.held)
		<-h.resume
	}
}

// TestWriterReleasedByUnlockStops: a writer (A) is held mid-apply while an
// operator on another machine (another state directory, another machine
// id) runs unlock. Unlock refuses the lease, renewed moments ago, without
// force (saying when a live run would renew it next); forced, it releases
// it. Held at its first change, A makes that change (its request was on its
// way) and then, checking its lease before the next one, makes none of the
// rest: its apply ends in a *LeaseLostError (exit 1) that says the lease
// was released by unlock, that nothing more was written, and after when
// changes may have overlapped; its audit log has one change. Held after its
// last change, A finds it when it lets its lock go and says so too. Either
// way the lease file unlock left is not deleted by A, and the next writer
// (B) then goes ahead.
func TestWriterReleasedByUnlockStops(t *testing.T) {
	for _, tc := range []struct {
		name    string
		at      int
		applied func(n int) int
		says    string
	}{
		{"before its second change", 0, func(int) int { return 1 }, "nothing more was written"},
		{"when it ends", -1, func(n int) int { return n }, "found when the run ended its writing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := newServiceEnv(t)
			ctx := context.Background()
			a := NewService(e.src, e.cfg, ServiceOptions{Now: e.org.Now, StateDir: t.TempDir()})
			b := NewService(e.src, e.cfg, ServiceOptions{Now: e.org.Now, StateDir: t.TempDir()})
			_, plan, err := a.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n := len(plan.Changes)
			if n < 3 {
				t.Fatalf("the demo plan has %d changes, want several", n)
			}
			hold := &holdAt{i: tc.at, held: make(chan struct{}), resume: make(chan struct{})}
			var results []Result
			var aerr error
			done := make(chan struct{})
			go func() {
				defer close(done)
				results, aerr = a.Apply(ctx, plan, hold)
			}()
			select {
			case <-hold.held:
			case <-done:
				t.Fatalf("the apply ended before it was held: %v", aerr)
			}
			held := leaseFiles(t, e.db)

			// B judges the lease as another machine would.
			thisMachine = func() string { return "another-boot/pid:[1]" }
			defer func() { thisMachine = machineID }()
			st, err := b.Lease(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			now := e.org.Now()
			if !st.Held || st.LocalLive || !st.Recent || st.Renewed.After(now) || now.Sub(st.Renewed) > time.Minute || st.RenewEvery != DefaultLeaseTTL/3 {
				t.Fatalf("the live writer's lease as unlock reads it: %+v", st)
			}
			deadBy := st.Renewed.Add(DefaultLeaseTTL/3 + DefaultLeaseTTL/30).UTC().Format(time.RFC3339)
			for _, err := range []error{st.Refusal(false), func() error { _, err := b.Unlock(ctx, "", st.LeaseID, false); return err }()} {
				if !errors.As(err, new(*UnlockRefused)) || ExitCode(err) != 3 {
					t.Fatalf("unlock of a lease renewed 0s ago, without force: %v; want refused", err)
				}
				for _, want := range []string{"s ago (at " + st.Renewed.UTC().Format(time.RFC3339) + ")", "a live run renews it every 1m40s", "if it is not renewed by " + deadBy, "--force", "nothing was released"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("the refusal %q does not say %q", err, want)
					}
				}
			}
			if got := leaseFiles(t, e.db); len(got) != 1 || got[0] != held[0] {
				t.Fatalf("after the refusals the lease files are %v, want %v", got, held)
			}
			if got, err := b.Unlock(ctx, "", st.LeaseID, true); err != nil || !got.Released {
				t.Fatalf("unlock --force: %+v %v", got, err)
			}
			tomb := leaseFiles(t, e.db)
			close(hold.resume)
			<-done

			var applied, stopped int
			for _, r := range results {
				switch {
				case r.Status == ResultApplied:
					applied++
				case r.Status == ResultSkipped && strings.Contains(r.Error, "released by `bitbricks unlock`"):
					stopped++
				}
			}
			if applied != tc.applied(n) || applied+stopped != n {
				t.Errorf("A applied %d and stopped %d of %d changes, want %d applied and the rest stopped", applied, stopped, n, tc.applied(n))
			}
			var lost *LeaseLostError
			if !errors.As(aerr, &lost) || ExitCode(aerr) != 1 || lost.By == nil || lost.By.Command != "unlock" {
				t.Fatalf("A ended with %v (exit %d), want its lease lost to unlock, exit 1", aerr, ExitCode(aerr))
			}
			at := lost.By.Start.UTC().Format(time.RFC3339)
			if lost.By.Start.Before(now) {
				t.Errorf("unlock released the lease at %s, before it was asked to (%s)", at, now)
			}
			for _, want := range []string{"the write lease of " + e.db.Host(), "was released by `bitbricks unlock` at " + at,
				tc.says, "changes made after " + at + " may have overlapped another writer's"} {
				if !strings.Contains(aerr.Error(), want) {
					t.Errorf("A's error %q does not say %q", aerr, want)
				}
			}
			if strings.Count(aerr.Error(), "released by") != 1 {
				t.Errorf("A's error says it more than once: %q", aerr)
			}
			intents := 0
			evs, err := a.Audit(-1)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				if ev.Result == ResultIntent && ev.ChangeID != "" {
					intents++
				}
			}
			if intents != tc.applied(n) {
				t.Errorf("A's audit log has %d changes begun, want %d", intents, tc.applied(n))
			}
			if got := leaseFiles(t, e.db); len(got) != 1 || got[0] != tomb[0] {
				t.Errorf("after A the lease files are %v, want unlock's %v", got, tomb)
			}

			// B goes ahead and makes the rest.
			_, rest, err := b.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res, err := b.Apply(ctx, rest, nil); err != nil {
				t.Fatalf("B after unlock: %v %v", res, err)
			}
			if got := leaseFiles(t, e.db); len(got) != 0 {
				t.Errorf("after B the lease files are %v, want none", got)
			}
		})
	}
}

// TestLeaseCheckedBeforeEachChange: what the check costs. An apply of the
// demo plan lists the lease folder once to take the lease, once before
// each write it audits an intent for (each change, each step of a
// rotation) and once when it lets the lease go.
func TestLeaseCheckedBeforeEachChange(t *testing.T) {
	e, svc := newServiceEnv(t)
	ctx := context.Background()
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.ResetStats()
	res, err := svc.Apply(ctx, plan, nil)
	requireApplied(t, res, err)
	evs, err := svc.Audit(-1)
	if err != nil {
		t.Fatal(err)
	}
	intents := 0
	for _, ev := range evs {
		if ev.Result == ResultIntent {
			intents++
		}
	}
	lists := e.srv.Stats().Routes["databricks GET /api/2.0/workspace/list"]
	if lists != int64(intents+2) {
		t.Errorf("%d listings of the lease folder for %d changes and %d intents, want %d (take, one per intent, release)", lists, len(plan.Changes), intents, intents+2)
	}
	t.Logf("%d changes, %d audited intents: %d listings of the lease folder", len(plan.Changes), intents, lists)
}

// TestHeldLockReleasedByUnlockSaysSo: a front end's held write lock
// (HoldWriteLock: revoke, rotate, federate --finish read, confirm and
// write under it) whose lease another machine's unlock --force released
// after its last write: letting the lock go reports the lost lease
// (before, it was logged only, and the command exited 0). A write after
// the release is refused before it is made (TestWriterReleasedByUnlockStops).
func TestHeldLockReleasedByUnlockSaysSo(t *testing.T) {
	e, _ := newServiceEnv(t)
	ctx := context.Background()
	a := NewService(e.src, e.cfg, ServiceOptions{Now: e.org.Now, StateDir: t.TempDir()})
	b := NewService(e.src, e.cfg, ServiceOptions{Now: e.org.Now, StateDir: t.TempDir()})
	work, release, err := a.HoldWriteLock(ctx, "revoke")
	if err != nil {
		t.Fatal(err)
	}
	thisMachine = func() string { return "another-boot/pid:[1]" }
	defer func() { thisMachine = machineID }()
	st, err := b.Lease(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Unlock(ctx, "", st.LeaseID, true); err != nil {
		t.Fatal(err)
	}
	_ = work // no write after the release: letting the lock go finds it
	err = release()
	var lost *LeaseLostError
	if !errors.As(err, &lost) || ExitCode(err) != 1 || !strings.Contains(err.Error(), "released by `bitbricks unlock`") ||
		!strings.Contains(err.Error(), "found when the run ended its writing") {
		t.Errorf("letting the released lock go: %v, want the lease lost to unlock", err)
	}
	if err := release(); !errors.As(err, new(*LeaseLostError)) {
		t.Errorf("letting it go twice: %v, want the same answer", err)
	}
}
