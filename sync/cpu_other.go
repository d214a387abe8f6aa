//go:build !unix

package sync

import "time"

func processCPU() time.Duration { return -1 }
