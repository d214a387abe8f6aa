package tui

import (
	"github.com/bitbricks/bitbricks/views"
	"github.com/bitbricks/bitbricks/views/components"
	"github.com/charmbracelet/bubbles/key"
)

// listPane is a view of one table in a titled box, under a header of column
// names. The one-table views embed it.
type listPane[T any] struct {
	th      *theme
	title   string
	columns []components.Column
	headers []string
	table   components.Table[T]
	// detail is the whole text of a row, for the detail pane.
	detail func(T) (title, body string)
	w, h   int
	// notRead: the workspace shown could not be read, so the title counts
	// nothing (the empty table says why).
	notRead bool
}

func (v *listPane[T]) SetSize(w, h int) {
	v.w, v.h = w, h
	fw, fh := v.th.st.BoxFrame()
	v.table.SetSize(w-fw, h-fh)
	v.table.SetHeader(components.Join(components.Layout(v.table.RowWidth(), 1, v.columns), 1, v.headers...))
}
func (v *listPane[T]) SetFilter(q string) { v.table.SetFilter(q) }
func (v *listPane[T]) Filter() string     { return v.table.Filter() }

func (v *listPane[T]) View() string {
	pos := v.table.Position()
	if v.notRead {
		pos = "not read"
	}
	return v.th.st.BoxLines(listTitle(v.title, pos, v.table.Filter()), v.table.Lines(), v.w, v.h, true)
}

func (v *listPane[T]) Detail() (string, string, bool) {
	r, ok := v.table.Selected()
	if !ok || v.detail == nil {
		return "", "", false
	}
	t, b := v.detail(r)
	return t, b, true
}

func (v *listPane[T]) ShortHelp() []key.Binding  { return v.table.ShortHelp() }
func (v *listPane[T]) FullHelp() [][]key.Binding { return v.table.FullHelp() }

func listTitle(name, pos, filter string) string {
	t := name + " · " + pos
	if filter != "" {
		t += " · /" + views.ShowFilter(filter)
	}
	return t
}
