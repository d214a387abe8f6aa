package tui

import (
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// tabView is one view of the console: one component, in its own file, listed
// once in newTabs. The number keys, the tab bar, the help, the filter, the
// detail pane and the layout all come from that list.
//
// Views are pointers, shared by the copies of the Model: bubbletea keeps only
// the newest copy, and a pointer in an interface costs no allocation per key.
type tabView interface {
	help.KeyMap
	// Title is the tab's name, and a shorter one for narrow terminals.
	Title() (name, short string)
	Init() tea.Cmd
	// Update takes keys when the view is the active tab, and every message the
	// root model hands to all views (data, progress, audit events).
	Update(msg tea.Msg) (tabView, tea.Cmd)
	View() string
	SetSize(w, h int)
	Focus()
	Blur()
	// SetData hands the view a new load.
	SetData(d *dataset)
	// SetFilter filters the focused pane; Filter is its filter.
	SetFilter(q string)
	Filter() string
	// Detail is the whole text of the selected row, for the detail pane that
	// enter opens; ok is false when nothing is selected.
	Detail() (title, body string, ok bool)
	// Badge is shown beside the tab's name ("12" pending changes), "" for none.
	Badge() string
	// Shown is called when the view becomes the active tab.
	Shown() tea.Cmd
	// MutatingKeys are the view's keys that change something, enabled or not:
	// read-only mode and a running operation refuse them with a reason.
	MutatingKeys() []key.Binding
}

// newTabs is the list of views, in tab order: the one place a view is listed.
func newTabs(th *theme, readOnly bool) []tabView {
	return []tabView{
		newMappingsView(th, readOnly),
		newPrincipalsView(th),
		newCredentialsView(th, readOnly),
		newPipelinesView(th, readOnly),
		newPlanView(th, readOnly),
		newAuditView(th),
	}
}

// tabBase gives a view the defaults of the optional parts of tabView.
type tabBase struct{}

func (tabBase) Init() tea.Cmd               { return nil }
func (tabBase) Badge() string               { return "" }
func (tabBase) Shown() tea.Cmd              { return nil }
func (tabBase) MutatingKeys() []key.Binding { return nil }
func (tabBase) Focus()                      {}
func (tabBase) Blur()                       {}

// tabOf is the index of the first view of type T, for messages that point the
// user at a view ("see the plan (5)"); -1 when none is listed.
func tabOf[T tabView](tabs []tabView) int {
	for i, v := range tabs {
		if _, ok := v.(T); ok {
			return i
		}
	}
	return -1
}
