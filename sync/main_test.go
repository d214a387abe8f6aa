package sync

import (
	"os"
	"testing"
)

// TestMain keeps every test's write lock out of the real state directory: a
// Service made without a StateDir locks $XDG_STATE_HOME/bitbricks, and
// other test runs (or a real bitbricks) on the machine would otherwise
// contend for it.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bitbricks-sync-test-state-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_STATE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
