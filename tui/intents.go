package tui

import (
	"github.com/bitbricks/bitbricks/sync"
	tea "github.com/charmbracelet/bubbletea"
)

// Intents are what a view asks the root to do; the root confirms and runs them.
type (
	applyIntent struct {
		changes []sync.Change
		// filtered and outside are the ids of the selected changes not
		// applied: hidden by the filter, or outside the scope shown.
		filtered, outside []string
	}
	revokeIntent struct {
		creds     []sync.CredentialStatus
		ownerWide bool // all of one owner's credentials: the owner must be typed to confirm
	}
	remapIntent struct {
		mapping         int    // -1: the group is not mapped, and gets a mapping
		bitbucket, from string // sanitised, for display
		slug            string // the Bitbucket group as the config names it, for a new mapping
	}
	rotateIntent   struct{ binding string }
	federateIntent struct{ binding string }
)

func emit(msg tea.Msg) tea.Cmd { return func() tea.Msg { return msg } }
