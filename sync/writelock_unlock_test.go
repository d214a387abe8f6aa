package sync

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/service/workspace"
)

// plantLease makes h the holder of the workspace lease, as a run of another
// process would have.
func plantLease(t *testing.T, db *Databricks, h Holder) string {
	t.Helper()
	ctx := context.Background()
	if err := db.w.Workspace.MkdirsByPath(ctx, DefaultLeaseDir); err != nil {
		t.Fatal(err)
	}
	epoch, _, err := currentLease(ctx, db, DefaultLeaseDir)
	if err != nil {
		t.Fatal(err)
	}
	p := leasePath(DefaultLeaseDir, epoch+1)
	if ok, err := createLease(ctx, db, p, h); err != nil || !ok {
		t.Fatalf("plant lease: %v %v", ok, err)
	}
	return p
}

// leaseFiles are the lease files in the workspace.
func leaseFiles(t *testing.T, db *Databricks) []string {
	t.Helper()
	objs, err := db.w.Workspace.ListAll(context.Background(), workspace.ListWorkspaceRequest{Path: DefaultLeaseDir})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Path)
	}
	return out
}

// deadPid is the id of a process of this machine that has ended.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestLeaseOfDeadProcessHereTakenOver: a writer killed on this machine left
// its lease with 5 minutes to run. The next writer here sees that the
// holder's process no longer exists and takes the lease over at once
// (before, it was refused until the lease expired). A holder of the same
// host name on another machine (another boot or container), or one whose
// process still runs, is waited for as before.
func TestLeaseOfDeadProcessHereTakenOver(t *testing.T) {
	if runtime.GOOS != "linux" || machineID() == "" {
		t.Skip("a process id is tied to this machine on Linux only")
	}
	e, svc := newServiceEnv(t)
	host, _ := os.Hostname()
	now := e.org.Now()
	killed := Holder{Holder: "ci", Host: host, Process: deadPid(t), Command: "sync --apply", Start: now.Add(-time.Minute),
		Expiry: now.Add(4 * time.Minute), Nonce: "killed", Machine: machineID()}
	for _, tc := range []struct {
		name string
		h    Holder
		held bool
	}{
		{"another machine of the same host name", func() Holder { h := killed; h.Machine = "other-boot/pid:[1]"; h.Nonce = "other"; return h }(), true},
		{"a live process here", func() Holder { h := killed; h.Process = os.Getpid(); h.Nonce = "live"; return h }(), true},
		{"a process here that is gone", killed, false},
	} {
		p := plantLease(t, e.db, tc.h)
		err := svc.Writing(context.Background(), "sync --apply", func(context.Context) error { return nil })
		var held *LockHeldError
		if got := errors.As(err, &held); got != tc.held {
			t.Errorf("%s: held %v (%v), want %v", tc.name, got, err, tc.held)
		}
		if !tc.held && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if tc.held {
			// Clear it for the next case, as its expiry would.
			if err := e.db.w.Workspace.Delete(context.Background(), workspace.Delete{Path: p}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if files := leaseFiles(t, e.db); len(files) != 0 {
		t.Errorf("lease files left: %v", files)
	}
}

// TestUnlock: `unlock` shows a killed remote run's lease (last renewed 3
// minutes ago, so not by a live run), refuses a lease id that is not the
// holder's and a holder that is a live process here, and
// releases the one confirmed through the take-over path: the next writer
// goes ahead at once, and the audit log has the release.
func TestUnlock(t *testing.T) {
	e, svc := newServiceEnv(t)
	ctx := context.Background()
	now := e.org.Now()
	remote := Holder{Holder: "runner (sp-ci)", Host: "ci-runner-7", Process: 4242, Command: "sync --apply", Start: now.Add(-3 * time.Minute),
		Expiry: now.Add(2 * time.Minute), Nonce: "0011223344556677", Machine: "boot/pid:[9]"}
	p := plantLease(t, e.db, remote)
	if err := svc.Writing(ctx, "sync --apply", func(context.Context) error { return nil }); !errors.As(err, new(*LockHeldError)) ||
		!strings.Contains(err.Error(), "bitbricks unlock") {
		t.Fatalf("a writer with the lease held: %v; want refused, naming bitbricks unlock", err)
	}
	st, err := svc.Lease(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Held || st.Path != p || st.LeaseID != remote.Nonce || st.Holder.Host != "ci-runner-7" || st.Holder.Process != 4242 ||
		st.Holder.Command != "sync --apply" || st.Expired || st.LocalLive || st.Recent {
		t.Fatalf("lease state %+v", st)
	}
	if _, err := svc.Unlock(ctx, "", "ffffffffffffffff", false); !errors.As(err, new(*UnlockRefused)) || ExitCode(err) != 3 {
		t.Errorf("unlock with another lease id: %v (exit %d), want refused, exit 3", err, ExitCode(err))
	}
	if files := leaseFiles(t, e.db); len(files) != 1 || files[0] != p {
		t.Fatalf("after a refused unlock the lease files are %v, want %s", files, p)
	}
	got, err := svc.Unlock(ctx, "", remote.Nonce, false)
	if err != nil || !got.Released {
		t.Fatalf("unlock: %+v %v", got, err)
	}
	// What is left is the next epoch's lease, expired: the epochs go on, so
	// the old holder, if it still ran, would find its renewal taken.
	tomb := leasePath(DefaultLeaseDir, 2)
	if files := leaseFiles(t, e.db); len(files) != 1 || files[0] != tomb {
		t.Errorf("after unlock the lease files are %v, want %s", files, tomb)
	}
	if after, err := svc.Lease(ctx, ""); err != nil || !after.Expired {
		t.Errorf("after unlock the lease is %+v (%v), want expired", after, err)
	}
	old := &lease{db: e.db, dir: DefaultLeaseDir, path: p, epoch: 1, holder: remote}
	if err := old.renew(ctx, WriteLockOptions{Now: e.org.Now, TTL: DefaultLeaseTTL, Log: svc.log}); !errors.As(err, new(*LeaseLostError)) {
		t.Errorf("the released holder's renewal: %v, want the lease lost", err)
	}
	if err := svc.Writing(ctx, "sync --apply", func(context.Context) error { return nil }); err != nil {
		t.Errorf("a writer after unlock: %v", err)
	}
	evs, err := svc.Audit(-1)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, ev := range evs {
		if ev.Action == "unlock" {
			lines = append(lines, ev.Result+" "+ev.Target)
		}
	}
	if len(lines) != 2 || !strings.HasPrefix(lines[1], ResultIntent+" ") || !strings.HasPrefix(lines[0], ResultApplied+" lease:"+p+" lease_id:"+remote.Nonce) || !strings.HasSuffix(lines[0], " holder:ci-runner-7/4242") {
		t.Errorf("audit lines of unlock (newest first): %q", lines)
	}

	// A holder that is a live process of this machine is never released.
	host, _ := os.Hostname()
	live := remote
	live.Host, live.Process, live.Machine, live.Nonce = host, os.Getpid(), machineID(), "8899aabbccddeeff"
	p = plantLease(t, e.db, live)
	st, err = svc.Lease(ctx, "")
	if err != nil || !st.LocalLive {
		t.Fatalf("a live holder here: %+v %v", st, err)
	}
	if _, err := svc.Unlock(ctx, "", live.Nonce, true); !errors.As(err, new(*UnlockRefused)) || !strings.Contains(err.Error(), "live process on this machine") {
		t.Errorf("unlock of a live holder here: %v", err)
	}
	if files := leaseFiles(t, e.db); len(files) != 1 || files[0] != p {
		t.Errorf("after refusing a live holder the lease files are %v, want %s", files, p)
	}
}
