package main

import (
	"context"
	"errors"
)

// Temporary until the console lands.
func runConsole(ctx context.Context, s *ioStreams, g *globalFlags) error {
	return errors.New("console: not wired yet")
}

func runConsoleWith(ctx context.Context, s *ioStreams, g *globalFlags, e *engine) error {
	return errors.New("console: not wired yet")
}
