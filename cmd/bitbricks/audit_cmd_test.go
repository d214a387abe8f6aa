package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// An apply ends its output with the audit head; `audit verify --head` with
// that line catches a log cut back together with its sidecar.
func TestApplyPrintsAuditHeadAndVerifyChecksIt(t *testing.T) {
	o := newTestOrg(t)
	r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--yes")
	if r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	last := lastLine(r.out)
	head, ok := strings.CutPrefix(last, "Audit head: ")
	if !ok {
		t.Fatalf("the last line of the apply is %q, want the audit head", last)
	}
	head, _, _ = strings.Cut(head, " ")
	r = runCLI(t, o.env, "", "audit", "verify", "--config", o.cfg, "--head", head)
	if r.code != 0 || !strings.Contains(r.out, "hash chain intact; head "+head) {
		t.Fatalf("verify against the printed head: exit %d\n%s%s", r.code, r.out, r.err)
	}

	// Cut the last line from the log and move the sidecar back with it.
	log := filepath.Join(o.root, "bitbricks-audit.jsonl")
	b, _ := os.ReadFile(log)
	lines := strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	n := len(lines)
	os.WriteFile(log, []byte(strings.Join(lines[:n-1], "")), 0o600)
	os.Remove(log + ".head")

	r = runCLI(t, o.env, "", "audit", "verify", "--config", o.cfg, "--head", head)
	want := log + ":" + itoa(n) + ": missing"
	if r.code != 1 || !strings.Contains(r.err, want) {
		t.Errorf("verify of a cut log against the printed head: exit %d, %q; want %q", r.code, r.err, want)
	}
	r = runCLI(t, o.env, "", "audit", "verify", "--config", o.cfg)
	if r.code != 1 || !strings.Contains(r.err, "no head") {
		t.Errorf("verify without a sidecar: exit %d, %q", r.code, r.err)
	}
	r = runCLI(t, o.env, "", "audit", "verify", "--config", o.cfg, "--head", "12")
	if r.code != 1 || !strings.Contains(r.err, "LINES:HASH") {
		t.Errorf("a malformed --head: exit %d, %q", r.code, r.err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// Two scheduled runs with the audit log on a volume: one file each through
// the Files API, chained; `audit verify` checks the chain across runs and
// the head the second run printed.
func TestVolumeAuditAcrossRunsFromCLI(t *testing.T) {
	o := newTestOrg(t)
	cfg := readFile(t, o.cfg)
	i := strings.Index(cfg, "audit:\n")
	if i < 0 {
		t.Fatal("the test config has no audit section")
	}
	os.WriteFile(o.cfg, []byte(cfg[:i]+"audit:\n  file: /Volumes/main/ops/audit/bitbricks/\n"), 0o600)

	var heads []string
	for run := range 2 {
		args := []string{"sync", "--config", o.cfg, "--apply", "--yes"}
		if run == 1 {
			args = []string{"revoke", "--config", o.cfg, "--owner", "paul@acme.com", "--yes"}
		}
		r := runCLI(t, o.env, "", args...)
		if r.code != 0 {
			t.Fatalf("run %d: exit %d\n%s\n%s", run+1, r.code, r.out, r.err)
		}
		head, ok := strings.CutPrefix(lastLine(r.out), "Audit head: ")
		if !ok {
			t.Fatalf("run %d does not end with the audit head: %q", run+1, lastLine(r.out))
		}
		head, _, _ = strings.Cut(head, " ")
		heads = append(heads, head)
	}
	// One run file per run (beside them, workspace-ids.json: the record of
	// which workspace each run found).
	var runs []string
	for f := range o.org.VolumeFiles("/Volumes/main/ops/audit") {
		if strings.HasSuffix(f, ".jsonl") {
			runs = append(runs, f)
		}
	}
	if len(runs) != 2 {
		t.Fatalf("%d run files on the volume (%v), want one per run", len(runs), runs)
	}
	r := runCLI(t, o.env, "", "audit", "verify", "--config", o.cfg, "--head", heads[1])
	if r.code != 0 || !strings.Contains(r.out, "intact across runs; head "+heads[1]) {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if r := runCLI(t, o.env, "", "audit", "verify", "--config", o.cfg, "--head", heads[0]); r.code != 0 {
		t.Errorf("verify against the first run's head: exit %d: %s", r.code, r.err)
	}
}

// No audit, no action: when the audit log cannot be written, sync --apply
// changes nothing in Databricks or Bitbucket and exits 1.
func TestApplyWithoutAuditChangesNothing(t *testing.T) {
	o := newTestOrg(t)
	blocker := filepath.Join(o.root, "not-a-directory")
	os.WriteFile(blocker, nil, 0o600)
	cfg := readFile(t, o.cfg)
	i := strings.Index(cfg, "audit:\n")
	os.WriteFile(o.cfg, []byte(cfg[:i]+"audit:\n  file: "+filepath.Join(blocker, "audit.jsonl")+"\n"), 0o600)
	o.srv.ResetStats()

	r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--yes", "--output", "json")
	if r.code != 1 || !strings.Contains(r.err, "could not be written, so no further change was made") {
		t.Fatalf("apply with an unwritable audit log: exit %d\n%s", r.code, r.err)
	}
	for route, n := range o.srv.Stats().Routes {
		// The write lease in the workspace is bitbricks' own bookkeeping.
		if !isRead(route) && !strings.Contains(route, "/api/2.0/workspace/") {
			t.Errorf("%d %s requests without an audit line", n, route)
		}
	}
	for _, res := range planOf(t, r.out)["results"].([]any) {
		if st := res.(map[string]any)["status"]; st != "skipped" {
			t.Errorf("result %v, want skipped", res)
		}
	}
}

// A world-readable audit log is tightened to 0600, and the operator is told.
func TestApplyTightensLooseAuditLog(t *testing.T) {
	o := newTestOrg(t)
	log := filepath.Join(o.root, "bitbricks-audit.jsonl")
	os.WriteFile(log, nil, 0o644)
	os.Chmod(log, 0o644)
	r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--yes")
	if r.code != 0 {
		t.Fatalf("apply: exit %d: %s", r.code, r.err)
	}
	if st, _ := os.Stat(log); st.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v, want 0600", st.Mode().Perm())
	}
	if !strings.Contains(r.err, "bitbricks: warning: audit log "+log+" was mode 0644; tightened to 0600") {
		t.Errorf("no warning on stderr:\n%s", r.err)
	}
}
