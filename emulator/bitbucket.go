package emulator

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// bbTimeLayout is how Bitbucket Cloud writes timestamps. go-bitbucket parses
// repository times with exactly this layout and silently drops a repository
// whose created_on does not match it.
const bbTimeLayout = "2006-01-02T15:04:05.000000+00:00"

func bbTime(t time.Time) string { return t.UTC().Format(bbTimeLayout) }

// bbHandler serves one Bitbucket route with Org.Mu held. u is the caller; it
// is nil on public routes.
type bbHandler func(w http.ResponseWriter, r *http.Request, u *BBUser)

// bbRoute is one served Bitbucket route. The 2.0 wildcards are named as in
// Bitbucket's OpenAPI document, so the contract test can map each route to
// its operation.
type bbRoute struct {
	pattern string // Go ServeMux pattern: method and path
	public  bool   // served without credentials
	h       bbHandler
}

// bitbucketRoutes lists every Bitbucket route the emulator serves.
func (s *Server) bitbucketRoutes() []bbRoute {
	const (
		ws   = "/2.0/workspaces/{workspace}"
		repo = "/2.0/repositories/{workspace}/{repo_slug}"
		oidc = ws + "/pipelines-config/identity/oidc"
	)
	return []bbRoute{
		{pattern: "GET /2.0/user", h: s.bbGetUser},
		{pattern: "GET /2.0/user/workspaces", h: s.bbUserWorkspaces},
		{pattern: "GET /2.0/workspaces", h: bbWorkspacesGone},
		{pattern: "GET " + ws, h: s.bbGetWorkspace},
		{pattern: "GET " + ws + "/members", h: s.bbMembers},
		{pattern: "GET " + ws + "/members/{member}", h: s.bbMember},
		{pattern: "GET " + ws + "/permissions", h: s.bbPermissions},
		{pattern: "GET /2.0/repositories/{workspace}", h: s.bbRepos},
		{pattern: "GET " + repo, h: s.bbGetRepo},

		{pattern: "GET " + repo + "/pipelines_config/variables", h: s.varList(repoVars)},
		{pattern: "POST " + repo + "/pipelines_config/variables", h: s.varCreate(repoVars)},
		{pattern: "GET " + repo + "/pipelines_config/variables/{variable_uuid}", h: s.varGet(repoVars)},
		{pattern: "PUT " + repo + "/pipelines_config/variables/{variable_uuid}", h: s.varUpdate(repoVars)},
		{pattern: "DELETE " + repo + "/pipelines_config/variables/{variable_uuid}", h: s.varDelete(repoVars)},
		{pattern: "GET " + ws + "/pipelines-config/variables", h: s.varList(workspaceVars)},
		{pattern: "POST " + ws + "/pipelines-config/variables", h: s.varCreate(workspaceVars)},
		{pattern: "GET " + ws + "/pipelines-config/variables/{variable_uuid}", h: s.varGet(workspaceVars)},
		{pattern: "PUT " + ws + "/pipelines-config/variables/{variable_uuid}", h: s.varUpdate(workspaceVars)},
		{pattern: "DELETE " + ws + "/pipelines-config/variables/{variable_uuid}", h: s.varDelete(workspaceVars)},
		{pattern: "GET " + repo + "/pipelines", h: s.bbPipelines},
		{pattern: "GET " + repo + "/src/{commit}/{path}", h: s.bbSource},
		{pattern: "GET " + repo + "/environments", h: s.bbEnvironments},
		{pattern: "GET " + repo + "/environments/{environment_uuid}", h: s.bbEnvironment},
		{pattern: "GET " + repo + "/deployments_config/environments/{environment_uuid}/variables", h: s.varList(deploymentVars)},
		{pattern: "POST " + repo + "/deployments_config/environments/{environment_uuid}/variables", h: s.varCreate(deploymentVars)},
		{pattern: "PUT " + repo + "/deployments_config/environments/{environment_uuid}/variables/{variable_uuid}", h: s.varUpdate(deploymentVars)},
		{pattern: "DELETE " + repo + "/deployments_config/environments/{environment_uuid}/variables/{variable_uuid}", h: s.varDelete(deploymentVars)},

		// Pipelines OIDC discovery is public: cloud providers fetch it unauthenticated.
		{pattern: "GET " + oidc + "/.well-known/openid-configuration", public: true, h: s.oidcConfiguration},
		{pattern: "GET " + oidc + "/keys.json", public: true, h: s.oidcKeys},

		{pattern: "GET /1.0/groups/{workspace}", h: s.groupsList},
		{pattern: "POST /1.0/groups/{workspace}", h: s.groupsCreate},
		{pattern: "GET /1.0/groups/{workspace}/{group_slug}/members", h: s.groupMembers},
		{pattern: "PUT /1.0/groups/{workspace}/{group_slug}/members/{member}", h: s.groupAddMember},
		{pattern: "DELETE /1.0/groups/{workspace}/{group_slug}/members/{member}", h: s.groupRemoveMember},
	}
}

// routesBitbucket serves Bitbucket Cloud 2.0 and the legacy 1.0 groups API.
// Every route also answers with a trailing slash, which go-bitbucket sends
// on some list calls.
func (s *Server) routesBitbucket(mux *http.ServeMux) {
	for _, rt := range s.bitbucketRoutes() {
		h := s.bbServe(rt)
		mux.Handle(rt.pattern, h)
		mux.Handle(rt.pattern+"/{$}", h)
	}
	mux.HandleFunc("/2.0/", bbNoAPI)
	mux.HandleFunc("/1.0/", bbNoAPI)
}

// bbServe takes Org.Mu, authenticates the caller unless the route is public
// and runs the route's handler.
func (s *Server) bbServe(rt bbRoute) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o := s.Org
		o.Mu.Lock()
		defer o.Mu.Unlock()
		var u *BBUser
		if !rt.public {
			if u = o.bbCaller(r); u == nil {
				// Bitbucket answers a bad credential with a plain-text 401.
				w.Header().Set("WWW-Authenticate", `Basic realm="Bitbucket.org HTTP"`)
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
		}
		rt.h(w, r, u)
	}
}

// bbCaller is the user a request authenticates as: Basic auth with the
// account's email and Atlassian API token, or a Bearer access token. Callers
// hold o.Mu.
func (o *Org) bbCaller(r *http.Request) *BBUser {
	active := func(u *BBUser) *BBUser {
		if u == nil || u.AccountStatus != "active" {
			return nil
		}
		return u
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		id, ok := o.BB.AccessTokens[tok]
		if !ok {
			return nil
		}
		return active(o.bbUser(id))
	}
	name, pass, ok := r.BasicAuth()
	if !ok || pass == "" {
		return nil
	}
	for _, u := range o.BB.Users {
		if u.APIToken != "" && u.Email != "" && strings.EqualFold(u.Email, name) &&
			subtle.ConstantTimeCompare([]byte(u.APIToken), []byte(pass)) == 1 {
			return active(u)
		}
	}
	return nil
}

// bbUser finds a user by account id or UUID. Callers hold o.Mu.
func (o *Org) bbUser(id string) *BBUser {
	for _, u := range o.BB.Users {
		if u.AccountID == id || sameUUID(u.UUID, id) {
			return u
		}
	}
	return nil
}

// bbUserIndex maps account ids to users, for handlers that resolve many.
// Callers hold o.Mu.
func (o *Org) bbUserIndex() map[string]*BBUser {
	m := make(map[string]*BBUser, len(o.BB.Users))
	for _, u := range o.BB.Users {
		m[u.AccountID] = u
	}
	return m
}

// sameUUID compares UUIDs with or without braces, ignoring case.
func sameUUID(a, b string) bool {
	a, b = strings.Trim(a, "{}"), strings.Trim(b, "{}")
	return a != "" && strings.EqualFold(a, b)
}

// bbError writes Bitbucket's JSON error body.
func bbError(w http.ResponseWriter, status int, message, detail string) {
	e := map[string]any{"message": message}
	if detail != "" {
		e["detail"] = detail
	}
	writeJSON(w, status, map[string]any{"type": "error", "error": e})
}

func bbNoAPI(w http.ResponseWriter, r *http.Request) {
	bbError(w, http.StatusNotFound, "Resource not found",
		"There is no API hosted at this URL. For information about our API's, please refer to the documentation at: https://developer.atlassian.com/bitbucket/api/2/reference/")
}

// isWorkspace reports whether id names the workspace: its slug or its UUID
// in braces. Callers hold o.Mu.
func (o *Org) isWorkspace(id string) bool {
	ws := o.BB.Workspace
	return id != "" && (id == ws.Slug || (strings.HasPrefix(id, "{") && sameUUID(id, ws.UUID)))
}

// bbWorkspace checks that {workspace} names the workspace and that u belongs
// to it, and writes the error response when not.
func (o *Org) bbWorkspace(w http.ResponseWriter, r *http.Request, u *BBUser) bool {
	if id := r.PathValue("workspace"); !o.isWorkspace(id) {
		bbError(w, http.StatusNotFound, fmt.Sprintf("No workspace with identifier '%s'.", id), "")
		return false
	}
	if !u.InWorkspace {
		bbError(w, http.StatusForbidden, "You do not have access to this workspace.", "")
		return false
	}
	return true
}

// bbRepo resolves {workspace}/{repo_slug} (slug or {uuid}), or writes the error.
func (o *Org) bbRepo(w http.ResponseWriter, r *http.Request, u *BBUser) *BBRepo {
	if !o.bbWorkspace(w, r, u) {
		return nil
	}
	id := r.PathValue("repo_slug")
	if repo := o.repo(id); repo != nil {
		return repo
	}
	bbError(w, http.StatusNotFound, fmt.Sprintf("Repository %s/%s not found", o.BB.Workspace.Slug, id), "")
	return nil
}

// repo finds a repository by slug or {uuid}. Callers hold o.Mu.
func (o *Org) repo(id string) *BBRepo {
	for _, r := range o.BB.Repos {
		if r.Slug == id || (strings.HasPrefix(id, "{") && sameUUID(r.UUID, id)) {
			return r
		}
	}
	return nil
}

// bbPage is Bitbucket's paged envelope.
type bbPage struct {
	Size     int    `json:"size"`
	Page     int    `json:"page"`
	Pagelen  int    `json:"pagelen"`
	Next     string `json:"next,omitempty"`
	Previous string `json:"previous,omitempty"`
	Values   []any  `json:"values"`
}

// bbPaged writes one page of items: `pagelen` defaults to 10 and is capped at
// 100, `page` counts from 1, and next/previous are absolute URLs on the host
// the client called, carrying the request's other query parameters.
func bbPaged[T, R any](w http.ResponseWriter, r *http.Request, items []T, render func(T) R) {
	q := r.URL.Query()
	size, page := 10, 1
	if v := q.Get("pagelen"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			bbError(w, http.StatusBadRequest, "Invalid pagelen", fmt.Sprintf("pagelen must be a positive integer, not %q", v))
			return
		}
		size = min(n, 100)
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			bbError(w, http.StatusBadRequest, "Invalid page", fmt.Sprintf("page must be a positive integer, not %q", v))
			return
		}
		page = n
	}
	link := func(p int) string {
		q.Set("page", strconv.Itoa(p))
		return baseURL(r) + r.URL.EscapedPath() + "?" + q.Encode()
	}
	out := bbPage{Size: len(items), Page: page, Pagelen: size, Values: []any{}}
	start := min((page-1)*size, len(items))
	end := min(start+size, len(items))
	for _, it := range items[start:end] {
		out.Values = append(out.Values, render(it))
	}
	if end < len(items) {
		out.Next = link(page + 1)
	}
	if page > 1 {
		out.Previous = link(page - 1)
	}
	writeJSON(w, http.StatusOK, out)
}

func href(u string) map[string]string { return map[string]string{"href": u} }

// bbUserJSON is a user as the 2.0 API shows another user: no email.
func bbUserJSON(r *http.Request, u *BBUser) map[string]any {
	base, id := baseURL(r), url.PathEscape(u.UUID)
	return map[string]any{
		"type":         "user",
		"uuid":         u.UUID,
		"account_id":   u.AccountID,
		"nickname":     u.Nickname,
		"display_name": u.DisplayName,
		"links": map[string]any{
			"self":   href(base + "/2.0/users/" + id),
			"html":   href(base + "/" + id + "/"),
			"avatar": href(bbAvatar(r, u.UUID)),
		},
	}
}

func bbAvatar(r *http.Request, uuid string) string {
	return baseURL(r) + "/account/" + url.PathEscape(uuid) + "/avatar/"
}

// bbWorkspaceJSON is the workspace object. It carries no links: the OpenAPI
// document allows only an empty links object on workspaces.
func (o *Org) bbWorkspaceJSON() map[string]any {
	ws := o.BB.Workspace
	return map[string]any{
		"type":       "workspace",
		"uuid":       ws.UUID,
		"slug":       ws.Slug,
		"name":       ws.Name,
		"is_private": true,
		"created_on": bbTime(ws.CreatedOn),
	}
}

func (o *Org) bbMembershipJSON(r *http.Request, u *BBUser, withPermission bool) map[string]any {
	m := map[string]any{
		"type":      "workspace_membership",
		"user":      bbUserJSON(r, u),
		"workspace": o.bbWorkspaceJSON(),
	}
	if withPermission {
		m["permission"] = u.Permission
	}
	return m
}

func (o *Org) members() []*BBUser {
	var out []*BBUser
	for _, u := range o.BB.Users {
		if u.InWorkspace {
			out = append(out, u)
		}
	}
	return out
}

func (s *Server) bbGetUser(w http.ResponseWriter, r *http.Request, u *BBUser) {
	m := bbUserJSON(r, u)
	m["account_status"] = u.AccountStatus
	m["created_on"] = bbTime(u.CreatedOn)
	m["is_staff"] = false
	writeJSON(w, http.StatusOK, m)
}

// bbUserWorkspaces lists the caller's workspaces (CHANGE-3022, the
// replacement for GET /2.0/workspaces) as the current OpenAPI document
// describes them: paginated workspace_access objects, each with
// administrator and a workspace_base (type, uuid, slug, links avatar and
// self; no name). The administrator query parameter filters on it.
func (s *Server) bbUserWorkspaces(w http.ResponseWriter, r *http.Request, u *BBUser) {
	ws := s.Org.BB.Workspace
	base := baseURL(r)
	admin := u.Permission == "owner"
	access := []map[string]any{}
	if want := r.URL.Query().Get("administrator"); u.InWorkspace && (want == "" || strings.EqualFold(want, strconv.FormatBool(admin))) {
		access = append(access, map[string]any{
			"type":          "workspace_access",
			"administrator": admin,
			"workspace": map[string]any{
				"type": "workspace_base",
				"uuid": ws.UUID,
				"slug": ws.Slug,
				"links": map[string]any{
					"avatar": href(base + "/workspaces/" + url.PathEscape(ws.Slug) + "/avatar/"),
					"self":   href(base + "/2.0/workspaces/" + url.PathEscape(ws.Slug)),
				},
			},
		})
	}
	bbPaged(w, r, access, func(a map[string]any) any { return a })
}

// bbWorkspacesGone answers GET /2.0/workspaces, removed by CHANGE-2770, with
// the body the service gives (ktrysmt/go-bitbucket#357): the error's data
// repeated at the top level.
func bbWorkspacesGone(w http.ResponseWriter, r *http.Request, u *BBUser) {
	data := map[string]any{"announcement_url": "https://developer.atlassian.com/cloud/bitbucket/changelog#CHANGE-2770"}
	writeJSON(w, http.StatusGone, map[string]any{
		"type": "error",
		"error": map[string]any{
			"message": "CHANGE-2770 - Functionality has been deprecated",
			"detail":  "Please read the changelog entry for more details.",
			"data":    data,
		},
		"data": data,
	})
}

func (s *Server) bbGetWorkspace(w http.ResponseWriter, r *http.Request, u *BBUser) {
	if s.Org.bbWorkspace(w, r, u) {
		writeJSON(w, http.StatusOK, s.Org.bbWorkspaceJSON())
	}
}

func (s *Server) bbMembers(w http.ResponseWriter, r *http.Request, u *BBUser) {
	o := s.Org
	if !o.bbWorkspace(w, r, u) {
		return
	}
	if emails, ok, err := emailFilter(r.URL.Query().Get("q")); ok {
		if err != nil {
			bbError(w, http.StatusBadRequest, "Invalid query", err.Error())
			return
		}
		s.bbMembersByEmail(w, r, u, emails)
		return
	}
	bbPaged(w, r, o.members(), func(m *BBUser) any { return o.bbMembershipJSON(r, m, false) })
}

func (s *Server) bbMember(w http.ResponseWriter, r *http.Request, u *BBUser) {
	o := s.Org
	if !o.bbWorkspace(w, r, u) {
		return
	}
	id := r.PathValue("member")
	if m := o.bbUser(id); m != nil && m.InWorkspace {
		writeJSON(w, http.StatusOK, o.bbMembershipJSON(r, m, false))
		return
	}
	bbError(w, http.StatusNotFound, fmt.Sprintf("%s is not a member of %s", id, o.BB.Workspace.Slug), "")
}

func (s *Server) bbPermissions(w http.ResponseWriter, r *http.Request, u *BBUser) {
	o := s.Org
	if !o.bbWorkspace(w, r, u) {
		return
	}
	match, err := membershipFilter(r.URL.Query().Get("q"))
	if err != nil {
		bbError(w, http.StatusBadRequest, "Invalid query", err.Error())
		return
	}
	var ms []*BBUser
	for _, m := range o.members() {
		if match(m) {
			ms = append(ms, m)
		}
	}
	bbPaged(w, r, ms, func(m *BBUser) any { return o.bbMembershipJSON(r, m, true) })
}

var (
	bbAnd    = regexp.MustCompile(`\s+(?i:and)\s+`)
	bbClause = regexp.MustCompile(`^\s*([a-z_.]+)\s*=\s*"([^"]*)"\s*$`)
	// membershipFields are the filterable fields; UUIDs compare without case.
	membershipFields = map[string]func(*BBUser) string{
		"permission":        func(u *BBUser) string { return u.Permission },
		"user.uuid":         func(u *BBUser) string { return strings.ToLower(u.UUID) },
		"user.account_id":   func(u *BBUser) string { return u.AccountID },
		"user.nickname":     func(u *BBUser) string { return u.Nickname },
		"user.display_name": func(u *BBUser) string { return u.DisplayName },
	}
)

// membershipFilter parses the part of Bitbucket's filter language that
// clients use on workspace permissions: field = "value" clauses joined by AND
// (go-bitbucket sends user.nickname="x" and user.uuid="{...}").
func membershipFilter(q string) (func(*BBUser) bool, error) {
	var tests []func(*BBUser) bool
	for _, clause := range bbAnd.Split(q, -1) {
		if strings.TrimSpace(clause) == "" {
			continue
		}
		m := bbClause.FindStringSubmatch(clause)
		if m == nil {
			return nil, fmt.Errorf("cannot parse %q: the emulator supports field = \"value\" clauses joined by AND", clause)
		}
		get, want := membershipFields[m[1]], m[2]
		if get == nil {
			return nil, fmt.Errorf("invalid field name: %s", m[1])
		}
		if m[1] == "user.uuid" {
			want = strings.ToLower(want)
		}
		tests = append(tests, func(u *BBUser) bool { return get(u) == want })
	}
	return func(u *BBUser) bool {
		for _, t := range tests {
			if !t(u) {
				return false
			}
		}
		return true
	}, nil
}

func (o *Org) bbRepoJSON(rp *BBRepo) map[string]any {
	ws := o.BB.Workspace
	return map[string]any{
		"type":        "repository",
		"uuid":        rp.UUID,
		"slug":        rp.Slug,
		"name":        rp.Name,
		"full_name":   ws.Slug + "/" + rp.Slug,
		"is_private":  true,
		"scm":         "git",
		"fork_policy": "no_public_forks",
		"has_issues":  false,
		"has_wiki":    false,
		"description": "",
		"created_on":  bbTime(rp.CreatedOn),
		"updated_on":  bbTime(rp.CreatedOn),
		"mainbranch":  map[string]any{"type": "branch", "name": "main"},
		"workspace":   o.bbWorkspaceJSON(),
	}
}

// bbRepos lists every repository to any workspace member; the emulator does
// not model per-repository permissions, so `role` and `q` are ignored.
func (s *Server) bbRepos(w http.ResponseWriter, r *http.Request, u *BBUser) {
	o := s.Org
	if o.bbWorkspace(w, r, u) {
		bbPaged(w, r, o.BB.Repos, o.bbRepoJSON)
	}
}

func (s *Server) bbGetRepo(w http.ResponseWriter, r *http.Request, u *BBUser) {
	if rp := s.Org.bbRepo(w, r, u); rp != nil {
		writeJSON(w, http.StatusOK, s.Org.bbRepoJSON(rp))
	}
}
