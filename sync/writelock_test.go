package sync

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/emulator"
)

func lockOpts(t *testing.T, stateDir, command string, now func() time.Time) WriteLockOptions {
	return WriteLockOptions{StateDir: stateDir, Command: command, Now: now, Poll: 10 * time.Millisecond,
		Operator: Operator{OSUser: "tester", Databricks: "admin@acme.com"}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func heldError(t *testing.T, err error) *LockHeldError {
	t.Helper()
	var held *LockHeldError
	if !errors.As(err, &held) {
		t.Fatalf("error %v, want a LockHeldError", err)
	}
	if ExitCode(err) != 3 {
		t.Errorf("exit code %d for %v, want 3", ExitCode(err), err)
	}
	return held
}

// Two machines (two state directories, so the local lock cannot help)
// exclude each other through the workspace lease, and the refusal names the
// holder; one machine's two processes exclude each other through the local
// lock alone.
func TestWriteLockExcludes(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	ctx := context.Background()
	t0 := e.org.Now()
	now := func() time.Time { return t0 }
	a, _, err := AcquireWriteLock(ctx, e.db, lockOpts(t, t.TempDir(), "sync --apply", now))
	if err != nil {
		t.Fatal(err)
	}
	files := e.org.WorkspaceFiles(DefaultLeaseDir)
	if len(files) != 1 {
		t.Fatalf("lease files %v, want one", files)
	}
	var h Holder
	b, _ := e.org.WorkspaceFile(files[0])
	if err := json.Unmarshal(b, &h); err != nil || h.Process == 0 || h.Host == "" || h.Command != "sync --apply" ||
		!h.Start.Equal(now()) || !h.Expiry.Equal(now().Add(DefaultLeaseTTL)) || !strings.Contains(h.Holder, "admin@acme.com") {
		t.Errorf("lease content %s (%v): want holder, host, process, command, start and expiry", b, err)
	}

	_, _, err = AcquireWriteLock(ctx, e.db, lockOpts(t, t.TempDir(), "rotate etl-prod", now))
	held := heldError(t, err)
	for _, want := range []string{"workspace lease " + files[0], "tester (admin@acme.com)", "sync --apply", "since 2026-", "--lock-timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not name %q", err, want)
		}
	}
	if held.By.Nonce != h.Nonce {
		t.Errorf("refusal names %+v, want the holder %+v", held.By, h)
	}

	// A second writer that waits gets the lock once the first releases it.
	waiting := lockOpts(t, t.TempDir(), "rotate etl-prod", now)
	waiting.Timeout = time.Hour
	got := make(chan error, 1)
	go func() {
		l, _, err := AcquireWriteLock(ctx, e.db, waiting)
		if err == nil {
			err = l.Release(ctx)
		}
		got <- err
	}()
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("the waiting writer: %v", err)
	}
	if files := e.org.WorkspaceFiles(DefaultLeaseDir); len(files) != 0 {
		t.Errorf("lease files after both released: %v", files)
	}

	// The local lock alone: one state directory, no workspace.
	dir := t.TempDir()
	l1, _, err := AcquireWriteLock(ctx, nil, lockOpts(t, dir, "sync --apply", now))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = AcquireWriteLock(ctx, nil, lockOpts(t, dir, "revoke", now))
	if held := heldError(t, err); !strings.Contains(held.Where, filepath.Join(dir, lockFileName)) || held.By.Command != "sync --apply" {
		t.Errorf("local refusal %+v, want the lock file and its holder", held)
	}
	if err := l1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	l2, _, err := AcquireWriteLock(ctx, nil, lockOpts(t, dir, "revoke", now))
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release(ctx)
}

// A lease left by a run that died is honoured until its expiry, then taken
// over through the next epoch's path; the dead run's file is removed, never
// overwritten.
func TestWriteLeaseTakeoverAfterExpiry(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	ctx := context.Background()
	t0 := e.org.Now()
	at := func(d time.Duration) func() time.Time { return func() time.Time { return t0.Add(d) } }
	dead := lockOpts(t, t.TempDir(), "sync --apply", at(0))
	dead.TTL, dead.LeaseDir = time.Minute, DefaultLeaseDir
	// What a killed run leaves: its lease file, never renewed nor deleted.
	if _, err := acquireLease(ctx, e.db, dead, newHolder(dead)); err != nil {
		t.Fatal(err)
	}
	first := e.org.WorkspaceFiles(DefaultLeaseDir)

	_, _, err := AcquireWriteLock(ctx, e.db, lockOpts(t, t.TempDir(), "rotate", at(30*time.Second)))
	heldError(t, err)
	if got := e.org.WorkspaceFiles(DefaultLeaseDir); len(got) != 1 || got[0] != first[0] {
		t.Fatalf("lease files %v after a refusal, want %v untouched", got, first)
	}

	l, _, err := AcquireWriteLock(ctx, e.db, lockOpts(t, t.TempDir(), "rotate", at(2*time.Minute)))
	if err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	got := e.org.WorkspaceFiles(DefaultLeaseDir)
	if want := leasePath(DefaultLeaseDir, 2); len(got) != 1 || got[0] != want {
		t.Errorf("lease files %v after the takeover, want only %s", got, want)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// A long run renews its lease (a new epoch, the old file deleted); a lease
// taken by another writer meanwhile stops the run's work.
func TestWriteLeaseRenewAndLoss(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	ctx := context.Background()
	opts := lockOpts(t, t.TempDir(), "sync --apply", time.Now)
	opts.TTL = 900 * time.Millisecond
	l, work, err := AcquireWriteLock(ctx, e.db, opts)
	if err != nil {
		t.Fatal(err)
	}
	for e.org.WorkspaceFiles(DefaultLeaseDir)[0] == leasePath(DefaultLeaseDir, 1) && work.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	if got := e.org.WorkspaceFiles(DefaultLeaseDir); len(got) != 1 || work.Err() != nil {
		t.Fatalf("after a renewal: files %v, work %v; want one lease file, the work going on", got, work.Err())
	}
	// Another writer creates the next epoch (as after a takeover).
	other := lockOpts(t, t.TempDir(), "rotate", time.Now)
	h := newHolder(other)
	h.Expiry = time.Now().Add(time.Hour)
	epoch, _, err := currentLease(ctx, e.db, DefaultLeaseDir)
	if err != nil {
		t.Fatal(err)
	}
	for n, created := epoch+1, 0; created < 3; n++ {
		ok, err := createLease(ctx, e.db, leasePath(DefaultLeaseDir, n), h)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			created++
		}
	}
	<-work.Done()
	var lost *LeaseLostError
	if err := l.Lost(work); !errors.As(err, &lost) {
		t.Fatalf("work stopped with %v, want a lost lease", context.Cause(work))
	}
	l.Release(ctx)
}

// A lease import whose answer is lost (it landed) is this writer's lease,
// not another's; one that failed outright stops the write with a clear
// error and leaves no lease behind.
func TestWriteLeaseImportFaults(t *testing.T) {
	for _, kind := range []emulator.FaultKind{emulator.FaultTruncated, emulator.Fault500} {
		t.Run(string(kind), func(t *testing.T) {
			e := newDemo(t, emulator.Options{})
			ctx := context.Background()
			if err := e.srv.SetFaults([]emulator.FaultRule{{Route: "POST /api/2.0/workspace/import", Sequence: []emulator.FaultKind{kind}}}); err != nil {
				t.Fatal(err)
			}
			l, _, err := AcquireWriteLock(ctx, e.db, lockOpts(t, t.TempDir(), "sync --apply", e.org.Now))
			files := e.org.WorkspaceFiles(DefaultLeaseDir)
			if kind == emulator.Fault500 {
				if err == nil || !strings.Contains(err.Error(), "create the workspace lease") || len(files) != 0 {
					t.Fatalf("import failing: %v, lease files %v; want a clear error and no lease", err, files)
				}
				return
			}
			if err != nil {
				t.Fatalf("with the import's answer lost: %v", err)
			}
			if len(files) != 1 {
				t.Errorf("lease files %v, want one", files)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A lease that expired before it could be renewed (the machine slept, the
// network was gone) is not renewed: the work stops.
func TestWriteLeaseExpiredBeforeRenewal(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	ctx := context.Background()
	t0 := e.org.Now()
	var jumped atomic.Bool
	opts := lockOpts(t, t.TempDir(), "sync --apply", func() time.Time {
		if jumped.Load() {
			return t0.Add(time.Hour)
		}
		return t0
	})
	opts.TTL = 300 * time.Millisecond
	l, work, err := AcquireWriteLock(ctx, e.db, opts)
	if err != nil {
		t.Fatal(err)
	}
	jumped.Store(true)
	<-work.Done()
	var lost *LeaseLostError
	if err := l.Lost(work); !errors.As(err, &lost) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("work stopped with %v, want a lease lost because it expired", context.Cause(work))
	}
	if got := e.org.WorkspaceFiles(DefaultLeaseDir); len(got) != 1 || got[0] != leasePath(DefaultLeaseDir, 1) {
		t.Errorf("lease files %v: an expired lease must not be renewed", got)
	}
	l.Release(ctx)
}
