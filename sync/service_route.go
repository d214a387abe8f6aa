package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	gosync "sync"

	"github.com/bitbricks/bitbricks/config"
)

// The credential commands over several workspaces.
//
// With several workspaces the Service routes each credential operation to
// the part of the workspace it concerns: a token lives in one workspace
// (its id is that workspace's), so revoking it by id searches every active
// workspace and acts in the one that holds it; an owner's credentials are
// listed and revoked workspace by workspace, each with that workspace's
// guards; a leaked value is traced in the workspace it authenticates at; a
// pipeline binding names its workspace, where its rotation and federation
// happen. An OAuth secret of a service principal belongs to the account:
// it is read and revoked through the first active workspace, and every
// workspace's bindings are checked for it.
//
// Each write holds the write lock of the workspaces it writes to, and only
// those: the WorkspacesOf* methods name them before anything is locked, so
// a front end takes exactly those locks (HoldWriteLockIn) for its
// read-confirm-write sequence; a write routed to a workspace whose lock the
// context does not hold takes that lock itself.

// WorkspaceChoiceError refuses an operation that fits several workspaces
// when it must act in one: nothing was changed (exit code 3).
type WorkspaceChoiceError struct {
	What       string   // "token 0e9c…"
	Workspaces []string // where it was found
}

func (e *WorkspaceChoiceError) Error() string {
	return fmt.Sprintf("refused: %s is in several workspaces (%s), so nothing was revoked: name one with --workspace",
		e.What, strings.Join(e.Workspaces, ", "))
}

// SavedPlanScopeError refuses a saved plan with changes in workspaces the
// run does not cover (`--workspace`): a saved plan is applied whole or not
// at all, so nothing was applied (exit code 3).
type SavedPlanScopeError struct {
	Outside []string // the saved plan's workspaces outside the run
	Changes int      // its changes there
	Covered []string // the workspaces the run covers
	// Limited is true when --workspace narrowed the run; false: the
	// config does not list the saved plan's other workspaces.
	Limited bool
}

func (e *SavedPlanScopeError) Error() string {
	if !e.Limited {
		return fmt.Sprintf("refused: the saved plan has %d change(s) in workspace(s) %s, which databricks.workspaces of the config no longer lists (it lists %s), so nothing was applied: make a new plan",
			e.Changes, strings.Join(e.Outside, ", "), strings.Join(e.Covered, ", "))
	}
	return fmt.Sprintf("refused: the saved plan has %d change(s) in workspace(s) %s, outside --workspace %s, so nothing was applied: apply it without --workspace, or save a plan with the same --workspace",
		e.Changes, strings.Join(e.Outside, ", "), strings.Join(e.Covered, " --workspace "))
}

// heldKey carries the names of the workspaces whose write lock a context
// holds (several workspaces only).
type heldKey struct{}

func heldWorkspaces(ctx context.Context) []string {
	held, _ := ctx.Value(heldKey{}).([]string)
	return held
}

// writingIn holds the write lock of each of parts the context does not
// hold yet, in config order, around fn.
func (s *Service) writingIn(ctx context.Context, command string, parts []workspacePart, fn func(context.Context) error) error {
	held := heldWorkspaces(ctx)
	var todo []workspacePart
	for _, p := range s.parts {
		if slices.ContainsFunc(parts, func(q workspacePart) bool { return q.name == p.name }) && !slices.Contains(held, p.name) {
			todo = append(todo, p)
		}
	}
	// Two entries that are one workspace are refused before anything is
	// written (the second lease would be this run's own).
	if _, err := s.checkOneWorkspaceEach(ctx, todo); err != nil {
		return err
	}
	ran := false
	var hold func(i int, ctx context.Context) error
	hold = func(i int, ctx context.Context) error {
		if i == len(todo) {
			ran = true
			return fn(ctx)
		}
		p := todo[i]
		if err := checkPartIdentity(ctx, p); err != nil {
			return fmt.Errorf("workspace %s: %w", p.name, err)
		}
		op, err := p.svc.operator(ctx)
		if err == nil {
			err = p.svc.src.Writing(ctx, WriteLockOptions{StateDir: p.svc.stateDir, Timeout: p.svc.lockTimeout, Command: command,
				Operator: op, Now: p.svc.now, Log: p.svc.log, Workspace: p.name}, func(ctx context.Context) error {
				now := append(slices.Clone(heldWorkspaces(ctx)), p.name)
				return hold(i+1, context.WithValue(ctx, heldKey{}, now))
			})
		}
		// A workspace that does not answer before anything was written:
		// refused whole, naming it and the run without it.
		var held *LockHeldError
		if err != nil && !ran && len(todo) > 1 && !errors.As(err, &held) && !stopsEveryWorkspace(ctx, err) {
			var un *UnreadWorkspacesError
			if errors.As(err, &un) {
				return err
			}
			verb := "apply"
			switch {
			case strings.HasPrefix(command, "rotate"):
				verb = "rotate"
			case strings.HasPrefix(command, "revoke"):
				verb = "revoke"
			}
			var others []string
			for _, q := range todo {
				if q.name != p.name {
					others = append(others, q.name)
				}
			}
			return &UnreadWorkspacesError{Unread: []Problem{unreadProblem(p, err)}, Others: others, Verb: verb}
		}
		return err
	}
	return hold(0, ctx)
}

// inPart runs fn with the write lock of part p held.
func (s *Service) inPart(ctx context.Context, p workspacePart, command string, fn func(context.Context) error) error {
	return s.writingIn(ctx, command, []workspacePart{p}, fn)
}

// lockedIn runs op, a command of part p's own service, with p's write lock
// held (command names it in the lock), and returns what op returned.
func lockedIn[T any](ctx context.Context, s *Service, p workspacePart, command string, op func(context.Context, *Service) (T, error)) (T, error) {
	var res T
	err := s.inPart(ctx, p, command, func(ctx context.Context) (err error) {
		res, err = op(ctx, p.svc)
		return err
	})
	return res, err
}

// route is the part a command of one workspace goes to, or why none does.
type route struct {
	part workspacePart
	err  error
}

// to is the route that a search for a part (tokenPart, bindingPart, ...)
// returned.
func to(p workspacePart, err error) route { return route{part: p, err: err} }

// routed runs op, a command of one workspace, in the part r names: under
// that workspace's write lock when command (a write, named in the lock) is
// not "", without it for a read. stamp, when not nil, then names the
// workspace on what op returned, whether it failed or not. No part: r's
// error, as it is.
func routed[T any](ctx context.Context, s *Service, r route, command string, op func(context.Context, *Service) (T, error), stamp func(*T, string)) (T, error) {
	var res T
	if r.err != nil {
		return res, r.err
	}
	var err error
	if command == "" {
		res, err = op(ctx, r.part.svc)
	} else {
		res, err = lockedIn(ctx, s, r.part, command, op)
	}
	if stamp != nil {
		stamp(&res, r.part.name)
	}
	return res, err
}

// stampCredential names workspace on a credential.
func stampCredential(cr *Credential, workspace string) { cr.Workspace = workspace }

// HoldWriteLockIn is HoldWriteLock holding the locks of the named
// workspaces only (as the WorkspacesOf* methods name them). With one
// workspace, or no names, it is HoldWriteLock.
func (s *Service) HoldWriteLockIn(ctx context.Context, command string, workspaces []string) (context.Context, func() error, error) {
	return s.holdLock(ctx, func(ctx context.Context, fn func(context.Context) error) error {
		return s.WritingIn(ctx, command, workspaces, fn)
	})
}

// activePart is the part of the named workspace, which the run covers.
func (s *Service) activePart(name string) (workspacePart, error) {
	active := s.activeParts()
	i := slices.IndexFunc(active, func(p workspacePart) bool { return p.name == name })
	if i >= 0 {
		return active[i], nil
	}
	if slices.Contains(s.Workspaces(), name) {
		names := make([]string, len(active))
		for i, p := range active {
			names[i] = p.name
		}
		return workspacePart{}, fmt.Errorf("workspace %s is outside this run (--workspace %s)", name, strings.Join(names, " --workspace "))
	}
	return workspacePart{}, fmt.Errorf("no workspace %s in databricks.workspaces (%s)", name, strings.Join(s.Workspaces(), ", "))
}

// inEachPart runs fn in each of parts at once and returns what each
// returned, in the order of parts.
func inEachPart[T any](parts []workspacePart, fn func(workspacePart) (T, error)) ([]T, []error) {
	out := make([]T, len(parts))
	errs := make([]error, len(parts))
	var wg gosync.WaitGroup
	for i, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = fn(p)
		}()
	}
	wg.Wait()
	return out, errs
}

// workspaceOf names the one workspace find routes a command to (nil with
// one workspace, where find is not asked).
func (s *Service) workspaceOf(find func() (workspacePart, error)) ([]string, error) {
	if len(s.parts) == 0 {
		return nil, nil
	}
	p, err := find()
	if err != nil {
		return nil, err
	}
	return []string{p.name}, nil
}

func partNames(parts []workspacePart) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p.name
	}
	return out
}

// Tokens by id.

// WorkspacesOfToken names the one workspace holding the token id (nil with
// one workspace): a *WorkspaceChoiceError when several active workspaces
// hold a token with that id, the not-found error naming the workspaces
// searched when none does.
func (s *Service) WorkspacesOfToken(ctx context.Context, id string) ([]string, error) {
	return s.workspaceOf(func() (workspacePart, error) { return s.tokenPart(ctx, id) })
}

// tokenPart is the one active part whose workspace holds token id.
func (s *Service) tokenPart(ctx context.Context, id string) (workspacePart, error) {
	parts := s.activeParts()
	found, errs := inEachPart(parts, func(p workspacePart) (bool, error) {
		c, err := p.svc.credentials(ctx)
		if err != nil {
			return false, err
		}
		ts, err := c.Databricks.Tokens(ctx)
		if err != nil {
			return false, err
		}
		return slices.ContainsFunc(ts, func(t Credential) bool { return t.ID == id }), nil
	})
	// A workspace that could not be searched does not stop the search of
	// the others: the token is acted on where it was found, and the run
	// says which workspaces were not searched (UnsearchedError).
	var in, searched []workspacePart
	var unread []Problem
	for i, p := range parts {
		switch {
		case errs[i] != nil && stopsEveryWorkspace(ctx, errs[i]):
			return workspacePart{}, fmt.Errorf("workspace %s: search its tokens for %s: %w", p.name, id, errs[i])
		case errs[i] != nil:
			unread = append(unread, unreadProblem(p, errs[i]))
			continue
		case found[i]:
			in = append(in, p)
		}
		searched = append(searched, p)
	}
	unsearched := func() error {
		if len(unread) == 0 {
			return nil
		}
		return &UnsearchedError{What: "token " + id, Unread: unread}
	}
	switch len(in) {
	case 0:
		if len(unread) > 0 {
			nf := "no token " + id
			if len(searched) > 0 {
				nf += " in workspace(s) " + strings.Join(partNames(searched), ", ")
			}
			return workspacePart{}, fmt.Errorf("%s, and nothing was revoked: %w", nf, unsearched())
		}
		return workspacePart{}, fmt.Errorf("no token %s in workspaces %s: already revoked or expired? (`bitbricks tokens` lists them)", id, strings.Join(partNames(parts), ", "))
	case 1:
		s.mu.Lock()
		s.unsearched = unsearched()
		s.mu.Unlock()
		return in[0], nil
	}
	return workspacePart{}, &WorkspaceChoiceError{What: "token " + id, Workspaces: partNames(in)}
}

// Unsearched is the *UnsearchedError of the last search by token id or by
// leaked value that found what it looked for in one workspace but could
// not search others, or nil: a front end reports it after what it did
// there, and exits 1.
func (s *Service) Unsearched() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unsearched
}

func (s *Service) lookupTokenParts(ctx context.Context, id string) (Credential, error) {
	return routed(ctx, s, to(s.tokenPart(ctx, id)), "", func(ctx context.Context, ws *Service) (Credential, error) {
		return ws.LookupToken(ctx, id)
	}, stampCredential)
}

func (s *Service) revokeTokenParts(ctx context.Context, id string) (Credential, error) {
	return routed(ctx, s, to(s.tokenPart(ctx, id)), "revoke --token-id "+id, func(ctx context.Context, ws *Service) (Credential, error) {
		return ws.RevokeToken(ctx, id)
	}, stampCredential)
}

// OAuth secrets (account-level).

// WorkspacesOfSecrets names the workspace the OAuth secrets of the service
// principal sp, which belong to the account, are read and revoked through
// (nil with one workspace): the first active workspace sp is assigned to.
func (s *Service) WorkspacesOfSecrets(ctx context.Context, sp string) ([]string, error) {
	return s.workspaceOf(func() (workspacePart, error) { return s.secretPart(ctx, sp) })
}

func (s *Service) secretPart(ctx context.Context, sp string) (workspacePart, error) {
	parts := s.activeParts()
	for _, p := range parts {
		c, err := p.svc.credentials(ctx)
		if err != nil {
			return workspacePart{}, fmt.Errorf("workspace %s: %w", p.name, err)
		}
		found, err := c.findServicePrincipal(ctx, sp)
		if err != nil {
			return workspacePart{}, fmt.Errorf("workspace %s: %w", p.name, err)
		}
		if found != nil {
			return p, nil
		}
	}
	return workspacePart{}, fmt.Errorf("no Databricks service principal %q in workspaces %s (check the display name or application id; its OAuth secrets are the account's, reached through a workspace it is assigned to)", sp, strings.Join(partNames(parts), ", "))
}

func (s *Service) lookupSecretParts(ctx context.Context, servicePrincipal, id string) (Credential, error) {
	return routed(ctx, s, to(s.secretPart(ctx, servicePrincipal)), "", func(ctx context.Context, ws *Service) (Credential, error) {
		return ws.LookupSecret(ctx, servicePrincipal, id)
	}, stampCredential)
}

func (s *Service) revokeSecretParts(ctx context.Context, servicePrincipal, id string) (Credential, error) {
	return routed(ctx, s, to(s.secretPart(ctx, servicePrincipal)), "revoke --secret-id "+id, func(ctx context.Context, ws *Service) (Credential, error) {
		return ws.RevokeSecret(ctx, servicePrincipal, id)
	}, stampCredential)
}

// Guards.

// checkRevocationsParts checks each credential with the guards of its
// workspace; an OAuth secret (the account's) with those of every
// workspace, since a binding of any of them may hold it.
func (s *Service) checkRevocationsParts(ctx context.Context, creds []Credential) ([]RevokeCheck, error) {
	var out []RevokeCheck
	for _, cr := range creds {
		parts := s.parts
		if isTokenKind(cr.Kind) {
			p, ok := s.partNamed(cr.Workspace)
			if !ok {
				return nil, fmt.Errorf("token %s names no workspace of databricks.workspaces (%q)", cr.ID, cr.Workspace)
			}
			parts = []workspacePart{p}
		}
		rc := RevokeCheck{Credential: cr}
		for _, p := range parts {
			checks, err := p.svc.checkRevocationsHere(ctx, []Credential{cr})
			if err != nil {
				return nil, fmt.Errorf("workspace %s: %w", p.name, err)
			}
			for _, c := range checks {
				rc.Protected = rc.Protected || c.Protected
				rc.Self = rc.Self || c.Self
				if rc.Binding == "" {
					rc.Binding = c.Binding
				}
			}
		}
		if rc.NeedsForce() {
			out = append(out, rc)
		}
	}
	return out, nil
}

// Every credential of an owner.

// WorkspacesOfOwner names the active workspaces where owner holds
// credentials, or the first when none (nil with one workspace); an owner
// none of them knows is an error.
func (s *Service) WorkspacesOfOwner(ctx context.Context, owner string) ([]string, error) {
	if len(s.parts) == 0 {
		return nil, nil
	}
	o, err := s.ownerCredentialsParts(ctx, owner)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range s.activeParts() {
		if slices.ContainsFunc(o.Credentials, func(c Credential) bool { return c.Workspace == p.name }) {
			out = append(out, p.name)
		}
	}
	if len(out) == 0 {
		// Nothing to revoke: the first workspace's lock covers the listing
		// (a credential that appears meanwhile is revoked under its own).
		out = partNames(s.activeParts()[:1])
	}
	return out, nil
}

// ownerCredentialsParts lists owner's credentials in every active
// workspace, each naming its workspace; the account's OAuth secrets once,
// through the first workspace that lists them.
func (s *Service) ownerCredentialsParts(ctx context.Context, owner string) (Owned, error) {
	parts := s.activeParts()
	owned, errs := inEachPart(parts, func(p workspacePart) (Owned, error) {
		return p.svc.OwnerCredentials(ctx, owner)
	})
	var out Owned
	var notFound []string
	seen := map[string]bool{}
	var unknown []string
	var unread []Problem
	for i, p := range parts {
		if err := errs[i]; err != nil {
			if strings.HasPrefix(err.Error(), "no Databricks user or service principal") {
				notFound = append(notFound, p.name)
				continue
			}
			if stopsEveryWorkspace(ctx, err) {
				return Owned{}, fmt.Errorf("workspace %s: %w", p.name, err)
			}
			unread = append(unread, unreadProblem(p, err))
			continue
		}
		o := owned[i]
		if out.Principal.ID == "" {
			out.Principal = o.Principal
		}
		for _, c := range o.Credentials {
			if !isTokenKind(c.Kind) {
				if seen[c.ID] {
					continue
				}
				seen[c.ID] = true
			}
			c.Workspace = p.name
			out.Credentials = append(out.Credentials, c)
		}
		if o.Unknown != "" {
			unknown = append(unknown, p.name+": "+o.Unknown)
		}
		out.Problems = mergeProblems(out.Problems, p.name, o.Problems)
	}
	if err := s.checkUnread(unread, "revoke"); err != nil {
		return Owned{}, err
	}
	if len(notFound) == len(parts) {
		return Owned{}, fmt.Errorf("no Databricks user or service principal %q in workspaces %s (users by userName, service principals by display name or application id)", owner, strings.Join(notFound, ", "))
	}
	out.Unknown = strings.Join(unknown, "; ")
	return out, nil
}

// revokeCredentialsParts revokes each credential in its workspace, under
// that workspace's write lock.
func (s *Service) revokeCredentialsParts(ctx context.Context, creds []Credential) (Revocation, error) {
	var out Revocation
	var errs []error
	for _, p := range s.parts {
		var mine []Credential
		for _, c := range creds {
			if c.Workspace == p.name {
				mine = append(mine, c)
			}
		}
		if len(mine) == 0 {
			continue
		}
		rev, err := lockedIn(ctx, s, p, "revoke", func(ctx context.Context, ws *Service) (Revocation, error) {
			return ws.RevokeCredentials(ctx, mine)
		})
		for _, c := range rev.Revoked {
			c.Workspace = p.name
			out.Revoked = append(out.Revoked, c)
		}
		for _, f := range rev.Failed {
			f.Credential.Workspace = p.name
			out.Failed = append(out.Failed, f)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("workspace %s: %w", p.name, err))
		}
	}
	for _, c := range creds {
		if _, ok := s.partNamed(c.Workspace); !ok {
			out.Failed = append(out.Failed, RevokeFailure{Credential: c, Error: "names no workspace of databricks.workspaces"})
			errs = append(errs, fmt.Errorf("%s %s names no workspace of databricks.workspaces", c.Kind, c.ID))
		}
	}
	return out, errors.Join(errs...)
}

// Leaked values.

// WorkspacesOfLeak names the workspace the leaked value authenticates at
// (nil with one workspace); a value that authenticates at none of the
// active workspaces is an error. The value is never kept.
func (s *Service) WorkspacesOfLeak(ctx context.Context, value string) ([]string, error) {
	return s.workspaceOf(func() (workspacePart, error) { return s.leakPart(ctx, value) })
}

// leakPart is the active part whose workspace the value authenticates at
// (a personal access token authenticates at its own workspace only). Every
// active workspace is asked, concurrently, whatever the console shows or
// the run names first: the first in config order that accepts the value is
// its workspace, even when another could not be asked. A value none
// accepts is a *LeakNotFoundError naming each workspace tried and each that
// could not be asked.
func (s *Service) leakPart(ctx context.Context, value string) (workspacePart, error) {
	value = strings.TrimSpace(value)
	probe := &Leak{Redacted: Redact(value), value: value}
	parts := s.activeParts()
	_, errs := inEachPart(parts, func(p workspacePart) (struct{}, error) {
		c, err := p.svc.credentials(ctx)
		if err == nil {
			_, err = probe.me(ctx, c)
		}
		return struct{}{}, err
	})
	nf := &LeakNotFoundError{Redacted: probe.Redacted}
	found := -1
	var unread []Problem
	for i, p := range parts {
		if errs[i] != nil && !isAuth(errs[i]) {
			unread = append(unread, unreadProblem(p, errs[i]))
		}
	}
	for i, p := range parts {
		switch err := errs[i]; {
		case err == nil && found < 0:
			found = i
		case err == nil:
		case isAuth(err):
			nf.Tried = append(nf.Tried, p.name)
		default:
			nf.Unread = append(nf.Unread, WorkspaceError{Workspace: p.name, Err: err})
		}
	}
	if found < 0 {
		return workspacePart{}, nf
	}
	var un error
	if len(unread) > 0 {
		un = &UnsearchedError{What: "a token of the same owner", Unread: unread}
	}
	s.mu.Lock()
	s.unsearched = un
	s.mu.Unlock()
	return parts[found], nil
}

// LeakNotFoundError is a leaked value that authenticates at none of the
// workspaces the service serves: Tried answered that it is no valid token
// there; Unread could not be asked, so the value may be theirs. Nothing
// was revoked. The value is not in it. It does not unwrap to the errors of
// Unread: it is one message (Message) and exit code 1 whatever they were.
type LeakNotFoundError struct {
	Redacted string
	Tried    []string
	Unread   []WorkspaceError
}

// WorkspaceError is why one workspace could not be asked.
type WorkspaceError struct {
	Workspace string
	Err       error
}

func (e *LeakNotFoundError) Error() string {
	var unread []string
	names := make([]string, len(e.Unread))
	for i, u := range e.Unread {
		names[i] = u.Workspace
		unread = append(unread, fmt.Sprintf("workspace %s could not be asked (%s)", u.Workspace, oneLine(u.Err)))
	}
	answers := strings.Join(names, " and ") + " answers"
	if len(names) > 1 {
		answers = strings.Join(names, " and ") + " answer"
	}
	switch {
	case len(e.Unread) == 0:
		return fmt.Sprintf("the token %s does not authenticate at any of the workspaces %s (each was asked): already revoked, expired, or not of these workspaces; nothing was revoked",
			e.Redacted, strings.Join(e.Tried, ", "))
	case len(e.Tried) == 0:
		return fmt.Sprintf("the token %s could not be traced: %s; nothing was revoked: try again once %s",
			e.Redacted, strings.Join(unread, "; "), answers)
	}
	at := "workspace "
	if len(e.Tried) > 1 {
		at = "workspaces "
	}
	return fmt.Sprintf("the token %s does not authenticate at %s%s, and %s: it may be a token of %s, so nothing was revoked: try again once %s",
		e.Redacted, at, strings.Join(e.Tried, ", "), strings.Join(unread, "; "), strings.Join(names, " or "), answers)
}

func (s *Service) findLeakedParts(ctx context.Context, value string) (*Leak, error) {
	p, err := s.leakPart(ctx, value)
	if err != nil {
		return nil, err
	}
	leak, err := p.svc.FindLeaked(ctx, value)
	if err != nil {
		return nil, fmt.Errorf("workspace %s: %w", p.name, err)
	}
	leak.Workspace = p.name
	for _, list := range [][]Credential{leak.Tokens, leak.Secrets, leak.Candidates} {
		for i := range list {
			list[i].Workspace = p.name
		}
	}
	return leak, nil
}

// keepSecretsBoundElsewhere keeps a leaking service principal's OAuth
// secrets (the account's, shared by every workspace) out of the leak's
// revocation when a binding of another workspace may run on one of them:
// that workspace's pipeline would break, and its rotation belongs to that
// workspace. The note says what to run instead.
func (s *Service) keepSecretsBoundElsewhere(leak *Leak) {
	o := leak.Owner
	if o.Type != PrincipalServicePrincipal || len(leak.Secrets) == 0 {
		return
	}
	sp := ServicePrincipal{ID: o.ID, DisplayName: o.Name, ApplicationID: o.ApplicationID}
	var elsewhere []string
	for _, b := range s.Config().Pipelines {
		if b.Workspace != leak.Workspace && b.Credential == config.CredentialOAuthSecret && sp.Named(b.ServicePrincipal) {
			elsewhere = append(elsewhere, b.Name+" (workspace "+b.Workspace+")")
		}
	}
	if len(elsewhere) == 0 {
		return
	}
	note := fmt.Sprintf("OAuth secrets of %s: kept, since pipeline binding(s) %s may run on one; rotate them with `bitbricks rotate`, then run `bitbricks revoke --owner %s`",
		o.Name, strings.Join(elsewhere, ", "), o.Name)
	leak.Secrets = nil
	leak.Unknown = strings.TrimPrefix(leak.Unknown+"; "+note, "; ")
}

func (s *Service) revokeLeakedParts(ctx context.Context, leak *Leak, opts LeakOptions) (LeakRevocation, error) {
	return routed(ctx, s, to(s.activePart(leak.Workspace)), "revoke --leaked", func(ctx context.Context, ws *Service) (LeakRevocation, error) {
		return ws.RevokeLeaked(ctx, leak, opts)
	}, func(res *LeakRevocation, workspace string) {
		for _, list := range [][]Credential{res.Revoked, res.Searched, res.NotTried} {
			for i := range list {
				list[i].Workspace = workspace
			}
		}
		for i := range res.Failed {
			res.Failed[i].Credential.Workspace = workspace
		}
		// The leak was contained in this workspace: a command to finish it
		// stays there (without --workspace, revoke --owner covers every one).
		for i, k := range res.Kept {
			if strings.HasPrefix(k.Command, "bitbricks revoke --owner ") && !strings.Contains(k.Command, "--workspace") {
				res.Kept[i].Command = k.Command + " --workspace " + workspace
			}
		}
	})
}

// Pipeline bindings.

// WorkspacesOfBindings names the active workspaces of the named bindings,
// or of every binding when none is named (nil with one workspace).
func (s *Service) WorkspacesOfBindings(names ...string) ([]string, error) {
	if len(s.parts) == 0 {
		return nil, nil
	}
	var out []string
	add := func(ws string) {
		if !slices.Contains(out, ws) {
			out = append(out, ws)
		}
	}
	if len(names) == 0 {
		active := partNames(s.activeParts())
		for _, b := range s.Config().Pipelines {
			if slices.Contains(active, b.Workspace) {
				add(b.Workspace)
			}
		}
		return out, nil
	}
	for _, name := range names {
		p, err := s.bindingPart(name)
		if err != nil {
			return nil, err
		}
		add(p.name)
	}
	return out, nil
}

// bindingPart is the part of the binding called name's workspace, which
// the run must cover.
func (s *Service) bindingPart(name string) (workspacePart, error) {
	b, err := s.Binding(name)
	if err != nil {
		return workspacePart{}, err
	}
	p, err := s.activePart(b.Workspace)
	if err != nil {
		return workspacePart{}, fmt.Errorf("binding %s: %w", name, err)
	}
	return p, nil
}

func (s *Service) dueBindingsParts(ctx context.Context) ([]DueBinding, []Problem, error) {
	snap, err := s.Read(ctx)
	if err != nil {
		return nil, nil, err
	}
	var due []DueBinding
	var problems []Problem
	for _, ws := range snap.Workspaces {
		p, err := s.activePart(ws.Name)
		if err != nil {
			continue
		}
		due = append(due, DueBindings(ws.Snap, p.svc.Config(), s.now())...)
		problems = mergeProblems(problems, ws.Name, ws.Snap.ProblemList())
	}
	problems = append(problems, snap.Unread...)
	if err := s.checkUnread(problems, "rotate"); err != nil {
		return nil, problems, err
	}
	return due, problems, nil
}

func (s *Service) rotateParts(ctx context.Context, name string) (RotationResult, error) {
	return routed(ctx, s, to(s.bindingPart(name)), "rotate "+name, func(ctx context.Context, ws *Service) (RotationResult, error) {
		return ws.Rotate(ctx, name)
	}, nil)
}

// federationsParts is every binding's federation status, each naming its
// Databricks workspace, from the workspaces snap read.
func (s *Service) federationsParts(snap *Snapshot) []BindingFederation {
	var out []BindingFederation
	for _, ws := range snap.Workspaces {
		p, ok := s.partNamed(ws.Name)
		if !ok {
			continue
		}
		for _, bf := range Federations(ws.Snap, p.svc.Config()) {
			bf.DatabricksWorkspace = ws.Name
			out = append(out, bf)
		}
	}
	// A binding of a workspace that could not be read: status unknown,
	// saying why.
	for _, u := range snap.Unread {
		for _, b := range s.Config().Pipelines {
			if b.Workspace != u.Workspace {
				continue
			}
			out = append(out, BindingFederation{Binding: b.Name, Workspace: s.Config().Bitbucket.Workspace, DatabricksWorkspace: b.Workspace,
				Repository: b.Repository, Environment: b.Environment, Variable: b.Variable, ServicePrincipal: b.ServicePrincipal,
				Credential: string(b.Credential), Status: FederationUnknown, Why: u.Detail, TooBroad: []BroadPolicy{}})
		}
	}
	return out
}

func (s *Service) federateParts(ctx context.Context, name string, dryRun bool) (FederationResult, error) {
	command := "federate " + name
	if dryRun {
		command = "" // writes nothing: no lock
	}
	return routed(ctx, s, to(s.bindingPart(name)), command, func(ctx context.Context, ws *Service) (FederationResult, error) {
		return ws.Federate(ctx, name, dryRun)
	}, nil)
}

func (s *Service) finishEvidenceParts(ctx context.Context, name string) (FinishPlan, error) {
	return routed(ctx, s, to(s.bindingPart(name)), "", func(ctx context.Context, ws *Service) (FinishPlan, error) {
		return ws.FinishEvidence(ctx, name)
	}, nil)
}

func (s *Service) finishFederationParts(ctx context.Context, plan FinishPlan) (FinishResult, error) {
	return routed(ctx, s, to(s.bindingPart(plan.Binding)), "federate "+plan.Binding+" --finish", func(ctx context.Context, ws *Service) (FinishResult, error) {
		return ws.FinishFederation(ctx, plan)
	}, nil)
}

// Saved plans.

// checkSavedScope refuses a saved plan with changes in workspaces this run
// does not cover.
func (s *Service) checkSavedScope(saved SavedPlan) error {
	covered := partNames(s.activeParts())
	var outside []string
	n := 0
	for _, c := range saved.Plan.Changes {
		if !slices.Contains(covered, c.Workspace) {
			n++
			if !slices.Contains(outside, c.Workspace) {
				outside = append(outside, c.Workspace)
			}
		}
	}
	if n == 0 {
		return nil
	}
	s.mu.Lock()
	limited := len(s.only) > 0
	s.mu.Unlock()
	return &SavedPlanScopeError{Outside: outside, Changes: n, Covered: covered, Limited: limited}
}

// Config edits (map, re-map).

// setConfig makes next the config of the service and of each part.
func (s *Service) setConfig(next *config.Config) {
	s.mu.Lock()
	s.cfg = next
	s.mu.Unlock()
	for _, p := range s.parts {
		sub, ok := next.ForWorkspace(p.name)
		if !ok {
			continue
		}
		p.svc.mu.Lock()
		p.svc.cfg = sub
		p.svc.mu.Unlock()
	}
}

// mappingParts are the parts whose plans a change of mapping m changes:
// the workspaces it names, or all.
func (s *Service) mappingParts(m config.Mapping) []workspacePart {
	var out []workspacePart
	for _, p := range s.parts {
		if m.AppliesTo(p.name) {
			out = append(out, p)
		}
	}
	return out
}

// editingConfig runs fn, an edit of the config file that changes mapping
// m, holding the write lock of every workspace whose plan it changes (with
// one workspace, its lock).
func (s *Service) editingConfig(ctx context.Context, command string, m config.Mapping, fn func(context.Context) error) error {
	if len(s.parts) == 0 {
		return s.Writing(ctx, command, fn)
	}
	return s.writingIn(ctx, command, s.mappingParts(m), fn)
}

// mappingScope names, for the audit line of an edit of mapping m, the
// workspaces it applies to (nothing with one workspace).
func (s *Service) mappingScope(m config.Mapping) string {
	if len(s.parts) == 0 {
		return ""
	}
	return " workspaces:" + strings.Join(partNames(s.mappingParts(m)), ",")
}

// auditTarget is target naming the workspace of a config narrowed to one
// of several, so each audit line of a credential operation says where it
// acted.
func (c *Credentials) auditTarget(target string) string {
	if c.Config == nil {
		return target
	}
	return workspaceTarget(target, c.Config.Databricks.Workspace)
}

// WorkspacesOfPlan names the workspaces plan's changes are in (nil with one
// workspace); a *SavedPlanScopeError when some are outside the run.
func (s *Service) WorkspacesOfPlan(plan Plan) ([]string, error) {
	if len(s.parts) == 0 {
		return nil, nil
	}
	if err := s.checkSavedScope(SavedPlan{Plan: plan}); err != nil {
		return nil, err
	}
	var out []string
	for _, p := range s.activeParts() {
		if slices.ContainsFunc(plan.Changes, func(c Change) bool { return c.Workspace == p.name }) {
			out = append(out, p.name)
		}
	}
	return out, nil
}

// WritingIn is Writing holding the locks of the named workspaces only (as
// the WorkspacesOf* methods name them). With one workspace, or no names,
// it is Writing.
func (s *Service) WritingIn(ctx context.Context, command string, workspaces []string, fn func(context.Context) error) error {
	if len(s.parts) == 0 || len(workspaces) == 0 {
		return s.Writing(ctx, command, fn)
	}
	var parts []workspacePart
	for _, name := range workspaces {
		p, err := s.activePart(name)
		if err != nil {
			return err
		}
		parts = append(parts, p)
	}
	return s.writingIn(ctx, command, parts, fn)
}

// isAccountMembership reports whether c changes the membership of an
// account group: shared by every workspace, planned once, in the first
// workspace of the run that calls for it.
func isAccountMembership(c Change) bool {
	return c.GroupKind == KindAccount && (c.Action == ActionAddMember || c.Action == ActionRemoveMember)
}

// alignAccountChanges names, in fresh, each account group membership
// change with the workspace saved names it with: which workspace plans it
// depends on the run's workspaces (a plan saved with --workspace dev has
// it in dev, one over prod and dev in prod), and it is the same change.
func alignAccountChanges(saved SavedPlan, fresh Plan) Plan {
	bare := func(c Change) string { return strings.TrimPrefix(c.ID, c.Workspace+":") }
	where := map[string]string{}
	for _, c := range saved.Plan.Changes {
		if isAccountMembership(c) {
			where[bare(c)] = c.Workspace
		}
	}
	out := fresh
	out.Changes = slices.Clone(fresh.Changes)
	for i, c := range out.Changes {
		if ws, ok := where[bare(c)]; ok && isAccountMembership(c) && ws != c.Workspace {
			out.Changes[i].ID, out.Changes[i].Workspace = ws+":"+bare(c), ws
		}
	}
	return out
}

// tagged is creds, each naming this part's workspace where it names none.
func (s *Service) tagged(creds []Credential) []Credential {
	out := slices.Clone(creds)
	for i := range out {
		if out[i].Workspace == "" {
			out[i].Workspace = s.Config().Databricks.Workspace
		}
	}
	return out
}
