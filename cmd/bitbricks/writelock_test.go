package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/config"
	bbsync "github.com/bitbricks/bitbricks/sync"
)

// holdLease takes the write lock as another machine would: its own state
// directory, the same workspace.
func holdLease(t *testing.T, o *testOrg, command string) *bbsync.WriteLock {
	t.Helper()
	cfg, err := config.Load(o.cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &ioStreams{Getenv: func(k string) string { return o.env[k] }, Now: func() time.Time { return testNow }, Err: io.Discard}
	e, err := newEngine(s, cfg, engineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	db, _ := e.src.Databricks.(*bbsync.Databricks)
	l, _, err := bbsync.AcquireWriteLock(context.Background(), db, bbsync.WriteLockOptions{
		StateDir: t.TempDir(), Command: command, Now: s.Now,
		Operator: bbsync.Operator{OSUser: "scheduler", Databricks: "admin@acme.com"},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// appliedIDs are the change ids a sync --apply --output json reports applied.
func appliedIDs(t *testing.T, out string) []string {
	t.Helper()
	if strings.TrimSpace(out) == "" {
		return nil
	}
	var doc struct {
		Results []struct{ ID, Status string }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("apply JSON: %v\n%s", err, out)
	}
	var ids []string
	for _, r := range doc.Results {
		if r.Status == bbsync.ResultApplied {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// Every command that writes refuses with exit 3 while another machine
// holds the workspace lease, names the holder, and changes nothing; with
// --lock-timeout it waits, then plans afresh once the holder is done.
func TestWritersRefuseWhileAnotherHoldsTheLease(t *testing.T) {
	o := newTestOrg(t)
	l := holdLease(t, o, "sync --apply")
	o.srv.ResetStats()
	for _, args := range [][]string{
		{"sync", "--apply", "--yes"},
		{"rotate", "etl-prod", "--yes"},
		{"rotate", "--due", "--yes"},
		{"revoke", "--owner", "hal@acme.com", "--yes"},
	} {
		r := runCLI(t, o.env, "", append(args, "--config", o.cfg)...)
		if r.code != 3 || !strings.Contains(r.err, "another bitbricks run is writing") ||
			!strings.Contains(r.err, "scheduler (admin@acme.com)") || !strings.Contains(r.err, "since 2026-11-26T12:00:00Z") {
			t.Errorf("%v: exit %d, stderr %q; want exit 3 naming the holder and since when", args, r.code, r.err)
		}
	}
	if w := writeRequests(o); w != 0 {
		t.Errorf("%d write requests while another writer held the lease, want 0", w)
	}

	done := make(chan cliRun, 1)
	go func() {
		done <- runCLI(t, o.env, "", "sync", "--apply", "--yes", "--lock-timeout", "10m", "--output", "json", "--config", o.cfg)
	}()
	// The holder applies the plan itself, then lets go.
	first := runCLI(t, o.env, "", "sync", "--output", "json", "--config", o.cfg)
	if n := len(changesOf(planOf(t, first.out))); n == 0 {
		t.Fatal("the demo plan is empty")
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.code != 0 {
		t.Fatalf("waiting writer: exit %d: %s", r.code, r.err)
	}
	if len(appliedIDs(t, r.out)) == 0 {
		t.Errorf("the waiting writer applied nothing:\n%s", r.out)
	}
}

// writeRequests counts the requests that could change something.
func writeRequests(o *testOrg) int64 {
	var n int64
	for route, c := range o.srv.Stats().Routes {
		if !isRead(route) {
			n += c
		}
	}
	return n
}

// Two sync --apply started together on one machine, and on two: one
// applies, the other refuses (exit 3) or waits and finds nothing left to do;
// no change is applied twice, and the next plan is empty.
func TestTwoApplyRunsTogether(t *testing.T) {
	for _, tc := range []struct {
		name     string
		machines int
		wait     bool
	}{{"one machine, refuse", 1, false}, {"two machines, refuse", 2, false}, {"two machines, wait", 2, true}} {
		t.Run(tc.name, func(t *testing.T) {
			o := newTestOrg(t)
			plan := changesOf(planOf(t, runCLI(t, o.env, "", "sync", "--output", "json", "--config", o.cfg).out))
			o.srv.SetLatency(20*time.Millisecond, 0) // long enough for the runs to overlap
			results := make(chan cliRun, 2)
			for range 2 {
				env := maps.Clone(o.env)
				if tc.machines == 2 {
					env["XDG_STATE_HOME"] = t.TempDir()
				}
				args := []string{"sync", "--apply", "--yes", "--output", "json", "--config", o.cfg}
				if tc.wait {
					args = append(args, "--lock-timeout", "10m")
				}
				go func() { results <- runCLI(t, env, "", args...) }()
			}
			seen := map[string]int{}
			codes := map[int]int{}
			for range 2 {
				r := <-results
				codes[r.code]++
				if r.code == 3 && !strings.Contains(r.err, "another bitbricks run is writing") {
					t.Errorf("refusal does not name the holder: %s", r.err)
				}
				if r.code != 0 && r.code != 3 {
					t.Errorf("exit %d: %s", r.code, r.err)
				}
				for _, id := range appliedIDs(t, r.out) {
					seen[id]++
				}
			}
			o.srv.SetLatency(0, 0)
			t.Logf("exit codes %v; %d of %d changes applied", codes, len(seen), len(plan))
			for id, n := range seen {
				if n > 1 {
					t.Errorf("%s applied %d times", id, n)
				}
			}
			if len(seen) != len(plan) {
				t.Errorf("%d changes applied, want the plan's %d", len(seen), len(plan))
			}
			if tc.wait && codes[0] != 2 {
				t.Errorf("exit codes %v: with --lock-timeout both should succeed, the second applying nothing", codes)
			}
			if !tc.wait && !(codes[0] == 1 && codes[3] == 1) && codes[0] != 2 {
				t.Errorf("exit codes %v", codes)
			}
			after := runCLI(t, o.env, "", "sync", "--output", "json", "--config", o.cfg)
			if n := len(changesOf(planOf(t, after.out))); n != 0 {
				t.Errorf("the plan after both runs has %d changes, want 0:\n%s", n, after.out)
			}
			if files := o.org.WorkspaceFiles(bbsync.DefaultLeaseDir); len(files) != 0 {
				t.Errorf("lease files left: %v", files)
			}
		})
	}
}

// TestHelperCLIProcess is not a test: it is the bitbricks command line in a
// process of its own, for the tests that kill one (see startCLI).
func TestHelperCLIProcess(t *testing.T) {
	raw := os.Getenv("BITBRICKS_TEST_CLI_ARGS")
	if raw == "" {
		t.Skip("runs only as a child process of another test")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	s := &ioStreams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv, Now: func() time.Time { return testNow }}
	os.Exit(run(context.Background(), s, args))
}

// startCLI runs the command line in a child process (this test binary),
// with the organisation's environment.
func startCLI(t *testing.T, o *testOrg, env map[string]string, args ...string) *exec.Cmd {
	t.Helper()
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCLIProcess$")
	cmd.Env = append(os.Environ(), "BITBRICKS_TEST_CLI_ARGS="+string(raw))
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// A sync --apply killed (SIGKILL) while it holds the lease leaves its lease
// file behind: another machine is refused until the lease expires, then
// takes it over and finishes the job; the next plan is empty.
func TestLeaseOfAKilledRunIsTakenOverAfterExpiry(t *testing.T) {
	o := newTestOrg(t)
	o.srv.SetLatency(30*time.Millisecond, 0)
	child := startCLI(t, o, o.env, "sync", "--apply", "--yes", "--config", o.cfg)
	for len(o.org.WorkspaceFiles(bbsync.DefaultLeaseDir)) == 0 {
		if child.ProcessState != nil {
			t.Fatal("the child ended before taking the lease")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	o.srv.SetLatency(0, 0)
	left := o.org.WorkspaceFiles(bbsync.DefaultLeaseDir)
	if len(left) != 1 {
		t.Fatalf("lease files after the kill: %v, want the killed run's one", left)
	}

	other := maps.Clone(o.env)
	other["XDG_STATE_HOME"] = t.TempDir()
	r := runCLI(t, other, "", "sync", "--apply", "--yes", "--config", o.cfg)
	if r.code != 3 || !strings.Contains(r.err, "sync --apply") {
		t.Fatalf("before expiry: exit %d, %s; want 3 naming the killed run", r.code, r.err)
	}
	later := runCLIAt(t, testNow.Add(bbsync.DefaultLeaseTTL+time.Minute), other, "sync", "--apply", "--yes", "--config", o.cfg)
	if later.code != 0 {
		t.Fatalf("after expiry: exit %d: %s", later.code, later.err)
	}
	if files := o.org.WorkspaceFiles(bbsync.DefaultLeaseDir); len(files) != 0 {
		t.Errorf("lease files after the takeover and release: %v (the killed run's %v must be gone too)", files, left)
	}
	after := runCLI(t, o.env, "", "sync", "--output", "json", "--config", o.cfg)
	if n := len(changesOf(planOf(t, after.out))); n != 0 {
		t.Errorf("the plan after the takeover has %d changes, want 0:\n%s", n, after.out)
	}
}

// runCLIAt is runCLI on a clock set to now.
func runCLIAt(t *testing.T, now time.Time, env map[string]string, args ...string) cliRun {
	t.Helper()
	var out, errb strings.Builder
	s := &ioStreams{In: strings.NewReader(""), Out: &out, Err: &errb,
		Getenv: func(k string) string { return env[k] }, Now: func() time.Time { return now }}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := run(ctx, s, args)
	return cliRun{code: code, out: out.String(), err: errb.String()}
}
