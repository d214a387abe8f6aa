//go:build unix

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	bbsync "github.com/bitbricks/bitbricks/sync"
)

// A run whose output is piped into a reader that has gone (`bitbricks sync
// --apply --yes | head -1`) ends on the write error, one line and exit 1,
// releasing its lease and leaving the plan applied whole or not at all,
// rather than dying of SIGPIPE wherever it was with the lease held. Without
// the signal handling of main, the same child is killed by SIGPIPE.
func TestBrokenPipeFinishesTheRun(t *testing.T) {
	for _, asMain := range []bool{true, false} {
		name := map[bool]string{true: "main", false: "without-main-signals"}[asMain]
		t.Run(name, func(t *testing.T) {
			o := newTestOrg(t)
			before := len(changesOf(planOf(t, runCLI(t, o.env, "", "sync", "--output", "json", "--config", o.cfg).out)))
			raw, _ := json.Marshal([]string{"sync", "--apply", "--yes", "--config", o.cfg})
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCLIProcess$")
			cmd.Env = append(os.Environ(), "BITBRICKS_TEST_CLI_ARGS="+string(raw))
			if asMain {
				cmd.Env = append(cmd.Env, "BITBRICKS_TEST_AS_MAIN=1")
			}
			for k, v := range o.env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			r.Close() // the reader is gone before the first line
			var stderr strings.Builder
			cmd.Stdout, cmd.Stderr = w, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close()
			cmd.Wait()
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !asMain {
				if !ws.Signaled() || ws.Signal() != syscall.SIGPIPE {
					t.Fatalf("without main's signal handling the child ended with %v, want killed by SIGPIPE (the case this test guards)", cmd.ProcessState)
				}
				if files := o.org.WorkspaceFiles(bbsync.DefaultLeaseDir); len(files) != 1 {
					t.Fatalf("lease files after the SIGPIPE death: %v, want the dead run's one (else the lease check below proves nothing)", files)
				}
				return
			}
			if ws.Signaled() {
				t.Fatalf("the run was killed by %v: %s", ws.Signal(), stderr.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "broken pipe") {
				t.Fatalf("exit %d, want 1 naming the broken pipe: %s", code, stderr.String())
			}
			if files := o.org.WorkspaceFiles(bbsync.DefaultLeaseDir); len(files) != 0 {
				t.Errorf("lease files left behind: %v", files)
			}
			after := runCLI(t, o.env, "", "sync", "--output", "json", "--config", o.cfg)
			if n := len(changesOf(planOf(t, after.out))); n != 0 && n != before {
				t.Errorf("the plan after the run has %d changes of %d: applied in part", n, before)
			}
		})
	}
}
