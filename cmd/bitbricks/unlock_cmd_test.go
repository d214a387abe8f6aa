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

// TestUnlockCommand: a run killed on a CI runner left prod's write lease
// with minutes to go, last renewed 3 minutes ago (a live run would have
// renewed it since). `bitbricks unlock --workspace prod` shows the holder
// (machine, process, command, since, lease id); it refuses without a
// terminal or --yes, with a lease id that is not the holder's, and when the
// typed name is wrong, leaving the lease as it is; confirmed by typing
// "prod" it releases it (audited), and the next `sync --apply` goes ahead at
// once. dev is not touched. A holder that is a live process on this
// machine is refused.
func TestUnlockCommand(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	profiles, err := os.ReadFile(o.env["DATABRICKS_CONFIG_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	prod := regexp.MustCompile(`\[bitbricks-demo-prod\]\nhost = (\S+)\ntoken = (\S+)`).FindSubmatch(profiles)
	if prod == nil {
		t.Fatalf("no prod profile in\n%s", profiles)
	}
	w, err := databricks.NewWorkspaceClient(&databricks.Config{Host: string(prod[1]), Token: string(prod[2]), AuthType: "pat"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	holder := bbsync.Holder{Holder: "runner (sp-ci)", Host: "ci-runner-7", Process: 4242, Command: "sync --apply",
		Start: testNow.Add(-3 * time.Minute), Expiry: testNow.Add(2 * time.Minute), Nonce: "0011223344556677", Machine: "boot/pid:[9]"}
	b, _ := json.Marshal(holder)
	lease := bbsync.DefaultLeaseDir + "/writer.1.json"
	if err := w.Workspace.MkdirsByPath(ctx, bbsync.DefaultLeaseDir); err != nil {
		t.Fatal(err)
	}
	if err := w.Workspace.Import(ctx, workspace.Import{Path: lease, Format: workspace.ImportFormatAuto, Content: base64.StdEncoding.EncodeToString(b)}); err != nil {
		t.Fatal(err)
	}
	leaseFiles := func() []string { return o.org.WorkspaceFiles(bbsync.DefaultLeaseDir) }

	r := runCLI(t, o.env, "", "sync", "--apply", "--yes", "--workspace", "prod", "--config", o.cfg)
	if r.code != 3 || !strings.Contains(r.err, "ci-runner-7") || !strings.Contains(r.err, "bitbricks unlock") {
		t.Fatalf("sync --apply with prod's lease held: exit %d, %s; want 3 naming the holder and bitbricks unlock", r.code, r.err)
	}

	r = runCLI(t, o.env, "", "unlock", "--workspace", "prod", "--config", o.cfg)
	for _, want := range []string{"Write lease of workspace prod (", "lease id  0011223344556677", "holder    runner (sp-ci)",
		"machine   ci-runner-7, process 4242", "command   sync --apply", "since     " + testNow.Add(-3*time.Minute).UTC().Format(time.RFC3339) + " (3m0s ago)", "(in 2m0s)"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("unlock shows no %q:\n%s", want, r.out)
		}
	}
	if r.code != 3 || len(leaseFiles()) != 1 {
		t.Errorf("unlock without a terminal or --yes: exit %d (%s), lease files %v; want 3 and the lease kept", r.code, r.err, leaseFiles())
	}
	r = runCLI(t, o.env, "", "unlock", "--workspace", "prod", "--lease-id", "ffffffffffffffff", "--yes", "--config", o.cfg)
	if r.code != 3 || !strings.Contains(r.err, "not lease id ffffffffffffffff") || len(leaseFiles()) != 1 {
		t.Errorf("unlock with another lease id: exit %d (%s), lease files %v; want 3 and the lease kept", r.code, r.err, leaseFiles())
	}
	r = runCLIOn(t, true, o.env, "dev\n", "unlock", "--workspace", "prod", "--config", o.cfg)
	if r.code != 1 || len(leaseFiles()) != 1 {
		t.Errorf("unlock confirmed with the wrong name: exit %d (%s), lease files %v; want 1 and the lease kept", r.code, r.err, leaseFiles())
	}
	o.srv.ResetStats()
	r = runCLIOn(t, true, o.env, "prod\n", "unlock", "--workspace", "prod", "--config", o.cfg)
	if r.code != 0 || !strings.Contains(r.out, "✓ released the write lease "+lease+" of ci-runner-7") {
		t.Fatalf("unlock confirmed: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	if st := o.srv.Stats(); st.Workspaces["dev"] != 0 {
		t.Errorf("unlock of prod made %d requests to dev", st.Workspaces["dev"])
	}
	audit, err := os.ReadFile(filepath.Join(o.root, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`"action":"unlock","target":"lease:` + regexp.QuoteMeta(lease) + ` lease_id:0011223344556677 holder:ci-runner-7/4242 workspace:prod","result":"applied"`).Match(audit) {
		t.Errorf("no applied unlock line in the audit log:\n%s", audit)
	}
	r = runCLI(t, o.env, "", "sync", "--apply", "--yes", "--workspace", "prod", "--max-changes", "200", "--config", o.cfg)
	if r.code != 0 {
		t.Fatalf("sync --apply after unlock: exit %d: %s", r.code, r.err)
	}

	// Nothing held: said so, nothing to release, exit 0.
	r = runCLI(t, o.env, "", "unlock", "--workspace", "prod", "--yes", "--config", o.cfg)
	if r.code != 0 || !strings.Contains(r.out, "No bitbricks run holds the write lease of workspace prod") {
		t.Errorf("unlock with nothing held: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	// A live process of this machine holds it.
	l := holdLease(t, o, "sync --apply") // prod: the first workspace
	defer l.Release(ctx)
	r = runCLI(t, o.env, "", "unlock", "--workspace", "prod", "--yes", "--config", o.cfg)
	if r.code != 3 || !strings.Contains(r.err, "live process on this machine") || len(leaseFiles()) != 1 {
		t.Errorf("unlock of a live holder here: exit %d (%s), lease files %v; want 3 and the lease kept", r.code, r.err, leaseFiles())
	}

	r = runCLI(t, o.env, "", "unlock", "--help")
	for _, want := range []string{"killed", "--lease-id", "--yes", "live", "audited"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("unlock --help says nothing of %q", want)
		}
	}
}

// TestUnlockOneWorkspace: with one workspace, unlock needs no --workspace
// and names the host; a live holder here is refused; --workspace of a name
// the config does not have is an error.
func TestUnlockOneWorkspace(t *testing.T) {
	o := newTestOrg(t)
	r := runCLI(t, o.env, "", "unlock", "--config", o.cfg)
	if r.code != 0 || !strings.Contains(r.out, "No bitbricks run holds the write lease of "+o.url) {
		t.Errorf("unlock with nothing held: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	l := holdLease(t, o, "rotate etl-prod")
	defer l.Release(context.Background())
	r = runCLIOn(t, true, o.env, o.url+"\n", "unlock", "--config", o.cfg)
	if r.code != 3 || !strings.Contains(r.out, "command   rotate etl-prod") || !strings.Contains(r.err, "live process on this machine") {
		t.Errorf("unlock of a live holder here: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	if files := o.org.WorkspaceFiles(bbsync.DefaultLeaseDir); len(files) != 1 {
		t.Errorf("lease files %v, want the live holder's", files)
	}
	r = runCLI(t, o.env, "", "unlock", "--workspace", "dev", "--config", o.cfg)
	if r.code == 0 {
		t.Errorf("unlock --workspace dev with one workspace: exit 0\n%s", r.out)
	}
}
