package tui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
)

// EngineBackend is the Backend over the engine's one service, sync.Service:
// each method calls one service method and converts its answer for the
// console; no engine logic lives here. `bitbricks` and `bitbricks demo` use
// it; only the service's sources differ.
type EngineBackend struct {
	Service *sync.Service
}

// NewEngineBackend serves the console from svc.
func NewEngineBackend(svc *sync.Service) *EngineBackend {
	return &EngineBackend{Service: svc}
}

// In is the backend of the named workspace's service
// (Service.InWorkspace), for a write that goes there and nowhere else.
func (e *EngineBackend) In(workspace string) (Backend, error) {
	svc, err := e.Service.InWorkspace(workspace)
	if err != nil {
		return nil, err
	}
	if svc == e.Service {
		return e, nil
	}
	return NewEngineBackend(svc), nil
}

// Config is the config the next Load plans with (Service.Config).
func (e *EngineBackend) Config() *config.Config { return e.Service.Config() }

// Load reads a snapshot and plans it (Service.Load).
func (e *EngineBackend) Load(ctx context.Context) (*sync.Snapshot, sync.Plan, error) {
	return e.Service.Load(ctx)
}

// CheckPlanSize is the guard of Apply (max_changes; over several
// workspaces, one not read), asked before the confirmation
// (Service.CheckPlanSize).
func (e *EngineBackend) CheckPlanSize(plan sync.Plan) error {
	return e.Service.CheckPlanSize(plan)
}

// Apply runs exactly plan's changes through the same guards, rotator and
// audit log as `sync --apply` (Service.Apply).
func (e *EngineBackend) Apply(ctx context.Context, plan sync.Plan, progress func(sync.Result)) ([]sync.Result, error) {
	plan.GeneratedAt = e.Service.Now()
	return e.Service.Apply(ctx, plan, progressObserver(progress))
}

// progressObserver reports each finished change.
type progressObserver func(sync.Result)

func (p progressObserver) Start(int, int, sync.Change) {}
func (p progressObserver) Done(_, _ int, _ sync.Change, r sync.Result) {
	if p != nil {
		p(r)
	}
}

// Revoke revokes tokens and secrets (Service.RevokeCredentials).
func (e *EngineBackend) Revoke(ctx context.Context, creds []sync.Credential) (sync.Revocation, error) {
	return e.Service.RevokeCredentials(ctx, creds)
}

// FindLeaked traces a token value to its owner without revoking anything
// (Service.FindLeaked).
func (e *EngineBackend) FindLeaked(ctx context.Context, value string) (Leak, error) {
	l, err := e.Service.FindLeaked(ctx, value)
	if err != nil {
		return Leak{}, err
	}
	out := Leak{Redacted: l.Redacted, Owner: l.Owner.Name, OwnerID: l.Owner.ID, OwnerType: l.Owner.Type, Tokens: l.Candidates,
		Self: l.Self, Protected: l.Protected, Workspace: l.Workspace, trace: l}
	for _, b := range l.Bindings {
		out.Bindings = append(out.Bindings, b.Name)
	}
	return out, nil
}

// RevokeLeaked revokes the leaked token of exactly the leak FindLeaked
// traced, and no more (Service.RevokeLeaked without the rest): the rest is
// offered after, as a choice (RevokeLeakRest).
func (e *EngineBackend) RevokeLeaked(ctx context.Context, leak Leak) (LeakResult, error) {
	l, ok := leak.trace.(*sync.Leak)
	if !ok {
		return LeakResult{}, errors.New("revoke leaked token: trace it first")
	}
	res, err := e.Service.RevokeLeaked(ctx, l, sync.LeakOptions{})
	out := LeakResult{Owner: l.Owner.Name, Leaked: res.Leaked, Revoked: len(res.Revoked)}
	switch {
	case res.Stopped != "":
		return out, fmt.Errorf("the leaked token %s was not revoked: %s; next: %s", l.Redacted, res.Stopped, res.Next)
	case res.StillValid:
		return out, fmt.Errorf("the leaked token %s still authenticates: revoke it in the Databricks workspace settings now", l.Redacted)
	case err != nil:
		return out, err
	case res.Leaked == "" || !res.Checked:
		return out, fmt.Errorf("the leaked token %s was not found among the tokens of %s", l.Redacted, l.Owner.Name)
	}
	var notes []string
	for _, r := range res.Rotations {
		notes = append(notes, fmt.Sprintf("%s rotated first", r.Binding))
	}
	gone := map[string]bool{}
	for _, c := range res.Revoked {
		gone[c.ID] = true
	}
	var rest []sync.Credential
	for _, c := range append(slices.Clone(l.Tokens), l.Secrets...) {
		if !gone[c.ID] {
			rest = append(rest, c)
		}
	}
	switch {
	case len(rest) == 0:
	case res.Session != "":
		notes = append(notes, fmt.Sprintf("it was bitbricks' own credential: revoke the other %s with another one, `%s`", views.Count(len(rest), "credential", ""), sync.RevokeOwnerCommand(l.Owner.Name, l.Workspace, false)))
		rest = nil
	case l.Protected:
		notes = append(notes, fmt.Sprintf("kept %s: %s is in policy.protected; `%s` revokes them", views.Count(len(rest), "other credential", ""), l.Owner.Name, sync.RevokeOwnerCommand(l.Owner.Name, l.Workspace, true)))
		rest = nil
	}
	out.Rest, out.Note = rest, strings.Join(notes, "; ")
	return out, nil
}

// RevokeLeakRest revokes the rest of the leak's owner's credentials after
// RevokeLeaked (Service.RevokeLeakRest): a protected owner's stay, as the
// CLI keeps them without --force.
func (e *EngineBackend) RevokeLeakRest(ctx context.Context, leak Leak) (LeakResult, error) {
	l, ok := leak.trace.(*sync.Leak)
	if !ok {
		return LeakResult{}, errors.New("revoke the rest of a leak: trace it first")
	}
	res, err := e.Service.RevokeLeakRest(ctx, l, sync.LeakOptions{})
	out := LeakResult{Owner: l.Owner.Name, Revoked: len(res.Revoked)}
	var what []string
	for _, k := range append(res.Broken, res.Kept...) {
		what = append(what, k.Credential.ID+": "+k.Why+" (`"+k.Command+"`)")
	}
	for _, f := range res.Failed {
		what = append(what, f.Credential.ID+": "+f.Error)
	}
	out.Note = strings.Join(what, "; ")
	if err != nil && out.Note != "" {
		return out, errors.New(out.Note)
	}
	return out, err
}

// Rotate rotates one binding by the rotation protocol (Service.Rotate).
func (e *EngineBackend) Rotate(ctx context.Context, binding string) (sync.RotationResult, error) {
	return e.Service.Rotate(ctx, binding)
}

// Federate runs phase 1 for one binding through the service.
func (e *EngineBackend) Federate(ctx context.Context, binding string) (sync.FederationResult, error) {
	return e.Service.Federate(ctx, binding, false)
}

// Remap points a mapping at another Databricks group, rewriting the config
// file, audited (Service.Remap).
func (e *EngineBackend) Remap(ctx context.Context, index int, group string) error {
	return e.Service.Remap(ctx, index, group)
}

// Map adds a mapping for an unmapped Bitbucket group, rewriting the config
// file, audited (Service.Map).
func (e *EngineBackend) Map(ctx context.Context, bitbucketGroup, databricksGroup string) error {
	return e.Service.Map(ctx, bitbucketGroup, databricksGroup)
}

// Audit returns the n most recent audit events, newest first (Service.Audit).
func (e *EngineBackend) Audit(ctx context.Context, n int) ([]AuditEvent, error) {
	evs, err := e.Service.Audit(n)
	if err != nil {
		return nil, err
	}
	out := make([]AuditEvent, 0, len(evs))
	for _, ev := range evs {
		ws, short := sync.AuditWorkspaces(ev)
		out = append(out, AuditEvent{Time: ev.Time, Operator: ev.Operator.OSUser + " as " + ev.Operator.Databricks,
			Action: ev.Action, Target: ev.Target, Result: ev.Result, Error: ev.Error, Workspaces: ws, Short: short})
	}
	return out, nil
}
