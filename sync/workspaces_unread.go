package sync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// One workspace of several that cannot be read.
//
// A workspace that does not answer (refused or dropped connections, 5xx,
// a timeout) or rejects bitbricks' credential does not stop the others:
// reads (the plan, tokens, pipelines) show what the other workspaces
// answered and name the unread one as a problem (exit 1); a search by id or
// by value acts where it finds and says which workspaces it could not
// search; a write over several workspaces (sync --apply, rotate --due,
// revoke --owner) is refused whole, naming the unread workspace and the
// run that leaves it out. An account group's membership, shared by every
// workspace, is never changed from a partial read.

// WhatWorkspace is the What of the problem of a workspace that could not
// be read at all.
const WhatWorkspace = "all reads"

// unreadDetail is why workspace name at host could not be read, one line
// telling an outage from a refused credential.
func unreadDetail(name, host string, err error) string {
	at := "workspace " + name
	if host != "" {
		at += " (" + host + ")"
	}
	var se *SystemError
	status := httpStatus(err)
	cause := err
	if errors.As(err, &se) && se.Err != nil {
		cause = se.Err
		if status == 0 {
			status = httpStatus(se.Err)
		}
	}
	switch {
	case status == 0 && noCredential(err):
		return fmt.Sprintf("workspace %s has no credential bitbricks can use (%s): a credential problem, not an outage: set DATABRICKS_TOKEN to a personal access token of that workspace, or give the entry a profile with one (or with OAuth)",
			strings.TrimPrefix(at, "workspace "), noCredentialCause(cause))
	case status == http.StatusUnauthorized || status == http.StatusForbidden || invalidToken(err):
		check := "the token or profile bitbricks uses for it"
		if se != nil && se.Check != "" {
			check = se.Check
		}
		return fmt.Sprintf("%s rejected bitbricks' credential (HTTP %d): check %s", at, status, check)
	case status >= 500:
		return fmt.Sprintf("%s answered HTTP %d (%s): an outage there, not a credential problem", at, status, oneLine(cause))
	case status != 0:
		return fmt.Sprintf("%s answered HTTP %d (%s)", at, status, oneLine(cause))
	}
	return fmt.Sprintf("%s is unreachable (%s): an outage there, not a credential problem", at, oneLine(cause))
}

// partHost is the Databricks host of part p, or "".
func partHost(p workspacePart) string {
	if h, ok := p.svc.src.Databricks.(interface{ Host() string }); ok {
		return h.Host()
	}
	return ""
}

// unreadProblem is the problem of part p that could not be read.
func unreadProblem(p workspacePart, err error) Problem {
	st := httpStatus(err)
	var se *SystemError
	if st == 0 && errors.As(err, &se) && se.Err != nil {
		st = httpStatus(se.Err)
	}
	return Problem{System: SystemDatabricks, What: WhatWorkspace, Workspace: p.name, Status: st, Detail: unreadDetail(p.name, partHost(p), err),
		NoCredential: st == 0 && noCredential(err)}
}

// stopsEveryWorkspace reports an error of one workspace's read that is not
// that workspace's alone: Bitbucket or the Atlassian directory (shared by
// every workspace), a host that is not the workspace named, a cancelled run.
func stopsEveryWorkspace(ctx context.Context, err error) bool {
	var se *SystemError
	var ident *WorkspaceIdentityError
	switch {
	case ctx.Err() != nil, errors.Is(err, context.Canceled):
		return true
	case errors.As(err, &ident):
		return true
	case errors.As(err, &se) && se.System != SystemDatabricks:
		return true
	}
	return false
}

// UnreadProblems are the problems of plan naming a workspace that could
// not be read at all.
func UnreadProblems(ps []Problem) []Problem {
	var out []Problem
	for _, p := range ps {
		if p.System == SystemDatabricks && p.What == WhatWorkspace && p.Workspace != "" {
			out = append(out, p)
		}
	}
	return out
}

// PartialReadRule is why a write over several workspaces is refused when
// one of them could not be read.
const PartialReadRule = "a run over several workspaces does not write from a partial read (an account group's membership is shared by all of them)"

// UnreadWorkspacesError refuses a write over several workspaces when some
// could not be read: nothing was written (exit code 1).
type UnreadWorkspacesError struct {
	Unread []Problem // each workspace not read, with why
	Others []string  // the run's workspaces that were read
	Verb   string    // "apply", "rotate", "revoke"
}

func (e *UnreadWorkspacesError) Error() string {
	var why []string
	for _, p := range e.Unread {
		why = append(why, p.Detail)
	}
	verb := e.Verb
	if verb == "" {
		verb = "apply"
	}
	done := map[string]string{"apply": "applied", "rotate": "rotated", "revoke": "revoked"}[verb]
	msg := fmt.Sprintf("refused: %s, so nothing was %s: %s", strings.Join(why, "; "), done, PartialReadRule)
	if len(e.Others) > 0 {
		msg += fmt.Sprintf("; to %s the others only: --workspace %s", verb, strings.Join(e.Others, " --workspace "))
	}
	if e.Unwrap() != nil {
		return msg + "; or run again once its credential is set"
	}
	return msg + "; or retry once it answers"
}

// Unwrap is a *NoCredentialError when a workspace was not read for want of
// any credential (a setting to fix: exit code 3).
func (e *UnreadWorkspacesError) Unwrap() error {
	for _, p := range e.Unread {
		if p.NoCredential {
			return &NoCredentialError{Workspace: p.Workspace}
		}
	}
	return nil
}

// UnreadNames are the workspaces e names as not read.
func (e *UnreadWorkspacesError) UnreadNames() []string {
	var out []string
	for _, p := range e.Unread {
		out = append(out, p.Workspace)
	}
	return out
}

// checkUnread is an *UnreadWorkspacesError when problems name unread
// workspaces, else nil.
func (s *Service) checkUnread(problems []Problem, verb string) error {
	unread := UnreadProblems(problems)
	if len(unread) == 0 {
		return nil
	}
	var others []string
	for _, p := range s.activeParts() {
		if !slices.ContainsFunc(unread, func(u Problem) bool { return u.Workspace == p.name }) {
			others = append(others, p.name)
		}
	}
	return &UnreadWorkspacesError{Unread: unread, Others: others, Verb: verb}
}

// UnsearchedError is a search by id or by value over several workspaces
// that found and acted in one, but could not search others: what it did is
// reported; this says the search was incomplete (exit code 1).
type UnsearchedError struct {
	What   string    // "the token 0e9c…"
	Unread []Problem // the workspaces not searched, with why
}

func (e *UnsearchedError) Error() string {
	var parts []string
	for _, p := range e.Unread {
		parts = append(parts, fmt.Sprintf("workspace %s could not be read, so it was not searched: %s; %s may also be there: retry when it answers", p.Workspace, p.Detail, e.What))
	}
	return strings.Join(parts, "; ")
}

// WorkspaceFailure is why one or more workspaces of several could not be
// read or searched, naming each (the outage or the credential to check).
type WorkspaceFailure struct {
	Detail string
	Err    error
}

func (e *WorkspaceFailure) Error() string { return e.Detail }
func (e *WorkspaceFailure) Unwrap() error { return e.Err }

// partFailure is err of part p as a *WorkspaceFailure.
func partFailure(p workspacePart, err error) error {
	var wf *WorkspaceFailure
	if err == nil || errors.As(err, &wf) {
		return err
	}
	return &WorkspaceFailure{Detail: unreadDetail(p.name, partHost(p), err), Err: err}
}
