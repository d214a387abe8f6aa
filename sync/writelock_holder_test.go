package sync

import (
	"strings"
	"testing"
)

// TestLockHolderUnknown: a lock file naming no bitbricks run (empty, or
// held by another program) says so, not "since 0001-01-01".
func TestLockHolderUnknown(t *testing.T) {
	got := (&LockHeldError{Where: "local lock /x/write.lock"}).Error()
	if strings.Contains(got, "0001-01-01") || strings.Contains(got, "process 0") || !strings.Contains(got, "holder unknown") {
		t.Errorf("lock held by nobody known: %q", got)
	}
}
