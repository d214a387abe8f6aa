package tui

import (
	"fmt"

	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
	"github.com/bitbricks/bitbricks/views/components"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// listPane is a view of one table in a titled box, under a header of column
// names. The one-table views embed it.
type listPane[T any] struct {
	th      *theme
	title   string
	columns []components.Column
	headers []string
	table   components.Table[T]
	w, h    int
}

func (v *listPane[T]) SetSize(w, h int) {
	v.w, v.h = w, h
	fw, fh := v.th.st.BoxFrame()
	v.table.SetSize(w-fw, h-fh)
	v.table.SetHeader(components.Join(components.Layout(v.table.RowWidth(), 1, v.columns), 1, v.headers...))
}
func (v *listPane[T]) Focus()             {}
func (v *listPane[T]) Blur()              {}
func (v *listPane[T]) SetFilter(q string) { v.table.SetFilter(q) }
func (v listPane[T]) Filter() string      { return v.table.Filter() }

func (v listPane[T]) View() string {
	return v.th.st.BoxLines(listTitle(v.title, v.table.Position(), v.table.Filter()), v.table.Lines(), v.w, v.h, true)
}

func (v listPane[T]) ShortHelp() []key.Binding  { return v.table.ShortHelp() }
func (v listPane[T]) FullHelp() [][]key.Binding { return v.table.FullHelp() }

func listTitle(name, pos, filter string) string {
	t := name + " · " + pos
	if filter != "" {
		t += " · /" + filter
	}
	return t
}

// principalsView lists every Databricks user, service principal and group.
type principalsView struct {
	listPane[principalRow]
}

func newPrincipalsView(th *theme) principalsView {
	cols := []components.Column{
		{Width: 5}, {Width: 18, Flex: true, Max: 36}, {Width: 18, Flex: true, Max: 36, Drop: 2}, {Width: 7}, {Width: 7, Drop: 3}, {Width: 10, Flex: true, Drop: 1},
	}
	v := principalsView{listPane[principalRow]{th: th, title: "Databricks principals", columns: cols,
		headers: []string{"type", "name", "detail", "groups", "creds", "flags"}}}
	v.table = components.NewTable(th.st,
		func(r principalRow) string { return r.Key },
		func(r principalRow) string { return r.Kind + " " + r.Name + " " + r.Detail + " " + r.Flags },
		func(r principalRow, w int) string {
			widths := components.Layout(w, 1, cols)
			groups := fmt.Sprintf("%d grp", r.Groups)
			creds := ""
			if r.Kind != "group" {
				creds = fmt.Sprintf("%d cred", r.Creds)
			}
			return components.Join(widths, 1, r.Kind, r.Name, th.st.Text.Muted.Render(r.Detail), groups, creds, r.Flags)
		})
	v.table.SetEmpty("no principals")
	v.table.Focus()
	return v
}

func (v principalsView) Init() tea.Cmd       { return nil }
func (v *principalsView) SetData(d *dataset) { v.table.SetItems(d.principal) }

func (v principalsView) Update(msg tea.Msg) (principalsView, tea.Cmd) {
	var cmd tea.Cmd
	v.table, cmd = v.table.Update(msg)
	return v, cmd
}

// pipelinesView lists the pipeline bindings: last rotation, when the next is due.
type pipelinesView struct {
	listPane[bindingRow]
	keys     struct{ Rotate key.Binding }
	readOnly bool
}

var pipelineColumns = []components.Column{
	{Width: 14, Flex: true, Max: 24}, {Width: 20, Flex: true, Max: 40, Drop: 2}, {Width: 16, Drop: 3}, {Width: 12, Drop: 4},
	{Width: 9}, {Width: 12}, {Width: 16, Flex: true, Drop: 1},
}

func newPipelinesView(th *theme, readOnly bool) pipelinesView {
	v := pipelinesView{listPane: listPane[bindingRow]{th: th, title: "Pipeline bindings", columns: pipelineColumns,
		headers: []string{"binding", "variable", "service principal", "kind", "rotated", "due", "status"}}, readOnly: readOnly}
	v.keys.Rotate = rotateKey()
	v.keys.Rotate.SetEnabled(!readOnly)
	v.table = components.NewTable(th.st,
		func(r bindingRow) string { return r.Name },
		func(r bindingRow) string { return r.Name + " " + r.Repository + " " + r.ServicePrincipal },
		th.bindingLine)
	v.table.SetEmpty("no pipeline bindings in the config")
	v.table.Focus()
	return v
}

func (th *theme) bindingLine(r bindingRow, w int) string {
	cols := components.Layout(w, 1, pipelineColumns)
	target := r.Repository + "/" + r.Variable
	if r.Environment != "" {
		target = r.Repository + "@" + r.Environment + "/" + r.Variable
	}
	last, due := "-", "-"
	if r.Current != nil {
		last = ageText(r.Current.Age) + " ago"
		due = "in " + ageText(r.DueIn)
		if r.DueIn <= 0 {
			due = th.st.Age.Warn.Render(components.GlyphWarn + " overdue " + ageText(-r.DueIn))
		}
	}
	var state string
	switch {
	case r.State == nil || !r.State.Known:
		state = th.st.Drift.Unresolved.Render(components.GlyphUnresolved + " not read")
	case r.Rotation != nil:
		state = th.st.Age.Warn.Render(components.GlyphRotate + " " + views.Sanitize(r.Rotation.Reason))
	default:
		state = th.marks[markInSync] + " ok"
	}
	return components.Join(cols, 1, r.Name, target, r.ServicePrincipal, r.Credential, last, due, state)
}

func (v pipelinesView) Init() tea.Cmd       { return nil }
func (v *pipelinesView) SetData(d *dataset) { v.table.SetItems(d.bindings) }

func (v pipelinesView) Update(msg tea.Msg) (pipelinesView, tea.Cmd) {
	if km, ok := msg.(tea.KeyMsg); ok && key.Matches(km, v.keys.Rotate) {
		if r, ok := v.table.Selected(); ok {
			return v, emit(rotateIntent{binding: r.Name})
		}
		return v, nil
	}
	var cmd tea.Cmd
	v.table, cmd = v.table.Update(msg)
	return v, cmd
}

func (v pipelinesView) ShortHelp() []key.Binding {
	return append(v.table.ShortHelp(), v.keys.Rotate)
}
func (v pipelinesView) FullHelp() [][]key.Binding {
	return append(v.table.FullHelp(), []key.Binding{v.keys.Rotate})
}

// auditView lists recent audit events, newest first.
type auditView struct {
	listPane[AuditEvent]
	err string
}

func newAuditView(th *theme) auditView {
	cols := []components.Column{
		{Width: 16}, {Width: 16, Flex: true, Max: 32, Drop: 2}, {Width: 18}, {Width: 24, Flex: true, Max: 48}, {Width: 10}, {Width: 10, Flex: true, Drop: 1},
	}
	v := auditView{listPane: listPane[AuditEvent]{th: th, title: "Audit log", columns: cols,
		headers: []string{"time (UTC)", "operator", "action", "target", "result", "error"}}}
	v.table = components.NewTable(th.st,
		func(e AuditEvent) string { return e.Time.Format("20060102150405.000000000") + e.Action + e.Target },
		func(e AuditEvent) string { return e.Operator + " " + e.Action + " " + e.Target + " " + e.Result },
		func(e AuditEvent, w int) string {
			widths := components.Layout(w, 1, cols)
			res := th.marks[markInSync] + " " + e.Result
			if e.Result != sync.ResultApplied {
				res = th.st.Status.Error.Render(components.GlyphError + " " + views.Sanitize(e.Result))
			}
			return components.Join(widths, 1, e.Time.UTC().Format("2006-01-02 15:04"), views.Sanitize(e.Operator), views.Sanitize(e.Action),
				views.Sanitize(e.Target), res, views.Sanitize(e.Error))
		})
	v.table.SetEmpty("no audit events yet")
	v.table.Focus()
	return v
}

func (v auditView) Init() tea.Cmd { return nil }
func (v *auditView) SetEvents(ev []AuditEvent, err error) {
	v.err = ""
	if err != nil {
		v.err = sync.Message(err)
		v.table.SetEmpty(components.GlyphError + " audit log unreadable: " + v.err)
		return
	}
	v.table.SetEmpty("no audit events yet")
	v.table.SetItems(ev)
}

func (v auditView) Update(msg tea.Msg) (auditView, tea.Cmd) {
	var cmd tea.Cmd
	v.table, cmd = v.table.Update(msg)
	return v, cmd
}
