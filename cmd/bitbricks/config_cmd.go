package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/bitbricks/bitbricks/config"
	bbsync "github.com/bitbricks/bitbricks/sync"
)

func newConfigCmd(s *ioStreams, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check or create a bitbricks config file",
	}
	validate := &cobra.Command{
		Use:   "validate",
		Short: "Check a config file; errors are one line each, FILE:LINE:COL: message",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(s, g)
			if err != nil {
				return err
			}
			// Two entries of one workspace, by the profiles' hosts.
			if err := bbsync.CheckWorkspaceHosts(cfg, bbsync.Env(s.Getenv)); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "%s: ok (%d mappings, %d pipeline bindings)\n", cfg.Path, len(cfg.Mappings), len(cfg.Pipelines))
			return nil
		},
	}
	var force bool
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Write a commented example config (to --config, default ./bitbricks.yaml; - for stdout)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := g.configPath(s)
			if path == "-" {
				_, err := s.Out.Write(config.Example())
				return err
			}
			flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if force {
				flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			f, err := os.OpenFile(path, flags, 0o644)
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s already exists: pass --force to overwrite it", path)
			}
			if err != nil {
				return fmt.Errorf("write example config: %w", err)
			}
			if _, err := f.Write(config.Example()); err != nil {
				f.Close()
				return fmt.Errorf("write example config: %w", err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("write example config: %w", err)
			}
			fmt.Fprintf(s.Out, "wrote %s: edit it, then run `bitbricks config validate --config %s`\n", path, path)
			return nil
		},
	}
	initCmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	cmd.AddCommand(validate, initCmd)
	return cmd
}

// loadConfig reads the config named by the flags (--config, else
// $BITBRICKS_CONFIG, else ./bitbricks.yaml).
func loadConfig(s *ioStreams, g *globalFlags) (*config.Config, error) {
	return config.Load(g.configPath(s))
}
