package tui

import (
	"context"
	"errors"
	"os"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/term"
)

// ErrNoTerminal is returned by Run when stdin or stdout is not a terminal.
var ErrNoTerminal = errors.New("the console needs a terminal; use `bitbricks sync` for headless runs")

// Run runs the console on the terminal, in the alternate screen, until the user quits
// or ctx is done. Logs go to opts.LogWriter, never to stdout.
func Run(ctx context.Context, b Backend, opts Options) error {
	if !term.IsTerminal(os.Stdin.Fd()) || !term.IsTerminal(os.Stdout.Fd()) {
		return ErrNoTerminal
	}
	opts.Context = ctx
	_, err := tea.NewProgram(NewModel(b, opts), tea.WithAltScreen(), tea.WithContext(ctx)).Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // cancelled from outside, e.g. by a signal
	}
	return err
}
