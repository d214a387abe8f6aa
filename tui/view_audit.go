package tui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
	"github.com/bitbricks/bitbricks/views/components"
	tea "github.com/charmbracelet/bubbletea"
)

// auditView lists recent audit events, newest first. With several
// workspaces each line names the workspaces it wrote to, and one
// workspace's scope shows its lines only.
type auditView struct {
	tabBase
	listPane[AuditEvent]
	err string
	// all are the events read; scope the workspace shown ("" for all);
	// several: the load has several workspaces (the column is shown).
	all     []AuditEvent
	scope   string
	several bool
	hidden  int // lines of other workspaces the scope hides
	// account are the load's account groups by name (shared by every
	// workspace).
	account map[string]bool
}

// Messages of the audit view: it asks for the log when shown, the root answers.
type (
	auditWantedMsg struct{}
	auditEventsMsg struct {
		events []AuditEvent
		err    error
	}
)

var (
	// The error is the reason a line failed: at 80 columns the operator goes first.
	auditColumns = []components.Column{
		{Width: 16}, {Width: 16, Flex: true, Max: 32, Drop: 2}, {Width: 14}, {Width: 16, Flex: true, Max: 48}, {Width: 9}, {Width: 10, Flex: true, Drop: 1},
	}
	auditHeaders = []string{"time (UTC)", "operator", "action", "target", "result", "error"}
	// With several workspaces, where a line wrote comes after its time.
	auditColumnsWS = append([]components.Column{auditColumns[0], {Width: 9}}, auditColumns[1:]...)
	auditHeadersWS = append([]string{auditHeaders[0], "workspace"}, auditHeaders[1:]...)
)

func newAuditView(th *theme) *auditView {
	v := &auditView{listPane: listPane[AuditEvent]{th: th, title: "Audit log", columns: auditColumns, headers: auditHeaders}}
	v.table = components.NewTable(th.st,
		func(e AuditEvent) string { return e.Time.Format("20060102150405.000000000") + e.Action + e.Target },
		func(e AuditEvent) string {
			return e.Operator + " " + e.Action + " " + e.Target + " " + e.Result
		},
		func(e AuditEvent, w int) string {
			res := auditResult(th, e.Result)
			if !v.several {
				return components.Join(components.Layout(w, 1, auditColumns), 1, e.Time.UTC().Format("2006-01-02 15:04"), views.Sanitize(e.Operator), views.Sanitize(e.Action),
					views.Sanitize(e.Target), res, views.Sanitize(e.Error))
			}
			target := e.Target
			if e.Workspaces != nil {
				target = e.Short
			}
			return components.Join(components.Layout(w, 1, auditColumnsWS), 1, e.Time.UTC().Format("2006-01-02 15:04"), auditWhere(e),
				views.Sanitize(e.Operator), views.Sanitize(e.Action), views.Sanitize(target), res, views.Sanitize(e.Error))
		})
	v.table.SetEmpty("no audit events yet")
	v.table.Focus()
	return v
}

// auditWhere is a line's workspace column: "prod", "prod,dev", "-" when
// it names none.
func auditWhere(e AuditEvent) string {
	if e.Account {
		return "account"
	}
	if len(e.Workspaces) == 0 {
		return "-"
	}
	return views.Sanitize(strings.Join(e.Workspaces, ","))
}

// auditWhereNamed is the workspaces line e names, "-" for none.
func auditWhereNamed(e AuditEvent) string {
	e.Account = false
	return auditWhere(e)
}

func (v *auditView) Title() (string, string) { return "Audit", "Audit" }

// View is the list, its title saying how many lines the scope hides.
func (v *auditView) View() string {
	title := listTitle(v.title, v.table.Position(), v.table.Filter())
	if v.hidden > 0 {
		title += fmt.Sprintf(" · %d other workspaces' %s hidden (w)", v.hidden, plural(v.hidden, "line"))
	}
	return v.th.st.BoxLines(title, v.table.Lines(), v.w, v.h, true)
}

// SetData follows the scope: the workspace column with several, and one
// workspace's lines in its scope.
func (v *auditView) SetData(d *dataset) {
	several := d.ws.several()
	if several != v.several {
		v.several = several
		v.columns, v.headers = auditColumns, auditHeaders
		if several {
			v.columns, v.headers = auditColumnsWS, auditHeadersWS
		}
		v.table.Invalidate()
		v.SetSize(v.w, v.h)
	}
	moved := v.scope != d.ws.name
	v.scope = d.ws.name
	v.account = d.ws.account
	v.show()
	if moved {
		v.table.MoveTo(0) // another scope's lines: from the newest
	}
}

// Shown asks for the log: it changes behind the console's back.
func (v *auditView) Shown() tea.Cmd { return emit(auditWantedMsg{}) }

func (v *auditView) setEvents(ev []AuditEvent, err error) {
	v.err = ""
	if err != nil {
		v.err = sync.Message(err)
		v.table.SetEmpty(components.GlyphError + " audit log unreadable: " + v.err)
		return
	}
	v.all = ev
	v.show()
}

// show lists the events of the scope: a workspace's are the lines naming
// it, the lines naming no workspace (written before there were several,
// or of no workspace), and the account-wide ones (an account group's
// membership is every workspace's).
func (v *auditView) show() {
	if v.err != "" {
		return
	}
	if v.several {
		isAccount := func(g string) bool { return v.account[g] }
		for i := range v.all {
			e := &v.all[i]
			e.Account = sync.AuditAccountWide(sync.AuditEvent{Action: e.Action, Target: e.Target}, isAccount)
		}
	}
	shown := v.all
	v.hidden = 0
	if v.scope != "" {
		shown = nil
		for _, e := range v.all {
			if e.Account || len(e.Workspaces) == 0 || slices.Contains(e.Workspaces, v.scope) {
				shown = append(shown, e)
			} else {
				v.hidden++
			}
		}
	}
	v.title = "Audit log"
	if v.scope != "" {
		v.title = "Audit log · workspace " + views.Sanitize(v.scope)
	}
	v.table.SetEmpty("no audit events yet")
	if v.scope != "" && v.hidden > 0 {
		v.table.SetEmpty("no audit event names workspace " + views.Sanitize(v.scope) + " yet")
	}
	v.table.SetItems(shown)
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
	pad := 9 // "Operator:"
	if e.Account || len(e.Workspaces) > 0 {
		pad = 10 // "Workspace:"
	}
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(&b, "%-*s %s\n", pad, k+":", val)
		}
	}
	row("Time", e.Time.UTC().Format("2006-01-02 15:04:05")+" UTC")
	switch {
	case e.Account:
		row("Workspace", "account-wide: an account group's membership, the same in every workspace (written through "+auditWhereNamed(e)+")")
	case len(e.Workspaces) > 0:
		row("Workspace", auditWhere(e))
	}
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
