package main

// Temporary: replaced as the console and credential commands are wired.

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	bbsync "github.com/bitbricks/bitbricks/sync"
)

func runConsole(ctx context.Context, s *ioStreams, g *globalFlags) error {
	return errors.New("console: not wired yet")
}

func runConsoleWith(ctx context.Context, s *ioStreams, g *globalFlags, e *engine) error {
	return errors.New("console: not wired yet")
}

func (e *engine) rotator() bbsync.Rotator { return nil }

func newRevokeCmd(s *ioStreams, g *globalFlags) *cobra.Command { return &cobra.Command{Use: "revoke"} }
func newRotateCmd(s *ioStreams, g *globalFlags) *cobra.Command { return &cobra.Command{Use: "rotate"} }
