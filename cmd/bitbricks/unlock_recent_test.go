package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/workspace"

	bbsync "github.com/bitbricks/bitbricks/sync"
)

// TestUnlockRefusesARecentlyRenewedLease: a run on a CI runner renewed the
// workspace's lease 13 seconds ago, so it may well be writing. `unlock`
// shows when it was renewed and refuses (exit 3) without --force, saying
// a live run renews it every 1m40s and by when it must be renewed if its
// run were alive; the lease stays. Two minutes later, not renewed, it is
// released without --force; at once, --force releases it and the audit
// line says it was forced. --help documents --force.
func TestUnlockRefusesARecentlyRenewedLease(t *testing.T) {
	o := newTestOrg(t)
	w, err := databricks.NewWorkspaceClient(&databricks.Config{Host: o.env["DATABRICKS_HOST"], Token: o.env["DATABRICKS_TOKEN"], AuthType: "pat"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	renewed := testNow.Add(-13 * time.Second)
	holder := bbsync.Holder{Holder: "runner (sp-ci)", Host: "ci-runner-7", Process: 4242, Command: "sync --apply",
		Start: testNow.Add(-10 * time.Minute), Renewed: renewed, Expiry: renewed.Add(bbsync.DefaultLeaseTTL), Nonce: "0011223344556677", Machine: "boot/pid:[9]"}
	b, _ := json.Marshal(holder)
	lease := bbsync.DefaultLeaseDir + "/writer.7.json"
	if err := w.Workspace.MkdirsByPath(ctx, bbsync.DefaultLeaseDir); err != nil {
		t.Fatal(err)
	}
	plant := func() {
		if err := w.Workspace.Import(ctx, workspace.Import{Path: lease, Format: workspace.ImportFormatAuto, Content: base64.StdEncoding.EncodeToString(b)}); err != nil {
			t.Fatal(err)
		}
	}
	plant()
	leaseFiles := func() []string { return o.org.WorkspaceFiles(bbsync.DefaultLeaseDir) }

	r := runCLI(t, o.env, "", "unlock", "--yes", "--config", o.cfg)
	for _, want := range []string{"renewed   " + renewed.Format(time.RFC3339) + " (13s ago; a live run renews it every 1m40s)",
		"! renewed recently: its run may still be writing; if it is not renewed by 2026-11-26T12:01:37Z, it is dead"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("unlock shows no %q:\n%s", want, r.out)
		}
	}
	for _, want := range []string{"was renewed 13s ago (at 2026-11-26T11:59:47Z) by runner (sp-ci) on ci-runner-7 (process 4242, sync --apply)",
		"a live run renews it every 1m40s", "if it is not renewed by 2026-11-26T12:01:37Z, its run is dead", "--force", "nothing was released"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("the refusal says no %q:\n%s", want, r.err)
		}
	}
	if r.code != 3 || len(leaseFiles()) != 1 {
		t.Fatalf("unlock of a lease renewed 13s ago: exit %d, lease files %v; want 3 and the lease kept", r.code, leaseFiles())
	}

	// Not renewed by then: its run is dead, and unlock needs no --force.
	later := runCLIAt(t, testNow.Add(2*time.Minute), o.env, "unlock", "--yes", "--config", o.cfg)
	if later.code != 0 || !strings.Contains(later.out, "✓ released the write lease "+lease) || strings.Contains(later.out, "renewed recently") {
		t.Fatalf("unlock 2 minutes later: exit %d\n%s\n%s", later.code, later.out, later.err)
	}

	// --force releases it at once, and the audit says it was forced.
	for _, f := range leaseFiles() {
		if err := w.Workspace.Delete(ctx, workspace.Delete{Path: f}); err != nil {
			t.Fatal(err)
		}
	}
	plant()
	r = runCLI(t, o.env, "", "unlock", "--yes", "--force", "--config", o.cfg)
	if r.code != 0 || !strings.Contains(r.out, "✓ released the write lease "+lease) {
		t.Fatalf("unlock --force: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	audit, err := os.ReadFile(filepath.Join(o.root, "bitbricks-audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(regexp.MustCompile(`"action":"unlock","target":"lease:[^"]* forced:renewed_2026-11-26T11:59:47Z","result":"applied"`).FindAll(audit, -1)); n != 1 {
		t.Errorf("%d forced unlock lines in the audit log, want 1:\n%s", n, audit)
	}

	r = runCLI(t, o.env, "", "unlock", "--help")
	for _, want := range []string{"--force", "renews its lease every", "stops before its next"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("unlock --help says nothing of %q", want)
		}
	}
}

// TestUnlockOfAPlantedLease: a lease file written by hand (anyone who can
// write the lease folder) with line breaks, escapes and a lease id that is
// not one bitbricks writes: unlock keeps each field on its line, shows an
// "invalid-" lease id that says so, and that shown id is the one
// --lease-id takes (before, the id shown never matched the raw one).
func TestUnlockOfAPlantedLease(t *testing.T) {
	o := newTestOrg(t)
	w, err := databricks.NewWorkspaceClient(&databricks.Config{Host: o.env["DATABRICKS_HOST"], Token: o.env["DATABRICKS_TOKEN"], AuthType: "pat"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	planted := `{"holder":"mallory\u001b]0;pwned\u0007\u001b[2J\u202eevil","host":"other\u001b[31mhost\nFAKE: released","process":4242,` +
		`"command":"sync --apply\r\u001b[Kbitbricks: ✓ all good","start":"2026-11-26T11:50:00Z","expiry":"2026-11-26T12:02:00Z","nonce":"abc\u001b[31mdef"}`
	lease := bbsync.DefaultLeaseDir + "/writer.1.json"
	if err := w.Workspace.MkdirsByPath(ctx, bbsync.DefaultLeaseDir); err != nil {
		t.Fatal(err)
	}
	if err := w.Workspace.Import(ctx, workspace.Import{Path: lease, Format: workspace.ImportFormatAuto, Content: base64.StdEncoding.EncodeToString([]byte(planted))}); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, o.env, "", "unlock", "--config", o.cfg)
	for _, l := range strings.Split(strings.TrimRight(r.out, "\n"), "\n") {
		if !strings.HasPrefix(l, "Write lease of ") && !strings.HasPrefix(l, "  ") {
			t.Errorf("unlock shows a line the lease file made: %q\n%s", l, r.out)
		}
	}
	m := regexp.MustCompile(`lease id  (invalid-[0-9a-f]{8}) \(the file's own id is not one bitbricks writes`).FindStringSubmatch(r.out)
	if m == nil {
		t.Fatalf("unlock shows no invalid lease id:\n%s", r.out)
	}
	r = runCLI(t, o.env, "", "unlock", "--yes", "--lease-id", m[1], "--config", o.cfg)
	if r.code != 0 || !strings.Contains(r.out, "✓ released the write lease "+lease) {
		t.Fatalf("unlock --lease-id %s (as shown): exit %d\n%s\n%s", m[1], r.code, r.out, r.err)
	}
}
