package sync

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	gosync "sync"
	"time"
)

// Operator is who applied a change: the OS user running bitbricks and the
// Databricks identity its credentials act as.
type Operator struct {
	OSUser     string `json:"os_user"`
	Databricks string `json:"databricks"`
}

// CurrentOperator is the OS user of this process with the given Databricks
// identity (Snapshot.Caller).
func CurrentOperator(databricks string) Operator {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return Operator{OSUser: name, Databricks: databricks}
}

// AuditEvent is one line of the audit log. Prev is the SHA-256 (hex) of the
// previous line (of "" for the first), so any deletion or reordering breaks
// the chain, and Hash seals the line itself. It never holds a credential
// value.
type AuditEvent struct {
	Time     time.Time `json:"time"`
	Operator Operator  `json:"operator"`
	Action   string    `json:"action"`
	Target   string    `json:"target"`
	Result   string    `json:"result"`
	Error    string    `json:"error"`
	ChangeID string    `json:"change_id"`
	// Scope is AuditScopeAccount for a change of the account's, the same
	// in every workspace (an account group's membership), whichever
	// workspace's part made it (the one Target and ChangeID name, whose
	// write lock was held); empty for a workspace's own change.
	Scope string `json:"scope,omitempty"`
	Prev  string `json:"prev"`
	// Hash is the SHA-256 (hex) of this line as written with hash "", so an
	// edit of any line is named at that line. It is always the last field.
	Hash string `json:"hash"`
}

// AuditScopeAccount is AuditEvent.Scope of an account-wide change.
const AuditScopeAccount = "account"

// ResultIntent marks the audit line written before a change is made: no
// audit, no action. The line with the change's outcome follows it.
const ResultIntent = "intent"

// AuditHead anchors an audit chain from outside the log: how many lines it
// has and the hash of the last one (the prev of the next line). A local log
// keeps it in a sidecar file; every apply prints it, so a pipeline's log
// anchors it too. File names the run file of a volume log.
type AuditHead struct {
	Lines int    `json:"lines"`
	Hash  string `json:"hash"`
	File  string `json:"file,omitempty"`
}

// emptyChainHash is the head hash of a log with no line: sha256("").
var emptyChainHash = hashLine(nil)

// String is the head as printed after an apply and accepted by
// `audit verify --head`: "LINES:HASH", or "FILE:LINES:HASH" for a volume log.
func (h AuditHead) String() string {
	if h.File != "" {
		return fmt.Sprintf("%s:%d:%s", h.File, h.Lines, h.Hash)
	}
	return fmt.Sprintf("%d:%s", h.Lines, h.Hash)
}

// ParseAuditHead reads a head written by AuditHead.String.
func ParseAuditHead(s string) (AuditHead, error) {
	s = strings.TrimSpace(s)
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return AuditHead{}, fmt.Errorf("audit head %q: want LINES:HASH as printed after an apply", s)
	}
	h := AuditHead{Hash: s[i+1:]}
	rest := s[:i]
	if j := strings.LastIndexByte(rest, ':'); j >= 0 {
		h.File, rest = rest[:j], rest[j+1:]
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || len(h.Hash) != 64 || strings.Trim(h.Hash, "0123456789abcdef") != "" {
		return AuditHead{}, fmt.Errorf("audit head %q: want LINES:HASH (a count and 64 hex digits) as printed after an apply", s)
	}
	h.Lines = n
	return h, nil
}

// AuditSink receives audit events: a local file (FileAudit) or a Unity
// Catalog volume (VolumeAudit). Append returns only once the event is
// stored; a change whose intent line cannot be stored is not made.
type AuditSink interface {
	Append(ctx context.Context, ev AuditEvent) error
	// Head is the chain's head after the last append.
	Head(ctx context.Context) (AuditHead, error)
	// Where names the log for messages.
	Where() string
}

// FileAudit is the audit log in a local file, anchored by a sidecar
// (HeadPath). Warn hears non-fatal notes, such as a file whose loose
// permissions were tightened; nil is slog.Default().Warn.
type FileAudit struct {
	Path string
	Warn func(msg string)
}

func (a *FileAudit) Where() string { return a.Path }

func (a *FileAudit) Append(_ context.Context, ev AuditEvent) error {
	return appendAudit(a.Path, ev, a.warn)
}

func (a *FileAudit) Head(context.Context) (AuditHead, error) {
	h, ok, err := readHead(HeadPath(a.Path))
	if err == nil && !ok {
		err = fmt.Errorf("no audit head at %s", HeadPath(a.Path))
	}
	return h, err
}

func (a *FileAudit) warn(msg string) {
	if a.Warn != nil {
		a.Warn(msg)
		return
	}
	slog.Default().Warn(msg)
}

// HeadPath is where the head of the local audit log at path is kept.
func HeadPath(path string) string { return path + ".head" }

// auditMu serialises appends within this process; the file lock does so
// across processes where the platform has one.
var auditMu gosync.Mutex

// AppendAudit appends ev to the local log at path; see FileAudit.
func AppendAudit(path string, ev AuditEvent) error {
	return (&FileAudit{Path: path}).Append(context.Background(), ev)
}

// appendAudit appends ev to the log at path (created 0600, its directory
// 0700, never through a symlink), chaining it to the last line and sealing
// it with its own hash, then moves the sidecar head on. A log that does not
// end where its head says is refused: appending would hide the cut.
func appendAudit(path string, ev AuditEvent, warn func(string)) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create audit directory: %w", err)
	}
	auditMu.Lock()
	defer auditMu.Unlock()
	f, err := openAuditFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
		return fmt.Errorf("lock audit log %s: %w", path, err)
	}
	defer unlockFile(f)
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("audit log %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("audit log %s is not a regular file: point audit.file at a file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			return fmt.Errorf("audit log %s is readable by others (%04o) and cannot be tightened: %w", path, perm, err)
		}
		warn(fmt.Sprintf("audit log %s was mode %04o; tightened to 0600", path, perm))
	}
	lines, last, endsInNewline, err := chainEnd(f, path, warn)
	if err != nil {
		return err
	}
	line, err := sealLine(ev, hashLine(last))
	if err != nil {
		return err
	}
	if !endsInNewline {
		line = append([]byte{'\n'}, line...)
		lines++ // the torn line stays, for verify to name
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write audit log %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write audit log %s: %w", path, err)
	}
	line = bytes.TrimPrefix(line, []byte{'\n'})
	return writeHead(HeadPath(path), AuditHead{Lines: lines + 1, Hash: hashLine(line)})
}

// sealLine marshals ev chained to prev, with its own hash as the last field.
func sealLine(ev AuditEvent, prev string) ([]byte, error) {
	ev.Prev, ev.Hash = prev, ""
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	const tail = `"hash":""}`
	if !bytes.HasSuffix(b, []byte(tail)) {
		return nil, errors.New("audit event: hash is not the last field")
	}
	self := hashLine(b)
	return append(b[:len(b)-2:len(b)-2], []byte(self+`"}`)...), nil
}

// lineSealOK reports whether a line carrying a hash matches it; a line
// written before lines were sealed (no hash) passes.
func lineSealOK(line []byte, ev AuditEvent) bool {
	if ev.Hash == "" {
		return true
	}
	i := len(line) - 66 // 64 hex digits and `"}`
	if i < 8 || string(line[i-8:i]) != `"hash":"` || string(line[i+64:]) != `"}` || string(line[i:i+64]) != ev.Hash {
		return false
	}
	blank := append(append([]byte{}, line[:i]...), line[i+64:]...)
	return hashLine(blank) == ev.Hash
}

// chainEnd finds where the log ends: its line count, last line and whether
// it ends in a newline, checked against the sidecar head. A log without a
// head (written by an older bitbricks) is counted and anchored afresh.
func chainEnd(f *os.File, path string, warn func(string)) (lines int, last []byte, endsInNewline bool, err error) {
	last, endsInNewline, err = lastLine(f)
	if err != nil {
		return 0, nil, false, fmt.Errorf("read audit log %s: %w", path, err)
	}
	head, ok, err := readHead(HeadPath(path))
	if err != nil {
		return 0, nil, false, err
	}
	if !ok {
		n, err := countLines(f)
		if err != nil {
			return 0, nil, false, fmt.Errorf("read audit log %s: %w", path, err)
		}
		if n > 0 {
			warn(fmt.Sprintf("audit log %s had no head (%s); anchored it at its %d lines", path, HeadPath(path), n))
		}
		if !endsInNewline {
			n-- // the torn line is counted when the next line is added
		}
		return n, last, endsInNewline, nil
	}
	switch {
	case endsInNewline && hashLine(last) == head.Hash:
		return head.Lines, last, true, nil
	case endsInNewline:
		// A crash between writing a line and moving the head leaves one
		// sealed line that follows the head.
		var ev AuditEvent
		if json.Unmarshal(last, &ev) == nil && ev.Prev == head.Hash && ev.Hash != "" && lineSealOK(last, ev) {
			return head.Lines + 1, last, true, nil
		}
	default:
		// A crash mid-write leaves a torn line after the head's last line.
		prev, err := lineBefore(f)
		if err == nil && hashLine(prev) == head.Hash {
			return head.Lines, last, false, nil
		}
	}
	return 0, nil, false, fmt.Errorf("audit log %s does not end at its head (%d lines, %s…): it was cut or edited, so nothing was appended; run `bitbricks audit verify`", path, head.Lines, head.Hash[:min(12, len(head.Hash))])
}

// lineBefore returns the last complete line of a file whose end is torn.
func lineBefore(f *os.File) ([]byte, error) {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, '\n')
	if i < 0 {
		return nil, nil
	}
	b = b[:i]
	return b[bytes.LastIndexByte(b, '\n')+1:], nil
}

func countLines(f *os.File) (int, error) {
	r := bufio.NewReader(io.NewSectionReader(f, 0, 1<<62))
	n, partial := 0, false
	buf := make([]byte, 64*1024)
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if k > 0 {
			partial = buf[k-1] != '\n'
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if partial {
		n++
	}
	return n, nil
}

// readHead reads a sidecar head; ok is false when there is none.
func readHead(path string) (AuditHead, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return AuditHead{}, false, nil
	}
	if err != nil {
		return AuditHead{}, false, fmt.Errorf("read audit head: %w", err)
	}
	var h AuditHead
	if err := json.Unmarshal(b, &h); err != nil || len(h.Hash) != 64 {
		return AuditHead{}, false, fmt.Errorf("audit head %s is not a head: restore it, or check the log with `bitbricks audit verify --head` and the head a pipeline printed", path)
	}
	return h, true, nil
}

// writeHead replaces the sidecar atomically: a temporary file in the same
// directory, synced, then renamed over it.
func writeHead(path string, h AuditHead) error {
	b, _ := json.Marshal(h)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".audit-head-*")
	if err != nil {
		return fmt.Errorf("write audit head: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err = tmp.Write(append(b, '\n')); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write audit head %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func hashLine(line []byte) string {
	h := sha256.Sum256(line)
	return hex.EncodeToString(h[:])
}

// lastLine returns the file's last line without its newline (nil for an
// empty file), and whether the file is empty or ends in a newline.
func lastLine(f *os.File) ([]byte, bool, error) {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return nil, true, err
	}
	size := st.Size()
	for chunk := int64(4096); ; chunk *= 4 {
		off := max(size-chunk, 0)
		buf := make([]byte, size-off)
		if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, false, err
		}
		ends := buf[len(buf)-1] == '\n'
		body := bytes.TrimSuffix(buf, []byte{'\n'})
		if i := bytes.LastIndexByte(body, '\n'); i >= 0 {
			return body[i+1:], ends, nil
		}
		if off == 0 {
			return body, ends, nil
		}
	}
}

// AuditError names the line of the audit log where verification failed.
type AuditError struct {
	File string
	Line int
	Msg  string
}

func (e *AuditError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// VerifyAudit checks the local audit log at path against its sidecar head.
func VerifyAudit(path string) error {
	_, err := VerifyAuditHead(path, nil)
	return err
}

// VerifyAuditHead checks the local log at path: every line sealed by its own
// hash and linked to the line before it, and the whole against head (nil:
// the sidecar). It names the first bad line exactly: an edited line at that
// line, a deleted one where the gap is, a cut end at the first missing
// line. It returns the head it found.
func VerifyAuditHead(path string, head *AuditHead) (AuditHead, error) {
	f, err := os.Open(path)
	if err != nil {
		return AuditHead{}, fmt.Errorf("open audit log: %w", err)
	}
	defer f.Close()
	got, err := verifyChain(path, f, emptyChainHash)
	if err != nil {
		return got, err
	}
	if head == nil {
		h, ok, err := readHead(HeadPath(path))
		if err != nil {
			return got, err
		}
		if !ok {
			return got, fmt.Errorf("%s: no head (%s), so a cut end cannot be told: pass --head as printed by the last apply", path, HeadPath(path))
		}
		head = &h
	}
	return got, checkHead(path, got, *head)
}

// verifyChain reads a chain of sealed lines starting from prev and returns
// its head.
func verifyChain(name string, r io.Reader, prev string) (AuditHead, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		var ev AuditEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return AuditHead{}, &AuditError{File: name, Line: n, Msg: "not an audit event: line edited or truncated"}
		}
		if !lineSealOK(line, ev) {
			return AuditHead{}, &AuditError{File: name, Line: n, Msg: "line edited: its content does not match its hash"}
		}
		if ev.Prev != prev {
			msg := "hash chain broken: a line before it was deleted, inserted or reordered, or the line before it was edited and re-hashed"
			if n == 1 {
				msg = "hash chain broken: the chain does not start here (lines before it were deleted)"
			}
			return AuditHead{}, &AuditError{File: name, Line: n, Msg: msg}
		}
		prev = hashLine(line)
	}
	if err := sc.Err(); err != nil {
		return AuditHead{}, fmt.Errorf("read audit log %s: %w", name, err)
	}
	return AuditHead{Lines: n, Hash: prev}, nil
}

// checkHead compares a chain's head with the anchored one.
func checkHead(name string, got, want AuditHead) error {
	switch {
	case got.Lines < want.Lines:
		return &AuditError{File: name, Line: got.Lines + 1, Msg: fmt.Sprintf("missing: the anchored head records %d lines, the log ends after %d (its end was cut)", want.Lines, got.Lines)}
	case got.Lines > want.Lines:
		return &AuditError{File: name, Line: want.Lines + 1, Msg: fmt.Sprintf("not anchored: the head records %d lines, the log has %d (lines added outside bitbricks, or the head rolled back)", want.Lines, got.Lines)}
	case got.Hash != want.Hash:
		return &AuditError{File: name, Line: got.Lines, Msg: "the chain does not end at the anchored head: the log was edited and re-hashed"}
	}
	return nil
}

// NewAuditSink is the audit log at file: a local file, or for a path under
// /Volumes/ one file per run on that Unity Catalog volume, written through
// db's Files API. "" writes none.
func NewAuditSink(file string, db *Databricks) AuditSink {
	switch {
	case file == "":
		return nil
	case IsVolumePath(file) && db != nil:
		return &VolumeAudit{Dir: file, Files: db.w.Files}
	}
	return &FileAudit{Path: file}
}

// IsVolumePath reports whether an audit.file names a Unity Catalog volume.
func IsVolumePath(file string) bool { return strings.HasPrefix(file, "/Volumes/") }
