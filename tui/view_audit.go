package tui

import (
	"fmt"
	"strings"

	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
	"github.com/bitbricks/bitbricks/views/components"
	tea "github.com/charmbracelet/bubbletea"
)

// auditView lists recent audit events, newest first.
type auditView struct {
	tabBase
	listPane[AuditEvent]
	err string
}

// Messages of the audit view: it asks for the log when shown, the root answers.
type (
	auditWantedMsg struct{}
	auditEventsMsg struct {
		events []AuditEvent
		err    error
	}
)

func newAuditView(th *theme) *auditView {
	cols := []components.Column{
		// The error is the reason a line failed: at 80 columns the operator goes first.
		{Width: 16}, {Width: 16, Flex: true, Max: 32, Drop: 2}, {Width: 14}, {Width: 16, Flex: true, Max: 48}, {Width: 9}, {Width: 10, Flex: true, Drop: 1},
	}
	v := &auditView{listPane: listPane[AuditEvent]{th: th, title: "Audit log", columns: cols,
		headers: []string{"time (UTC)", "operator", "action", "target", "result", "error"}}}
	v.table = components.NewTable(th.st,
		func(e AuditEvent) string { return e.Time.Format("20060102150405.000000000") + e.Action + e.Target },
		func(e AuditEvent) string { return e.Operator + " " + e.Action + " " + e.Target + " " + e.Result },
		func(e AuditEvent, w int) string {
			widths := components.Layout(w, 1, cols)
			res := auditResult(th, e.Result)
			return components.Join(widths, 1, e.Time.UTC().Format("2006-01-02 15:04"), views.Sanitize(e.Operator), views.Sanitize(e.Action),
				views.Sanitize(e.Target), res, views.Sanitize(e.Error))
		})
	v.table.SetEmpty("no audit events yet")
	v.table.Focus()
	return v
}

func (v *auditView) Title() (string, string) { return "Audit", "Audit" }
func (v *auditView) SetData(*dataset)        {}

// Shown asks for the log: it changes behind the console's back.
func (v *auditView) Shown() tea.Cmd { return emit(auditWantedMsg{}) }

func (v *auditView) setEvents(ev []AuditEvent, err error) {
	v.err = ""
	if err != nil {
		v.err = sync.Message(err)
		v.table.SetEmpty(components.GlyphError + " audit log unreadable: " + v.err)
		return
	}
	v.table.SetEmpty("no audit events yet")
	v.table.SetItems(ev)
}

func (v *auditView) Update(msg tea.Msg) (tabView, tea.Cmd) {
	if ev, ok := msg.(auditEventsMsg); ok {
		v.setEvents(ev.events, ev.err)
		return v, nil
	}
	var cmd tea.Cmd
	v.table, cmd = v.table.Update(msg)
	return v, cmd
}

// Detail is the selected event whole: the target and the error are often long.
func (v *auditView) Detail() (string, string, bool) {
	e, ok := v.table.Selected()
	if !ok {
		return "", "", false
	}
	var b strings.Builder
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(&b, "%-9s %s\n", k+":", val)
		}
	}
	row("Time", e.Time.UTC().Format("2006-01-02 15:04:05")+" UTC")
	row("Operator", views.Sanitize(e.Operator))
	row("Action", views.Sanitize(e.Action))
	row("Target", views.Sanitize(e.Target))
	row("Result", views.Sanitize(e.Result))
	row("Error", views.Sanitize(e.Error))
	return "Audit event · " + views.Sanitize(e.Action), strings.TrimRight(b.String(), "\n"), true
}

// auditResult marks a line's result: applied in sync's colour, a skipped
// change as a warning, an intent (written before a rotation's step, not an
// outcome) plain, and only a failure (or anything unknown) as an error.
func auditResult(th *theme, result string) string {
	switch result {
	case sync.ResultApplied:
		return th.marks[markInSync] + " " + result
	case sync.ResultIntent:
		return th.st.Status.Info.Render("· " + result)
	case sync.ResultSkipped:
		return th.marks[markBlocked] + " " + result
	}
	return th.st.Status.Error.Render(components.GlyphError + " " + views.Sanitize(result))
}
