package sync

import (
	"fmt"
	"strings"
)

// ReadOnlyEnv is the environment variable that puts every command in
// read-only mode, like --read-only.
const ReadOnlyEnv = "BITBRICKS_READ_ONLY"

// ReadOnly reports whether read-only mode is in force: the flag, or
// BITBRICKS_READ_ONLY set to 1, true or yes.
func ReadOnly(flag bool, env Env) bool {
	if flag {
		return true
	}
	switch strings.ToLower(strings.TrimSpace(env.get(ReadOnlyEnv))) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// ReadOnlyError refuses a change while read-only mode is in force. It is a
// safety guard's refusal (exit code 3): nothing was changed.
type ReadOnlyError struct {
	What string // what was refused, such as "revoke" or "sync --apply"
}

func (e *ReadOnlyError) Error() string {
	return fmt.Sprintf("refused: %s changes Databricks or Bitbucket, and read-only mode is on (--read-only or %s); nothing was changed", e.What, ReadOnlyEnv)
}

// GuardWrite is the read-only guard every mutating operation passes first,
// before any request.
func GuardWrite(readOnly bool, what string) error {
	if readOnly {
		return &ReadOnlyError{What: what}
	}
	return nil
}
