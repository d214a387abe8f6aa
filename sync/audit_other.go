//go:build !unix

package sync

import (
	"fmt"
	"os"
)

// Without flock, appends are serialised within the process only.
func lockFile(*os.File) error   { return nil }
func unlockFile(*os.File) error { return nil }

// openAuditFile refuses a symlink found before opening (without O_NOFOLLOW
// this is the best the platform offers).
func openAuditFile(path string) (*os.File, error) {
	if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("audit log %s is a symbolic link: refused; point audit.file at the file itself", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	return f, nil
}
