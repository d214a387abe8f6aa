package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/retries"
	bitbucket "github.com/ktrysmt/go-bitbucket"
)

// Systems named in errors and source problems.
const (
	SystemBitbucket  = "bitbucket"
	SystemAtlassian  = "atlassian"
	SystemDatabricks = "databricks"
)

// GuardError is a plan refused by a safety guard before anything changed.
type GuardError struct {
	Changes int // changes in the plan
	Max     int // the limit in force
}

func (e *GuardError) Error() string {
	return fmt.Sprintf("refused: the plan has %d changes, more than max_changes %d (review the plan, then raise policy.max_changes or pass --max-changes %d)",
		e.Changes, e.Max, e.Changes)
}

// SystemError is a problem with one whole system that stops a run: bad
// credentials or an unreachable host. Its message is one line naming the
// system and what to check.
type SystemError struct {
	System  string // SystemBitbucket, ...
	Problem string // "authentication failed at https://..."
	Check   string // "BITBUCKET_API_TOKEN and BITBUCKET_USERNAME"
	Err     error
}

func (e *SystemError) Error() string {
	return fmt.Sprintf("%s: %s (check %s)", e.System, e.Problem, e.Check)
}

func (e *SystemError) Unwrap() error { return e.Err }

// ExitCode is the process exit code for err: 0 for nil, 3 for a plan refused
// by a safety guard, another writer holding the write lock, a saved plan
// that no longer holds, a change refused in read-only mode or account work
// with no credential the account API takes; 1 for everything else.
func ExitCode(err error) int {
	var g *GuardError
	var held *LockHeldError
	var stale *StalePlanError
	var f *FederationRefusal
	var ro *ReadOnlyError
	var force *ForceError
	var choice *WorkspaceChoiceError
	var scope *SavedPlanScopeError
	var ident *WorkspaceIdentityError
	var reach *FederationReachError
	var same *SameWorkspaceError
	var unlock *UnlockRefused
	var acct *AccountCredentialError
	var noCred *NoCredentialError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &g), errors.As(err, &held), errors.As(err, &stale), errors.As(err, &f), errors.As(err, &ro), errors.As(err, &force), errors.As(err, &choice), errors.As(err, &scope),
		errors.As(err, &ident), errors.As(err, &reach), errors.As(err, &same), errors.As(err, &unlock), errors.As(err, &acct), errors.As(err, &noCred):
		return 3
	}
	return 1
}

// Message is err as one line for a user: a SystemError or GuardError as is,
// anything else with its line breaks folded.
func Message(err error) string {
	if err == nil {
		return ""
	}
	var s *SystemError
	var g *GuardError
	var wf *WorkspaceFailure
	switch {
	case errors.As(err, &wf):
		return strings.Join(strings.Fields(err.Error()), " ")
	case errors.As(err, &s):
		return s.Error()
	case errors.As(err, &g):
		return g.Error()
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// httpStatus is the HTTP status behind err from any of the clients, or 0.
func httpStatus(err error) int {
	var ae *apierr.APIError
	var be *bitbucket.UnexpectedResponseStatusError
	var se *statusError
	switch {
	case errors.As(err, &ae):
		return ae.StatusCode
	case errors.As(err, &be):
		return be.StatusCode
	case errors.As(err, &se):
		return se.StatusCode
	}
	return 0
}

// isAuth reports a rejected credential (401) or a missing permission (403).
func isAuth(err error) bool {
	s := httpStatus(err)
	return s == http.StatusUnauthorized || s == http.StatusForbidden
}

// invalidToken reports Databricks' answer to an unknown, revoked or expired
// token: 403 with "Invalid access token." (a missing one gets 401).
func invalidToken(err error) bool {
	return httpStatus(err) == http.StatusForbidden && strings.Contains(strings.ToLower(err.Error()), "invalid access token")
}

// isUnreachable reports a host that could not be reached: refused, unknown,
// timed out, or given up on after the SDK's retries. A connection dropped
// mid-answer is not: that is a problem of one source, not of the host.
func isUnreachable(err error) bool {
	if err == nil || httpStatus(err) != 0 || errors.Is(err, context.Canceled) {
		return false
	}
	var oe *net.OpError
	var de *net.DNSError
	var ne net.Error
	var te *retries.ErrTimedOut
	return (errors.As(err, &oe) && oe.Op == "dial") || errors.As(err, &de) ||
		(errors.As(err, &ne) && ne.Timeout()) || errors.As(err, &te)
}

// fatal turns an authentication or connection failure into a SystemError,
// and returns nil for anything else (a problem for one source only).
// authCheck and reachCheck say what to check for each kind of failure.
func fatal(system, at, authCheck, reachCheck string, err error) error {
	var se *SystemError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return se
	case httpStatus(err) == http.StatusUnauthorized, invalidToken(err):
		return &SystemError{System: system, Problem: "authentication failed at " + at, Check: authCheck, Err: err}
	case httpStatus(err) == http.StatusForbidden:
		return &SystemError{System: system, Problem: "access denied at " + at, Check: authCheck, Err: err}
	case isUnreachable(err):
		return &SystemError{System: system, Problem: "cannot reach " + at, Check: reachCheck, Err: err}
	}
	return nil
}

// statusError is a non-2xx answer of the raw HTTP clients.
type statusError struct {
	StatusCode int
	URL        string
	Body       string
}

func (e *statusError) Error() string {
	msg := strings.Join(strings.Fields(e.Body), " ")
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if e.URL == "" && msg != "" {
		return msg
	}
	if msg == "" {
		return fmt.Sprintf("%s: HTTP %d", e.URL, e.StatusCode)
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.URL, e.StatusCode, msg)
}

// oneLine shortens err to a single line for a SourceProblem or a Result.
func oneLine(err error) string {
	var be *bitbucket.UnexpectedResponseStatusError
	if errors.As(err, &be) {
		return strings.Join(strings.Fields(be.ErrorWithBody().Error()), " ")
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// connectionLost reports a connection that broke before an answer: closed
// (EOF), reset or refused; an outage of the host, not a credential.
func connectionLost(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &ne) || isUnreachable(err)
}
