package components

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/muesli/termenv"
)

func testStyles() *Styles {
	return NewStyles(lipgloss.NewRenderer(io.Discard, termenv.WithProfile(termenv.Ascii)), DefaultPalette())
}

func down() tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyDown} }

func runes(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }

func numbers(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func intTable(st *Styles, n int) Table[int] {
	t := NewTable(st, func(i int) string { return fmt.Sprint(i) }, func(i int) string { return fmt.Sprintf("row %d", i) },
		func(i, w int) string { return fmt.Sprintf("row %d", i) })
	t.SetItems(numbers(n))
	t.SetSize(20, 5)
	t.Focus()
	return t
}

func TestTableWindowsAndKeepsCursor(t *testing.T) {
	tb := intTable(testStyles(), 100)
	for range 10 {
		tb, _ = tb.Update(down())
	}
	v := tb.View()
	if got := strings.Count(v, "\n") + 1; got != 5 {
		t.Fatalf("view has %d lines, want 5:\n%s", got, v)
	}
	if !strings.Contains(v, GlyphCursor+" row 10") || strings.Contains(v, "row 5 ") {
		t.Fatalf("window does not follow the cursor:\n%s", v)
	}
	// Only the visible rows were formatted.
	formatted := 0
	for _, c := range tb.cached {
		if c {
			formatted++
		}
	}
	if formatted > 15 {
		t.Errorf("%d rows formatted for a 5-row window", formatted)
	}
	tb.SetItems(append([]int{1000}, numbers(100)...))
	if it, _ := tb.Selected(); it != 10 {
		t.Errorf("cursor moved to %d after SetItems, want 10", it)
	}
	tb.SetFilter("row 9")
	if tb.Len() != 11 { // 9, 90..99
		t.Errorf("filter kept %d rows, want 11", tb.Len())
	}
	tb.SetFilter("nothing")
	if _, ok := tb.Selected(); ok || !strings.Contains(tb.View(), "nothing to show") {
		t.Errorf("empty filter result: %q", tb.View())
	}
}

func TestConfirmDefaultsToNo(t *testing.T) {
	st := testStyles()
	answer := func(c Confirm, msgs ...tea.KeyMsg) *ConfirmMsg {
		for _, m := range msgs {
			var cmd tea.Cmd
			c, cmd = c.Update(m)
			if cmd != nil {
				a := cmd().(ConfirmMsg)
				return &a
			}
		}
		return nil
	}
	c := NewConfirm(st, 7, "Revoke?", "body", "")
	if a := answer(c, tea.KeyMsg{Type: tea.KeyEnter}); a == nil || a.Yes || a.ID != 7 {
		t.Errorf("enter on a fresh dialog: %+v, want No", a)
	}
	if a := answer(c, runes("y")); a == nil || !a.Yes {
		t.Errorf("y: %+v, want Yes", a)
	}
	if a := answer(c, tea.KeyMsg{Type: tea.KeyEsc}); a == nil || a.Yes {
		t.Errorf("esc: %+v, want No", a)
	}
	typed := NewConfirm(st, 8, "Revoke all?", "", "hal@acme.com")
	if a := answer(typed, runes("y"), tea.KeyMsg{Type: tea.KeyEnter}); a != nil {
		t.Errorf("y then enter with a name required: %+v, want no answer", a)
	}
	if a := answer(typed, runes("hal@acme.com"), tea.KeyMsg{Type: tea.KeyEnter}); a == nil || !a.Yes {
		t.Errorf("typed name: %+v, want Yes", a)
	}
}

func TestInputMasksSecrets(t *testing.T) {
	in := NewInput(testStyles(), "token › ")
	in.Masked = true
	in, _ = in.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("dapi1234secret"), Paste: true})
	if in.Value() != "dapi1234secret" {
		t.Fatalf("value %q", in.Value())
	}
	if v := in.View(); strings.Contains(v, "secret") || strings.Contains(v, "dapi") {
		t.Errorf("masked input shows its value: %q", v)
	}
	in.Reset()
	if in.Value() != "" {
		t.Error("Reset kept the value")
	}
}

func TestLayoutDropsColumns(t *testing.T) {
	cols := []Column{{Width: 10, Flex: true}, {Width: 5}, {Width: 20, Drop: 1}}
	if w := Layout(60, 1, cols); w[0] != 33 || w[1] != 5 || w[2] != 20 {
		t.Errorf("wide: %v", w)
	}
	if w := Layout(20, 1, cols); w[2] != 0 || w[0]+w[1]+1 != 20 {
		t.Errorf("narrow: %v", w)
	}
	if got := Join([]int{3, 0, 4}, 1, "abcdef", "x", "ab"); got != "ab… ab  " {
		t.Errorf("Join: %q", got)
	}
}

func TestConflicts(t *testing.T) {
	a := key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "revoke"))
	b := key.NewBinding(key.WithKeys("x", "y"), key.WithHelp("x", "remove"))
	if got := Conflicts([]key.Binding{a, b}); len(got) != 1 {
		t.Errorf("conflicts %q, want one", got)
	}
	b.SetEnabled(false)
	if got := Conflicts([]key.Binding{a, b}); len(got) != 0 {
		t.Errorf("a disabled binding conflicts: %q", got)
	}
	if n := len(Bindings(DefaultTableKeyMap())); n != 6 {
		t.Errorf("Bindings found %d, want 6", n)
	}
}

// Each component's own keys are one scope.
func TestComponentKeyScopes(t *testing.T) {
	st := testStyles()
	scopes := map[string][]key.Binding{
		"table":         Bindings(DefaultTableKeyMap()),
		"confirm":       Bindings(DefaultConfirmKeyMap()),
		"confirm+typed": Bindings(NewConfirm(st, 1, "", "", "name").Keys),
		"picker":        append(Bindings(NewPicker(st, 1, "", nil, "").Keys), Bindings(NewPicker(st, 1, "", nil, "").list.Keys)...),
		"input":         Bindings(DefaultInputKeyMap()),
	}
	for name, bs := range scopes {
		if c := Conflicts(bs); len(c) > 0 {
			t.Errorf("%s: %q", name, c)
		}
	}
}

func TestBoxFitsItsSize(t *testing.T) {
	st := testStyles()
	box := st.Box("a long title that does not fit", "one\na line that is far too long for the box\nthree\nfour", 20, 4, true)
	if w, h := lipgloss.Width(box), lipgloss.Height(box); w != 20 || h != 4 {
		t.Errorf("box is %dx%d, want 20x4:\n%s", w, h, box)
	}
}

func TestComponentGoldens(t *testing.T) {
	st := testStyles()
	t.Run("confirm", func(t *testing.T) {
		c := NewConfirm(st, 1, "Revoke pat of hal@acme.com?", "tok-hal-old  pat  120d old\n\nWhatever uses it stops working at once.", "")
		c.SetSize(60, 20)
		golden.RequireEqual(t, []byte(c.View()))
	})
	t.Run("confirm-typed", func(t *testing.T) {
		c := NewConfirm(st, 1, "Revoke all 2 credentials of fay@acme.com?", "two tokens", "fay@acme.com")
		c.SetSize(60, 20)
		c, _ = c.Update(runes("fay@"))
		c, _ = c.Update(tea.KeyMsg{Type: tea.KeyEnter})
		golden.RequireEqual(t, []byte(c.View()))
	})
	t.Run("picker", func(t *testing.T) {
		p := NewPicker(st, 1, "Re-map data-engineers (now de-team) to…", []string{"admins", "analysts", "de-team", "partners", "platform-eng"}, "de-team")
		p.SetSize(50, 20)
		p, _ = p.Update(runes("a"))
		p, _ = p.Update(down())
		golden.RequireEqual(t, []byte(p.View()))
	})
	t.Run("table", func(t *testing.T) {
		tb := intTable(st, 100)
		tb.SetHeader("rows")
		for range 7 {
			tb, _ = tb.Update(down())
		}
		golden.RequireEqual(t, []byte(st.BoxLines("numbers · "+tb.Position(), tb.Lines(), 22, 7, true)))
	})
}
