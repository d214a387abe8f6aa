package components

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// PagerKeyMap scrolls and closes a Pager.
type PagerKeyMap struct {
	TableKeyMap
	Close key.Binding
}

// DefaultPagerKeyMap scrolls like a Table; esc, enter or q close.
func DefaultPagerKeyMap() PagerKeyMap {
	return PagerKeyMap{
		TableKeyMap: DefaultTableKeyMap(),
		Close:       key.NewBinding(key.WithKeys("esc", "enter", "q"), key.WithHelp("esc", "back")),
	}
}

// Pager shows a text whole, wrapped to its width, in a titled box that scrolls:
// the detail pane of a row, or the help. Nothing is cut without a way to read it.
type Pager struct {
	Keys PagerKeyMap

	st            *Styles
	title, text   string
	lines         []string // wrapped, fitted to the inner width
	offset        int
	width, height int
}

// NewPager returns a pager over text; SetSize lays it out.
func NewPager(st *Styles, title, text string) Pager {
	return Pager{Keys: DefaultPagerKeyMap(), st: st, title: title, text: text}
}

// Init implements the component contract.
func (p Pager) Init() tea.Cmd { return nil }

// SetSize implements the component contract: the box is w×h, the text wraps inside.
func (p *Pager) SetSize(w, h int) {
	p.width, p.height = w, h
	fw, _ := p.st.BoxFrame()
	inner := max(w-fw-2, 1) // a space either side
	p.lines = nil
	for _, src := range strings.Split(p.text, "\n") {
		for _, l := range wrapHanging(src, inner) {
			p.lines = append(p.lines, " "+Fit(l, inner)+" ")
		}
	}
	p.scroll(0)
	p.syncKeys()
}

// labelled is a line that starts with a label and a gap of two or more spaces
// ("Owner:      admin", "  ✓          in step"): its wrapped lines hang under
// the text after the gap.
var labelled = regexp.MustCompile(`^(\s*\S.*?\s{2,})\S`)

// wrapHanging wraps one line to w cells, continuation lines indented under
// its text when it is labelled, or under its own indentation.
func wrapHanging(line string, w int) []string {
	if lipgloss.Width(line) <= w {
		return []string{line}
	}
	prefix := line[:len(line)-len(strings.TrimLeft(line, " "))]
	if m := labelled.FindStringSubmatch(line); m != nil && lipgloss.Width(m[1]) <= w/2 {
		prefix = m[1]
	}
	hang := lipgloss.Width(prefix)
	if hang >= w/2 {
		return strings.Split(ansi.Wrap(line, w, " "), "\n")
	}
	body := strings.Split(ansi.Wrap(line[len(prefix):], w-hang, " "), "\n")
	pad := strings.Repeat(" ", hang)
	out := make([]string, len(body))
	for i, b := range body {
		if i == 0 {
			out[i] = prefix + b
		} else {
			out[i] = pad + b
		}
	}
	return out
}

func (p Pager) rows() int {
	_, fh := p.st.BoxFrame()
	return max(p.height-fh, 1)
}

func (p *Pager) scroll(to int) {
	p.offset = max(min(to, len(p.lines)-p.rows()), 0)
}

func (p *Pager) syncKeys() {
	more := len(p.lines) > p.rows()
	for _, b := range []*key.Binding{&p.Keys.Up, &p.Keys.Down, &p.Keys.PageUp, &p.Keys.PageDown, &p.Keys.Home, &p.Keys.End} {
		b.SetEnabled(more)
	}
}

// Focus implements the component contract; a pager always has focus.
func (p *Pager) Focus() {}

// Blur implements the component contract.
func (p *Pager) Blur() {}

// Update scrolls. Close is the parent's to handle: it owns the pane.
func (p Pager) Update(msg tea.Msg) (Pager, tea.Cmd) {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return p, nil
	}
	if to, ok := p.Keys.Target(km, p.offset, p.rows(), len(p.lines)); ok {
		p.scroll(to)
	}
	return p, nil
}

// Offset is the first line shown.
func (p Pager) Offset() int { return p.offset }

// View draws the visible lines in a box; the title says where in the text it is
// when the text is longer than the box.
func (p Pager) View() string {
	rows := p.rows()
	end := min(p.offset+rows, len(p.lines))
	title := p.title
	if len(p.lines) > rows {
		title += fmt.Sprintf(" · lines %d-%d of %d", p.offset+1, end, len(p.lines))
	}
	return p.st.BoxLines(title, p.lines[p.offset:end], p.width, p.height, true)
}

// ShortHelp implements help.KeyMap.
func (p Pager) ShortHelp() []key.Binding {
	return []key.Binding{withHelp(p.Keys.Up, "↑↓", "scroll"), p.Keys.PageDown, p.Keys.Close}
}

// FullHelp implements help.KeyMap.
func (p Pager) FullHelp() [][]key.Binding {
	return [][]key.Binding{{p.Keys.Up, p.Keys.Down, p.Keys.PageUp, p.Keys.PageDown, p.Keys.Home, p.Keys.End, p.Keys.Close}}
}
