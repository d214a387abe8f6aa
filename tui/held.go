package tui

import (
	"errors"

	"github.com/bitbricks/bitbricks/sync"
)

// heldStatus is the status line for a write refused because another
// bitbricks run (a scheduled sync --apply, another console) holds the write
// lock: who, since when, and that nothing changed. ok is false for any
// other error.
func heldStatus(err error) (line string, ok bool) {
	var held *sync.LockHeldError
	if !errors.As(err, &held) {
		return "", false
	}
	return "another bitbricks run is writing: " + held.By.String() + "; nothing was changed; try again when it is done", true
}
