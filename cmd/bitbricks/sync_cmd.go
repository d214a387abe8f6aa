package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bitbricks/bitbricks/config"
	bbsync "github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
)

type syncFlags struct {
	apply            bool
	yes              bool
	maxChanges       int
	detailedExitcode bool
	out              string // save the plan here (sync --out)
	plan             string // apply this saved plan (sync --apply --plan)
}

func addSyncFlags(cmd *cobra.Command, sf *syncFlags) {
	f := cmd.Flags()
	f.BoolVar(&sf.apply, "apply", false, "apply the plan (asks first on a terminal unless --yes)")
	f.BoolVarP(&sf.yes, "yes", "y", false, "apply without asking (needed when not on a terminal)")
	f.IntVar(&sf.maxChanges, "max-changes", -1, "refuse plans with more changes than this")
	// -1 stands for "the config's policy.max_changes"; say so in --help.
	f.Lookup("max-changes").DefValue = "policy.max_changes"
	f.BoolVar(&sf.detailedExitcode, "detailed-exitcode", false, "plan only: exit 2 when changes are pending, 0 when in sync")
	f.StringVar(&sf.out, "out", "", "plan only: also save the plan, with a digest of its snapshot, to this file")
	f.StringVar(&sf.plan, "plan", "", "with --apply: apply exactly this saved plan, refusing (exit 3) if a change no longer holds")
}

func newSyncCmd(s *ioStreams, g *globalFlags) *cobra.Command {
	var sf syncFlags
	cmd := &cobra.Command{
		Annotations: map[string]string{mutatesKey: mutatesWithApply},
		Use:         "sync",
		Short:       "Plan (and with --apply, make) the changes that bring Databricks in step with Bitbucket",
		Long: `sync reads Bitbucket groups and the Databricks workspace, compares them with the
config's mappings and policy, and prints the plan: changes (additive first,
destructive last) and findings (reported, never acted on). It changes nothing
unless --apply is given.

With --apply it makes exactly the plan it printed, reports each change, writes
one audit line per change, and goes on past independent failures. It asks for
confirmation on a terminal; elsewhere it needs --yes. A plan with more changes
than policy.max_changes (or --max-changes) is refused with exit code 3 and
nothing changed.

A plan can be saved and applied later, as terraform does: --out FILE writes
the plan with a digest of the snapshot it came from; --apply --plan FILE reads
a fresh snapshot and applies exactly the saved changes, refusing (exit 3,
nothing changed) when any of them no longer holds. What a pipeline logged is
then what it applied.

Exit codes: 0 in sync or applied; 1 error (including a change that failed,
or a declined confirmation);
2 changes pending (with --detailed-exitcode, plan only); 3 refused by a safety
guard or a saved plan that no longer holds.`,
		Example: `  bitbricks sync
  bitbricks sync --output json --detailed-exitcode
  bitbricks sync --apply --yes --config bitbricks.yaml
  bitbricks sync --out plan.json && bitbricks sync --apply --yes --plan plan.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSync(cmd.Context(), s, g, &sf)
		},
	}
	addSyncFlags(cmd, &sf)
	return cmd
}

// engine is one configured connection to Bitbucket and Databricks: the
// engine's service, reporting what it reads on stderr.
type engine struct {
	cfg *config.Config
	src bbsync.Sources
	svc *bbsync.Service
	// lock is where and how long the engine's writes take the write lock.
	lock engineOptions
	// cache is the console's snapshot cache (nil: none; sync never has one).
	cache *bbsync.SnapshotCache
}

// engineOptions let `demo` point the engine at its in-process emulator,
// isolated from the user's environment and Databricks profiles.
type engineOptions struct {
	env bbsync.Env
	db  bbsync.DatabricksOptions
	// lockTimeout is --lock-timeout: how long a write waits for another
	// writer; stateDir holds the local write lock (default: DefaultStateDir).
	lockTimeout time.Duration
	stateDir    string
}

func newEngine(s *ioStreams, cfg *config.Config, eo engineOptions) (*engine, error) {
	env := eo.env
	if env == nil {
		env = bbsync.Env(s.Getenv)
	}
	if eo.stateDir == "" {
		eo.stateDir = bbsync.DefaultStateDir(s.Getenv)
	}
	db := eo.db
	if db.Env == nil {
		db.Env = env
	}
	if db.ProbeTimeout == 0 {
		db.ProbeTimeout = s.probeTimeout
	}
	src, err := bbsync.NewSources(cfg, bbsync.SourceOptions{Env: env, Databricks: db, RetryUnit: s.retryUnit})
	if err != nil {
		return nil, err
	}
	svc := bbsync.NewService(src, cfg, bbsync.ServiceOptions{Now: s.Now, Log: debugLog(s), Progress: func(msg string) {
		fmt.Fprintf(s.Err, "… %s\n", msg)
	}, StateDir: eo.stateDir, LockTimeout: eo.lockTimeout, Warn: func(msg string) {
		fmt.Fprintln(s.Err, "bitbricks: warning: "+oneLine(msg))
	}})
	return &engine{cfg: cfg, src: src, svc: svc, lock: engineOptions{stateDir: eo.stateDir, lockTimeout: eo.lockTimeout}}, nil
}

func runSync(ctx context.Context, s *ioStreams, g *globalFlags, sf *syncFlags) error {
	e, asJSON, err := engineAndFormat(s, g)
	if err != nil {
		return err
	}
	return e.syncRun(ctx, s, asJSON, sf)
}

// syncRun is `sync` on a ready engine: shared by `sync` and `demo --headless`.
// With --apply it holds the write lock from before the snapshot to the last
// change, so a second writer plans only after the first is done.
func (e *engine) syncRun(ctx context.Context, s *ioStreams, asJSON bool, sf *syncFlags) error {
	switch {
	case sf.plan != "" && !sf.apply:
		return fmt.Errorf("--plan %s applies a saved plan: add --apply (to look at it, open the file)", sf.plan)
	case sf.out != "" && sf.apply:
		return fmt.Errorf("--out saves a plan for a later apply: run `sync --out %s` first, then `sync --apply --plan %s`", sf.out, sf.out)
	}
	if sf.apply {
		// With several workspaces, a saved plan holds the locks of its
		// changes' workspaces only (and is refused before any lock when it
		// has changes outside --workspace).
		var scope []string
		if sf.plan != "" {
			saved, err := bbsync.LoadSavedPlan(sf.plan)
			if err != nil {
				return err
			}
			if scope, err = e.svc.WorkspacesOfPlan(saved.Plan); err != nil {
				return e.refused(s, asJSON, saved.Plan, err)
			}
		}
		return e.svc.WritingIn(ctx, "sync --apply", scope, func(ctx context.Context) error {
			return e.syncRunLocked(ctx, s, asJSON, sf)
		})
	}
	return e.syncRunLocked(ctx, s, asJSON, sf)
}

func (e *engine) syncRunLocked(ctx context.Context, s *ioStreams, asJSON bool, sf *syncFlags) error {
	var plan bbsync.Plan
	if sf.plan != "" {
		var err error
		if plan, err = e.savedPlan(ctx, s, asJSON, sf.plan); err != nil {
			return err
		}
	} else {
		snap, fresh, err := e.svc.Load(ctx)
		if err != nil {
			return err
		}
		plan = fresh
		if sf.out != "" {
			if err := savePlan(sf.out, plan, bbsync.SnapshotDigest(snap)); err != nil {
				return err
			}
			fmt.Fprintf(s.Err, "Saved the plan to %s: apply exactly it with `bitbricks sync --apply --plan %s`.\n", sf.out, sf.out)
		}
	}
	if !sf.apply {
		if err := e.render(s, asJSON, plan, nil); err != nil {
			return err
		}
		if err := bbsync.CheckProblems(plan.Problems); err != nil {
			return err
		}
		if sf.detailedExitcode && len(plan.Changes) > 0 {
			return &exitError{code: 2}
		}
		return nil
	}

	// Every apply, even one with nothing to do, ends with the audit head.
	defer printAuditHead(ctx, s, e.svc, asJSON)
	if sf.maxChanges >= 0 {
		e.svc.LimitChanges(sf.maxChanges)
	}
	if !asJSON {
		if err := e.render(s, false, plan, nil); err != nil {
			return err
		}
	}
	if len(plan.Changes) == 0 {
		if asJSON {
			if err := e.render(s, true, plan, []bbsync.Result{}); err != nil {
				return err
			}
		}
		return bbsync.CheckProblems(plan.Problems)
	}
	// Checked here as well as in Apply so nobody is asked to confirm a plan
	// that will be refused.
	if err := e.svc.CheckPlanSize(plan); err != nil {
		return e.refused(s, asJSON, plan, err)
	}
	if !sf.yes {
		ok, err := confirm(s, fmt.Sprintf("Apply %d changes (%d destructive)%s?", len(plan.Changes), plan.Destructive(), inWorkspaces(e.svc.RunWorkspaces())))
		if err != nil {
			return e.refused(s, asJSON, plan, err)
		}
		if !ok {
			fmt.Fprintln(s.prompt(), "Apply cancelled: nothing changed.")
			return &exitError{code: 1}
		}
	}
	results, err := e.svc.Apply(ctx, plan, &textObserver{s: s, quiet: asJSON})
	// What the apply itself met (a departures ledger not written) is a
	// problem of the run, in the JSON as in the text.
	plan.Problems = bbsync.ApplyProblems(plan.Problems, err)
	if asJSON && results != nil {
		if rerr := e.render(s, true, plan, results); rerr != nil {
			return rerr
		}
	}
	if results == nil && err != nil {
		return err
	}
	applied, failed, skipped := countResults(results)
	if !asJSON {
		fmt.Fprintf(s.Out, "\nApply complete: %d applied, %d failed, %d skipped.\n", applied, failed, skipped)
		if err := views.RenderProblemsText(s.Out, plan.Problems, views.TextOptions{Color: s.ColorOut}); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	if failed > 0 || skipped > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d changes failed and %d were skipped: see the results above, fix the cause, then run sync again", failed, len(results), skipped)}
	}
	return bbsync.CheckProblems(plan.Problems)
}

// savedPlan reads a saved plan and checks it against a fresh snapshot.
func (e *engine) savedPlan(ctx context.Context, s *ioStreams, asJSON bool, path string) (bbsync.Plan, error) {
	saved, err := bbsync.LoadSavedPlan(path)
	if err != nil {
		return bbsync.Plan{}, err
	}
	check, err := e.svc.CheckSavedPlan(ctx, saved)
	if err != nil {
		var stale *bbsync.StalePlanError
		if errors.As(err, &stale) {
			for _, c := range stale.Stale {
				fmt.Fprintf(s.Err, "✗ %s: %s\n", c.ID, c.Why)
			}
			return bbsync.Plan{}, e.refused(s, asJSON, saved.Plan, err)
		}
		return bbsync.Plan{}, err
	}
	if check.Unchanged {
		fmt.Fprintf(s.Err, "Applying the saved plan %s: nothing changed since it was made.\n", path)
	} else {
		fmt.Fprintf(s.Err, "Applying the saved plan %s: the organisation changed since it was made, and every saved change still holds.\n", path)
	}
	if check.NotInSaved > 0 {
		fmt.Fprintf(s.Err, "%s called for now not in the saved plan and not made: run `bitbricks sync` to see them.\n", views.Count(check.NotInSaved, "change", ""))
	}
	return check.Plan, nil
}

// savePlan writes a saved plan, readable by its owner only (it names
// people and credential ids), through a temporary file.
func savePlan(path string, plan bbsync.Plan, digest string) error {
	var b bytes.Buffer
	if err := views.RenderSavedPlanJSON(&b, plan, digest); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".bitbricks-plan-*")
	if err != nil {
		return fmt.Errorf("save the plan: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err = tmp.Write(b.Bytes()); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("save the plan to %s: %w", path, err)
	}
	return nil
}

// refused ends an apply that a guard stopped before any change: with JSON,
// stdout still gets the plan, every change skipped with the reason, so a
// pipeline's artifact shows what was refused.
func (e *engine) refused(s *ioStreams, asJSON bool, plan bbsync.Plan, why error) error {
	if asJSON {
		results := make([]bbsync.Result, len(plan.Changes))
		for i, c := range plan.Changes {
			results[i] = bbsync.Result{ID: c.ID, Status: bbsync.ResultSkipped, Error: oneLine(why.Error())}
		}
		if err := e.render(s, true, plan, results); err != nil {
			return err
		}
	}
	return why
}

func (e *engine) render(s *ioStreams, asJSON bool, plan bbsync.Plan, results []bbsync.Result) error {
	if asJSON {
		return views.RenderPlanJSON(s.Out, plan, results)
	}
	return views.RenderPlanText(s.Out, plan, views.TextOptions{Color: s.ColorOut, Workspaces: e.svc.RunWorkspaces()})
}

func countResults(rs []bbsync.Result) (applied, failed, skipped int) {
	for _, r := range rs {
		switch r.Status {
		case bbsync.ResultApplied:
			applied++
		case bbsync.ResultFailed:
			failed++
		default:
			skipped++
		}
	}
	return
}

// textObserver prints each step of an apply as it happens.
type textObserver struct {
	s     *ioStreams
	quiet bool
}

func (o *textObserver) Start(i, n int, c bbsync.Change) {}

func (o *textObserver) Done(i, n int, c bbsync.Change, r bbsync.Result) {
	w := o.s.Err
	if !o.quiet {
		w = o.s.Out
	}
	mark := "✓"
	switch r.Status {
	case bbsync.ResultFailed:
		mark = "✗"
	case bbsync.ResultSkipped:
		mark = "–"
	}
	line := fmt.Sprintf("[%d/%d] %s %s %s", i+1, n, mark, r.Status, c.ID)
	if r.Error != "" {
		line += ": " + oneLine(r.Error)
	}
	fmt.Fprintln(w, line)
}

// confirm asks a yes/no question on the terminal; only "yes" or "y" agrees
// (the default, an empty answer, is no).
// Without a terminal it never asks: it refuses, pointing at --yes.
func confirm(s *ioStreams, question string) (bool, error) {
	if !s.IsTerminal {
		return false, &exitError{code: 3, err: fmt.Errorf("refused: not on a terminal, so nothing was applied; review the plan, then pass --yes")}
	}
	fmt.Fprintf(s.prompt(), "%s [y/N] ", question)
	line, err := s.readLine()
	if err != nil && line == "" {
		return false, nil
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "yes" || answer == "y", nil
}

// confirmName asks the user to type name exactly (owner-wide and bulk actions).
func confirmName(s *ioStreams, question, name string) (bool, error) {
	if !s.IsTerminal {
		return false, &exitError{code: 3, err: fmt.Errorf("refused: not on a terminal, so nothing was changed; review the list, then pass --yes")}
	}
	fmt.Fprintf(s.prompt(), "%s Type %q to confirm: ", question, name)
	line, err := s.readLine()
	if err != nil && line == "" {
		return false, nil
	}
	return strings.TrimSpace(line) == name, nil
}

// inWorkspaces is " in workspace dev" or " in workspaces prod, dev" for a
// run over workspaces of several ("" with one).
func inWorkspaces(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return " in workspace " + names[0]
	}
	return " in workspaces " + strings.Join(names, ", ")
}
