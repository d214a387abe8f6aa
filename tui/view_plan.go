package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
	"github.com/bitbricks/bitbricks/views/components"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

type planKeys struct {
	Pane, Toggle, ToggleAll, Apply key.Binding
}

func defaultPlanKeys() planKeys {
	return planKeys{
		Pane:      key.NewBinding(key.WithKeys("tab", "shift+tab"), key.WithHelp("tab", "pane")),
		Toggle:    key.NewBinding(key.WithKeys(" "), key.WithHelp("space", "toggle")),
		ToggleAll: key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "toggle all")),
		Apply:     key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "apply selected")),
	}
}

// planState is what the plan's rows show besides the change: selection and progress.
// Copies of the view share it.
type planState struct {
	// selected is the selection over the whole load, by change id: a scope
	// or a filter only hides changes, so switching workspace or filtering
	// never adds to it or takes from it. A change first seen is selected.
	selected map[string]bool
	status   map[string]string // by change id: "" none, else a glyph and a word
	// ws shows each change's and finding's workspace (the scope of all
	// workspaces); several: the load has several.
	ws, several bool
	scope       string // the workspace shown; "" for all, or one workspace
	// outside is the number of selected changes of the load that the
	// scope does not show: they are kept selected, and not applied from it.
	outside int
}

// planView lists the pending changes, each toggled for apply, and the findings.
type planView struct {
	tabBase
	th       *theme
	keys     planKeys
	s        *planState
	changes  components.Table[sync.Change]
	findings components.Table[sync.Finding]
	focus    int
	w, h     int
	readOnly bool
	text     func(sync.Change) string // what the filter searches
	notRead  string                   // the scope shown could not be read: why, in place of rows
}

// planColumns keep the reason at 80 columns: the status (shown only while
// applying) goes first; enter shows a change whole.
var planColumns = []components.Column{
	{Width: 3}, {Width: 1}, {Width: 18}, {Width: 12, Flex: true, Max: 24}, {Width: 16, Flex: true, Max: 40}, {Width: 12, Flex: true, Drop: 1}, {Width: 10, Drop: 2},
}

// planColumnsWS put the workspace after the glyph, in the scope of all
// workspaces.
var planColumnsWS = slices.Insert(slices.Clone(planColumns), 2, components.Column{Width: 10})

// reach says, in one workspace's scope of several, that a change is an
// account group's membership, the same in every workspace, and which
// workspace planned it when another did: "by prod, account-wide: "; ""
// otherwise (the detail says it whole).
func (s *planState) reach(c sync.Change) string {
	if !s.several || s.scope == "" || !accountMembership(c) {
		return ""
	}
	if c.Workspace != s.scope {
		return "by " + views.Sanitize(c.Workspace) + ", account-wide: "
	}
	return "account-wide: "
}

func newPlanView(th *theme, readOnly bool) *planView {
	s := &planState{selected: map[string]bool{}, status: map[string]string{}}
	v := &planView{th: th, keys: defaultPlanKeys(), s: s, readOnly: readOnly}
	v.text = func(c sync.Change) string {
		text := c.Action.String() + " " + c.Group + " " + c.Principal + " " + c.Binding + " " + c.Reason
		if s.several {
			text += " " + c.Workspace
		}
		return text
	}
	v.changes = components.NewTable(th.st,
		func(c sync.Change) string { return c.ID },
		v.text,
		func(c sync.Change, w int) string {
			box := components.GlyphOff
			if s.selected[c.ID] {
				box = components.GlyphOn
			}
			if s.ws {
				return components.Join(components.Layout(w, 1, planColumnsWS), 1, box, th.actionGlyph(c.Action), views.Sanitize(c.Workspace), c.Action.String(),
					changeScope(c), changeSubject(c), th.st.Text.Muted.Render(views.Sanitize(c.Reason)), s.status[c.ID])
			}
			cols := components.Layout(w, 1, planColumns)
			return components.Join(cols, 1, box, th.actionGlyph(c.Action), c.Action.String(),
				changeScope(c), changeSubject(c), th.st.Text.Muted.Render(s.reach(c)+views.Sanitize(c.Reason)), s.status[c.ID])
		})
	v.findings = components.NewTable(th.st,
		func(f sync.Finding) string { return string(f.Kind) + "/" + f.Subject + "/" + f.Group + "/" + f.Detail },
		func(f sync.Finding) string { return string(f.Kind) + " " + f.Subject + " " + f.Detail },
		func(f sync.Finding, w int) string {
			where := ""
			if s.ws {
				where = views.Sanitize(f.Workspace) + ": "
			}
			return th.findingGlyph(f.Kind) + " " + components.Fit(where+string(f.Kind)+" "+views.Sanitize(f.Subject)+": "+th.st.Text.Muted.Render(views.Sanitize(f.Detail)), w-2)
		})
	v.changes.SetEmpty(components.GlyphInSync + " nothing to change: Databricks is in step with Bitbucket")
	v.findings.SetEmpty("no findings")
	v.changes.Focus()
	v.refresh()
	return v
}

// changeScope is the group or binding of a change, sanitised for display.
func changeScope(c sync.Change) string { return views.Sanitize(cmp.Or(c.Group, c.Binding)) }

// changeSubject is what a change is about, sanitised for display.
func changeSubject(c sync.Change) string {
	switch {
	case c.Entitlement != "":
		return views.Sanitize(c.Entitlement)
	case c.TokenID != "":
		return shortID(c.TokenID) + " " + views.Sanitize(c.Principal)
	}
	return views.Sanitize(c.Principal)
}

// findingGlyph is the finding's glyph (views.FindingGlyph), coloured.
func (th *theme) findingGlyph(k sync.FindingKind) string {
	g := views.FindingGlyph(k)
	if g == components.GlyphUnresolved {
		return th.st.Drift.Unresolved.Render(g)
	}
	return th.st.Age.Warn.Render(g)
}

// actionGlyph is the action's glyph from the action table, coloured:
// destructive red, rotation as managed, additive green.
func (th *theme) actionGlyph(a sync.Action) string {
	switch {
	case a.Destructive():
		return th.st.Drift.Extra.Render(a.Glyph())
	case a == sync.ActionRotateCredential:
		return th.st.Drift.Managed.Render(a.Glyph())
	}
	return th.st.Drift.Missing.Render(a.Glyph())
}

func (v *planView) Title() (string, string)     { return "Plan", "Plan" }
func (v *planView) MutatingKeys() []key.Binding { return []key.Binding{v.keys.Apply} }

// Badge is the number of pending changes.
func (v *planView) Badge() string {
	if v.changes.Items() == nil {
		return ""
	}
	return strconv.Itoa(len(v.changes.Items()))
}

func (v *planView) SetData(d *dataset) {
	if ws := d.ws.all(); ws != v.s.ws || d.ws.several() != v.s.several {
		v.s.ws, v.s.several = ws, d.ws.several()
		v.SetSize(v.w, v.h)
	}
	// The selection is kept over the whole load, whichever scope shows
	// it: a change of another workspace keeps its choice while hidden.
	seen := map[string]bool{}
	for _, c := range d.loaded {
		seen[c.ID] = true
		if _, ok := v.s.selected[c.ID]; !ok {
			v.s.selected[c.ID] = true
		}
	}
	for id := range v.s.selected {
		if !seen[id] {
			delete(v.s.selected, id)
		}
	}
	shown := make(map[string]bool, len(d.plan.Changes))
	for _, c := range d.plan.Changes {
		shown[c.ID] = true
	}
	v.s.outside = 0
	for id, on := range v.s.selected {
		if on && !shown[id] {
			v.s.outside++
		}
	}
	v.s.scope, v.notRead = d.ws.name, d.ws.notRead()
	v.findings.SetEmpty("no findings")
	if v.notRead != "" {
		v.findings.SetEmpty("none: nothing of workspace " + views.Sanitize(d.ws.name) + " was read")
	}
	v.changes.SetItems(d.plan.Changes)
	v.findings.SetItems(d.plan.Findings)
	v.refresh()
}

// changeStatusMsg shows an apply's progress on the rows of the changes: reset
// forgets an earlier apply's first.
type changeStatusMsg struct {
	reset  bool
	status map[string]string // by change id
}

func (v *planView) setStatus(msg changeStatusMsg) {
	if msg.reset {
		clear(v.s.status)
	}
	for id, st := range msg.status {
		v.s.status[id] = st
	}
	v.changes.Invalidate()
}

// shown reports whether change c passes the filter: what is shown is what
// t toggles and a applies.
func (v *planView) shown(c sync.Change, q string) bool {
	return q == "" || strings.Contains(strings.ToLower(v.text(c)), q)
}

// Selected is the toggled changes shown (in the scope, passing the
// filter), in plan order: what a applies.
func (v *planView) Selected() []sync.Change {
	var out []sync.Change
	q := v.changes.Filter()
	for _, c := range v.changes.Items() {
		if v.s.selected[c.ID] && v.shown(c, q) {
			out = append(out, c)
		}
	}
	return out
}

// applyIntent asks to apply the selected changes shown, naming the
// selected ones left out.
func (v *planView) applyIntent() applyIntent {
	it := applyIntent{changes: v.Selected()}
	q := v.changes.Filter()
	shown := make(map[string]bool, len(v.changes.Items()))
	for _, c := range v.changes.Items() {
		shown[c.ID] = true
		if v.s.selected[c.ID] && !v.shown(c, q) {
			it.filtered = append(it.filtered, c.ID)
		}
	}
	for id, on := range v.s.selected {
		if on && !shown[id] {
			it.outside = append(it.outside, id)
		}
	}
	return it
}

// selectedCount is len(Selected()) without copying the changes (a key press
// on a plan of 20,000 changes would otherwise copy them all, twice); hidden
// is the selected changes of the scope the filter hides.
func (v *planView) selectedCount() (n, hidden int) {
	q := v.changes.Filter()
	for _, c := range v.changes.Items() {
		if v.s.selected[c.ID] {
			if v.shown(c, q) {
				n++
			} else {
				hidden++
			}
		}
	}
	return n, hidden
}

// hiddenText says which selected changes are not shown, so not applied:
// "2 selected hidden by the filter, 30 selected outside workspace dev";
// "" for none.
func (v *planView) hiddenText() string {
	_, hidden := v.selectedCount()
	var parts []string
	if hidden > 0 {
		parts = append(parts, fmt.Sprintf("%d selected hidden by the filter", hidden))
	}
	if v.s.outside > 0 {
		parts = append(parts, fmt.Sprintf("%d selected outside %s", v.s.outside, scopeText(v.s.scope)))
	}
	return strings.Join(parts, ", ")
}

// scopeText names a scope in a sentence: "workspace dev", "all workspaces".
func scopeText(name string) string {
	if name == "" {
		return allScope
	}
	return "workspace " + views.Sanitize(name)
}

func (v *planView) findingsHeight() int {
	_, fh := v.th.st.BoxFrame()
	n := max(min(v.findings.Len(), v.h/3-fh), 1)
	return n + fh
}

func (v *planView) SetSize(w, h int) {
	v.w, v.h = w, h
	fw, fh := v.th.st.BoxFrame()
	fH := v.findingsHeight()
	v.changes.SetSize(w-fw, h-fH-fh)
	v.findings.SetSize(w-fw, fH-fh)
	if v.s.ws {
		v.changes.SetHeader(components.Join(components.Layout(v.changes.RowWidth(), 1, planColumnsWS), 1,
			"", "", "workspace", "action", "group", "principal", "reason", "status"))
	} else {
		v.changes.SetHeader(components.Join(components.Layout(v.changes.RowWidth(), 1, planColumns), 1,
			"", "", "action", "group", "principal", "reason", "status"))
	}
}

func (v *planView) SetFilter(q string) {
	focusedPane(v.focus, &v.changes, &v.findings).SetFilter(q)
	v.refresh()
}

func (v *planView) Filter() string { return focusedPane(v.focus, &v.changes, &v.findings).Filter() }

func (v *planView) Update(msg tea.Msg) (tabView, tea.Cmd) {
	if st, ok := msg.(changeStatusMsg); ok {
		v.setStatus(st)
		return v, nil
	}
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return v, nil
	}
	var cmd tea.Cmd
	switch {
	case key.Matches(km, v.keys.Pane):
		v.focus = switchPane(v.focus, &v.changes, &v.findings)
	case key.Matches(km, v.keys.Toggle):
		if c, ok := v.changes.Selected(); ok {
			v.s.selected[c.ID] = !v.s.selected[c.ID]
			v.changes.InvalidateSelected()
		}
	case key.Matches(km, v.keys.ToggleAll):
		// Only the changes shown: a filter or a scope hides the others,
		// and their choice stays as it was.
		n, _ := v.selectedCount()
		all := n < v.changes.Len()
		q := v.changes.Filter()
		for _, c := range v.changes.Items() {
			if v.shown(c, q) {
				v.s.selected[c.ID] = all
			}
		}
		v.changes.Invalidate()
	case key.Matches(km, v.keys.Apply):
		cmd = emit(v.applyIntent())
	case v.focus == 0:
		v.changes, cmd = v.changes.Update(km)
	default:
		v.findings, cmd = v.findings.Update(km)
	}
	v.refresh()
	return v, cmd
}

func (v *planView) refresh() {
	n, _ := v.selectedCount()
	if q := v.changes.Filter(); q != "" && len(v.changes.Items()) > 0 && v.changes.Len() == 0 {
		all := len(v.changes.Items())
		v.changes.SetEmpty(fmt.Sprintf("no change matches the filter /%s (%d %s pending; esc clears it)",
			views.ShowFilter(q), all, plural(all, "change")))
	} else {
		v.changes.SetEmpty(cmp.Or(v.notRead, components.GlyphInSync+" nothing to change: Databricks is in step with Bitbucket"))
	}
	v.keys.Toggle.SetEnabled(v.focus == 0 && v.changes.Len() > 0)
	v.keys.ToggleAll.SetEnabled(v.focus == 0 && v.changes.Len() > 0)
	v.keys.Apply.SetEnabled(!v.readOnly && n > 0)
	v.keys.Apply.SetHelp("a", fmt.Sprintf("apply %d selected", n))
}

func (v *planView) View() string {
	fH := v.findingsHeight()
	n := len(v.changes.Items())
	sel, _ := v.selectedCount()
	title := fmt.Sprintf("Plan · %d %s · %d selected", n, plural(n, "change"), sel)
	if v.notRead != "" { // nothing known: no count
		title = "Plan · workspace " + views.Sanitize(v.s.scope) + " not read"
	}
	if h := v.hiddenText(); h != "" {
		title += " (" + h + ")"
	}
	if q := v.changes.Filter(); q != "" {
		title += " · /" + views.ShowFilter(q)
	}
	ftitle := fmt.Sprintf("Findings · %d (reported, never acted on)", len(v.findings.Items()))
	if v.notRead != "" {
		ftitle = "Findings"
	}
	return lipgloss.JoinVertical(lipgloss.Left,
		v.th.st.BoxLines(title, v.changes.Lines(), v.w, v.h-fH, v.focus == 0),
		v.th.st.BoxLines(ftitle, v.findings.Lines(), v.w, fH, v.focus == 1))
}

func (v *planView) ShortHelp() []key.Binding {
	return []key.Binding{v.changes.ShortHelp()[0], v.keys.Pane, v.keys.Toggle, v.keys.ToggleAll, v.keys.Apply}
}

func (v *planView) FullHelp() [][]key.Binding {
	return [][]key.Binding{v.changes.Keys.FullHelp()[0], {v.keys.Pane, v.keys.Toggle, v.keys.ToggleAll, v.keys.Apply}}
}

// Detail is the selected change, or finding, whole.
func (v *planView) Detail() (string, string, bool) {
	if v.focus == 1 {
		f, ok := v.findings.Selected()
		if !ok {
			return "", "", false
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s\n\nSubject: %s\n", v.th.findingGlyph(f.Kind), f.Kind, views.Sanitize(f.Subject))
		if v.s.several {
			fmt.Fprintf(&b, "Workspace: %s\n", views.Sanitize(f.Workspace))
		}
		if f.Group != "" {
			fmt.Fprintf(&b, "Group: %s\n", views.Sanitize(f.Group))
		}
		fmt.Fprintf(&b, "\n%s\n\nA finding is reported and never acted on.", views.Sanitize(f.Detail))
		return "Finding · " + string(f.Kind), b.String(), true
	}
	c, ok := v.changes.Selected()
	if !ok {
		return "", "", false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n\n", v.th.actionGlyph(c.Action), c.Action)
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(&b, "%-12s %s\n", k+":", val)
		}
	}
	if v.s.several {
		ws := views.Sanitize(c.Workspace)
		if c.GroupKind == sync.KindAccount && (c.Action == sync.ActionAddMember || c.Action == sync.ActionRemoveMember) {
			ws += " (an account group's membership, shared by every workspace: planned and applied once, through " + ws + ")"
			if v.s.scope != "" && v.s.scope != c.Workspace {
				ws += "; shown in " + views.Sanitize(v.s.scope) + " because its members' access there depends on it too"
			}
		}
		row("Workspace", ws)
	}
	group := views.Sanitize(c.Group)
	if c.Group != "" {
		if c.GroupKind != "" {
			group += " (" + string(c.GroupKind) + " group, " + routeName(c.Route) + " API)"
		}
	}
	row("Group", group)
	if c.Principal != "" {
		row("Principal", views.Sanitize(c.Principal)+" ("+strings.ReplaceAll(string(c.PrincipalType), "_", " ")+")")
	}
	row("Entitlement", views.Sanitize(c.Entitlement))
	row("Credential", views.Sanitize(c.TokenID))
	row("Binding", views.Sanitize(c.Binding))
	if c.Action.Destructive() {
		row("Effect", components.GlyphWarn+" takes access or a credential away")
	}
	row("Reason", views.Sanitize(c.Reason))
	sel := "not selected (space selects it)"
	if v.s.selected[c.ID] {
		sel = "selected: a applies it with the other selected changes"
	}
	row("Apply", sel)
	row("Status", v.s.status[c.ID])
	row("Change id", views.Sanitize(c.ID))
	return "Change · " + c.Action.String(), strings.TrimRight(b.String(), "\n"), true
}
