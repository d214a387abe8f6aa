package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/config"
	bbsync "github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/tui"
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
	// A writer that waits, but not long enough, says it waited.
	if r := runCLI(t, o.env, "", "rotate", "etl-prod", "--yes", "--lock-timeout", "300ms", "--config", o.cfg); r.code != 3 ||
		!strings.Contains(r.err, "scheduler (admin@acme.com)") || !strings.Contains(r.err, "pass a longer --lock-timeout") {
		t.Errorf("rotate --lock-timeout 300ms: exit %d, %q; want exit 3 saying it waited", r.code, r.err)
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
	now := testNow
	if at := os.Getenv("BITBRICKS_TEST_NOW"); at != "" {
		var err error
		if now, err = time.Parse(time.RFC3339, at); err != nil {
			t.Fatal(err)
		}
	}
	if os.Getenv("BITBRICKS_TEST_AS_MAIN") != "" {
		keepGoingOnBrokenPipe()
	}
	s := &ioStreams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv, Now: func() time.Time { return now }}
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
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("child %v stderr:\n%s", args, stderr.String())
		}
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// A sync --apply in another process holds the lease: another run (another
// state directory) is refused. Killed (SIGKILL), it leaves its lease file
// behind. On Linux the killed run is known to have run on this machine and
// its process to be gone: the next run takes its lease over at once
// (before, it was refused until the lease expired). Elsewhere it is refused
// until the lease expires, then takes it over. Either way it finishes the
// job and the next plan is empty. (A holder on another machine is waited
// for: sync.TestLeaseOfDeadProcessHereTakenOver.)
func TestLeaseOfAKilledRunIsTakenOver(t *testing.T) {
	o := newTestOrg(t)
	// The child is held at its first group write, after it took its lease
	// (before its snapshot): it holds the lease for as long as this process
	// needs, however slow the machine.
	held, release := o.holdRequests(t, func(r *http.Request) bool {
		return r.Method != http.MethodGet && strings.Contains(r.URL.Path, "/scim/v2/Groups")
	})
	child := startCLI(t, o, o.env, "sync", "--apply", "--yes", "--config", o.cfg)
	exited := make(chan struct{})
	go func() { child.Wait(); close(exited) }()
	select {
	case <-held:
	case <-exited:
		t.Fatal("the child ended before applying a change")
	}
	if n := len(o.org.WorkspaceFiles(bbsync.DefaultLeaseDir)); n != 1 {
		t.Fatalf("%d lease files while the child applies, want its one", n)
	}
	// Two processes on two machines (two state directories): the live
	// child's lease refuses this one.
	other := maps.Clone(o.env)
	other["XDG_STATE_HOME"] = t.TempDir()
	if r := runCLI(t, other, "", "sync", "--apply", "--yes", "--config", o.cfg); r.code != 3 || !strings.Contains(r.err, "workspace lease") {
		t.Fatalf("while the other process applies: exit %d, %s; want 3 naming its workspace lease", r.code, r.err)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	release()
	left := o.org.WorkspaceFiles(bbsync.DefaultLeaseDir)
	if len(left) != 1 {
		t.Fatalf("lease files after the kill: %v, want the killed run's one", left)
	}

	r := runCLI(t, other, "", "sync", "--apply", "--yes", "--config", o.cfg)
	if runtime.GOOS == "linux" {
		if r.code != 0 {
			t.Fatalf("after the kill, on the machine it ran on: exit %d, %s; want its lease taken over at once", r.code, r.err)
		}
	} else {
		if r.code != 3 || !strings.Contains(r.err, "sync --apply") || !strings.Contains(r.err, "a run that was killed keeps it until then") {
			t.Fatalf("before expiry: exit %d, %s; want 3 naming the killed run and when its lease frees itself", r.code, r.err)
		}
		later := runCLIAt(t, testNow.Add(bbsync.DefaultLeaseTTL+time.Minute), other, "sync", "--apply", "--yes", "--config", o.cfg)
		if later.code != 0 {
			t.Fatalf("after expiry: exit %d: %s", later.code, later.err)
		}
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := run(ctx, s, args)
	return cliRun{code: code, out: out.String(), err: errb.String()}
}

// liveOf lists the live credentials of a binding's service principal that
// the binding could hold: OBO tokens with its marker, or every OAuth secret.
func liveOf(o *testOrg, binding string) map[string]string {
	o.org.Mu.Lock()
	defer o.org.Mu.Unlock()
	out := map[string]string{}
	for _, sp := range o.org.DB.ServicePrincipals {
		switch {
		case binding == "ml-prod" && sp.DisplayName == "ml-deployer":
			for _, sec := range o.org.DB.Secrets {
				if sec.SPID == sp.ID {
					out[sec.ID] = sec.Secret
				}
			}
		case binding == "etl-prod" && sp.DisplayName == "etl-deployer":
			for _, tk := range o.org.DB.Tokens {
				if tk.OwnerID == sp.ID && strings.HasPrefix(tk.Comment, "bitbricks:etl-prod:") {
					out[tk.ID] = tk.Value
				}
			}
		}
	}
	return out
}

// variableOf reads a binding's variable straight from the organisation.
func variableOf(o *testOrg, binding, key string) string {
	repo, env := "etl", ""
	if binding == "ml-prod" {
		repo, env = "ml-models", "Production"
	}
	o.org.Mu.Lock()
	defer o.org.Mu.Unlock()
	for _, r := range o.org.BB.Repos {
		if r.Slug != repo {
			continue
		}
		vars := r.Variables
		for _, en := range r.Environments {
			if en.Name == env {
				vars = en.Variables
			}
		}
		for _, v := range vars {
			if v.Key == key {
				return v.Value
			}
		}
	}
	return ""
}

// Real processes killed (SIGKILL) during `rotate`, three times in a row, at
// three moments (the new credential just created, the variable just
// written, created again), for both kinds: the pipeline's variable always
// holds a live credential, at most three of the binding's credentials are
// live at once (so the service principal never nears five secrets), and one
// later `rotate` leaves exactly one live credential of the binding,
// the recorded one, held by the variable. Each run takes over the lease the
// killed one left once it has expired (the clocks move 10 minutes a run).
func TestKilledRotationProcessesLeaveNoLeftovers(t *testing.T) {
	for _, tc := range []struct{ binding, variable string }{
		{"ml-prod", "DATABRICKS_CLIENT_SECRET"},
		{"etl-prod", "DATABRICKS_TOKEN"},
	} {
		t.Run(tc.binding, func(t *testing.T) {
			o := newTestOrg(t)
			var offset atomic.Int64
			o.org.Mu.Lock()
			o.org.Now = func() time.Time { return testNow.Add(time.Duration(offset.Load())) }
			o.org.Mu.Unlock()
			o.srv.SetLatency(15*time.Millisecond, 0)
			// The most credentials of the binding live at any moment.
			var peak atomic.Int64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				for {
					if n := int64(len(liveOf(o, tc.binding))); n > peak.Load() {
						peak.Store(n)
					}
					select {
					case <-stop:
						return
					case <-time.After(200 * time.Microsecond):
					}
				}
			}()
			most := len(liveOf(o, tc.binding))
			triggers := []func(before map[string]string, value string) bool{
				func(before map[string]string, _ string) bool { return len(liveOf(o, tc.binding)) > len(before) },
				func(_ map[string]string, value string) bool { return variableOf(o, tc.binding, tc.variable) != value },
				func(before map[string]string, _ string) bool { return len(liveOf(o, tc.binding)) > len(before) },
			}
			for i, fired := range triggers {
				offset.Store(int64(time.Duration(i) * 10 * time.Minute))
				now := testNow.Add(time.Duration(i) * 10 * time.Minute)
				before, value := liveOf(o, tc.binding), variableOf(o, tc.binding, tc.variable)
				env := maps.Clone(o.env)
				env["BITBRICKS_TEST_NOW"] = now.Format(time.RFC3339)
				child := startCLI(t, o, env, "rotate", tc.binding, "--yes", "--config", o.cfg)
				exited := make(chan struct{})
				go func() { child.Wait(); close(exited) }()
			wait:
				for !fired(before, value) {
					select {
					case <-exited:
						break wait
					case <-time.After(time.Millisecond):
					}
				}
				child.Process.Signal(syscall.SIGKILL)
				<-exited
				live := liveOf(o, tc.binding)
				most = max(most, len(live))
				held := variableOf(o, tc.binding, tc.variable)
				if !slices.Contains(slices.Collect(maps.Values(live)), held) {
					t.Fatalf("after kill %d the variable holds a credential that is not live", i+1)
				}
			}
			offset.Store(int64(40 * time.Minute))
			o.srv.SetLatency(5*time.Millisecond, 0) // so the sampler sees each step
			r := runCLIAt(t, testNow.Add(40*time.Minute), o.env, "rotate", tc.binding, "--yes", "--config", o.cfg)
			close(stop)
			<-sampled
			most = max(most, int(peak.Load()))
			if r.code != 0 {
				t.Fatalf("the later run: exit %d: %s", r.code, r.err)
			}
			live := liveOf(o, tc.binding)
			most = max(most, len(live))
			recorded := variableOf(o, tc.binding, tc.variable+"_ID")
			if len(live) != 1 || live[recorded] != variableOf(o, tc.binding, tc.variable) {
				t.Errorf("after the later run %d live credentials of %s (recorded %s), want exactly the recorded one", len(live), tc.binding, recorded)
			}
			// The recorded one, one the variable may hold, the new one: a
			// service principal never nears its five OAuth secrets.
			if most > 3 {
				t.Errorf("%d credentials of %s live at once, want at most 3", most, tc.binding)
			}
			t.Logf("most live credentials of %s at once: %d", tc.binding, most)
			assertNoSecrets(t, o, r.out, r.err)
		})
	}
}

// The console's writes (apply, revoke, rotate, re-map, map) go through the
// same write lock: while another machine holds the lease, each is refused
// with the holder named, nothing is sent that changes anything and the
// config file is untouched; once the lease is released they work.
func TestConsoleWritesHoldTheLock(t *testing.T) {
	o := newTestOrg(t)
	s := &ioStreams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard,
		Getenv: func(k string) string { return o.env[k] }, Now: func() time.Time { return testNow }}
	cfg, err := config.Load(o.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e, err := newEngine(s, cfg, engineOptions{stateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	b := tui.NewEngineBackend(e.svc)
	ctx := context.Background()
	snap, plan, err := b.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(o.cfg)
	if err != nil {
		t.Fatal(err)
	}
	l := holdLease(t, o, "sync --apply")
	o.srv.ResetStats()
	writes := map[string]func() error{
		"apply": func() error { _, err := b.Apply(ctx, plan, nil); return err },
		"revoke": func() error {
			_, err := b.Revoke(ctx, []bbsync.Credential{snap.Credentials[0]})
			return err
		},
		"rotate": func() error { _, err := b.Rotate(ctx, "etl-prod"); return err },
		"re-map": func() error { return b.Remap(ctx, 0, "platform-eng") },
		"map":    func() error { return b.Map(ctx, "analysts", "platform-eng") },
	}
	for name, write := range writes {
		err := write()
		var held *bbsync.LockHeldError
		if !errors.As(err, &held) || held.By.Holder != "scheduler (admin@acme.com)" {
			t.Errorf("console %s while another machine holds the lease: %v; want a refusal naming the holder", name, err)
		}
	}
	if w := writeRequests(o); w != 0 {
		t.Errorf("%d write requests while the lease was held elsewhere", w)
	}
	if after, _ := os.ReadFile(o.cfg); string(after) != string(before) {
		t.Error("the config file changed while the lease was held elsewhere")
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Rotate(ctx, "etl-prod"); err != nil {
		t.Fatalf("rotate after the release: %v", err)
	}
}
