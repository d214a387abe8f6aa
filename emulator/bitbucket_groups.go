package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The legacy /1.0/groups API: bare JSON arrays, no paging, workspace admins
// only, and the workspace named by its slug (a {uuid} is refused).

// groupsWorkspace checks the {workspace} slug and that u is a workspace admin.
func (o *Org) groupsWorkspace(w http.ResponseWriter, r *http.Request, u *BBUser) bool {
	id := r.PathValue("workspace")
	if strings.HasPrefix(id, "{") {
		// Public reports: a UUID here gets 403 on reads and 405 on writes.
		if r.Method == http.MethodGet {
			bbError(w, http.StatusForbidden, "Access denied", "The groups API needs the workspace ID (slug), not its UUID.")
		} else {
			bbError(w, http.StatusMethodNotAllowed, "Method not allowed", "")
		}
		return false
	}
	if id != o.BB.Workspace.Slug {
		bbError(w, http.StatusNotFound, fmt.Sprintf("No workspace with identifier '%s'.", id), "")
		return false
	}
	if !u.InWorkspace || u.Permission != "owner" {
		bbError(w, http.StatusForbidden, "Access denied", "You must be an administrator of this workspace.")
		return false
	}
	return true
}

// groupsWrite refuses credentials that cannot carry the account:write scope:
// Atlassian API tokens (Basic auth) never can; the emulator's Bearer access
// tokens act as OAuth tokens with every scope.
func groupsWrite(w http.ResponseWriter, r *http.Request) bool {
	if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		return true
	}
	writeJSON(w, http.StatusForbidden, map[string]any{"type": "error", "error": map[string]any{
		"message": "Your credentials lack one or more required privilege scopes.",
		"detail":  map[string]any{"required": []string{"account:write"}},
	}})
	return false
}

func (o *Org) group(w http.ResponseWriter, r *http.Request) *BBGroup {
	slug := r.PathValue("group_slug")
	for _, g := range o.BB.Groups {
		if g.Slug == slug {
			return g
		}
	}
	bbError(w, http.StatusNotFound, fmt.Sprintf("Group %s not found", slug), "")
	return nil
}

// v1User is a user in the 1.0 shape.
func v1User(r *http.Request, u *BBUser) map[string]any {
	return map[string]any{
		"display_name": u.DisplayName,
		"account_id":   u.AccountID,
		"uuid":         u.UUID,
		"nickname":     u.Nickname,
		"is_team":      false,
		"is_staff":     false,
		"avatar":       bbAvatar(r, u.UUID),
		"resource_uri": "/1.0/users/" + url.PathEscape(u.UUID),
	}
}

func v1Members(r *http.Request, g *BBGroup, users map[string]*BBUser) []any {
	out := []any{}
	for _, id := range g.Members {
		if u := users[id]; u != nil {
			out = append(out, v1User(r, u))
		}
	}
	return out
}

func (o *Org) v1Group(r *http.Request, g *BBGroup, users map[string]*BBUser) map[string]any {
	ws := o.BB.Workspace
	var perm any // null when the group grants no repository permission
	if g.Permission != "" {
		perm = g.Permission
	}
	return map[string]any{
		"name":                      g.Name,
		"slug":                      g.Slug,
		"permission":                perm,
		"auto_add":                  g.AutoAdd,
		"email_forwarding_disabled": false,
		"members":                   v1Members(r, g, users),
		"owner": map[string]any{
			"display_name": ws.Name,
			"uuid":         ws.UUID,
			"account_id":   nil,
			"nickname":     ws.Slug,
			"is_team":      true,
			"is_staff":     false,
			"avatar":       bbAvatar(r, ws.UUID),
			"resource_uri": "/1.0/users/" + url.PathEscape(ws.UUID),
		},
	}
}

func (s *Server) groupsList(w http.ResponseWriter, r *http.Request, u *BBUser) {
	o := s.Org
	if !o.groupsWorkspace(w, r, u) {
		return
	}
	out, users := []any{}, o.bbUserIndex()
	for _, g := range o.BB.Groups {
		out = append(out, o.v1Group(r, g, users))
	}
	writeJSON(w, http.StatusOK, out)
}

// groupsCreate: creating groups through /1.0 fails for workspaces managed in
// Atlassian Administration, which is every workspace the emulator models.
func (s *Server) groupsCreate(w http.ResponseWriter, r *http.Request, u *BBUser) {
	if s.Org.groupsWorkspace(w, r, u) {
		bbError(w, http.StatusMethodNotAllowed, "Method not allowed",
			"Groups are managed in Atlassian Administration (admin.atlassian.com).")
	}
}

func (s *Server) groupMembers(w http.ResponseWriter, r *http.Request, u *BBUser) {
	o := s.Org
	if !o.groupsWorkspace(w, r, u) {
		return
	}
	if g := o.group(w, r); g != nil {
		writeJSON(w, http.StatusOK, v1Members(r, g, o.bbUserIndex()))
	}
}

// groupAddMember adds a user (by UUID or account id) and returns it. Group
// membership is workspace membership, so a user outside the workspace joins
// it as a member.
func (s *Server) groupAddMember(w http.ResponseWriter, r *http.Request, u *BBUser) {
	o := s.Org
	g := o.memberWriteGroup(w, r, u)
	if g == nil {
		return
	}
	m := o.bbUser(r.PathValue("member"))
	if m == nil {
		bbError(w, http.StatusNotFound, fmt.Sprintf("User %s not found", r.PathValue("member")), "")
		return
	}
	if slices.Contains(g.Members, m.AccountID) {
		bbError(w, http.StatusConflict, "The user is already a member of this group.", "")
		return
	}
	g.Members = append(g.Members, m.AccountID)
	if !m.InWorkspace {
		m.InWorkspace = true
		if m.Permission == "" {
			m.Permission = "member"
		}
	}
	writeJSON(w, http.StatusOK, v1User(r, m))
}

// memberWriteGroup checks a membership PUT or DELETE (workspace admin, a
// credential that may write) and finds its group; nil: answered already.
func (o *Org) memberWriteGroup(w http.ResponseWriter, r *http.Request, u *BBUser) *BBGroup {
	if !o.groupsWorkspace(w, r, u) || !groupsWrite(w, r) {
		return nil
	}
	return o.group(w, r)
}

func (s *Server) groupRemoveMember(w http.ResponseWriter, r *http.Request, u *BBUser) {
	o := s.Org
	g := o.memberWriteGroup(w, r, u)
	if g == nil {
		return
	}
	m := o.bbUser(r.PathValue("member"))
	i := -1
	if m != nil {
		i = slices.Index(g.Members, m.AccountID)
	}
	if i < 0 {
		bbError(w, http.StatusNotFound, fmt.Sprintf("User %s is not a member of group %s", r.PathValue("member"), g.Slug), "")
		return
	}
	g.Members = slices.Delete(g.Members, i, i+1)
	w.WriteHeader(http.StatusNoContent)
}
