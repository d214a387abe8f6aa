package tui

import (
	"strconv"

	"github.com/charmbracelet/bubbles/key"
)

// globalKeys work in every view when no dialog is open.
type globalKeys struct {
	Views, Detail, Refresh, Filter, ClearFilter, Leaked, Help, Quit key.Binding
	// Workspace opens the workspace switcher. It answers with one workspace
	// too (saying so), but the footer offers it only with several.
	Workspace key.Binding
	several   bool
}

// defaultGlobalKeys are the global keys of a console of n views: 1 to n switch.
func defaultGlobalKeys(readOnly bool, n int) globalKeys {
	views := make([]string, n)
	for i := range views {
		views[i] = strconv.Itoa(i + 1)
	}
	k := globalKeys{
		Views:       key.NewBinding(key.WithKeys(views...), key.WithHelp("1-"+strconv.Itoa(n), "views")),
		Detail:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "details")),
		Refresh:     key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "refresh")),
		Filter:      key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		ClearFilter: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		Leaked:      key.NewBinding(key.WithKeys("!"), key.WithHelp("!", "leaked token")),
		Help:        key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:        key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Workspace:   key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "switch workspace (one, or all)")),
	}
	k.Leaked.SetEnabled(!readOnly)
	k.ClearFilter.SetEnabled(false)
	return k
}

func (k globalKeys) ShortHelp() []key.Binding {
	if k.several { // before the rest: it decides what every view shows
		return []key.Binding{k.ClearFilter, withDesc(k.Workspace, "workspace"), k.Detail, k.Filter, k.Help, k.Quit, k.Leaked, k.Refresh, k.Views}
	}
	return []key.Binding{k.ClearFilter, k.Detail, k.Filter, k.Help, k.Quit, k.Leaked, k.Refresh, k.Views}
}

func (k globalKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Views, k.Detail, k.Filter, k.ClearFilter, k.Refresh}, {k.Workspace, k.Leaked, k.Help, k.Quit}}
}

// withDesc is b with a shorter description, for the footer.
func withDesc(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
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

// keyHelp is a help.KeyMap assembled from the focused pane and the globals.
type keyHelp struct {
	short []key.Binding
	full  [][]key.Binding
}

func (k keyHelp) ShortHelp() []key.Binding  { return k.short }
func (k keyHelp) FullHelp() [][]key.Binding { return k.full }
