package sync

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"
)

func writeAudit(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log", "audit.jsonl")
	for i := range n {
		ev := AuditEvent{Time: time.Date(2026, 11, 26, 12, i, 0, 0, time.UTC), Operator: Operator{OSUser: "ops", Databricks: "admin@acme.com"},
			Action: "add_member", Target: fmt.Sprintf("group:de-team user:u%d@acme.com", i), Result: ResultApplied, ChangeID: fmt.Sprintf("add_member/de-team/u%d", i)}
		if err := AppendAudit(path, ev); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestAuditChain(t *testing.T) {
	path := writeAudit(t, 8)
	if err := VerifyAudit(path); err != nil {
		t.Fatalf("VerifyAudit of an intact log: %v", err)
	}
	lines := auditLines(t, path)
	if !strings.Contains(lines[0], `"prev":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"`) {
		t.Errorf("first line's prev is not sha256(\"\"): %s", lines[0])
	}
	fileMode(t, path, 0o600)
	fileMode(t, filepath.Dir(path), 0o700|os.ModeDir)

	for _, tc := range []struct {
		name string
		edit func([]string) []string
		line int // the line the error must name
	}{
		{"edited", func(l []string) []string { l[2] = strings.Replace(l[2], "u2@", "mallory@", 1); return l }, 3},
		{"line 5 edited", func(l []string) []string { l[4] = strings.Replace(l[4], "u4@", "mallory@", 1); return l }, 5},
		{"first line edited", func(l []string) []string { l[0] = strings.Replace(l[0], "applied", "failed", 1); return l }, 1},
		{"last line edited", func(l []string) []string { l[7] = strings.Replace(l[7], "u7@", "mallory@", 1); return l }, 8},
		{"deleted", func(l []string) []string { return slices.Delete(l, 2, 3) }, 3},
		{"first line deleted", func(l []string) []string { return l[1:] }, 1},
		{"reordered", func(l []string) []string { l[3], l[4] = l[4], l[3]; return l }, 4},
		{"garbled", func(l []string) []string { l[6] = l[6][:20]; return l }, 7},
		{"inserted", func(l []string) []string { return slices.Insert(l, 5, l[1]) }, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "audit.jsonl")
			if err := os.WriteFile(p, []byte(strings.Join(tc.edit(slices.Clone(lines)), "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			err := VerifyAudit(p)
			var ae *AuditError
			if !errors.As(err, &ae) || ae.Line != tc.line {
				t.Fatalf("VerifyAudit = %v, want line %d named", err, tc.line)
			}
			if want := fmt.Sprintf("%s:%d: ", p, tc.line); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("message %q, want it to start %q", err, want)
			}
		})
	}
	if err := VerifyAudit(filepath.Join(t.TempDir(), "none.jsonl")); err == nil {
		t.Error("VerifyAudit of a missing file passed")
	}
}

func TestAuditErrorMessage(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.jsonl")
	path := writeAudit(t, 8)
	lines := auditLines(t, path)
	lines[5] = strings.Replace(lines[5], "u5", "u6", 1)
	os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	copyFile(t, HeadPath(path), HeadPath(p))
	want := p + ":6: line edited: its content does not match its hash"
	if err := VerifyAudit(p); err == nil || err.Error() != want {
		t.Errorf("VerifyAudit = %v, want %q", err, want)
	}
}

func TestAuditConcurrentAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	var wg gosync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if err := AppendAudit(path, AuditEvent{Action: "revoke_token", Target: fmt.Sprintf("token:%d", i), Result: ResultApplied}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(auditLines(t, path)); n != 20 {
		t.Errorf("%d lines, want 20", n)
	}
	if err := VerifyAudit(path); err != nil {
		t.Errorf("concurrent appends broke the chain: %v", err)
	}
}

func TestAuditAfterTornLine(t *testing.T) {
	// A crash mid-write leaves a line without its newline: the next append
	// starts a fresh line, and verification names the torn one.
	path := writeAudit(t, 2)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"time":"2026-`)
	f.Close()
	if err := AppendAudit(path, AuditEvent{Action: "revoke_token"}); err != nil {
		t.Fatal(err)
	}
	var ae *AuditError
	if err := VerifyAudit(path); !errors.As(err, &ae) || ae.Line != 3 {
		t.Errorf("VerifyAudit = %v, want line 3 named", err)
	}
}
