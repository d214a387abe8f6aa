package tui

import (
	"github.com/bitbricks/bitbricks/views/components"
	"github.com/charmbracelet/lipgloss"
)

// theme is the styles plus the glyphs the views draw often, rendered once.
type theme struct {
	st    *components.Styles
	marks [markManaged + 1]string
	age   [3]lipgloss.Style // by level: ok, warn, over
	ageGl [3]string
}

func newTheme(r *lipgloss.Renderer) *theme {
	st := components.NewStyles(r, components.DefaultPalette())
	th := &theme{st: st}
	th.marks = [...]string{
		markMissing:    st.Drift.Missing.Render(components.GlyphMissing),
		markExtra:      st.Drift.Extra.Render(components.GlyphExtra),
		markBlocked:    st.Age.Warn.Render(components.GlyphWarn),
		markUnresolved: st.Drift.Unresolved.Render(components.GlyphUnresolved),
		markInSync:     st.Drift.InSync.Render(components.GlyphInSync),
		markKept:       st.Drift.Kept.Render(components.GlyphKept),
		markManaged:    st.Drift.Managed.Render(components.GlyphManaged),
	}
	th.age = [3]lipgloss.Style{st.Age.OK, st.Age.Warn, st.Age.Expired}
	th.ageGl = [3]string{" ", st.Age.Warn.Render(components.GlyphWarn), st.Age.Expired.Render(components.GlyphError)}
	return th
}
