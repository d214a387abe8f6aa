//go:build !unix

package sync

import "os"

// Without flock, appends are serialised within the process only.
func lockFile(*os.File) error   { return nil }
func unlockFile(*os.File) error { return nil }
