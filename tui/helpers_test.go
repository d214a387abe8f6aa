package tui

import (
	"io"
	"testing"
	"time"

	"github.com/charmbracelet/bubbles/spinner"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

func asciiRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard, termenv.WithProfile(termenv.Ascii))
	r.SetHasDarkBackground(true)
	return r
}

func testOptions(readOnly bool) Options {
	return Options{ReadOnly: readOnly, Now: func() time.Time { return testNow }, Renderer: asciiRenderer()}
}

// send delivers msg and runs the commands it returns, synchronously, following the
// chain of messages (skipping spinner ticks and batches' timers).
func send(t testing.TB, m Model, msg tea.Msg) Model {
	t.Helper()
	queue := []tea.Msg{msg}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 1000 {
			t.Fatal("message loop does not settle")
		}
		next := queue[0]
		queue = queue[1:]
		tm, cmd := m.Update(next)
		m = tm.(Model)
		queue = append(queue, run(cmd)...)
	}
	return m
}

// run executes cmd and returns the messages it produces, leaving out spinner ticks
// (they would tick forever) and tea.Quit.
func run(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range msg {
			out = append(out, run(c)...)
		}
		return out
	case nil, tea.QuitMsg:
		return nil
	default:
		if isTick(msg) {
			return nil
		}
		return []tea.Msg{msg}
	}
}

func keyMsg(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case " ":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// loaded returns a console of size w×h that has loaded the fake.
func loaded(t testing.TB, b Backend, w, h int, readOnly bool) Model {
	t.Helper()
	m := NewModel(b, testOptions(readOnly))
	m = send(t, m, tea.WindowSizeMsg{Width: w, Height: h})
	return send(t, m, m.loadCmd(1)())
}

func keys(t testing.TB, m Model, ks ...string) Model {
	t.Helper()
	for _, k := range ks {
		m = send(t, m, keyMsg(k))
	}
	return m
}

func isTick(msg tea.Msg) bool {
	_, ok := msg.(spinner.TickMsg)
	return ok
}

// viewOf is the console's view of type T.
func viewOf[T tabView](t testing.TB, m Model) T {
	t.Helper()
	i := tabOf[T](m.tabs)
	if i < 0 {
		var zero T
		t.Fatalf("no view of type %T is listed", zero)
	}
	return m.tabs[i].(T)
}
