package sync

import (
	"errors"
	"fmt"
	"testing"
)

func TestExitCodeAndMessage(t *testing.T) {
	guard := &GuardError{Changes: 40, Max: 25}
	sys := &SystemError{System: SystemBitbucket, Problem: "cannot reach https://bb.example/2.0", Check: "BITBUCKET_API_BASE_URL and the network", Err: errors.New("dial\ntcp")}
	for _, tc := range []struct {
		err  error
		code int
		msg  string
	}{
		{nil, 0, ""},
		{guard, 3, "refused: the plan has 40 changes, more than max_changes 25 (review the plan, then raise policy.max_changes or pass --max-changes 40)"},
		{fmt.Errorf("apply: %w", guard), 3, guard.Error()},
		{fmt.Errorf("read: %w", sys), 1, "bitbucket: cannot reach https://bb.example/2.0 (check BITBUCKET_API_BASE_URL and the network)"},
		{errors.New("two\nlines"), 1, "two lines"},
	} {
		if got := ExitCode(tc.err); got != tc.code {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.code)
		}
		if got := Message(tc.err); got != tc.msg {
			t.Errorf("Message(%v) = %q, want %q", tc.err, got, tc.msg)
		}
	}
}
