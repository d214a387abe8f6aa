package tui

import (
	"fmt"
	"strings"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
	"github.com/bitbricks/bitbricks/views/components"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// The workspace switcher (w), like k9s's contexts: with several workspaces
// in databricks.workspaces, the console shows one of them, or all. The
// scope only narrows what is shown; switching reads nothing, as one load
// holds every workspace. A write goes to the workspace of what it acts on.

// lastLoad is what the shown dataset was built from.
type lastLoad struct {
	snap *sync.Snapshot
	plan sync.Plan
	cfg  *config.Config
}

// pickKind is what the open picker chooses.
type pickKind int

const (
	pickGroup     pickKind = iota // the Databricks group of a mapping (m)
	pickWorkspace                 // the workspace shown (w)
)

// setData shows a load in the current scope.
func (m *Model) setData(snap *sync.Snapshot, plan sync.Plan, cfg *config.Config) {
	m.last = &lastLoad{snap: snap, plan: plan, cfg: cfg}
	m.d = scopedDataset(snap, plan, cfg, m.now(), m.scope)
	switch unread := fmt.Sprintf("workspace %s could not be read: nothing of it is shown; R retries, w shows another", m.scope); {
	case m.d.ws.why != "":
		// The workspace shown could not be read this time: it stays shown,
		// empty, every view saying why.
		m.setStatus(statusError, unread)
	case m.statusK == statusError && m.status == unread:
		// Read again: the line saying it could not be is not left behind.
		m.setStatus(statusOK, fmt.Sprintf("workspace %s read again: %d %s", m.scope, len(m.d.plan.Changes), plural(len(m.d.plan.Changes), "change")))
	}
	m.scope = m.d.ws.name // a workspace no longer in the load: all
	m.keys.several = m.d.ws.several()
	for _, v := range m.tabs {
		v.SetData(m.d)
	}
	m.layout()
}

// openSwitcher opens the workspace picker: all workspaces, then each.
func (m Model) openSwitcher() (Model, tea.Cmd) {
	switch {
	case m.d == nil:
		m.setStatus(statusInfo, "nothing loaded yet; w chooses a workspace once the snapshot is read")
		return m, nil
	case !m.d.ws.several():
		m.setStatus(statusInfo, fmt.Sprintf("one workspace (%s): w switches between workspaces when databricks.workspaces lists several",
			config.SingleWorkspaceName(m.d.snap.Host, m.d.cfg.Databricks.Profile)))
		return m, nil
	}
	values := append([]string{allScope}, m.d.ws.names...)
	current := allScope
	if m.scope != "" {
		current = m.scope
	}
	changes, shared := map[string]int{}, map[string]int{}
	scopes := map[string]int{} // account-wide change id -> the workspaces that count it
	for _, w := range m.d.ws.names {
		if wl, ok := sync.ScopeWorkspace(m.last.snap, m.last.plan, m.last.cfg, w); ok {
			changes[w] = len(wl.Plan.Changes)
			for _, c := range wl.Plan.Changes {
				if accountMembership(c) { // counted in every workspace it reaches
					shared[w]++
					scopes[c.ID]++
				}
			}
		}
	}
	anyShared := false // some change is counted by two workspaces or more
	for _, n := range scopes {
		anyShared = anyShared || n > 1
	}
	load := m.last.snap
	width := 0
	for _, v := range values {
		width = max(width, lipgloss.Width(views.Sanitize(v)))
	}
	m.op++
	m.pickFor = pickWorkspace
	m.picker = components.NewPickerWith(m.th.st, m.op, "Show which workspace? (now: "+m.d.ws.title()+")", values, current, components.PickerOptions{
		Info: func(v string) string {
			shown := strings.Repeat(" ", width-lipgloss.Width(views.Sanitize(v))) // the notes line up
			if v == current {
				shown += "shown · "
			}
			if v == allScope {
				note := ""
				if names := m.d.ws.unreadNames(); len(names) > 0 {
					note = "; " + strings.Join(names, ", ") + " unread"
				}
				n := len(m.last.plan.Changes)
				if anyShared { // each workspace counts them; one plan holds them once
					return fmt.Sprintf("%s%d %s, account-wide once%s", shown, n, plural(n, "change"), note)
				}
				return fmt.Sprintf("%s%d %s in one plan%s", shown, n, plural(n, "change"), note)
			}
			if _, ok := m.d.ws.unread[v]; ok {
				return shown + components.GlyphError + " not read (R retries)"
			}
			host := ""
			for _, w := range load.Workspaces {
				if w.Name == v {
					host = w.Snap.Host
				}
			}
			// The count first: a real host is long, and is cut first.
			count := fmt.Sprintf("%d %s", changes[v], plural(changes[v], "change"))
			if shared[v] > 0 {
				count += fmt.Sprintf(" (%d account-wide)", shared[v])
			}
			return fmt.Sprintf("%s%s · %s", shown, count, host)
		},
	})
	m.picker.SetSize(m.width, m.bodyH)
	m.modal = modalPicker
	return m, nil
}

// setScope shows workspace name ("" or allScope: all of them).
func (m Model) setScope(name string) (Model, tea.Cmd) {
	if name == allScope {
		name = ""
	}
	if m.last == nil {
		return m, nil
	}
	m.scope = name
	m.setData(m.last.snap, m.last.plan, m.last.cfg)
	if m.d.ws.why != "" {
		return m, nil // the status says why it is empty
	}
	status := fmt.Sprintf("showing %s: %d %s", m.d.ws.title(), len(m.d.plan.Changes), plural(len(m.d.plan.Changes), "change"))
	if i := tabOf[*planView](m.tabs); i >= 0 {
		// The selection is kept whole; what the scope hides is not applied
		// from it.
		if p := m.tabs[i].(*planView); p.s.outside > 0 {
			status += fmt.Sprintf("; %d selected %s outside it, kept selected and not applied from here",
				p.s.outside, plural(p.s.outside, "change"))
		}
	}
	m.setStatus(statusInfo, status)
	return m, nil
}

// backendIn is the backend that writes to workspace ws: b itself for ""
// (one workspace), else b.In(ws).
func backendIn(b Backend, ws string) (Backend, error) {
	if ws == "" {
		return b, nil
	}
	return b.In(ws)
}
