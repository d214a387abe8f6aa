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
