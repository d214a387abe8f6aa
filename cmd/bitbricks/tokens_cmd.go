package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bitbricks/bitbricks/config"
	bbsync "github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
)

func newTokensCmd(s *ioStreams, g *globalFlags) *cobra.Command {
	var (
		owner     string
		olderThan config.Duration
		status    string
	)
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "List every Databricks token and secret with its age, owner and policy status",
		Long: `tokens lists personal access tokens, on-behalf-of tokens of service principals,
service principal OAuth secrets (when databricks.account_id is set) and the
Atlassian API tokens of managed users (when atlassian_admin is set), oldest
first, with policy flags:

  over_age            older than policy.token_max_age
  warn_age            older than policy.token_warn_age
  no_expiry           never expires
  stale               unused for 80+ days (Databricks revokes at 90)
  expiring            expires within 7 days
  over_workspace_max  older than the workspace's maxTokenLifetimeDays allows
  secret_limit        its service principal holds 4 or 5 of its 5 OAuth secrets
  bound               held by a pipeline binding
  orphaned            carries a binding's marker but is not the recorded one

Values are never shown: they cannot be read back from Databricks.`,
		Example: `  bitbricks tokens
  bitbricks tokens --owner hal@acme.com
  bitbricks tokens --older-than 90d --output json
  bitbricks tokens --status stale`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if status != "" && !slices.Contains(bbsync.AllFlags(), status) {
				return fmt.Errorf("--status %q: use one of %s", status, strings.Join(bbsync.AllFlags(), ", "))
			}
			e, asJSON, err := engineAndFormat(s, g)
			if err != nil {
				return err
			}
			return e.tokensRun(cmd, s, asJSON, bbsync.InventoryFilter{Owner: owner, OlderThan: time.Duration(olderThan), Flag: status})
		},
	}
	f := cmd.Flags()
	f.StringVar(&owner, "owner", "", "only credentials whose owner contains this (case-insensitive)")
	f.Var(&olderThan, "older-than", "only credentials older than this, such as 30d")
	f.StringVar(&status, "status", "", "only credentials with this flag, such as over_age or stale")
	return cmd
}

func (e *engine) tokensRun(cmd *cobra.Command, s *ioStreams, asJSON bool, filter bbsync.InventoryFilter) error {
	list, problems, err := e.svc.Tokens(cmd.Context(), filter)
	if err != nil {
		return err
	}
	now := e.svc.Now()
	if asJSON {
		if err := views.RenderTokensJSON(s.Out, list, problems, now); err != nil {
			return err
		}
		return bbsync.CheckProblems(problems)
	}
	opts := views.TextOptions{Color: s.ColorOut}
	if err := views.RenderTokensText(s.Out, list, views.TokensOptions{TextOptions: opts, Now: now}); err != nil {
		return err
	}
	if err := views.RenderProblemsText(s.Out, problems, opts); err != nil {
		return err
	}
	return bbsync.CheckProblems(problems)
}
