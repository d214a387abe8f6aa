package sync

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/databricks/databricks-sdk-go/apierr"
)

// ThrottledChanges is how many changes in a row one API (a workspace, or
// the account) may fail by throttling before Apply leaves it alone for the
// rest of the run. The SDK retries a throttled request for its whole retry
// budget (30 s), so without this a workspace that keeps answering 429 costs
// that much per change, change after change, and a pipeline's step timeout
// ends the run mid-apply.
const ThrottledChanges = 3

// throttleBreaker counts, per API a change goes through (throttleKey), the
// changes in a row that failed by throttling (throttled), and gives that
// API up after ThrottledChanges of them.
type throttleBreaker struct {
	workspace string // the workspace of the run, for the reason ("" with one)
	runs      map[string]*throttleRun
}

type throttleRun struct {
	failures int
	status   int    // the HTTP status of the last one
	code     string // its error code, when it says more than the status
}

// throttleKey is the API change c goes through: the account's (account
// SCIM and workspace assignment, service principal secrets) or the
// workspace's (everything else, the workspace-proxied account SCIM
// included); "" for a change the breaker leaves alone (a rotation, which
// goes through Bitbucket too).
func throttleKey(c Change) string {
	switch {
	case c.Action == ActionRotateCredential:
		return ""
	case c.Action == ActionAssignWorkspace, c.Action == ActionUnassignWorkspace, c.Action == ActionRevokeSecret:
		return "account"
	case (c.Action == ActionCreateGroup || c.Action == ActionAddMember || c.Action == ActionRemoveMember) && c.Route == RouteAccount:
		return "account"
	}
	return "workspace"
}

// open is why change c is not to be tried: "" while its API is not given up.
func (b *throttleBreaker) open(c Change) string {
	k := throttleKey(c)
	r := b.runs[k]
	if k == "" || r == nil || r.failures < ThrottledChanges {
		return ""
	}
	what := "the account API"
	switch {
	case k == "workspace" && b.workspace != "":
		what = "workspace " + b.workspace
	case k == "workspace":
		what = "the workspace"
	}
	answer := fmt.Sprintf("HTTP %d", r.status)
	if r.code != "" {
		answer += " " + r.code
	}
	return fmt.Sprintf("%s is throttling (%s ×%d): nothing more was tried there; retry later", what, answer, r.failures)
}

// record notes the outcome of change c (err nil: made).
func (b *throttleBreaker) record(c Change, err error) {
	k := throttleKey(c)
	if k == "" {
		return
	}
	status, code, ok := throttled(err)
	if !ok {
		delete(b.runs, k)
		return
	}
	if b.runs == nil {
		b.runs = map[string]*throttleRun{}
	}
	r := b.runs[k]
	if r == nil {
		r = &throttleRun{}
		b.runs[k] = r
	}
	r.failures++
	r.status, r.code = status, code
}

// throttled reports an error that is the service declining for load, after
// the SDK's retries: HTTP 429 or 503, or an error code that says so (SCIM's
// 500 REQUEST_LIMIT_EXCEEDED); code is the error code when the status alone
// does not say it.
func throttled(err error) (status int, code string, ok bool) {
	if err == nil {
		return 0, "", false
	}
	status = httpStatus(err)
	var ae *apierr.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode
	}
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return status, "", true
	case code == "REQUEST_LIMIT_EXCEEDED" || code == "TEMPORARILY_UNAVAILABLE" || code == "TOO_MANY_REQUESTS":
		return status, code, true
	}
	return 0, "", false
}
