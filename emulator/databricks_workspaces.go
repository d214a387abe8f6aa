package emulator

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Several workspaces in one account.
//
// An account's users, service principals, account groups (and their
// members), OAuth secrets, federation policies and volumes are shared by
// every workspace; each workspace has its own host, tokens, workspace-local
// groups, settings, and its own entitlements and assignment of the shared
// principals and account groups. Each workspace is one DatabricksState: the
// shared principals and account groups appear in each (unassigned where the
// account has not assigned them), and a write through one workspace is
// replicated to the others' copies of what is shared. Org.DB is the first
// workspace; a request runs with Org.DB set to the workspace it addresses
// (its host, or the workspace id in an account path).

// workspaceKey carries the name of the workspace a listener serves.
type workspaceKey struct{}

// WorkspaceHandler serves the named workspace's host: the same APIs as
// Handler, with the workspace APIs acting on that workspace. Serve it on a
// listener of its own (each workspace has its own host, as the SDK expects).
func (s *Server) WorkspaceHandler(name string) http.Handler {
	h := s.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), workspaceKey{}, name)))
	})
}

// WorkspaceInfo names one workspace of the account.
type WorkspaceInfo struct {
	Name string
	ID   int64
}

// WorkspaceList lists the account's workspaces, the first (Org.DB) first.
// An organisation built with one workspace lists that one.
func (o *Org) WorkspaceList() []WorkspaceInfo {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	if len(o.Workspaces) == 0 {
		return []WorkspaceInfo{{Name: o.DB.Name, ID: o.DB.WorkspaceID}}
	}
	out := make([]WorkspaceInfo, len(o.Workspaces))
	for i, st := range o.Workspaces {
		out[i] = WorkspaceInfo{Name: st.Name, ID: st.WorkspaceID}
	}
	return out
}

// AddWorkspace adds a workspace to the account. The first call also names
// Org.DB's workspace (first, its name). The new workspace sees every
// account principal and account group, none of them assigned, with no
// entitlements; its settings start as the first workspace's.
func (o *Org) AddWorkspace(first, name string, id int64) *DatabricksState {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	if len(o.Workspaces) == 0 {
		if o.DB.Name == "" {
			o.DB.Name = first
		}
		o.Workspaces = []*DatabricksState{o.DB}
	}
	p := o.DB
	if p.OAuthTokens == nil {
		p.OAuthTokens = map[string]*DBOAuthToken{}
	}
	st := &DatabricksState{
		Name: name, AccountID: p.AccountID, WorkspaceID: id,
		Conf:              maps.Clone(p.Conf),
		Users:             map[string]*DBUser{},
		Groups:            map[string]*DBGroup{},
		ServicePrincipals: map[string]*DBServicePrincipal{},
		Tokens:            map[string]*DBToken{},
		TokensByValue:     map[string]*DBToken{},
		NextID:            p.NextID,
	}
	shareAccount(p, st)
	replicateAccount(p, st)
	o.Workspaces = append(o.Workspaces, st)
	return st
}

// InWorkspace runs fn with Org.DB set to the named workspace, so the
// builders (AddDBUser, AddToken, ...) act on it; what fn changes of the
// account is then replicated to the other workspaces. For seeds and tests.
func (o *Org) InWorkspace(name string, fn func(st *DatabricksState)) {
	o.Mu.Lock()
	st := o.workspaceNamed(name)
	if st == nil {
		o.Mu.Unlock()
		panic("emulator: no workspace " + name)
	}
	primary := o.enter(st)
	o.Mu.Unlock()
	fn(st)
	o.Mu.Lock()
	o.leave(st, primary, true)
	o.Mu.Unlock()
}

// Workspace returns the named workspace's state (nil: none). Callers that
// read or change it hold Org.Mu.
func (o *Org) Workspace(name string) *DatabricksState {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	return o.workspaceNamed(name)
}

func (o *Org) workspaceNamed(name string) *DatabricksState {
	for _, st := range o.Workspaces {
		if st.Name == name {
			return st
		}
	}
	if len(o.Workspaces) == 0 && (name == "" || name == o.DB.Name) {
		return o.DB
	}
	return nil
}

// workspaceFor picks the workspace a request authenticates at: the host's
// workspace, else the first. Callers hold o.Mu.
func (o *Org) workspaceFor(r *http.Request) *DatabricksState {
	if len(o.Workspaces) == 0 {
		return o.DB
	}
	if strings.HasPrefix(r.URL.Path, "/api/2.0/accounts/") {
		// The account host takes an account admin's token of any of the
		// account's workspaces.
		value, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		for _, st := range o.Workspaces {
			if value != "" && st.TokensByValue[value] != nil {
				return st
			}
		}
	}
	if name, _ := r.Context().Value(workspaceKey{}).(string); name != "" {
		if st := o.workspaceNamed(name); st != nil {
			return st
		}
	}
	return o.Workspaces[0]
}

// pathWorkspace is the workspace an account path names by id (nil: none of
// the account's several, or no id in the path). Callers hold o.Mu.
func (o *Org) pathWorkspace(r *http.Request) *DatabricksState {
	id := r.PathValue("workspace_id")
	if id == "" || len(o.Workspaces) == 0 {
		return nil
	}
	for _, st := range o.Workspaces {
		if strconv.FormatInt(st.WorkspaceID, 10) == id {
			return st
		}
	}
	return nil
}

// enter makes st the current workspace (Org.DB) and returns the first one.
// Callers hold o.Mu.
func (o *Org) enter(st *DatabricksState) *DatabricksState {
	primary := o.DB
	if len(o.Workspaces) > 0 {
		primary = o.Workspaces[0]
	}
	if st == primary {
		return primary
	}
	shareAccount(primary, st)
	st.NextID = max(st.NextID, primary.NextID)
	o.DB = st
	return primary
}

// leave restores the first workspace as Org.DB after a request in st; a
// write is replicated to the other workspaces. Callers hold o.Mu.
func (o *Org) leave(st, primary *DatabricksState, wrote bool) {
	o.DB = primary
	if len(o.Workspaces) < 2 {
		return
	}
	if st != primary {
		primary.NextID = max(primary.NextID, st.NextID)
		shareAccount(st, primary) // maps made on first use (volumes, OAuth tokens)
	}
	if !wrote {
		return
	}
	for _, other := range o.Workspaces {
		if other != st {
			other.NextID = max(other.NextID, st.NextID)
			replicateAccount(st, other)
		}
	}
}

// shareAccount points to's account-wide maps at from's.
func shareAccount(from, to *DatabricksState) {
	if from.OAuthTokens == nil {
		from.OAuthTokens = map[string]*DBOAuthToken{}
	}
	if from.Volumes == nil && to.Volumes != nil {
		from.Volumes = to.Volumes
	}
	to.AccountID = from.AccountID
	to.Secrets, to.FederationPolicies, to.OAuthTokens, to.Volumes = from.Secrets, from.FederationPolicies, from.OAuthTokens, from.Volumes
}

// replicateAccount copies what the account shares (principals, account
// groups and their members) from one workspace's state to another's,
// keeping to's per-workspace assignment and entitlements.
func replicateAccount(from, to *DatabricksState) {
	for id, u := range from.Users {
		t := to.Users[id]
		if t == nil {
			c := *u
			c.Assigned, c.Admin, c.Entitlements = false, false, nil
			to.Users[id] = &c
			continue
		}
		t.UserName, t.DisplayName, t.GivenName, t.FamilyName = u.UserName, u.DisplayName, u.GivenName, u.FamilyName
		t.Active, t.ExternalID, t.AccountAdmin = u.Active, u.ExternalID, u.AccountAdmin
	}
	for id := range to.Users {
		if from.Users[id] == nil {
			delete(to.Users, id)
		}
	}
	for id, sp := range from.ServicePrincipals {
		t := to.ServicePrincipals[id]
		if t == nil {
			c := *sp
			c.Assigned, c.Admin, c.Entitlements = false, false, nil
			to.ServicePrincipals[id] = &c
			continue
		}
		t.ApplicationID, t.DisplayName, t.Active, t.ExternalID, t.AccountAdmin = sp.ApplicationID, sp.DisplayName, sp.Active, sp.ExternalID, sp.AccountAdmin
	}
	for id := range to.ServicePrincipals {
		if from.ServicePrincipals[id] == nil {
			delete(to.ServicePrincipals, id)
		}
	}
	for id, g := range from.Groups {
		if g.Kind != AccountGroup {
			continue
		}
		t := to.Groups[id]
		if t == nil {
			c := *g
			c.Assigned, c.Entitlements = false, nil
			c.Members, c.Managers = slices.Clone(g.Members), slices.Clone(g.Managers)
			to.Groups[id] = &c
			continue
		}
		t.DisplayName, t.ExternalID = g.DisplayName, g.ExternalID
		t.Members, t.Managers = slices.Clone(g.Members), slices.Clone(g.Managers)
	}
	for id, g := range to.Groups {
		if g.Kind == AccountGroup && from.Groups[id] == nil {
			delete(to.Groups, id)
		}
	}
}

// workspacesList serves GET /api/2.0/accounts/{account_id}/workspaces.
func (s *Server) workspacesList(w http.ResponseWriter, r *http.Request, p principal) {
	o := s.Org
	states := o.Workspaces
	if len(states) == 0 {
		states = []*DatabricksState{o.DB}
	}
	out := []any{}
	for _, st := range states {
		name := st.Name
		if name == "" {
			name = "workspace"
		}
		// The shape of an AWS account's answer (the SDK's provisioning.Workspace).
		status, message := st.Status, "Workspace is running."
		if status == "" {
			status = "RUNNING"
		} else if status != "RUNNING" {
			message = "Workspace is " + strings.ToLower(status) + "."
		}
		out = append(out, map[string]any{
			"workspace_id": st.WorkspaceID, "workspace_name": name, "account_id": o.DB.AccountID,
			"deployment_name": name, "workspace_status": status, "workspace_status_message": message,
			"pricing_tier": "PREMIUM", "aws_region": "us-west-2", "cloud": "aws",
			"creation_time": int64(1700000000000) + st.WorkspaceID%1000000,
		})
	}
	writeJSON(w, http.StatusOK, out)
}
