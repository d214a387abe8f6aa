package components

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// ConfirmKeyMap answers a Confirm.
type ConfirmKeyMap struct {
	Yes, No, Toggle, Choose key.Binding
	// Up and Down scroll a body taller than the dialog (arrows only: letters
	// may be typed into the answer).
	Up, Down key.Binding
}

// DefaultConfirmKeyMap answers with y/n, or picks a button with tab and enter.
func DefaultConfirmKeyMap() ConfirmKeyMap {
	return ConfirmKeyMap{
		Yes:    key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "yes")),
		No:     key.NewBinding(key.WithKeys("n", "N", "esc"), key.WithHelp("n/esc", "no")),
		Toggle: key.NewBinding(key.WithKeys("tab", "left", "right", "h", "l"), key.WithHelp("tab", "switch")),
		Choose: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "choose")),
		Up:     key.NewBinding(key.WithKeys("up", "pgup"), key.WithHelp("↑", "scroll up")),
		Down:   key.NewBinding(key.WithKeys("down", "pgdown"), key.WithHelp("↓", "scroll down")),
	}
}

// ConfirmMsg is a Confirm's answer. ID is the one the dialog was made with, so a parent
// can tell answers to different questions apart.
type ConfirmMsg struct {
	ID  int
	Yes bool
}

// Confirm asks a yes/no question. The answer defaults to No: enter on a fresh dialog
// cancels. With Require set, the user must type that text (a principal's name, for
// owner-wide and bulk actions) and y is not an answer.
type Confirm struct {
	Keys ConfirmKeyMap

	id                   int
	title, body, require string
	noLabel, yesLabel    string // the buttons: No and Yes unless WithLabels
	st                   *Styles
	input                Input
	yes                  bool // the Yes button has focus
	problem              string
	offset               int      // the first body line shown
	lines                []string // the body's lines, split once
	width, height        int
}

// NewConfirm returns a dialog with No focused.
func NewConfirm(st *Styles, id int, title, body, require string) Confirm {
	c := Confirm{Keys: DefaultConfirmKeyMap(), id: id, title: title, body: body, require: require, st: st,
		lines: strings.Split(body, "\n"), noLabel: "No", yesLabel: "Yes"}
	if require != "" {
		c.input = NewInput(st, "› ")
		c.Keys.Yes.SetEnabled(false)
		c.Keys.Toggle.SetEnabled(false)
		c.Keys.No.SetKeys("esc")
		c.Keys.No.SetHelp("esc", "cancel")
		c.Keys.Choose.SetHelp("enter", "confirm")
	}
	return c
}

// WithLabels names the two answers of a choice that is not yes or no (the
// first, No, stays the default); y and n still answer, so help says which
// button each picks.
func (c Confirm) WithLabels(no, yes string) Confirm {
	c.noLabel, c.yesLabel = no, yes
	c.Keys.Yes.SetHelp("y", strings.ToLower(yes))
	c.Keys.No.SetHelp("n/esc", strings.ToLower(no))
	return c
}

// ID is the dialog's question id.
func (c Confirm) ID() int { return c.id }

// Init implements the component contract.
func (c Confirm) Init() tea.Cmd { return nil }

// SetSize implements the component contract; the dialog takes what it needs up to w.
func (c *Confirm) SetSize(w, h int) {
	c.width, c.height = w, h
	c.input.SetSize(max(w-6, 10), 1)
	// The body's lines as drawn: a long line wraps at the dialog's width,
	// and the room for the body counts what is drawn, so the prompt and
	// the answer stay on screen however long the paragraphs are.
	c.lines = strings.Split(lipgloss.NewStyle().Width(c.inner()).Render(c.body), "\n")
	c.scroll(c.offset)
}

// inner is the width of the dialog's text.
func (c Confirm) inner() int {
	w := c.width
	if w <= 0 {
		w = 72
	}
	return max(min(w-c.st.Dialog.GetHorizontalFrameSize(), 72), 10)
}

// bodyRoom is how many body lines the dialog shows: the question and the
// answer always show.
func (c Confirm) bodyRoom() int {
	if c.height <= 0 {
		return 1 << 30
	}
	_, fh := c.st.Dialog.GetFrameSize()
	fixed := fh + 1 + 2 + 1 // title, the blank lines around the body, the buttons
	if c.require != "" {
		fixed++ // the prompt
		if c.problem != "" {
			fixed++
		}
	}
	return c.height - fixed
}

func (c *Confirm) scroll(to int) {
	n := len(c.lines)
	room := c.bodyRoom()
	if n > room {
		room-- // a line says where the window is
	}
	c.offset = max(min(to, n-room), 0)
	more := n > c.bodyRoom()
	c.Keys.Up.SetEnabled(more)
	c.Keys.Down.SetEnabled(more)
}

// Focus and Blur implement the component contract; a dialog always has focus.
func (c *Confirm) Focus() {}

// Blur implements the component contract.
func (c *Confirm) Blur() {}

func (c Confirm) answer(yes bool) tea.Cmd {
	id := c.id
	return func() tea.Msg { return ConfirmMsg{ID: id, Yes: yes} }
}

// Update answers on y, n, esc or enter.
func (c Confirm) Update(msg tea.Msg) (Confirm, tea.Cmd) {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return c, nil
	}
	switch {
	case key.Matches(km, c.Keys.No):
		return c, c.answer(false)
	case key.Matches(km, c.Keys.Yes):
		return c, c.answer(true)
	case key.Matches(km, c.Keys.Toggle):
		c.yes = !c.yes
	case key.Matches(km, c.Keys.Up):
		step := 1
		if km.String() == "pgup" {
			step = max(c.bodyRoom()-1, 1)
		}
		c.scroll(c.offset - step)
	case key.Matches(km, c.Keys.Down):
		step := 1
		if km.String() == "pgdown" {
			step = max(c.bodyRoom()-1, 1)
		}
		c.scroll(c.offset + step)
	case key.Matches(km, c.Keys.Choose):
		if c.require == "" {
			return c, c.answer(c.yes)
		}
		if strings.TrimSpace(c.input.Value()) == c.require {
			return c, c.answer(true)
		}
		c.problem = GlyphWarn + " type " + c.require + " exactly, or esc to cancel"
	case c.require != "":
		c.input, _ = c.input.Update(km)
		c.problem = ""
	}
	return c, nil
}

// View draws the dialog.
func (c Confirm) View() string {
	var b strings.Builder
	b.WriteString(c.st.Text.Bold.Render(c.title))
	if body := c.fitBody(); body != "" {
		b.WriteString("\n\n" + body)
	}
	b.WriteString("\n\n")
	if c.require != "" {
		b.WriteString("Type " + c.st.Text.Bold.Render(c.require) + " to confirm:\n")
		b.WriteString(c.input.View())
		if c.problem != "" {
			b.WriteString("\n" + c.st.Status.Error.Render(c.problem))
		}
	} else {
		no, yes := "[ "+c.noLabel+" ]", "  "+c.yesLabel+"  "
		if c.yes {
			no, yes = "  "+c.noLabel+"  ", "[ "+c.yesLabel+" ]"
		}
		b.WriteString(c.st.Text.Accent.Render(no) + "  " + c.st.Text.Accent.Render(yes))
	}
	// Width includes the padding, not the border.
	return c.st.Dialog.Width(c.inner() + c.st.Dialog.GetHorizontalPadding()).Render(b.String())
}

// fitBody is the window of the body the dialog has room for; a body taller
// than that scrolls, with a line that says which lines show.
func (c Confirm) fitBody() string {
	room := c.bodyRoom()
	lines := c.lines
	if c.body == "" || len(lines) <= room {
		return c.body
	}
	if room < 2 {
		return ""
	}
	end := min(c.offset+room-1, len(lines))
	win := append(lines[c.offset:end:end], c.st.Text.Muted.Render(fmt.Sprintf("↑↓ lines %d-%d of %d", c.offset+1, end, len(lines))))
	return strings.Join(win, "\n")
}

// ShortHelp implements help.KeyMap.
func (c Confirm) ShortHelp() []key.Binding {
	return []key.Binding{c.Keys.Yes, c.Keys.No, c.Keys.Toggle, c.Keys.Choose, c.Keys.Up, c.Keys.Down}
}

// FullHelp implements help.KeyMap.
func (c Confirm) FullHelp() [][]key.Binding { return [][]key.Binding{c.ShortHelp()} }

// Body is the dialog's whole body, however much of it shows.
func (c Confirm) Body() string { return c.body }
