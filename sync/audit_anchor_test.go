package sync

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// rewrite replaces the log's lines, keeping its sidecar head as it was.
func rewrite(t *testing.T, path string, lines []string) {
	t.Helper()
	body := strings.Join(lines, "\n")
	if len(lines) > 0 {
		body += "\n"
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// reseal recomputes every line's hash and link from line i on, as someone
// who edited line i and wanted the chain to look intact would.
func reseal(t *testing.T, lines []string, from int) []string {
	t.Helper()
	prev := emptyChainHash
	out := make([]string, len(lines))
	for i, l := range lines {
		if i >= from {
			var ev AuditEvent
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatal(err)
			}
			b, err := sealLine(ev, prev)
			if err != nil {
				t.Fatal(err)
			}
			l = string(b)
		}
		out[i] = l
		prev = hashLine([]byte(l))
	}
	return out
}

func TestAuditHeadCatchesCuts(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, l []string) []string
		line int
		msg  string
	}{
		{"last line deleted", func(t *testing.T, l []string) []string { return l[:7] }, 8, "missing"},
		{"two last lines deleted", func(t *testing.T, l []string) []string { return l[:6] }, 7, "missing"},
		{"emptied", func(t *testing.T, l []string) []string { return nil }, 1, "missing"},
		{"edited and re-hashed", func(t *testing.T, l []string) []string {
			l[4] = strings.Replace(l[4], "u4@", "mallory@", 1)
			return reseal(t, l, 4)
		}, 8, "edited and re-hashed"},
		{"forged line appended", func(t *testing.T, l []string) []string {
			return reseal(t, append(l, l[7]), 8)
		}, 9, "not anchored"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeAudit(t, 8)
			rewrite(t, path, tc.edit(t, auditLines(t, path)))
			_, err := VerifyAuditHead(path, nil)
			var ae *AuditError
			if !errors.As(err, &ae) || ae.Line != tc.line || !strings.Contains(ae.Msg, tc.msg) {
				t.Fatalf("VerifyAudit = %v, want line %d: %s", err, tc.line, tc.msg)
			}
			// Appending would hide the cut: refused, and nothing written.
			before, _ := os.ReadFile(path)
			if err := AppendAudit(path, AuditEvent{Action: "revoke_token"}); err == nil || !strings.Contains(err.Error(), "does not end at its head") {
				if tc.name != "forged line appended" { // one sealed line after the head looks like a crash; see below
					t.Errorf("append after a cut: %v", err)
				}
			} else if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Error("a refused append changed the log")
			}
		})
	}
}

func TestAuditHeadFromPipelineLog(t *testing.T) {
	path := writeAudit(t, 5)
	head, err := (&FileAudit{Path: path}).Head(context.Background())
	if err != nil || head.Lines != 5 {
		t.Fatalf("head %+v, %v", head, err)
	}
	printed := head.String()
	parsed, err := ParseAuditHead(printed)
	if err != nil || parsed != head {
		t.Fatalf("ParseAuditHead(%q) = %+v, %v", printed, parsed, err)
	}
	// Log and sidecar both cut back by someone with write access: the head a
	// pipeline printed still catches it.
	lines := auditLines(t, path)
	rewrite(t, path, lines[:4])
	short, _ := VerifyAuditHead(path, &AuditHead{Lines: 4, Hash: hashLine([]byte(lines[3]))})
	if short.Lines != 4 {
		t.Fatalf("chain head %+v", short)
	}
	os.Remove(HeadPath(path))
	var ae *AuditError
	if _, err := VerifyAuditHead(path, &parsed); !errors.As(err, &ae) || ae.Line != 5 {
		t.Errorf("verify against the printed head = %v, want line 5 missing", err)
	}
	if _, err := VerifyAuditHead(path, nil); err == nil || !strings.Contains(err.Error(), "no head") {
		t.Errorf("verify without a sidecar = %v, want it to say there is no head", err)
	}
	for _, bad := range []string{"", "5", "x:abc", "5:" + strings.Repeat("g", 64), "-1:" + head.Hash} {
		if _, err := ParseAuditHead(bad); err == nil {
			t.Errorf("ParseAuditHead(%q) passed", bad)
		}
	}
}

func TestAuditCrashBeforeHeadMoved(t *testing.T) {
	// The line reached the disk, the head did not: the next append carries
	// on, and the head catches up.
	path := writeAudit(t, 3)
	headBefore, _ := os.ReadFile(HeadPath(path))
	if err := AppendAudit(path, AuditEvent{Action: "revoke_token", Result: ResultIntent}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(HeadPath(path), headBefore, 0o600)
	var ae *AuditError
	if _, err := VerifyAuditHead(path, nil); !errors.As(err, &ae) || ae.Line != 4 {
		t.Errorf("verify with the head one behind = %v, want line 4 not anchored", err)
	}
	if err := AppendAudit(path, AuditEvent{Action: "revoke_token", Result: ResultApplied}); err != nil {
		t.Fatal(err)
	}
	if h, err := VerifyAuditHead(path, nil); err != nil || h.Lines != 5 {
		t.Errorf("after the next append: %+v, %v", h, err)
	}
}

func TestAuditRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere.txt")
	os.WriteFile(target, []byte("precious\n"), 0o644)
	link := filepath.Join(dir, "audit.jsonl")
	if err := os.Symlink(target, link); err != nil {
		t.Skip("no symlinks here:", err)
	}
	err := AppendAudit(link, AuditEvent{Action: "revoke_token"})
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("append through a symlink = %v, want it refused", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious\n" {
		t.Errorf("the symlink's target was written: %q", b)
	}
}

func TestAuditTightensLooseFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	os.WriteFile(path, nil, 0o666)
	os.Chmod(path, 0o666)
	var warned []string
	a := &FileAudit{Path: path, Warn: func(m string) { warned = append(warned, m) }}
	if err := a.Append(context.Background(), AuditEvent{Action: "revoke_token"}); err != nil {
		t.Fatal(err)
	}
	fileMode(t, path, 0o600)
	if len(warned) != 1 || !strings.Contains(warned[0], "0666") || !strings.Contains(warned[0], "0600") {
		t.Errorf("warnings %q, want one naming 0666 and 0600", warned)
	}
	fileMode(t, HeadPath(path), 0o600)
}

func TestAuditRefusesNonRegular(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	// /dev/full is what a full disk looks like to a write; it is refused
	// before any write as not a regular file.
	err := (&FileAudit{Path: "/dev/full"}).Append(context.Background(), AuditEvent{Action: "revoke_token"})
	if err == nil {
		t.Fatal("append to /dev/full passed")
	}
}

// With the audit log full, revoking an owner's credentials and rotating a
// binding change nothing, and say why.
func TestCredentialsFullDiskChangesNothing(t *testing.T) {
	e := newCredEnv(t)
	ctx := context.Background()
	e.creds.Audit = &failingSink{}
	sp := e.sp("reporting-bot")
	wantTokens, wantSecrets := len(e.tokens(sp.ID, "")), len(e.secrets(sp.ID))
	owned, err := e.creds.OwnerCredentials(ctx, "reporting-bot")
	if err != nil {
		t.Fatal(err)
	}
	rev, err := e.creds.RevokeCredentials(ctx, owned.Credentials)
	if err == nil || len(rev.Revoked) != 0 || !strings.Contains(err.Error(), "could not be written") {
		t.Errorf("revoke with a full audit log: %+v, %v", rev, err)
	}
	if len(e.tokens(sp.ID, "")) != wantTokens || len(e.secrets(sp.ID)) != wantSecrets {
		t.Error("credentials were revoked without an audit line")
	}

	b := e.binding(t, "etl-prod")
	oldValue, oldID := e.bound(b)
	bsp := e.sp(b.ServicePrincipal)
	n := len(e.tokens(bsp.ID, ""))
	if _, err := e.creds.RotateBinding(ctx, b); err == nil || !strings.Contains(err.Error(), "could not be written") {
		t.Errorf("rotate with a full audit log: %v", err)
	}
	if value, recorded := e.bound(b); value != oldValue || recorded != oldID || len(e.tokens(bsp.ID, "")) != n {
		t.Error("the binding changed without an audit line")
	}
}
