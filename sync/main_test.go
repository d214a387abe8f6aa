package sync

import (
	"os"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
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

// withAccount gives isolated options o the seed's account credential: the
// account admin service principal's OAuth secret (the account API takes no
// personal access token).
func withAccount(org *emulator.Org, o DatabricksOptions) DatabricksOptions {
	o.AccountClientID, o.AccountClientSecret = org.Creds.AccountClientID, org.Creds.AccountClientSecret
	return o
}
