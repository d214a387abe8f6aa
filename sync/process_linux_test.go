//go:build linux

package sync

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// zombiePid starts a child process of this test, kills it and does not
// reap it: until the test ends it is a zombie, whose id kill(pid, 0)
// still answers for.
func zombiePid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep to start: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Wait() })
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	for {
		state, _, err := procStat(pid)
		if err != nil {
			t.Fatalf("the killed child %d: %v", pid, err)
		}
		if state == 'Z' {
			return pid
		}
		time.Sleep(5 * time.Millisecond) // the kill is delivered asynchronously
	}
}

// TestZombieOrReusedProcessIsGone: a killed run whose parent has not reaped
// it (a zombie, as under a wrapper script or a container's shell) is gone,
// though kill(pid, 0) succeeds; so is a process whose id is the holder's
// but that started at another time (the id was reused). This test's own
// process, with its recorded start, runs. On the workspace lease: the next
// writer here takes a zombie's or a reused id's lease over at once, and
// unlock does not call either a live process.
func TestZombieOrReusedProcessIsGone(t *testing.T) {
	if machineID() == "" {
		t.Skip("this machine cannot be told apart")
	}
	zombie := zombiePid(t)
	me := processStart(os.Getpid())
	if me == "" {
		t.Fatal("no start time for this process")
	}
	for _, tc := range []struct {
		name  string
		pid   int
		start string
		alive bool
	}{
		{"a zombie", zombie, "", false},
		{"this process, started then", os.Getpid(), me, true},
		{"this process's id, started at another time", os.Getpid(), me + "0", false},
		{"this process, start not recorded", os.Getpid(), "", true},
	} {
		if alive, known := processState(tc.pid, tc.start); alive != tc.alive || !known {
			t.Errorf("%s: alive %v known %v, want alive %v known", tc.name, alive, known, tc.alive)
		}
	}

	e, svc := newServiceEnv(t)
	host, _ := os.Hostname()
	now := e.org.Now()
	for _, h := range []Holder{
		{Holder: "ci", Host: host, Process: zombie, Command: "revoke", Start: now, Expiry: now.Add(4 * time.Minute), Nonce: "2000000000000001", Machine: machineID()},
		{Holder: "ci", Host: host, Process: os.Getpid(), ProcessStart: me + "0", Command: "sync --apply", Start: now, Expiry: now.Add(4 * time.Minute), Nonce: "2000000000000002", Machine: machineID()},
	} {
		plantLease(t, e.db, h)
		st, err := svc.Lease(context.Background(), "")
		if err != nil || st.LeaseID != h.Nonce || st.LocalLive || st.Recent {
			t.Errorf("%s: lease %+v (%v), want held and not by a live process here", h.Nonce, st, err)
		}
		// Renewed just now, but its process is known to be gone: unlock
		// releases it without --force.
		if err := st.Refusal(false); err != nil {
			t.Errorf("%s: unlock refuses: %v", h.Nonce, err)
		}
		if err := svc.Writing(context.Background(), "sync --apply", func(context.Context) error { return nil }); err != nil {
			t.Errorf("%s: the next writer here: %v, want the lease taken over", h.Nonce, err)
		}
	}
	if files := leaseFiles(t, e.db); len(files) != 0 {
		t.Errorf("lease files left: %v", files)
	}
}
