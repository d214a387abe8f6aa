package tui

import (
	"cmp"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
	"github.com/bitbricks/bitbricks/views/components"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

type mappingsKeys struct {
	Pane, Apply, Remap key.Binding
}

func defaultMappingsKeys() mappingsKeys {
	return mappingsKeys{
		Pane:  key.NewBinding(key.WithKeys("tab", "shift+tab"), key.WithHelp("tab", "pane")),
		Apply: key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "apply change")),
		Remap: key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "re-map")),
	}
}

// mappingsView is Bitbucket groups on the left, the principals of the mapped Databricks
// group on the right and the detail of the selected row below.
type mappingsView struct {
	tabBase
	th       *theme
	keys     mappingsKeys
	d        *dataset
	groups   components.Table[groupRow]
	members  components.Table[memberRow]
	focus    int    // 0 groups, 1 members
	shown    string // the group (and target) whose members are shown
	stale    bool   // new data: rebuild the members, keeping the cursor
	detail   string // rendered, cached
	w, h     int
	readOnly bool
}

func newMappingsView(th *theme, readOnly bool) *mappingsView {
	v := &mappingsView{th: th, keys: defaultMappingsKeys(), readOnly: readOnly}
	v.groups = components.NewTable(th.st,
		func(r groupRow) string { return r.Key },
		func(r groupRow) string { return r.Bitbucket + " " + r.Target },
		th.groupLine)
	v.members = components.NewTable(th.st,
		func(r memberRow) string { return r.Key },
		func(r memberRow) string { return r.Name + " " + string(r.Type) + " " + r.Note },
		th.memberLine)
	v.groups.SetEmpty("no Bitbucket groups")
	v.members.SetEmpty("select a mapped group")
	v.groups.Focus()
	v.refresh()
	return v
}

func (th *theme) groupLine(r groupRow, w int) string {
	drift := th.driftText(r)
	dw := lipgloss.Width(drift)
	name := r.Bitbucket + " → " + views.Sanitize(r.Target)
	if r.Mapping < 0 {
		name = r.Bitbucket
	}
	return components.Fit(name, max(w-dw-1, 1)) + " " + drift
}

func (th *theme) driftText(r groupRow) string {
	if r.Mapping < 0 {
		return th.st.Text.Muted.Render("(not mapped)")
	}
	d := r.drift()
	if d == components.GlyphInSync {
		return th.marks[markInSync]
	}
	parts := strings.Fields(d)
	for i, p := range parts {
		switch p[0] {
		case '+':
			parts[i] = th.st.Drift.Missing.Render(p)
		case '-':
			parts[i] = th.st.Drift.Extra.Render(p)
		case '?':
			parts[i] = th.st.Drift.Unresolved.Render(p)
		case '!':
			parts[i] = th.st.Status.Error.Render(p)
		default:
			parts[i] = th.st.Drift.Managed.Render(p)
		}
	}
	return strings.Join(parts, " ")
}

func (th *theme) memberLine(r memberRow, w int) string {
	cols := components.Layout(w-2, 2, []components.Column{
		{Width: 16, Flex: true, Max: 32}, {Width: 5}, {Width: 10, Flex: true, Drop: 1},
	})
	typ := "user"
	switch r.Type {
	case sync.PrincipalServicePrincipal:
		typ = "sp"
	case sync.PrincipalGroup:
		typ = "group"
	}
	return th.marks[r.Mark] + " " + components.Join(cols, 2, r.Name, typ, th.st.Text.Muted.Render(r.Note))
}

func (v *mappingsView) Title() (string, string)     { return "Mappings", "Map" }
func (v *mappingsView) MutatingKeys() []key.Binding { return []key.Binding{v.keys.Apply, v.keys.Remap} }

func (v *mappingsView) SetData(d *dataset) {
	v.d = d
	v.groups.SetEmpty(cmp.Or(d.ws.notRead(), "no Bitbucket groups"))
	v.groups.SetItems(d.groups)
	v.stale = true
	v.refresh()
}

func (v *mappingsView) SetSize(w, h int) {
	v.w, v.h = w, h
	fw, fh := v.th.st.BoxFrame()
	dh := v.detailHeight()
	lw := min(max(w*9/20, min(w, 24)), 56)
	v.groups.SetSize(lw-fw, h-dh-fh)
	v.members.SetSize(w-lw-fw, h-dh-fh)
	v.refresh()
}

func (v *mappingsView) detailHeight() int {
	_, fh := v.th.st.BoxFrame()
	switch {
	case v.h >= 30:
		return 6 + fh
	case v.h >= 18:
		return 3 + fh
	}
	return 2 + fh
}

func (v *mappingsView) SetFilter(q string) {
	focusedPane(v.focus, &v.groups, &v.members).SetFilter(q)
	v.refresh()
}

func (v *mappingsView) Filter() string { return focusedPane(v.focus, &v.groups, &v.members).Filter() }

func (v *mappingsView) Update(msg tea.Msg) (tabView, tea.Cmd) {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return v, nil
	}
	var cmd tea.Cmd
	switch {
	case key.Matches(km, v.keys.Pane):
		v.focus = switchPane(v.focus, &v.groups, &v.members)
	case key.Matches(km, v.keys.Remap):
		if r, ok := v.groups.Selected(); ok {
			// An unmapped group (mapping -1) gets a new mapping; its key holds the raw slug.
			cmd = emit(remapIntent{mapping: r.Mapping, bitbucket: r.Bitbucket, slug: strings.TrimPrefix(r.Key, "u:"), from: r.Target})
		}
	case key.Matches(km, v.keys.Apply):
		if r, ok := v.members.Selected(); ok && r.Change != nil {
			cmd = emit(applyIntent{changes: []sync.Change{*r.Change}})
		}
	case v.focus == 0:
		v.groups, cmd = v.groups.Update(km)
	default:
		v.members, cmd = v.members.Update(km)
	}
	v.refresh()
	return v, cmd
}

// refresh rebuilds the members of a newly selected group, the detail and which keys
// apply. It runs after every change, and costs little when nothing moved.
func (v *mappingsView) refresh() {
	g, hasGroup := v.groups.Selected()
	if shown := g.Key + "→" + g.Target; v.d != nil && (shown != v.shown || v.stale) {
		v.members.SetItems(v.d.membersOf(g))
		if shown != v.shown {
			v.members.MoveTo(0)
		}
		v.shown, v.stale = shown, false
		empty := "select a mapped group"
		if v.d.ws.why != "" {
			empty = ""
		}
		if hasGroup && g.Mapping < 0 {
			empty = g.Bitbucket + " is not mapped"
		}
		v.members.SetEmpty(empty)
	}
	m, hasMember := v.members.Selected()
	v.keys.Remap.SetEnabled(!v.readOnly && v.focus == 0 && hasGroup)
	if hasGroup && g.Mapping < 0 {
		v.keys.Remap.SetHelp("m", "map")
	} else {
		v.keys.Remap.SetHelp("m", "re-map")
	}
	v.keys.Apply.SetEnabled(!v.readOnly && v.focus == 1 && hasMember && m.Change != nil)
	if hasMember && m.Change != nil && m.Change.Action == sync.ActionRemoveMember {
		v.keys.Apply.SetHelp("a", "apply removal")
	} else {
		v.keys.Apply.SetHelp("a", "apply change")
	}
	var text string
	switch {
	case v.d == nil:
	case v.focus == 1 && hasMember:
		text = v.memberDetail(g, m)
	case hasGroup:
		text = v.groupDetail(g)
	}
	_, fh := v.th.st.BoxFrame()
	v.detail = wrapLines(v.th, text, max(v.w-4, 10), v.detailHeight()-fh)
}

// wrapLines wraps text to w cells and keeps at most n lines.
func wrapLines(th *theme, text string, w, n int) string {
	wrapped := th.st.Text.Normal.Width(w).Render(text)
	lines := strings.Split(wrapped, "\n")
	if len(lines) > n && n > 0 {
		lines = lines[:n]
		lines[n-1] = components.Fit(strings.TrimRight(lines[n-1], " ")+" …", w)
	}
	return strings.Join(lines, "\n")
}

func (v *mappingsView) groupDetail(g groupRow) string {
	if g.Mapping < 0 {
		return fmt.Sprintf("Bitbucket group %s is not mapped: nobody in it gets Databricks access through bitbricks. Press m to map it to a Databricks group (a mapping is added to %s).",
			g.Bitbucket, configName(v.d))
	}
	m := v.d.cfg.Mappings[g.Mapping]
	var b strings.Builder
	fmt.Fprintf(&b, "%s → %s", g.Bitbucket, views.Sanitize(g.Target))
	// In all workspaces what the group is across them comes first, so a
	// small detail pane never cuts it.
	switch dg := v.d.snap.DBGroups[g.Target]; {
	case v.d.ws.all() && v.d.ws.account[g.Target] && dg != nil && dg.ExternalID == "":
		fmt.Fprintf(&b, " (account group, %d %s, one membership shared by %s; counts over all)", len(dg.Members), plural(len(dg.Members), "member"), workspacesText(v.d.ws.names))
	case v.d.ws.all() && !v.d.ws.account[g.Target] && dg != nil:
		fmt.Fprintf(&b, " (a workspace group of its own in each of %s: members listed by workspace, counts over all; w shows one)", workspacesText(v.d.ws.names))
	case dg == nil:
		b.WriteString(" (does not exist yet; the plan creates it)")
	case v.d.ws.all() && v.d.ws.account[g.Target]:
		fmt.Fprintf(&b, " (account group shared by %s, provisioned by an IdP: externalId %s; bitbricks never removes from it)", workspacesText(v.d.ws.names), views.Sanitize(dg.ExternalID))
	case dg.ExternalID != "":
		fmt.Fprintf(&b, " (%s group, provisioned by an IdP: externalId %s; bitbricks never removes from it)", dg.Kind, views.Sanitize(dg.ExternalID))
	default:
		fmt.Fprintf(&b, " (%s group, %d %s)", dg.Kind, len(dg.Members), plural(len(dg.Members), "member"))
	}
	fmt.Fprintf(&b, ". %d to add, %d to remove, %d other changes, %d unresolved. prune: %v", g.Add, g.Rem, g.Other, g.Unres, m.Prune)
	if len(m.Entitlements) > 0 {
		fmt.Fprintf(&b, "; entitlements: %s", strings.Join(m.Entitlements, ", "))
	}
	b.WriteString(".")
	for _, f := range v.d.findings[g.Target] {
		if f.Kind == sync.FindingUnknownSource || f.Kind == sync.FindingIdPManaged || f.Kind == sync.FindingAccountGroupNoAccess {
			b.WriteString(" " + components.GlyphWarn + " " + views.Sanitize(f.Detail) + ".")
		}
	}
	return b.String()
}

// memberDetail explains a member row. Its name and note are sanitised already.
func (v *mappingsView) memberDetail(g groupRow, m memberRow) string {
	glyph, target := v.th.marks[m.Mark], views.Sanitize(g.Target)
	switch m.Mark {
	case markMissing:
		return fmt.Sprintf("%s %s is %s but not in %s. Applying adds them to %s (%s via %s SCIM). Press a to apply this change (with the group, when the plan creates it).",
			glyph, m.Name, m.Note, target, target, m.Change.Action, routeName(m.Change.Route))
	case markExtra:
		return fmt.Sprintf("%s %s is in %s but %s. Applying removes them from %s.%s Press a to apply this change alone.",
			glyph, m.Name, target, m.Note, target, v.credNote(m.ID))
	case markUnresolved:
		return fmt.Sprintf("%s %s: %s. Nothing changes for them until the identity resolves (identity.map_file or the Atlassian directory).",
			glyph, m.Name, m.Note)
	case markBlocked:
		return fmt.Sprintf("%s %s is not in %s, and the plan cannot add them: %s.", glyph, m.Name, target, m.Note)
	case markManaged:
		return fmt.Sprintf("%s %s is in %s, which an identity provider provisions; bitbricks reports drift there and never changes it.", glyph, m.Name, target)
	case markKept:
		return fmt.Sprintf("%s %s is in %s and kept: %s. Nothing changes.", glyph, m.Name, target, m.Note)
	}
	if m.Status.Reason == sync.ReasonAssignWorkspace { // in the group, but the plan still gives them access
		return fmt.Sprintf("%s %s is in %s and %s. The membership is in sync; the assignment is a change of the plan (5).%s",
			glyph, m.Name, target, m.Note, v.credNote(m.ID))
	}
	return fmt.Sprintf("%s %s is in %s and %s: in sync, nothing changes.%s", glyph, m.Name, target, m.Note, v.credNote(m.ID))
}

// credNote is the blast radius of a principal: its credentials, and what the plan does to them.
func (v *mappingsView) credNote(ownerID string) string {
	creds := v.d.byOwner[ownerID]
	if len(creds) == 0 {
		return ""
	}
	parts := make([]string, 0, len(creds))
	revoked := 0
	for _, c := range creds {
		parts = append(parts, fmt.Sprintf("%s, %s", shortID(c.ID), views.Age(c.Age)))
		if _, ok := v.d.revokes[c.ID]; ok {
			revoked++
		}
	}
	s := fmt.Sprintf(" They hold %d %s (%s)", len(creds), plural(len(creds), "credential"), strings.Join(parts, "; "))
	if revoked > 0 {
		s += fmt.Sprintf("; the plan revokes %d of them", revoked)
	}
	return s + "."
}

func routeName(r sync.Route) string {
	switch r {
	case sync.RouteAccount:
		return "account"
	case sync.RouteProxy:
		return "workspace-proxied account"
	}
	return "workspace"
}

// configName is the config file's name, as confirmations show it.
func configName(d *dataset) string {
	if d != nil && d.cfg.Path != "" {
		return filepath.Base(d.cfg.Path)
	}
	return "the config"
}

func (v *mappingsView) View() string {
	fw, _ := v.th.st.BoxFrame()
	lw := v.groups.RowWidth() + 2 + fw
	dh := v.detailHeight()
	top := v.h - dh
	title := "Bitbucket groups"
	if q := v.groups.Filter(); q != "" {
		title += " /" + views.ShowFilter(q)
	}
	right := "Databricks"
	if g, ok := v.groups.Selected(); ok && g.Mapping >= 0 {
		right = views.Sanitize(g.Target)
		if dg := v.d.snap.DBGroups[g.Target]; dg != nil {
			// The kind decides which API (and credentials) a change needs;
			// it goes first so a narrow pane keeps it.
			right += " (" + string(dg.Kind) + ")"
		}
		right += " · Databricks"
	}
	if q := v.members.Filter(); q != "" {
		right += " /" + views.ShowFilter(q)
	}
	left := v.th.st.BoxLines(title, v.groups.Lines(), lw, top, v.focus == 0)
	rbox := v.th.st.BoxLines(right, v.members.Lines(), v.w-lw, top, v.focus == 1)
	detail := v.th.st.Box("detail", v.detail, v.w, dh, false)
	return lipgloss.JoinVertical(lipgloss.Left, lipgloss.JoinHorizontal(lipgloss.Top, left, rbox), detail)
}

func (v *mappingsView) ShortHelp() []key.Binding {
	return []key.Binding{v.groups.ShortHelp()[0], v.keys.Pane, v.keys.Apply, v.keys.Remap}
}

func (v *mappingsView) FullHelp() [][]key.Binding {
	return [][]key.Binding{v.groups.Keys.FullHelp()[0], {v.keys.Pane, v.keys.Apply, v.keys.Remap}}
}

// Detail is the selected member's, or group's, explanation whole.
func (v *mappingsView) Detail() (string, string, bool) {
	if v.d == nil {
		return "", "", false
	}
	g, ok := v.groups.Selected()
	if !ok {
		return "", "", false
	}
	if m, ok := v.members.Selected(); ok && v.focus == 1 {
		return "Member · " + m.Name, v.memberDetail(g, m), true
	}
	return "Group · " + g.Bitbucket, v.groupDetail(g), true
}
