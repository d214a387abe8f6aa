package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/workspace"

	bbsync "github.com/bitbricks/bitbricks/sync"
)

// TestWriterStopsWhenItsLeaseIsReleased: a `sync --apply` in another
// process is held at its first group write (it holds the lease). An
// operator on another machine releases the lease with `unlock --force`
// (here: what that unlock does in the workspace, since from this machine
// the holder is a live local process, which unlock refuses: the next
// epoch's lease file, expired, naming unlock, and the holder's file
// deleted). Let go, the held run makes the write it had sent and no other:
// it exits 1 saying its lease was released by unlock, that nothing more
// was written and after when changes may have overlapped; it leaves
// unlock's lease file alone. The next run goes ahead and makes the rest.
// (Before, it went on writing until its next renewal and exited 0.)
func TestWriterStopsWhenItsLeaseIsReleased(t *testing.T) {
	o := newTestOrg(t)
	held, release := o.holdRequests(t, func(r *http.Request) bool {
		return r.Method != http.MethodGet && strings.Contains(r.URL.Path, "/scim/v2/Groups")
	})
	args := []string{"sync", "--apply", "--yes", "--config", o.cfg}
	raw, _ := json.Marshal(args)
	child := exec.Command(os.Args[0], "-test.run=^TestHelperCLIProcess$")
	child.Env = append(os.Environ(), "BITBRICKS_TEST_CLI_ARGS="+string(raw))
	for k, v := range o.env {
		child.Env = append(child.Env, k+"="+v)
	}
	var stderr syncBuffer
	child.Stdout, child.Stderr = io.Discard, &stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	select {
	case <-held:
	case err := <-exited:
		t.Fatalf("the child ended before applying a change: %v\n%s", err, stderr.String())
	}
	files := o.org.WorkspaceFiles(bbsync.DefaultLeaseDir)
	if len(files) != 1 || files[0] != bbsync.DefaultLeaseDir+"/writer.1.json" {
		t.Fatalf("lease files while the child applies: %v, want its writer.1.json", files)
	}

	// Another machine's unlock --force.
	w, err := databricks.NewWorkspaceClient(&databricks.Config{Host: o.env["DATABRICKS_HOST"], Token: o.env["DATABRICKS_TOKEN"], AuthType: "pat"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	unlock := bbsync.Holder{Holder: "oncall (admin@acme.com)", Host: "laptop-9", Process: 77, Command: "unlock",
		Start: testNow, Renewed: testNow, Expiry: testNow, Nonce: "8899aabbccddeeff"}
	b, _ := json.Marshal(unlock)
	tomb := bbsync.DefaultLeaseDir + "/writer.2.json"
	if err := w.Workspace.Import(ctx, workspace.Import{Path: tomb, Format: workspace.ImportFormatAuto, Content: base64.StdEncoding.EncodeToString(b)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Workspace.Delete(ctx, workspace.Delete{Path: files[0]}); err != nil {
		t.Fatal(err)
	}
	release()
	err = <-exited
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("the released run ended with %v, want exit 1\n%s", err, stderr.String())
	}
	for _, want := range []string{"was released by `bitbricks unlock` at 2026-11-26T12:00:00Z (oncall (admin@acme.com) on laptop-9)",
		"nothing more was written", "changes made after 2026-11-26T12:00:00Z may have overlapped another writer's"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the released run says no %q:\n%s", want, stderr.String())
		}
	}
	audit := readFile(t, filepath.Join(o.root, "bitbricks-audit.jsonl"))
	begun := 0
	for _, line := range strings.Split(strings.TrimSpace(audit), "\n") {
		if strings.Contains(line, `"result":"intent"`) && strings.Contains(line, `"change_id":`) {
			begun++
		}
	}
	if begun != 1 {
		t.Errorf("the released run began %d changes, want the one it was held at:\n%s", begun, audit)
	}
	if got := o.org.WorkspaceFiles(bbsync.DefaultLeaseDir); len(got) != 1 || got[0] != tomb {
		t.Errorf("lease files after the released run: %v, want unlock's %s", got, tomb)
	}

	other := maps.Clone(o.env)
	other["XDG_STATE_HOME"] = t.TempDir()
	if r := runCLI(t, other, "", "sync", "--apply", "--yes", "--config", o.cfg); r.code != 0 {
		t.Fatalf("the next run: exit %d: %s", r.code, r.err)
	}
	after := runCLI(t, o.env, "", "sync", "--output", "json", "--config", o.cfg)
	if n := len(changesOf(planOf(t, after.out))); n != 0 {
		t.Errorf("the plan after the next run has %d changes, want 0", n)
	}
}
