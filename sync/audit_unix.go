//go:build unix

package sync

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock, so concurrent bitbricks
// processes chain their audit lines one after the other.
func lockFile(f *os.File) error   { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }
func unlockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
