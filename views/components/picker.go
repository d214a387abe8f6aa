package components

import (
	"slices"
	"strings"

	"github.com/bitbricks/bitbricks/views"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// PickerKeyMap chooses in a Picker.
type PickerKeyMap struct {
	Choose, Cancel key.Binding
}

// PickedMsg is a Picker's answer; OK is false when it was cancelled. New is
// true when Value was typed, not one of the values offered (AllowNew).
type PickedMsg struct {
	ID    int
	Value string
	OK    bool
	New   bool
}

// newItem marks the list row that offers the typed text as a new value; a NUL
// never reaches the screen, as values are drawn sanitised.
const newItem = "\x00new:"

// Picker chooses one value from a list narrowed by typing.
type Picker struct {
	Keys PickerKeyMap

	id     int
	title  string
	st     *Styles
	input  Input
	list   Table[string]
	values []string
	// allowNew offers the typed text as a new value, after the matches.
	allowNew bool
	width    int
	height   int
	inner    int // width inside the dialog's frame
}

// PickerOptions tune a Picker.
type PickerOptions struct {
	// AllowNew offers what is typed as a new value (New in the answer) when no
	// value is exactly it.
	AllowNew bool
	// NewLabel names such a value in the list ("new group").
	NewLabel string
	// Note is drawn after a value, such as a warning; "" for none.
	Note func(value string) string
	// Info is drawn after a value (and its note) muted, such as what it
	// holds; "" for none.
	Info func(value string) string
}

// NewPicker returns a focused picker over values, with the cursor on current.
func NewPicker(st *Styles, id int, title string, values []string, current string) Picker {
	return NewPickerWith(st, id, title, values, current, PickerOptions{})
}

// NewPickerWith is NewPicker with options.
func NewPickerWith(st *Styles, id int, title string, values []string, current string, opts PickerOptions) Picker {
	newLabel := opts.NewLabel
	if newLabel == "" {
		newLabel = "new"
	}
	p := Picker{
		values: values, allowNew: opts.AllowNew,
		Keys: PickerKeyMap{
			Choose: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "choose")),
			Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		},
		id: id, title: title, st: st,
		input: NewInput(st, "filter › "),
		// The values are Databricks group names, anyone's to choose: drawn sanitised,
		// returned as they are.
		list: NewTable(st, func(s string) string { return s }, func(s string) string { return strings.TrimPrefix(s, newItem) },
			func(s string, _ int) string {
				if v, ok := strings.CutPrefix(s, newItem); ok {
					return st.Drift.Missing.Render(GlyphMissing) + " " + newLabel + ": " + views.Sanitize(v)
				}
				line := views.Sanitize(s)
				if opts.Note != nil {
					if n := opts.Note(s); n != "" {
						line += "  " + st.Status.Error.Render(n)
					}
				}
				if opts.Info != nil {
					if n := opts.Info(s); n != "" {
						line += "  " + st.Text.Muted.Render(views.Sanitize(n))
					}
				}
				return line
			}),
	}
	// Letters filter, so the list moves with the arrows only.
	p.list.Keys = TableKeyMap{
		Up:       key.NewBinding(key.WithKeys("up"), key.WithHelp("↑", "up")),
		Down:     key.NewBinding(key.WithKeys("down"), key.WithHelp("↓", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup")),
		PageDown: key.NewBinding(key.WithKeys("pgdown")),
		Home:     key.NewBinding(key.WithKeys("home")),
		End:      key.NewBinding(key.WithKeys("end")),
	}
	p.list.SetEmpty("no match")
	p.list.SetItems(values)
	p.list.SelectID(current)
	p.list.Focus()
	return p
}

// Init implements the component contract.
func (p Picker) Init() tea.Cmd { return nil }

// SetSize implements the component contract.
func (p *Picker) SetSize(w, h int) {
	p.width, p.height = w, h
	fw, fh := p.st.Dialog.GetFrameSize()
	inner := max(min(w-fw, 60), 10)
	p.inner = inner
	p.input.SetSize(inner, 1)
	p.list.SetSize(inner, max(min(h-fh-3, 12, len(p.list.Items())), 1))
}

// Focus implements the component contract.
func (p *Picker) Focus() {}

// Blur implements the component contract.
func (p *Picker) Blur() {}

// Update filters on typing, moves on arrows, answers on enter or esc.
func (p Picker) Update(msg tea.Msg) (Picker, tea.Cmd) {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return p, nil
	}
	answer := func(v string, ok bool) tea.Cmd {
		id := p.id
		return func() tea.Msg { return PickedMsg{ID: id, Value: v, OK: ok} }
	}
	switch {
	case key.Matches(km, p.Keys.Cancel):
		return p, answer("", false)
	case key.Matches(km, p.Keys.Choose):
		if v, ok := p.list.Selected(); ok {
			if typed, isNew := strings.CutPrefix(v, newItem); isNew {
				id := p.id
				return p, func() tea.Msg { return PickedMsg{ID: id, Value: typed, OK: true, New: true} }
			}
			return p, answer(v, true)
		}
		return p, nil
	case key.Matches(km, p.list.Keys.Up, p.list.Keys.Down, p.list.Keys.PageUp, p.list.Keys.PageDown, p.list.Keys.Home, p.list.Keys.End):
		p.list, _ = p.list.Update(km)
	default:
		before := p.input.Value()
		p.input, _ = p.input.Update(km)
		if p.input.Value() != before {
			p.offerNew(strings.TrimSpace(p.input.Value()))
			p.list.SetFilter(p.input.Value())
			p.list.MoveTo(0) // the best match: values come before a new one
		}
	}
	return p, nil
}

// offerNew lists typed as a new value, after the values, when allowed and no
// value is exactly it.
func (p *Picker) offerNew(typed string) {
	if !p.allowNew {
		return
	}
	items := p.values
	if typed != "" && !slices.Contains(p.values, typed) {
		items = append(slices.Clip(p.values), newItem+typed)
	}
	p.list.SetItems(items)
	if p.height > 0 {
		p.SetSize(p.width, p.height)
	}
}

// View draws the picker as a dialog.
func (p Picker) View() string {
	body := lipgloss.JoinVertical(lipgloss.Left,
		p.st.Text.Bold.Render(p.title),
		p.input.View(),
		"",
		p.list.View(),
	)
	if p.inner == 0 {
		return p.st.Dialog.Render(body)
	}
	// Width includes the padding, not the border.
	return p.st.Dialog.Width(p.inner + p.st.Dialog.GetHorizontalPadding()).Render(body)
}

// ShortHelp implements help.KeyMap.
func (p Picker) ShortHelp() []key.Binding {
	return []key.Binding{withHelp(p.list.Keys.Up, "↑↓", "move"), p.Keys.Choose, p.Keys.Cancel}
}

// FullHelp implements help.KeyMap.
func (p Picker) FullHelp() [][]key.Binding { return [][]key.Binding{p.ShortHelp()} }
