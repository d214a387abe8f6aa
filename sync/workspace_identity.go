package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	gosync "sync"

	"github.com/bitbricks/bitbricks/config"
)

// A workspace's identity: a host is the workspace it is claimed to be.
//
// The account lists each workspace with its workspace_id; a workspace
// answers GET /api/2.0/preview/scim/v2/Me with that id in the
// X-Databricks-Org-Id header (what the SDK's CurrentWorkspaceID reads).
// When the id of a workspace is known (discovered by `workspaces: all`),
// its client confirms the id before its first request is answered: a host
// that answers as another workspace (a wrong BITBRICKS_WORKSPACE_HOSTS
// entry, a profile of another workspace) is refused, for that request and
// every later one, so nothing of the other workspace is read or written.

// orgIDHeader carries a workspace's id on its answers.
const orgIDHeader = "X-Databricks-Org-Id"

// mePath is the SCIM Me endpoint, whose answer names the workspace.
const mePath = "/api/2.0/preview/scim/v2/Me"

// workspaceIdentity is what the account says a workspace is, and where its
// host came from (for the refusal).
type workspaceIdentity struct {
	ID   int64  // the account's workspace_id
	Name string // the workspace's name in this run
	From string // where its host came from: "BITBRICKS_WORKSPACE_HOSTS", ...
	// Claim is who says the workspace has ID: "" the account (discovered),
	// else the config ("databricks.workspaces[0].workspace_id").
	Claim string
}

// WorkspaceIdentityError is a workspace whose host answers as another
// workspace (or does not say which it is): refused before anything is
// read or written there.
type WorkspaceIdentityError struct {
	Name string // the workspace's name in this run
	Host string
	From string // where the host came from
	Want int64  // the account's workspace_id for Name
	Got  int64  // the id the host answers with; 0 when it gives none
	// Claim is who says Name is Want: "" the account's list, else the
	// config key.
	Claim string
}

// fix is what to correct.
func (e *WorkspaceIdentityError) fix() string {
	if e.Claim != "" {
		return "that host or " + e.Claim
	}
	return "that host"
}

// says is who says the workspace is Want.
func (e *WorkspaceIdentityError) says() string {
	if e.Claim != "" {
		return fmt.Sprintf("%s says %s is workspace id %d", e.Claim, e.Name, e.Want)
	}
	return fmt.Sprintf("the account lists %s as workspace id %d", e.Name, e.Want)
}

func (e *WorkspaceIdentityError) Error() string {
	if e.Got == 0 {
		return fmt.Sprintf("refused: %s (host of workspace %s, from %s) does not say which workspace it is (no %s on its answer to %s), so it cannot be confirmed (%s): nothing was read or written there",
			e.Host, e.Name, e.From, orgIDHeader, mePath, e.says())
	}
	return fmt.Sprintf("refused: %s (host of workspace %s, from %s) is workspace id %d, but %s: correct %s; nothing was read or written there",
		e.Host, e.Name, e.From, e.Got, e.says(), e.fix())
}

// identityGate is the workspace client's transport when the workspace's id
// is known: it confirms the id (from the answer to Me) before any other
// request of the workspace API goes out, and refuses every request once a
// host answered as another workspace.
type identityGate struct {
	base http.RoundTripper
	want workspaceIdentity

	mu      gosync.Mutex
	ok      bool  // the host answered as the workspace
	refused error // *WorkspaceIdentityError, for good
}

func (g *identityGate) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(req.URL.Path, "/api/") {
		return g.base.RoundTrip(req) // OAuth and host metadata: not the workspace's API
	}
	// Me's own answer says which workspace this is: it needs no probe.
	me := req.Method == http.MethodGet && req.URL.Path == mePath
	if me {
		if err := g.refusal(); err != nil {
			return nil, err
		}
	} else if err := g.confirm(req); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, err := g.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	// Every answer that names its workspace is checked too; a successful
	// answer to Me must name it.
	if e := g.judge(req, resp.Header, me && resp.StatusCode/100 == 2); e != nil {
		drain(resp)
		return nil, e
	}
	return resp, nil
}

// refusal is the refusal of the workspace, once refused.
func (g *identityGate) refusal() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refused
}

// confirm asks the host which workspace it is, once it has answered as
// the workspace; a request that cannot be confirmed is let through only
// when it reads (its answer is still checked), never when it writes.
func (g *identityGate) confirm(req *http.Request) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refused != nil {
		return g.refused
	}
	if g.ok {
		return nil
	}
	probe, err := http.NewRequestWithContext(req.Context(), http.MethodGet, req.URL.Scheme+"://"+req.URL.Host+mePath, nil)
	if err != nil {
		return err
	}
	for k, v := range req.Header {
		if k == "Authorization" || strings.HasPrefix(k, "X-Databricks-") || k == "User-Agent" {
			probe.Header[k] = v
		}
	}
	resp, err := g.base.RoundTrip(probe)
	why := ""
	switch {
	case err != nil:
		why = oneLine(err)
	case resp.StatusCode/100 != 2:
		why = resp.Status
		drain(resp)
	default:
		e := g.judgeLocked(req, resp.Header, true)
		drain(resp)
		if e != nil {
			return e
		}
	}
	if !g.ok && req.Method != http.MethodGet {
		return fmt.Errorf("cannot confirm that %s is the account's workspace %s (id %d) before writing (%s answered %s)",
			hostOf(req), g.want.Name, g.want.ID, mePath, why)
	}
	return nil
}

// judge checks the workspace id of an answer: a different one refuses the
// workspace for good; none is a refusal only when required (Me's answer).
func (g *identityGate) judge(req *http.Request, h http.Header, required bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.judgeLocked(req, h, required)
}

func (g *identityGate) judgeLocked(req *http.Request, h http.Header, required bool) error {
	if g.refused != nil {
		return g.refused
	}
	v := strings.TrimSpace(h.Get(orgIDHeader))
	if v == "" && !required {
		return nil
	}
	got, _ := strconv.ParseInt(v, 10, 64)
	if got == g.want.ID {
		g.ok = true
		return nil
	}
	g.refused = &WorkspaceIdentityError{Name: g.want.Name, Host: hostOf(req), From: g.want.From, Want: g.want.ID, Got: got, Claim: g.want.Claim}
	return g.refused
}

// confirmed reports whether the host has answered as the workspace.
func (g *identityGate) confirmed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ok && g.refused == nil
}

func hostOf(req *http.Request) string { return req.URL.Scheme + "://" + req.URL.Host }

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
}

// checkIdentity confirms, when the workspace's id is known, that its host
// answers as that workspace: a *WorkspaceIdentityError when it does not;
// nil when it does, or when it cannot be asked (the read or write that
// follows reports that failure as usual, and a write is still refused
// unconfirmed).
func (d *Databricks) checkIdentity(ctx context.Context) error {
	if d.ident == nil || d.ident.confirmed() {
		return nil
	}
	_, err := d.w.CurrentWorkspaceID(ctx)
	var e *WorkspaceIdentityError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// checkPartIdentity is checkIdentity for a part's Databricks source.
func checkPartIdentity(ctx context.Context, p workspacePart) error {
	if c, ok := p.svc.src.Databricks.(interface{ checkIdentity(context.Context) error }); ok {
		return c.checkIdentity(ctx)
	}
	return nil
}

// identityOf is what workspace w (entry i of the config's list) must be:
// the account's id of a discovered workspace, else the workspace_id the
// config gives it; no ID when neither is known.
func identityOf(discovered map[string]workspaceIdentity, w config.Workspace, i int) workspaceIdentity {
	if id, ok := discovered[w.Name]; ok {
		return id
	}
	n, err := strconv.ParseInt(w.WorkspaceID, 10, 64)
	if err != nil || n <= 0 {
		return workspaceIdentity{}
	}
	from := fmt.Sprintf("databricks.workspaces[%d].host", i)
	if w.Profile != "" {
		from = fmt.Sprintf("the profile %q of databricks.workspaces[%d]", w.Profile, i)
	}
	return workspaceIdentity{ID: n, Name: w.Name, From: from, Claim: fmt.Sprintf("databricks.workspaces[%d].workspace_id", i)}
}
