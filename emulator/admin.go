package emulator

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The Atlassian Admin API (api.atlassian.com/admin): the organisation's
// directory groups and users, the only official source of a user's email,
// and managed users' API tokens.
//
// The directory holds the Bitbucket accounts that have an Email: a BBUser
// with no Email is outside the organisation (an external collaborator), so
// users/search never returns it and its API tokens are not listed.

// routesAdmin serves the Admin API.
func (s *Server) routesAdmin(mux *http.ServeMux) {
	const dir = "/admin/v2/orgs/{orgId}/directories/{directoryId}"
	for pattern, h := range map[string]http.HandlerFunc{
		"POST " + dir + "/groups/search":                              s.adminGroupsSearch,
		"POST " + dir + "/users/search":                               s.adminUsersSearch,
		"POST " + dir + "/groups/{groupId}/memberships":               s.adminAddMembership,
		"DELETE " + dir + "/groups/{groupId}/memberships/{accountId}": s.adminRemoveMembership,
		"GET /admin/api-access/v1/orgs/{orgId}/api-tokens":            s.adminAPITokens,
	} {
		mux.Handle(pattern, s.adminAuth(h))
	}
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		adminError(w, http.StatusNotFound, "Not Found", "no such Admin API resource")
	})
}

// adminAuth takes Org.Mu, checks the Bearer org API key and the org and
// directory in the path, then runs h.
func (s *Server) adminAuth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o := s.Org
		o.Mu.Lock()
		defer o.Mu.Unlock()
		key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !slices.ContainsFunc(o.Admin.APIKeys, func(k string) bool {
			return key != "" && subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1
		}) {
			// The API gateway's 401, not the Admin API's error list.
			writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 401, "message": "Unauthorized"})
			return
		}
		if r.PathValue("orgId") != o.Admin.OrgID {
			adminError(w, http.StatusNotFound, "Not Found", "organization "+r.PathValue("orgId")+" not found")
			return
		}
		if d := r.PathValue("directoryId"); d != "" && d != "-" && d != o.Admin.DirectoryID {
			adminError(w, http.StatusNotFound, "Not Found", "directory "+d+" not found")
			return
		}
		h(w, r)
	}
}

// adminError writes the Admin API's error list.
func adminError(w http.ResponseWriter, status int, title, detail string) {
	writeJSON(w, status, map[string]any{"errors": []any{map[string]any{
		"status": strconv.Itoa(status),
		"code":   fmt.Sprintf("ADMIN-%d", status),
		"title":  title,
		"detail": detail,
	}}})
}

func adminTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// A cursor is opaque to clients: it carries the offset and the search it
// continues, so a request with a cursor ignores its other fields, as the
// Admin API does.
type adminCursor[Q any] struct {
	Offset int `json:"o"`
	Query  Q   `json:"q"`
}

func encodeCursor[Q any](offset int, q Q) string {
	b, _ := json.Marshal(adminCursor[Q]{offset, q})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor[Q any](s string) (int, Q, error) {
	var c adminCursor[Q]
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.Offset < 0 {
		return 0, c.Query, errors.New("invalid page cursor")
	}
	return c.Offset, c.Query, nil
}

// adminPage slices items from offset and builds the links object of cursors.
func adminPage[T, Q any](items []T, offset, limit int, q Q) ([]T, map[string]any) {
	start := min(offset, len(items))
	end := min(start+limit, len(items))
	links := map[string]any{"self": encodeCursor(offset, q)}
	if offset > 0 {
		links["prev"] = encodeCursor(max(offset-limit, 0), q)
	}
	if end < len(items) {
		links["next"] = encodeCursor(end, q)
	}
	return items[start:end], links
}

// searchBody is a search request with the Admin API's paging fields.
type searchBody interface {
	paging() (cursor *string, limit *int)
}

// readSearch decodes a search body (empty means no filters), replaces it with
// the search its cursor continues, and checks its limit.
func readSearch[Q any, P interface {
	*Q
	searchBody
}](w http.ResponseWriter, r *http.Request, q P, defaultLimit int) (offset int, ok bool) {
	if err := readJSON(r, q); err != nil && !errors.Is(err, io.EOF) {
		adminError(w, http.StatusBadRequest, "Bad Request", "invalid request body: "+err.Error())
		return 0, false
	}
	cursor, limit := q.paging()
	if *cursor != "" {
		off, saved, err := decodeCursor[Q](*cursor)
		if err != nil {
			adminError(w, http.StatusBadRequest, "Invalid page cursor", err.Error())
			return 0, false
		}
		*q, offset = saved, off
	}
	switch {
	case *limit == 0:
		*limit = defaultLimit
	case *limit < 1 || *limit > 100:
		adminError(w, http.StatusBadRequest, "Bad Request", "limit must be between 1 and 100")
		return 0, false
	}
	return offset, true
}

type groupSearch struct {
	Cursor     string   `json:"cursor,omitempty"`
	Limit      int      `json:"limit,omitempty"`
	GroupNames []string `json:"groupNames,omitempty"`
	GroupIDs   []string `json:"groupIds,omitempty"`
	AccountIDs []string `json:"accountIds,omitempty"`
	SearchTerm string   `json:"searchTerm,omitempty"`
	Expand     []string `json:"expand,omitempty"`
}

func (q *groupSearch) paging() (*string, *int) { return &q.Cursor, &q.Limit }

// adminGroupsSearch pages the directory groups (20 by default). Member
// counts appear only when asked for with expand: ["counts.users"].
func (s *Server) adminGroupsSearch(w http.ResponseWriter, r *http.Request) {
	o := s.Org
	var q groupSearch
	offset, ok := readSearch(w, r, &q, 20)
	if !ok {
		return
	}
	if len(q.GroupNames) > 0 && (q.SearchTerm != "" || len(q.GroupIDs) > 0) {
		adminError(w, http.StatusBadRequest, "Bad Request", "groupNames cannot be combined with searchTerm or groupIds")
		return
	}
	var found []*AdminGroup
	for _, g := range o.Admin.Groups {
		if (len(q.GroupNames) == 0 || slices.ContainsFunc(q.GroupNames, func(n string) bool { return strings.EqualFold(n, g.Name) })) &&
			(len(q.GroupIDs) == 0 || slices.Contains(q.GroupIDs, g.ID)) &&
			(len(q.AccountIDs) == 0 || slices.ContainsFunc(q.AccountIDs, func(a string) bool { return slices.Contains(g.Members, a) })) &&
			strings.Contains(strings.ToLower(g.Name), strings.ToLower(q.SearchTerm)) {
			found = append(found, g)
		}
	}
	page, links := adminPage(found, offset, q.Limit, q)
	data := []any{}
	for _, g := range page {
		m := map[string]any{
			"id":             g.ID,
			"name":           g.Name,
			"description":    g.Description,
			"directoryId":    o.Admin.DirectoryID,
			"externalSynced": g.ExternalSynced,
			"managementAccess": map[string]bool{
				"readable": true, "modifiable": !g.ExternalSynced, "deletable": !g.ExternalSynced,
			},
			"links": map[string]any{"self": g.ID},
		}
		if slices.Contains(q.Expand, "counts.users") {
			m["counts"] = map[string]int{"users": len(g.Members)}
		}
		data = append(data, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "links": links})
}

type userSearch struct {
	Cursor        string   `json:"cursor,omitempty"`
	Limit         int      `json:"limit,omitempty"`
	AccountIDs    []string `json:"accountIds,omitempty"`
	Emails        []string `json:"emails,omitempty"`
	GroupIDs      []string `json:"groupIds,omitempty"`
	AccountStatus []string `json:"accountStatus,omitempty"`
	SearchTerm    string   `json:"searchTerm,omitempty"`
	Expand        []string `json:"expand,omitempty"`
}

func (q *userSearch) paging() (*string, *int) { return &q.Cursor, &q.Limit }

// directoryUser finds a user of the organisation's directory. Callers hold o.Mu.
func (o *Org) directoryUser(accountID string) *BBUser {
	if u := o.bbUser(accountID); u != nil && u.Email != "" && u.AccountID == accountID {
		return u
	}
	return nil
}

func (o *Org) adminGroup(id string) *AdminGroup {
	for _, g := range o.Admin.Groups {
		if g.ID == id {
			return g
		}
	}
	return nil
}

// adminUsersSearch pages the directory users (50 by default), with emails.
func (s *Server) adminUsersSearch(w http.ResponseWriter, r *http.Request) {
	o := s.Org
	var q userSearch
	offset, ok := readSearch(w, r, &q, 50)
	if !ok {
		return
	}
	if q.SearchTerm != "" && len(q.Emails) > 0 {
		adminError(w, http.StatusBadRequest, "Bad Request", "searchTerm and emails are mutually exclusive")
		return
	}
	inGroups := map[string]bool{}
	for _, id := range q.GroupIDs {
		if g := o.adminGroup(id); g != nil {
			for _, a := range g.Members {
				inGroups[a] = true
			}
		}
	}
	term := strings.ToLower(q.SearchTerm)
	// Sets, not list scans: a batch of 100 ids against 10,000 users.
	ids, emails := map[string]bool{}, map[string]bool{}
	for _, id := range q.AccountIDs {
		ids[id] = true
	}
	for _, e := range q.Emails {
		emails[strings.ToLower(e)] = true
	}
	var found []*BBUser
	for _, u := range o.BB.Users {
		if u.Email != "" &&
			(len(q.AccountIDs) == 0 || ids[u.AccountID]) &&
			(len(q.Emails) == 0 || emails[strings.ToLower(u.Email)]) &&
			(len(q.GroupIDs) == 0 || inGroups[u.AccountID]) &&
			(len(q.AccountStatus) == 0 || slices.Contains(q.AccountStatus, u.AccountStatus)) &&
			(term == "" || strings.Contains(strings.ToLower(u.DisplayName), term) || strings.Contains(strings.ToLower(u.Email), term)) {
			found = append(found, u)
		}
	}
	page, links := adminPage(found, offset, q.Limit, q)
	data := []any{}
	for _, u := range page {
		status := "active"
		if u.AccountStatus != "active" {
			status = "deactivated"
		}
		m := map[string]any{
			"accountId":        u.AccountID,
			"accountType":      "atlassian",
			"name":             u.DisplayName,
			"nickname":         u.Nickname,
			"email":            u.Email,
			"emailVerified":    true,
			"accountStatus":    u.AccountStatus,
			"status":           status,
			"membershipStatus": "active",
			"claimStatus":      "managed",
			"addedToOrg":       adminTime(u.CreatedOn),
			"avatar":           bbAvatar(r, u.UUID),
			"links":            map[string]any{"self": u.AccountID},
		}
		if slices.Contains(q.Expand, "groups") {
			groups := []any{}
			for _, g := range o.Admin.Groups {
				if slices.Contains(g.Members, u.AccountID) {
					groups = append(groups, map[string]any{"id": g.ID, "name": g.Name, "description": g.Description})
				}
			}
			m["groups"] = groups
		}
		data = append(data, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "links": links})
}

// membership resolves {groupId} and {accountId} (path or body) for the
// membership routes, or writes the error.
func (o *Org) membership(w http.ResponseWriter, r *http.Request, accountID string) (*AdminGroup, *BBUser) {
	g := o.adminGroup(r.PathValue("groupId"))
	if g == nil {
		adminError(w, http.StatusNotFound, "Not Found", "group "+r.PathValue("groupId")+" not found")
		return nil, nil
	}
	u := o.directoryUser(accountID)
	if u == nil {
		adminError(w, http.StatusNotFound, "Not Found", "user "+accountID+" not found in the directory")
		return nil, nil
	}
	if g.ExternalSynced {
		adminError(w, http.StatusForbidden, "Forbidden",
			"group "+g.Name+" is synced from an identity provider; manage its members there")
		return nil, nil
	}
	return g, u
}

// adminAddMembership adds a directory user to a group; adding a member again
// changes nothing.
func (s *Server) adminAddMembership(w http.ResponseWriter, r *http.Request) {
	var body struct {
		AccountID string `json:"accountId"`
	}
	if err := readJSON(r, &body); err != nil || body.AccountID == "" {
		adminError(w, http.StatusBadRequest, "Bad Request", "body must be {\"accountId\": \"...\"}")
		return
	}
	g, u := s.Org.membership(w, r, body.AccountID)
	if g == nil {
		return
	}
	if !slices.Contains(g.Members, u.AccountID) {
		g.Members = append(g.Members, u.AccountID)
	}
	w.WriteHeader(http.StatusNoContent)
}

// adminRemoveMembership removes a user from a group; removing a non-member
// changes nothing.
func (s *Server) adminRemoveMembership(w http.ResponseWriter, r *http.Request) {
	g, u := s.Org.membership(w, r, r.PathValue("accountId"))
	if g == nil {
		return
	}
	g.Members = slices.DeleteFunc(g.Members, func(id string) bool { return id == u.AccountID })
	w.WriteHeader(http.StatusNoContent)
}

// adminTokenStatus is a token's status as the API Access API reports it:
// an active token is "ALLOWED" (developer.atlassian.com/cloud/admin/api-access/rest/api-group-api-token/);
// other statuses are upper-cased (not confirmed: the document shows only ALLOWED).
func adminTokenStatus(status string) string {
	if strings.EqualFold(status, "active") {
		return "ALLOWED"
	}
	return strings.ToUpper(status)
}

// adminAPITokens pages the managed users' API tokens (`pageSize`, default
// 20, `cursor`, `status`, and `q`: a case-insensitive search of the label
// and the user's name and email).
func (s *Server) adminAPITokens(w http.ResponseWriter, r *http.Request) {
	o := s.Org
	type query struct {
		Status string `json:"s,omitempty"`
		Text   string `json:"q,omitempty"`
		Size   int    `json:"n"`
	}
	q := query{Status: r.URL.Query().Get("status"), Text: strings.ToLower(r.URL.Query().Get("q")), Size: 20}
	offset := 0
	if v := r.URL.Query().Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			adminError(w, http.StatusBadRequest, "Bad Request", "pageSize must be between 1 and 100")
			return
		}
		q.Size = n
	}
	if c := r.URL.Query().Get("cursor"); c != "" {
		off, saved, err := decodeCursor[query](c)
		if err != nil {
			adminError(w, http.StatusBadRequest, "Invalid page cursor", err.Error())
			return
		}
		offset, q = off, saved
	}
	users := o.bbUserIndex()
	var found []*AdminAPIToken
	for _, t := range o.Admin.Tokens {
		u := users[t.AccountID]
		if u == nil || u.Email == "" {
			continue
		}
		if q.Status != "" && !strings.EqualFold(q.Status, t.Status) && !strings.EqualFold(q.Status, adminTokenStatus(t.Status)) {
			continue
		}
		if q.Text != "" && !strings.Contains(strings.ToLower(t.Label+"\n"+u.DisplayName+"\n"+u.Email), q.Text) {
			continue
		}
		found = append(found, t)
	}
	page, links := adminPage(found, offset, q.Size, q)
	data := []any{}
	for _, t := range page {
		u := users[t.AccountID]
		data = append(data, map[string]any{
			"id":           t.ID,
			"label":        t.Label,
			"status":       adminTokenStatus(t.Status),
			"createdAt":    adminTime(t.CreatedAt),
			"expiresAt":    adminTime(t.ExpiresAt),
			"lastActiveAt": adminTime(t.LastActiveAt),
			"user":         map[string]any{"id": u.AccountID, "orgId": o.Admin.OrgID, "name": u.DisplayName, "email": u.Email},
			"scopes":       []string{},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "links": links})
}
