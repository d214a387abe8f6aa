package main

import (
	"fmt"

	"github.com/spf13/cobra"

	bbsync "github.com/bitbricks/bitbricks/sync"
)

func newAuditCmd(s *ioStreams, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Work with the audit log",
	}
	var file string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit log's hash chain; names the first edited, deleted or reordered line",
		Long: `verify reads the audit log (audit.file from the config, or --file) and checks
that every line carries the hash of the line before it. An edited, deleted or
reordered line breaks the chain; verify names it as FILE:LINE and exits 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := file
			if path == "" {
				cfg, err := loadConfig(s, g)
				if err != nil {
					return err
				}
				path = cfg.Audit.File
			}
			if err := bbsync.VerifyAuditLog(path); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "%s: hash chain intact\n", path)
			return nil
		},
	}
	verify.Flags().StringVar(&file, "file", "", "audit log to check (default audit.file from the config)")
	cmd.AddCommand(verify)
	return cmd
}
