package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	bbsync "github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
)

func newPipelinesCmd(s *ioStreams, g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "pipelines",
		Short: "Every pipeline binding: its stored credential, federation status and whether it could federate",
		Long: `pipelines lists every binding of the config: workspace, repository (and
deployment environment), variable, credential kind and age, and its status on
the way to credential-free pipelines:

  ○ stored      a secured variable holds a Databricks credential
  ◐ federating  a federation policy trusts the pipeline's OIDC token; the variable is still there
  ✓ federated   the policy is in place and nothing is stored

FEDERATE says whether ` + "`bitbricks federate BINDING`" + ` can move it (the service principal
is known, databricks.account_id is set, the repository's and environment's
UUIDs are readable), and the lines below say why or why not.`,
		Example: `  bitbricks pipelines
  bitbricks pipelines --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, asJSON, err := engineAndFormat(s, g)
			if err != nil {
				return err
			}
			bfs, err := e.svc.Pipelines(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"bindings": bfs}); err != nil {
					return err
				}
				return bbsync.CheckBindings(bfs)
			}
			if err := views.RenderPipelinesText(s.Out, bfs, s.Now()); err != nil {
				return err
			}
			return bbsync.CheckBindings(bfs)
		},
	}
}

func newFederateCmd(s *ioStreams, g *globalFlags) *cobra.Command {
	var all, finish, dryRun, yes, force bool
	cmd := &cobra.Command{
		Annotations: map[string]string{mutatesKey: mutatesAlways},
		Use:         "federate [BINDING]",
		Short:       "Move a pipeline binding off its stored credential to Bitbucket Pipelines OIDC",
		Long: `federate moves a binding to credential-free authentication, in two phases.

Phase 1 (federate BINDING) creates, once, a federation policy on the binding's
service principal that trusts the Bitbucket Pipelines OIDC token of exactly
its repository (subject_claim repositoryUuid), or of its deployment
environment (deploymentEnvironmentUuid) when the binding names one. It checks
the issuer's discovery document and keys first, and prints the step snippet:
oidc: true and the four DATABRICKS_ variables, no token. Nothing stored is
touched: the pipeline keeps working with its variable meanwhile.

Phase 2 (federate BINDING --finish) needs evidence that the pipeline now
authenticates by OIDC: a successful pipeline run of the repository since
phase 1, and oidc: true in bitbucket-pipelines.yml on the main branch.
Without it, it refuses (exit 3) and says what is missing. With it, it shows
what it will delete and revoke, asks (or needs --yes off a terminal), then
deletes the secured variable, revokes the stored credentials and deletes
<VARIABLE>_ID, each step audited, under the write lock. A failure at any step
leaves the pipeline a way to authenticate; run --finish again to complete.

--all runs phase 1 for every binding that can federate (on a terminal it
lists them and asks first); --dry-run prints the policy and snippet and
changes nothing.`,
		Example: `  bitbricks federate etl-prod --dry-run
  bitbricks federate etl-prod
  bitbricks federate etl-prod --finish
  bitbricks federate --all`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case all == (len(args) == 1):
				return errors.New("federate: name one BINDING, or pass --all")
			case all && finish:
				return errors.New("federate: --all runs phase 1 only; finish each binding with `federate BINDING --finish`")
			case finish && dryRun:
				return errors.New("federate: --finish --dry-run: without --yes, --finish shows what it would do and asks first")
			}
			e, asJSON, err := engineAndFormat(s, g)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if finish {
				return finishFederation(cmd, s, e, asJSON, args[0], yes)
			}
			names := args
			if all {
				bfs, err := e.svc.Pipelines(ctx)
				if err != nil {
					return err
				}
				names = nil
				for _, bf := range bfs {
					if bf.CanFederate {
						names = append(names, bf.Binding)
					} else if bf.Status == bbsync.FederationStored || bf.Status == bbsync.FederationUnknown {
						fmt.Fprintf(s.Err, "%s: not eligible: %s\n", views.Sanitize(bf.Binding), views.Sanitize(bf.Why))
					}
				}
				if len(names) == 0 {
					fmt.Fprintln(s.Err, "No binding can federate now.")
					if asJSON {
						return json.NewEncoder(s.Out).Encode(map[string]any{"results": []any{}})
					}
					return nil
				}
				// Phase 1 only adds policies, so it needs no --yes off a
				// terminal; on one, --all offers the list first.
				if s.IsTerminal && !yes && !dryRun {
					q := fmt.Sprintf("Create federation policies for %s?", strings.Join(names, ", "))
					if ok, err := confirm(s, q); err != nil || !ok {
						return cancelled(s, err)
					}
				}
			}
			var results []bbsync.FederationResult
			var errs []error
			for _, name := range names {
				// A policy is the service principal's and names no
				// workspace: one also assigned elsewhere widens the
				// binding's reach, which needs --force or a yes.
				var reach *bbsync.FederationReachError
				if _, err := e.svc.CheckFederationReach(ctx, name); errors.As(err, &reach) {
					line := strings.TrimPrefix(reach.Error(), "refused without --force: ")
					line = strings.TrimSuffix(line, "; nothing was created")
					switch {
					case force || dryRun:
						fmt.Fprintf(s.Err, "  ! %s\n", views.Sanitize(line))
					case s.IsTerminal && !yes:
						fmt.Fprintf(s.Err, "  ! %s\n", views.Sanitize(line))
						if ok, err := confirm(s, fmt.Sprintf("Federate %s anyway?", name)); err != nil || !ok {
							errs = append(errs, cancelled(s, err))
							continue
						}
					default:
						errs = append(errs, err)
						continue
					}
				} else if err != nil {
					errs = append(errs, err)
					continue
				}
				res, err := e.svc.Federate(ctx, name, dryRun)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				results = append(results, res)
				if !asJSON {
					if err := views.RenderFederationText(s.Out, res); err != nil {
						return err
					}
				}
			}
			if asJSON {
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"results": results}); err != nil {
					return err
				}
			}
			return errors.Join(errs...)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&all, "all", false, "phase 1 for every binding that can federate")
	f.BoolVar(&finish, "finish", false, "phase 2: delete the stored variable and revoke, after a federated run")
	f.BoolVar(&dryRun, "dry-run", false, "print the policy and snippet only; change nothing")
	f.BoolVarP(&yes, "yes", "y", false, "do not ask before phase 2 (needed when not on a terminal)")
	f.BoolVar(&force, "force", false, "federate a binding whose service principal is also assigned to other workspaces (the policy is the service principal's: the pipeline could use it there too)")
	return cmd
}

// finishFederation is phase 2: the evidence and what it will do are read
// and shown under the write lock, confirmed, then done under the same lock.
func finishFederation(cmd *cobra.Command, s *ioStreams, e *engine, asJSON bool, name string, yes bool) (err error) {
	scope, err := e.svc.WorkspacesOfBindings(name)
	if err != nil {
		return err
	}
	ctx, release, err := e.svc.HoldWriteLockIn(cmd.Context(), "federate "+name+" --finish", scope)
	if err != nil {
		return err
	}
	defer releaseLock(&err, release)
	plan, err := e.svc.FinishEvidence(ctx, name)
	var refusal *bbsync.FederationRefusal
	if errors.As(err, &refusal) {
		if asJSON {
			_ = json.NewEncoder(s.Out).Encode(map[string]any{"plan": plan})
		} else {
			_ = views.RenderFinishPlanText(s.Err, plan, s.Now())
		}
		return err
	}
	if err != nil {
		return err
	}
	if !asJSON {
		if err := views.RenderFinishPlanText(s.Err, plan, s.Now()); err != nil {
			return err
		}
	}
	if len(plan.Delete) == 0 && len(plan.Revoke) == 0 {
		if asJSON {
			return json.NewEncoder(s.Out).Encode(map[string]any{"plan": plan, "result": bbsync.FinishResult{Binding: name, Deleted: []string{}, Revoked: []string{}}})
		}
		return nil
	}
	if !yes {
		q := fmt.Sprintf("Delete %s and revoke %s of %s?", views.Count(len(plan.Delete), "variable", ""), views.Count(len(plan.Revoke), "credential", ""), name)
		if ok, err := confirm(s, q); err != nil || !ok {
			return cancelled(s, err)
		}
	}
	defer printAuditHead(ctx, s, e.svc, asJSON)
	res, err := e.svc.FinishFederation(ctx, plan)
	if asJSON {
		out := map[string]any{"plan": plan, "result": res}
		if err != nil {
			out["error"] = oneLine(err.Error())
		}
		if jerr := json.NewEncoder(s.Out).Encode(out); jerr != nil {
			return jerr
		}
	} else if err == nil {
		fmt.Fprintf(s.Out, "%s is federated: deleted %s, revoked %s; the pipeline authenticates by OIDC only.\n",
			views.Sanitize(name), views.Count(len(res.Deleted), "variable", ""), views.Count(len(res.Revoked), "credential", ""))
	}
	return err
}
