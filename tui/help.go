package tui

import (
	"fmt"
	"strings"

	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
	"github.com/bitbricks/bitbricks/views/components"
	"github.com/charmbracelet/bubbles/key"
)

// glyphLegend says what every glyph the console draws means. A colour cue always
// has a glyph, as NO_COLOR drops colour; this is where a newcomer learns them.
// The plan's glyphs come first, from the engine's action table.
var glyphLegend = append(actionLegend(), []struct{ glyph, meaning string }{
	{"~N", "N other changes to a group (entitlements)"},
	{"!N", "N member changes the plan cannot make: the account group is out of these credentials' reach"},
	{"new", "a Databricks group the plan creates"},
	{components.GlyphUnresolved, "a Bitbucket account with no usable Databricks identity; nothing changes for it"},
	{components.GlyphInSync, "in step: in Bitbucket and in Databricks; applied; ok"},
	{components.GlyphKept, "kept: in Databricks only, left alone (the planner's reason is beside it)"},
	{components.GlyphManaged, "the group is provisioned by an identity provider: drift is reported, never changed"},
	{views.FederationGlyph(sync.FederationStored), "a pipeline binding that stores a Databricks credential (+: it could federate, f)"},
	{views.FederationGlyph(sync.FederationFederating), "a binding whose federation policy is in place, its stored variable not yet removed"},
	{components.GlyphWarn, "a warning: near the age limit, overdue, read-only, a destructive change"},
	{components.GlyphError, "an error, a failure, or over the age limit"},
	{"█░", "a credential's age against policy.token_max_age: full is over it"},
	{components.GlyphOn + " " + components.GlyphOff, "a change selected to apply, or not (space toggles it)"},
	{components.GlyphPending, "queued; or more than fits: enter shows the row whole"},
	{components.GlyphCursor + " " + components.GlyphCursorDim, "the cursor, in the focused pane and in the other one"},
	{"┏ ╭", "a heavy border is the focused pane; tab moves the focus"},
}...)

// actionLegend is one line per glyph of the action table: the actions it
// marks, and whether they take something away.
func actionLegend() []struct{ glyph, meaning string } {
	var out []struct{ glyph, meaning string }
	at := map[string]int{}
	for _, a := range sync.Actions() {
		info := a.Info()
		i, ok := at[info.Glyph]
		if !ok {
			i = len(out)
			at[info.Glyph] = i
			out = append(out, struct{ glyph, meaning string }{info.Glyph, "the plan will"})
			if info.Destructive {
				out[i].meaning = "takes access or a credential away: the plan will"
			}
			out[i].meaning += " " + info.Label
			continue
		}
		out[i].meaning += ", " + info.Label
	}
	return out
}

// helpText is the help of the active view: every key that works there, the
// global keys, and the glyphs.
func (m Model) helpText() string {
	var b strings.Builder
	if m.status != "" {
		fmt.Fprintf(&b, "Last message\n  %s\n\n", m.status)
	}
	keys := func(title string, groups [][]key.Binding) {
		fmt.Fprintf(&b, "%s\n", title)
		seen := map[string]bool{}
		for _, g := range groups {
			for _, k := range g {
				h := k.Help()
				if !k.Enabled() || h.Key == "" || seen[h.Key] {
					continue
				}
				seen[h.Key] = true
				fmt.Fprintf(&b, "  %-10s %s\n", h.Key, h.Desc)
			}
		}
		b.WriteString("\n")
	}
	keys("Keys in "+m.viewName(), m.view().FullHelp())
	keys("Keys everywhere", m.keys.FullHelp())
	if m.d != nil && m.d.ws.several() {
		fmt.Fprintf(&b, "Workspaces\n  %-10s %s\n  %-10s %s\n  %-10s %s\n  %-10s %s\n  %-10s %s\n  %-10s %s\n\n", "shown", m.d.ws.title(),
			"all", strings.Join(m.d.ws.names, ", "),
			"writes", "go to the workspace of the change, credential or binding; confirmations name it",
			"account", "an account group's membership and an OAuth secret are the account's: one write for every workspace",
			"X", "in all workspaces, the owner's credentials in every workspace read, each under its own lock",
			"not read", "a workspace that could not be read is shown empty, saying why; R retries; a in all workspaces is refused then (w a read one applies it alone)")
	}
	b.WriteString("Views\n")
	for i, v := range m.tabs {
		name, _ := v.Title()
		fmt.Fprintf(&b, "  %-10d %s\n", i+1, name)
	}
	b.WriteString("\nGlyphs\n")
	for _, g := range glyphLegend {
		fmt.Fprintf(&b, "  %-10s %s\n", g.glyph, g.meaning)
	}
	return strings.TrimRight(b.String(), "\n")
}
