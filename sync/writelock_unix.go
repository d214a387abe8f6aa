//go:build unix

package sync

import (
	"errors"
	"os"
	"syscall"
)

// tryLockFile takes an exclusive advisory lock without waiting: true when
// another open file (in this or another process) holds it.
func tryLockFile(f *os.File) (held bool, err error) {
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	return false, err
}
