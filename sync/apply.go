package sync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Executor makes the changes of a plan. *Databricks implements it.
type Executor interface {
	// CreateGroup creates group c.Group and returns its id.
	CreateGroup(ctx context.Context, c Change) (string, error)
	AddMember(ctx context.Context, c Change) error
	RemoveMember(ctx context.Context, c Change) error
	AddEntitlement(ctx context.Context, c Change) error
	RemoveEntitlement(ctx context.Context, c Change) error
	RevokeToken(ctx context.Context, c Change) error
	RevokeSecret(ctx context.Context, c Change) error
	// AssignWorkspace and UnassignWorkspace change a principal's
	// assignment to the workspace (account permission assignment, USER).
	AssignWorkspace(ctx context.Context, c Change) error
	UnassignWorkspace(ctx context.Context, c Change) error
}

// Rotator rotates a pipeline binding's credential (rotate_credential).
type Rotator interface {
	Rotate(ctx context.Context, c Change) error
}

// Observer hears each step of Apply: Start before a change runs, Done with
// its result (Done alone for a change skipped without running). i counts
// from 0; n is the number of changes.
type Observer interface {
	Start(i, n int, c Change)
	Done(i, n int, c Change, r Result)
}

// NopObserver hears nothing.
type NopObserver struct{}

func (NopObserver) Start(int, int, Change)        {}
func (NopObserver) Done(int, int, Change, Result) {}

// ApplyOptions bound and record an Apply.
type ApplyOptions struct {
	// MaxChanges is the most changes Apply makes; a bigger plan is refused
	// with a *GuardError before anything changes. Negative: no limit.
	MaxChanges int
	// Audit receives two lines per change that runs: its intent, written
	// before the change (a change whose intent cannot be written is not
	// made, and the run stops), and its outcome. nil: AuditFile, a local
	// log; "" there writes none.
	Audit     AuditSink
	AuditFile string
	Operator  Operator
	// Rotator runs rotate_credential changes; nil skips them.
	Rotator Rotator
	// Now is the audit clock; nil is time.Now.
	Now func() time.Time
	// ReadOnly refuses the whole plan with a *ReadOnlyError before anything
	// changes.
	ReadOnly bool
	// Workspace names the workspace, of several, the changes are made in:
	// each audit line then names it, its change id as the merged plan
	// prints it ("dev:create_group/ml-team") and its target ending in
	// "workspace:dev", as a credential operation's lines do. Empty with one
	// workspace: the lines are as they always were.
	Workspace string
	// Earlier are the outcomes of the changes an earlier Apply of the same
	// run made or tried (the other workspaces' changes of one plan): a
	// change depends on those as on its own plan's (plan_deps.go).
	Earlier []Outcome
	// Withheld are changes, by id, not to be made, each with why: skipped
	// (and what depends on them with them), the others made.
	Withheld map[string]string
}

// Apply runs exactly plan's changes, in order, never re-planning. It goes on
// past a failed change, except that the changes of a group whose creation
// failed are skipped, and so is a change whose dependency (plan_deps.go)
// was not applied, and every change through an API (the workspace's, the
// account's) that throttled ThrottledChanges changes in a row
// (apply_throttle.go). The error is for the run as a whole: a *GuardError
// (nothing changed), a cancelled context or an audit log that cannot be
// written (the remaining changes are skipped); failures of single changes are
// in the results.
func Apply(ctx context.Context, plan Plan, exec Executor, obs Observer, opts ApplyOptions) ([]Result, error) {
	n := len(plan.Changes)
	if err := GuardWrite(opts.ReadOnly, "apply"); err != nil {
		return nil, err
	}
	if opts.MaxChanges >= 0 && n > opts.MaxChanges {
		return nil, &GuardError{Changes: n, Max: opts.MaxChanges}
	}
	if obs == nil {
		obs = NopObserver{}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	audit := opts.Audit
	if audit == nil && opts.AuditFile != "" {
		audit = &FileAudit{Path: opts.AuditFile}
	}
	results := make([]Result, 0, n)
	created := map[string]string{} // group name -> id, from create_group
	notCreated := map[string]bool{}
	var stop error
	done := newOutcomes(opts.Earlier)
	throttle := throttleBreaker{workspace: opts.Workspace} // apply_throttle.go
	for i, c := range plan.Changes {
		r := Result{ID: c.ID, Status: ResultSkipped}
		unmet, givenUp := "", ""
		if stop == nil {
			unmet, givenUp = done.unmet(c), throttle.open(c)
		}
		switch {
		case stop != nil:
			r.Error = "not run: " + oneLine(stop)
		case ctx.Err() != nil:
			stop = context.Cause(ctx) // a lost write lease says so
			r.Error = "not run: " + oneLine(stop)
		case c.Group != "" && notCreated[c.Group] && c.Action != ActionCreateGroup:
			r.Error = fmt.Sprintf("group %s was not created", c.Group)
		case c.Action == ActionRotateCredential && opts.Rotator == nil:
			r.Error = "rotation not available"
		case opts.Withheld[c.ID] != "":
			r.Error = opts.Withheld[c.ID]
		case unmet != "":
			r.Error = unmet
		case givenUp != "":
			r.Error = givenUp
		default:
			if c.GroupID == "" && created[c.Group] != "" {
				c.GroupID = created[c.Group]
			}
			event := func(result, msg string) AuditEvent {
				return AuditEvent{Time: now().UTC(), Operator: opts.Operator, Action: c.Action.String(),
					Target: workspaceTarget(c.AuditTarget(), opts.Workspace), Result: result, Error: msg,
					ChangeID: workspaceChangeID(c.ID, opts.Workspace), Scope: auditScope(c)}
			}
			// No lease, no action: a write lease released by unlock or
			// taken over meanwhile stops the run before this change.
			if err := confirmLease(ctx, opts.Workspace); err != nil {
				stop = err
				r.Error = "not run: " + oneLine(stop)
				break
			}
			if audit != nil {
				// No audit, no action.
				if err := audit.Append(ctx, event(ResultIntent, "")); err != nil {
					stop = &AuditWriteError{Where: audit.Where(), Err: err}
					r.Error = "not run: " + oneLine(stop)
					break
				}
			}
			obs.Start(i, n, c)
			err := run(ctx, exec, opts.Rotator, c, created)
			throttle.record(c, err)
			r.Status = ResultApplied
			if err != nil {
				r.Status, r.Error = ResultFailed, oneLine(err)
				if c.Action == ActionCreateGroup {
					notCreated[c.Group] = true
				}
			}
			if audit != nil {
				if err := audit.Append(ctx, event(r.Status, r.Error)); err != nil {
					stop = &AuditWriteError{Where: audit.Where(), Err: err}
				}
			}
		}
		results = append(results, r)
		done.add(Outcome{Change: c, Status: r.Status})
		obs.Done(i, n, c, r)
	}
	return results, stop
}

// auditScope is a change's AuditEvent.Scope: AuditScopeAccount for an
// account group's membership, the same in every workspace.
func auditScope(c Change) string {
	if c.GroupKind == KindAccount && (c.Action == ActionAddMember || c.Action == ActionRemoveMember) {
		return AuditScopeAccount
	}
	return ""
}

// workspaceTarget is an audit target naming workspace ws (of several) at
// its end, unless it names it already (assign_workspace's); target itself
// with one workspace.
func workspaceTarget(target, ws string) string {
	if ws == "" || strings.Contains(" "+target+" ", " workspace:"+ws+" ") {
		return target
	}
	return target + " workspace:" + ws
}

// workspaceChangeID is a change's id as the plan over several workspaces
// prints it: prefixed with its workspace ws ("dev:"); id itself with one.
func workspaceChangeID(id, ws string) string {
	if ws == "" || strings.HasPrefix(id, ws+":") {
		return id
	}
	return ws + ":" + id
}

// run makes one change through exec (or rot).
func run(ctx context.Context, exec Executor, rot Rotator, c Change, created map[string]string) error {
	switch c.Action {
	case ActionCreateGroup:
		id, err := exec.CreateGroup(ctx, c)
		if err == nil {
			created[c.Group] = id
		}
		return err
	case ActionAddMember:
		return exec.AddMember(ctx, c)
	case ActionRemoveMember:
		return exec.RemoveMember(ctx, c)
	case ActionAddEntitlement:
		return exec.AddEntitlement(ctx, c)
	case ActionRemoveEntitlement:
		return exec.RemoveEntitlement(ctx, c)
	case ActionRevokeToken:
		return exec.RevokeToken(ctx, c)
	case ActionRevokeSecret:
		return exec.RevokeSecret(ctx, c)
	case ActionAssignWorkspace:
		return exec.AssignWorkspace(ctx, c)
	case ActionUnassignWorkspace:
		return exec.UnassignWorkspace(ctx, c)
	case ActionRotateCredential:
		return rot.Rotate(ctx, c)
	}
	return errors.New("unknown action " + c.Action.String())
}

// AuditWriteError is an audit line that could not be written: the change
// it was for was not made (or, for an outcome line, the run stopped after
// it).
type AuditWriteError struct {
	Where string
	Err   error
}

func (e *AuditWriteError) Error() string {
	return fmt.Sprintf("audit log %s could not be written, so no further change was made: %v", e.Where, e.Err)
}

func (e *AuditWriteError) Unwrap() error { return e.Err }
