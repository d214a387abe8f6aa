package sync

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
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
// previous line (of "" for the first), so any edit, deletion or reordering
// breaks the chain. It never holds a credential value.
type AuditEvent struct {
	Time     time.Time `json:"time"`
	Operator Operator  `json:"operator"`
	Action   string    `json:"action"`
	Target   string    `json:"target"`
	Result   string    `json:"result"`
	Error    string    `json:"error"`
	ChangeID string    `json:"change_id"`
	Prev     string    `json:"prev"`
}

// auditMu serialises appends within this process; the file lock does so
// across processes where the platform has one.
var auditMu gosync.Mutex

// AppendAudit appends ev to the log at path (created 0600, its directory
// 0700), chaining it to the last line. ev.Prev is computed here.
func AppendAudit(path string, ev AuditEvent) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create audit directory: %w", err)
	}
	auditMu.Lock()
	defer auditMu.Unlock()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
		return fmt.Errorf("lock audit log %s: %w", path, err)
	}
	defer unlockFile(f)
	last, endsInNewline, err := lastLine(f)
	if err != nil {
		return fmt.Errorf("read audit log %s: %w", path, err)
	}
	ev.Prev = hashLine(last)
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if !endsInNewline {
		b = append([]byte{'\n'}, b...)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write audit log %s: %w", path, err)
	}
	return f.Sync()
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

// VerifyAudit checks the hash chain of the audit log at path. The first line
// whose prev does not match the line before it is reported: the line at or
// just before it was edited, deleted or moved. (A chain cannot show an edit
// of, or a cut after, the very last line.)
func VerifyAudit(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	prev := hashLine(nil)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		var ev AuditEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return &AuditError{File: path, Line: n, Msg: "not an audit event: line edited or truncated"}
		}
		if ev.Prev != prev {
			return &AuditError{File: path, Line: n, Msg: "hash chain broken: line edited, deleted or reordered"}
		}
		prev = hashLine(line)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read audit log %s: %w", path, err)
	}
	return nil
}
