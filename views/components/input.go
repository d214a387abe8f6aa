package components

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// InputKeyMap edits an Input.
type InputKeyMap struct {
	DeleteChar, DeleteWord, Clear key.Binding
}

// DefaultInputKeyMap is the usual line editing.
func DefaultInputKeyMap() InputKeyMap {
	return InputKeyMap{
		DeleteChar: key.NewBinding(key.WithKeys("backspace", "ctrl+h"), key.WithHelp("⌫", "delete")),
		DeleteWord: key.NewBinding(key.WithKeys("ctrl+w", "alt+backspace"), key.WithHelp("ctrl+w", "delete word")),
		Clear:      key.NewBinding(key.WithKeys("ctrl+u"), key.WithHelp("ctrl+u", "clear")),
	}
}

// Input is a one-line text input that appends at the end (typing and pasting). A
// masked input never draws its value: secrets are shown as a row of dots.
type Input struct {
	Keys        InputKeyMap
	Prompt      string
	Placeholder string
	Masked      bool

	st      *Styles
	value   []rune
	width   int
	focused bool
}

// NewInput returns an empty, focused input.
func NewInput(st *Styles, prompt string) Input {
	return Input{Keys: DefaultInputKeyMap(), Prompt: prompt, st: st, focused: true}
}

// Init implements the component contract.
func (in Input) Init() tea.Cmd { return nil }

// Value is the text typed so far.
func (in Input) Value() string { return string(in.value) }

// SetValue replaces the text.
func (in *Input) SetValue(s string) { in.value = []rune(s) }

// Reset clears the text, and with it any secret it held.
func (in *Input) Reset() {
	clear(in.value)
	in.value = in.value[:0]
}

// SetSize implements the component contract; the height is always one line.
func (in *Input) SetSize(w, _ int) { in.width = w }

// Focus implements the component contract.
func (in *Input) Focus() { in.focused = true }

// Blur implements the component contract.
func (in *Input) Blur() { in.focused = false }

// Update edits the text. Keys it does not use (enter, esc, arrows) are left to the parent.
func (in Input) Update(msg tea.Msg) (Input, tea.Cmd) {
	km, ok := msg.(tea.KeyMsg)
	if !ok || !in.focused {
		return in, nil
	}
	switch {
	case key.Matches(km, in.Keys.DeleteChar):
		if len(in.value) > 0 {
			in.value = in.value[:len(in.value)-1]
		}
	case key.Matches(km, in.Keys.DeleteWord):
		v := strings.TrimRightFunc(string(in.value), unicode.IsSpace)
		i := strings.LastIndexFunc(v, unicode.IsSpace)
		in.value = []rune(v[:i+1])
	case key.Matches(km, in.Keys.Clear):
		in.Reset()
	case km.Type == tea.KeyRunes:
		for _, r := range km.Runes {
			if unicode.IsPrint(r) {
				in.value = append(in.value, r)
			}
		}
	case km.Type == tea.KeySpace:
		in.value = append(in.value, ' ')
	}
	return in, nil
}

// View draws the prompt, the text (or dots) and a cursor, cut to the width from the left
// so the end of a long value stays in sight.
func (in Input) View() string {
	var text string
	switch {
	case len(in.value) == 0 && in.Placeholder != "":
		text = in.st.Text.Muted.Render(in.Placeholder)
	case in.Masked:
		text = strings.Repeat("•", min(len(in.value), 32))
		if len(in.value) > 0 {
			text += in.st.Text.Muted.Render(" (" + strconv.Itoa(len(in.value)) + " characters)")
		}
	default:
		text = string(in.value)
		if w := in.width - len([]rune(in.Prompt)) - 1; w > 0 && len(in.value) > w {
			text = "…" + string(in.value[len(in.value)-w+1:])
		}
	}
	cursor := ""
	if in.focused {
		cursor = in.st.Text.Accent.Render("▏")
	}
	s := in.st.Text.Accent.Render(in.Prompt) + text + cursor
	if in.width > 0 {
		return Fit(s, in.width)
	}
	return s
}

// ShortHelp implements help.KeyMap.
func (in Input) ShortHelp() []key.Binding { return []key.Binding{in.Keys.DeleteChar, in.Keys.Clear} }

// FullHelp implements help.KeyMap.
func (in Input) FullHelp() [][]key.Binding {
	return [][]key.Binding{{in.Keys.DeleteChar, in.Keys.DeleteWord, in.Keys.Clear}}
}
