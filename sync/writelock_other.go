//go:build !unix && !windows

package sync

import "os"

// Without flock the local lock cannot exclude; the workspace lease still
// does, for every writer that reaches the workspace.
func tryLockFile(*os.File) (bool, error) { return false, nil }
