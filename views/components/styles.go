// Package components holds the reusable pieces of the bitbricks console: styles built
// from one palette, a windowed table, a confirmation dialog, a text input and a picker.
// Every component follows one contract: Init, Update(msg) returning its own type, View,
// SetSize, Focus/Blur and help.KeyMap; parents own the layout.
package components

import (
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/lipgloss"
)

// Glyphs carry every colour cue, because NO_COLOR drops colour, bold and reverse alike.
const (
	GlyphInSync     = "✓"
	GlyphMissing    = "+"
	GlyphExtra      = "-"
	GlyphUnresolved = "?"
	GlyphManaged    = "⚑"
	GlyphKept       = "●"
	GlyphWarn       = "!"
	GlyphError      = "✗"
	GlyphRotate     = "↻" // sync.ActionRotateCredential's glyph
	GlyphCursor     = "▸"
	GlyphCursorDim  = "›"
	GlyphOn         = "[x]"
	GlyphOff        = "[ ]"
	GlyphPending    = "…"
)

// Palette names colours by meaning, light and dark.
type Palette struct {
	Accent, Text, Muted, Subtle, OK, Warn, Danger, Info lipgloss.AdaptiveColor
}

// DefaultPalette is the console's palette.
func DefaultPalette() Palette {
	return Palette{
		Accent: lipgloss.AdaptiveColor{Light: "#5A56E0", Dark: "#7D79F6"},
		Text:   lipgloss.AdaptiveColor{Light: "#1A1A1A", Dark: "#DDDDDD"},
		Muted:  lipgloss.AdaptiveColor{Light: "#8A8A8A", Dark: "#7A7A7A"},
		Subtle: lipgloss.AdaptiveColor{Light: "#C8C8C8", Dark: "#444444"},
		OK:     lipgloss.AdaptiveColor{Light: "#1F8A3B", Dark: "#4FD17A"},
		Warn:   lipgloss.AdaptiveColor{Light: "#B36B00", Dark: "#F2B33D"},
		Danger: lipgloss.AdaptiveColor{Light: "#C62828", Dark: "#FF6B6B"},
		Info:   lipgloss.AdaptiveColor{Light: "#1565C0", Dark: "#64B5F6"},
	}
}

// Styles are every style of the console, built once from a renderer and a palette.
type Styles struct {
	Pane struct {
		Focused, Blurred lipgloss.Style // border colour
		Title            lipgloss.Style
	}
	Text struct {
		Normal, Muted, Bold, Accent lipgloss.Style
	}
	Drift struct {
		InSync, Missing, Extra, Unresolved, Managed, Kept lipgloss.Style
	}
	Age struct {
		OK, Warn, Expired lipgloss.Style
	}
	Status struct {
		Info, OK, Error, Busy lipgloss.Style
	}
	Tab struct {
		Active, Inactive lipgloss.Style
	}
	Header lipgloss.Style
	Cursor lipgloss.Style
	Dialog lipgloss.Style
	Help   help.Styles

	focused, blurred boxChars
}

// NewStyles builds the styles for r (nil: the default renderer).
func NewStyles(r *lipgloss.Renderer, p Palette) *Styles {
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	fg := func(c lipgloss.AdaptiveColor) lipgloss.Style { return r.NewStyle().Foreground(c) }
	s := &Styles{}
	s.Pane.Focused = fg(p.Accent)
	s.Pane.Blurred = fg(p.Subtle)
	s.Pane.Title = fg(p.Text).Bold(true)
	s.Text.Normal = fg(p.Text)
	s.Text.Muted = fg(p.Muted)
	s.Text.Bold = fg(p.Text).Bold(true)
	s.Text.Accent = fg(p.Accent).Bold(true)
	s.Drift.InSync = fg(p.OK)
	s.Drift.Missing = fg(p.OK).Bold(true)
	s.Drift.Extra = fg(p.Danger).Bold(true)
	s.Drift.Unresolved = fg(p.Warn)
	s.Drift.Managed = fg(p.Info)
	s.Drift.Kept = fg(p.Muted)
	s.Age.OK = fg(p.OK)
	s.Age.Warn = fg(p.Warn)
	s.Age.Expired = fg(p.Danger)
	s.Status.Info = fg(p.Muted)
	s.Status.OK = fg(p.OK)
	s.Status.Error = fg(p.Danger).Bold(true)
	s.Status.Busy = fg(p.Accent)
	s.Tab.Active = fg(p.Accent).Bold(true)
	s.Tab.Inactive = fg(p.Muted)
	s.Header = fg(p.Text).Bold(true)
	s.Cursor = r.NewStyle().Bold(true)
	s.Dialog = r.NewStyle().Border(lipgloss.ThickBorder()).BorderForeground(p.Accent).Padding(0, 1)
	s.Help = help.Styles{
		ShortKey: fg(p.Accent), ShortDesc: fg(p.Muted), ShortSeparator: fg(p.Subtle),
		FullKey: fg(p.Accent), FullDesc: fg(p.Muted), FullSeparator: fg(p.Subtle),
		Ellipsis: fg(p.Subtle),
	}
	s.focused = newBoxChars(lipgloss.ThickBorder(), s.Pane.Focused)
	s.blurred = newBoxChars(lipgloss.RoundedBorder(), s.Pane.Blurred)
	return s
}

// boxChars are a border's pieces, rendered once.
type boxChars struct {
	tl, tr, bl, br, left, right string
	h                           string // one horizontal piece, unstyled
	open, close                 string // the style's escape codes around a run of h
}

func newBoxChars(b lipgloss.Border, st lipgloss.Style) boxChars {
	c := boxChars{
		tl: st.Render(b.TopLeft), tr: st.Render(b.TopRight),
		bl: st.Render(b.BottomLeft), br: st.Render(b.BottomRight),
		left: st.Render(b.Left), right: st.Render(b.Right),
		h: b.Top,
	}
	// Rendering a run of h costs a style pass per box; find the codes once instead.
	c.open, c.close, _ = strings.Cut(st.Render(b.Top), b.Top)
	return c
}

// hline writes n horizontal pieces in the border's style.
func (c boxChars) hline(b *strings.Builder, n int) {
	b.WriteString(c.open)
	for range max(n, 0) {
		b.WriteString(c.h)
	}
	b.WriteString(c.close)
}

// Box draws body inside a w×h border with title in the top edge. A focused box has a
// heavy border, so focus shows without colour. Body lines are fitted to the inner width
// and the body is cut or padded to the inner height.
func (s *Styles) Box(title, body string, w, h int, focused bool) string {
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		lines[i] = Fit(l, w-2)
	}
	return s.BoxLines(title, lines, w, h, focused)
}

// BoxLines is Box for lines already exactly w-2 cells wide (as Table.Lines draws
// them): it does not measure them, which matters for long lists.
func (s *Styles) BoxLines(title string, lines []string, w, h int, focused bool) string {
	if w < 4 || h < 2 {
		return ""
	}
	c := s.blurred
	if focused {
		c = s.focused
	}
	inner := w - 2
	n := 0
	for _, l := range lines {
		n += len(l)
	}
	var b strings.Builder
	b.Grow(n + (inner*3+32)*2 + h*(len(c.left)+len(c.right)+inner+1))
	b.WriteString(c.tl)
	t := ""
	if title != "" && inner > 4 {
		t = " " + Fit(title, min(lipgloss.Width(title), inner-3)) + " "
		c.hline(&b, 1)
		b.WriteString(s.Pane.Title.Render(t))
	}
	rest := inner - lipgloss.Width(t)
	if t != "" {
		rest--
	}
	c.hline(&b, rest)
	b.WriteString(c.tr)
	blank := ""
	for i := 0; i < h-2; i++ {
		b.WriteByte('\n')
		b.WriteString(c.left)
		if i < len(lines) {
			b.WriteString(lines[i])
		} else {
			if blank == "" {
				blank = strings.Repeat(" ", inner)
			}
			b.WriteString(blank)
		}
		b.WriteString(c.right)
	}
	b.WriteByte('\n')
	b.WriteString(c.bl)
	c.hline(&b, inner)
	b.WriteString(c.br)
	return b.String()
}

// BoxFrame is the width and height a Box's border adds, measured from its pieces.
func (s *Styles) BoxFrame() (w, h int) {
	c := s.focused
	return lipgloss.Width(c.left) + lipgloss.Width(c.right), lipgloss.Height(c.tl) + lipgloss.Height(c.bl)
}
