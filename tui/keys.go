package tui

import (
	"github.com/charmbracelet/bubbles/key"
)

// globalKeys work in every view when no dialog is open.
type globalKeys struct {
	Views, Refresh, Filter, ClearFilter, Leaked, Help, Quit key.Binding
}

func defaultGlobalKeys(readOnly bool) globalKeys {
	k := globalKeys{
		Views:       key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6"), key.WithHelp("1-6", "views")),
		Refresh:     key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "refresh")),
		Filter:      key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		ClearFilter: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		Leaked:      key.NewBinding(key.WithKeys("!"), key.WithHelp("!", "leaked token")),
		Help:        key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:        key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
	k.Leaked.SetEnabled(!readOnly)
	k.ClearFilter.SetEnabled(false)
	return k
}

func (k globalKeys) ShortHelp() []key.Binding {
	return []key.Binding{k.ClearFilter, k.Filter, k.Help, k.Quit, k.Leaked, k.Refresh, k.Views}
}

func (k globalKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Views, k.Filter, k.ClearFilter, k.Refresh}, {k.Leaked, k.Help, k.Quit}}
}

// inputKeys answer the filter and leaked-token inputs.
type inputKeys struct {
	Accept, Cancel key.Binding
}

func defaultInputKeys() inputKeys {
	return inputKeys{
		Accept: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "done")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
}

// mutatingKeys are every key that changes something, enabled or not: in read-only
// mode, or while an operation runs, pressing one says why nothing happens.
func mutatingKeys() []key.Binding {
	m, c, p := defaultMappingsKeys(), defaultCredentialsKeys(), defaultPlanKeys()
	return []key.Binding{m.Apply, m.Remap, c.Revoke, c.RevokeOwner, p.Apply, rotateKey(), defaultGlobalKeys(false).Leaked}
}

func rotateKey() key.Binding { return key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "rotate")) }

// keyHelp is a help.KeyMap assembled from the focused pane and the globals.
type keyHelp struct {
	short []key.Binding
	full  [][]key.Binding
}

func (k keyHelp) ShortHelp() []key.Binding  { return k.short }
func (k keyHelp) FullHelp() [][]key.Binding { return k.full }
