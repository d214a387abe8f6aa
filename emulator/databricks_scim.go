package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// SCIM resource types, as they appear in paths.
const (
	scimUsers  = "Users"
	scimGroups = "Groups"
	scimSPs    = "ServicePrincipals"
)

const (
	schemaUser   = "urn:ietf:params:scim:schemas:core:2.0:User"
	schemaUserWS = "urn:ietf:params:scim:schemas:extension:workspace:2.0:User"
	schemaGroup  = "urn:ietf:params:scim:schemas:core:2.0:Group"
	schemaSP     = "urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"
	schemaList   = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	schemaError  = "urn:ietf:params:scim:api:messages:2.0:Error"
	scimMaxPage  = 100 // the service's page size, whatever count asks
	scimMaxNodes = 200 // nodes in a filter
)

// knownEntitlements are the workspace entitlements the service accepts.
var knownEntitlements = []string{"workspace-access", "databricks-sql-access", "allow-cluster-create", "allow-instance-pool-create"}

// scimAPI says which SCIM API a request came through.
type scimAPI int

const (
	wsSCIM    scimAPI = iota // workspace: local groups and assigned account groups, entitlements
	acctSCIM                 // account: account identities and groups, no entitlements
	proxySCIM                // account SCIM proxied by the workspace: account groups, admins and managers
)

// scimErr is a SCIM-shaped error.
type scimErr struct {
	status int
	typ    string // scimType, may be empty
	detail string
}

func (e *scimErr) Error() string { return e.detail }

func scimFail(status int, typ, format string, args ...any) *scimErr {
	return &scimErr{status, typ, fmt.Sprintf(format, args...)}
}

func writeSCIMError(w http.ResponseWriter, e *scimErr) {
	body := map[string]any{"schemas": []string{schemaError}, "detail": e.detail, "status": strconv.Itoa(e.status)}
	if e.typ != "" {
		body["scimType"] = e.typ
	}
	writeJSON(w, e.status, body)
}

// scimCtx renders and changes resources for one request. Callers hold o.Mu.
type scimCtx struct {
	o        *Org
	api      scimAPI
	caller   principal
	memberOf map[string][]*DBGroup // member id -> visible groups holding it, built on demand
	need     map[string]bool       // if set, the only ids memberOf is wanted for
}

func (s *Server) scimCtx(api scimAPI, p principal) *scimCtx {
	return &scimCtx{o: s.Org, api: api, caller: p}
}

// manages says whether the caller may use the proxied account SCIM on g.
func (c *scimCtx) manages(g *DBGroup) bool {
	return c.caller.admin() || slices.Contains(g.Managers, c.caller.id())
}

func (c *scimCtx) groupVisible(g *DBGroup) bool {
	switch c.api {
	case acctSCIM:
		return g.Kind == AccountGroup
	case proxySCIM:
		return g.Kind == AccountGroup && c.manages(g)
	}
	return g.Kind != AccountGroup || g.Assigned
}

// ids lists the visible resources of type t in id order.
func (c *scimCtx) ids(t string) []string {
	var ids []string
	db := c.o.DB
	switch t {
	case scimUsers:
		for _, id := range sortedKeys(c.o, scimUsers, db.Users) {
			if c.api != wsSCIM || db.Users[id].Assigned {
				ids = append(ids, id)
			}
		}
	case scimSPs:
		for _, id := range sortedKeys(c.o, scimSPs, db.ServicePrincipals) {
			if c.api != wsSCIM || db.ServicePrincipals[id].Assigned {
				ids = append(ids, id)
			}
		}
	case scimGroups:
		for _, id := range sortedKeys(c.o, scimGroups, db.Groups) {
			if c.groupVisible(db.Groups[id]) {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// lookup finds a visible resource; the error is the service's 404 (or 403
// for a group the caller may not manage through the proxy).
func (c *scimCtx) lookup(t, id string) (any, *scimErr) {
	db := c.o.DB
	switch t {
	case scimUsers:
		if u := db.Users[id]; u != nil && (c.api != wsSCIM || u.Assigned) {
			return u, nil
		}
		return nil, scimFail(http.StatusNotFound, "", "User %s not found.", id)
	case scimSPs:
		if sp := db.ServicePrincipals[id]; sp != nil && (c.api != wsSCIM || sp.Assigned) {
			return sp, nil
		}
		return nil, scimFail(http.StatusNotFound, "", "Service principal %s not found.", id)
	}
	g := db.Groups[id]
	if g != nil && c.api == proxySCIM && g.Kind == AccountGroup && !c.manages(g) {
		return nil, scimFail(http.StatusForbidden, "", "Only workspace admins and managers of group %s may use this API.", id)
	}
	if g == nil || !c.groupVisible(g) {
		return nil, scimFail(http.StatusNotFound, "", "Group with id %s not found.", id)
	}
	return g, nil
}

// ---- rendering ----

// want says whether a (lower-case) top-level attribute is to be rendered.
type want func(attr string) bool

func wantAll(string) bool { return true }

// projection honours attributes / excludedAttributes; id and schemas always stay.
func projection(attributes, excluded string) want {
	set := func(list string) map[string]bool {
		m := map[string]bool{}
		for _, a := range strings.Split(list, ",") {
			if a = strings.ToLower(strings.TrimSpace(a)); a != "" {
				m[strings.SplitN(a, ".", 2)[0]] = true
			}
		}
		return m
	}
	if attributes != "" {
		in := set(attributes)
		return func(a string) bool { return in[a] || a == "id" || a == "schemas" }
	}
	out := set(excluded)
	return func(a string) bool { return !out[a] }
}

// put sets key when it is wanted and not empty.
func put(m map[string]any, w want, key string, v any) {
	if !w(strings.ToLower(key)) {
		return
	}
	switch x := v.(type) {
	case nil:
		return
	case string:
		if x == "" {
			return
		}
	case []any:
		if len(x) == 0 {
			return
		}
	}
	m[key] = v
}

func (c *scimCtx) render(v any, w want) map[string]any {
	switch x := v.(type) {
	case *DBUser:
		return c.renderUser(x, w)
	case *DBServicePrincipal:
		return c.renderSP(x, w)
	}
	return c.renderGroup(v.(*DBGroup), w)
}

func (c *scimCtx) renderUser(u *DBUser, w want) map[string]any {
	m := map[string]any{"id": u.ID}
	put(m, w, "schemas", []any{schemaUser, schemaUserWS})
	put(m, w, "userName", u.UserName)
	put(m, w, "displayName", u.DisplayName)
	put(m, w, "active", u.Active)
	put(m, w, "externalId", u.ExternalID)
	put(m, w, "emails", []any{map[string]any{"value": u.UserName, "type": "work", "primary": true}})
	if u.GivenName != "" || u.FamilyName != "" {
		name := map[string]any{}
		put(name, wantAll, "givenName", u.GivenName)
		put(name, wantAll, "familyName", u.FamilyName)
		put(m, w, "name", name)
	}
	c.putMemberships(m, w, u.ID, u.Entitlements)
	return m
}

func (c *scimCtx) renderSP(sp *DBServicePrincipal, w want) map[string]any {
	m := map[string]any{"id": sp.ID}
	put(m, w, "schemas", []any{schemaSP})
	put(m, w, "applicationId", sp.ApplicationID)
	put(m, w, "displayName", sp.DisplayName)
	put(m, w, "active", sp.Active)
	put(m, w, "externalId", sp.ExternalID)
	c.putMemberships(m, w, sp.ID, sp.Entitlements)
	return m
}

// meAsUser renders a service principal as SCIM Me does: a user whose user
// name is the application id.
func (c *scimCtx) meAsUser(sp *DBServicePrincipal) map[string]any {
	m := c.renderSP(sp, wantAll)
	delete(m, "applicationId")
	m["schemas"] = []any{schemaUser, schemaUserWS}
	m["userName"] = sp.ApplicationID
	return m
}

func (c *scimCtx) renderGroup(g *DBGroup, w want) map[string]any {
	m := map[string]any{"id": g.ID}
	put(m, w, "schemas", []any{schemaGroup})
	put(m, w, "displayName", g.DisplayName)
	put(m, w, "externalId", g.ExternalID)
	resourceType := string(g.Kind)
	if c.api != wsSCIM {
		resourceType = "Group"
	}
	put(m, w, "meta", map[string]any{"resourceType": resourceType})
	// Since August 2025 the account group list omits members; listGroups
	// passes a want without them.
	if w("members") {
		var members []any
		for _, mem := range g.Members {
			members = append(members, c.memberRef(mem.Value))
		}
		put(m, w, "members", members)
	}
	c.putMemberships(m, w, g.ID, g.Entitlements)
	return m
}

// putMemberships adds the groups a principal is a direct member of and, on
// the workspace API, its entitlements.
func (c *scimCtx) putMemberships(m map[string]any, w want, id string, entitlements []string) {
	if w("groups") && c.api == wsSCIM {
		var groups []any
		for _, g := range c.parents(id) {
			groups = append(groups, map[string]any{"value": g.ID, "display": g.DisplayName, "type": "direct", "$ref": "Groups/" + g.ID})
		}
		put(m, w, "groups", groups)
	}
	if c.api == wsSCIM {
		var ents []any
		for _, e := range entitlements {
			ents = append(ents, map[string]any{"value": e})
		}
		put(m, w, "entitlements", ents)
	}
}

func (c *scimCtx) parents(id string) []*DBGroup {
	if c.memberOf == nil {
		c.memberOf = map[string][]*DBGroup{}
		for _, gid := range c.ids(scimGroups) {
			g := c.o.DB.Groups[gid]
			for _, mem := range g.Members {
				if c.need == nil || c.need[mem.Value] {
					c.memberOf[mem.Value] = append(c.memberOf[mem.Value], g)
				}
			}
		}
	}
	return c.memberOf[id]
}

// memberRef renders one member of a group.
func (c *scimCtx) memberRef(id string) map[string]any {
	db := c.o.DB
	ref := map[string]any{"value": id}
	switch {
	case db.Users[id] != nil:
		u := db.Users[id]
		ref["display"], ref["$ref"] = cmpOr(u.DisplayName, u.UserName), "Users/"+id
	case db.ServicePrincipals[id] != nil:
		ref["display"], ref["$ref"] = db.ServicePrincipals[id].DisplayName, "ServicePrincipals/"+id
	case db.Groups[id] != nil:
		ref["display"], ref["$ref"] = db.Groups[id].DisplayName, "Groups/"+id
	}
	return ref
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ---- handlers ----

func (s *Server) scimList(api scimAPI, t string) dbHandler {
	return func(w http.ResponseWriter, r *http.Request, p principal) {
		c := s.scimCtx(api, p)
		q := r.URL.Query()
		ids := c.ids(t)
		if f := q.Get("filter"); f != "" {
			expr, err := parseFilter(f)
			if err != nil {
				writeSCIMError(w, scimFail(http.StatusBadRequest, "invalidFilter", "%v", err))
				return
			}
			attrs := expr.attrs()
			matchWant := func(a string) bool { return attrs[a] }
			kept := ids[:0]
			for _, id := range ids {
				v, _ := c.lookup(t, id)
				if expr.match(c.render(v, matchWant)) {
					kept = append(kept, id)
				}
			}
			ids = kept
		}
		start, _ := strconv.Atoi(q.Get("startIndex"))
		start = max(start, 1)
		count, _ := strconv.Atoi(q.Get("count"))
		if count <= 0 || count > scimMaxPage {
			count = scimMaxPage
		}
		from := min(start-1, len(ids))
		page := ids[from:min(from+count, len(ids))]
		wnt := projection(q.Get("attributes"), q.Get("excludedAttributes"))
		if api != wsSCIM && t == scimGroups {
			inner := wnt
			wnt = func(a string) bool { return a != "members" && inner(a) }
		}
		c.memberOf, c.need = nil, map[string]bool{}
		for _, id := range page {
			c.need[id] = true
		}
		resources := make([]any, 0, len(page))
		for _, id := range page {
			v, _ := c.lookup(t, id)
			resources = append(resources, c.render(v, wnt))
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"schemas":      []string{schemaList},
			"totalResults": len(ids),
			"startIndex":   start,
			"itemsPerPage": len(resources),
			"Resources":    resources,
		})
	}
}

func (s *Server) scimGet(api scimAPI, t string) dbHandler {
	return func(w http.ResponseWriter, r *http.Request, p principal) {
		c := s.scimCtx(api, p)
		v, err := c.lookup(t, r.PathValue("id"))
		if err != nil {
			writeSCIMError(w, err)
			return
		}
		q := r.URL.Query()
		writeJSON(w, http.StatusOK, c.render(v, projection(q.Get("attributes"), q.Get("excludedAttributes"))))
	}
}

func (s *Server) scimMe(w http.ResponseWriter, r *http.Request, p principal) {
	c := s.scimCtx(wsSCIM, p)
	if p.sp != nil {
		writeJSON(w, http.StatusOK, c.meAsUser(p.sp))
		return
	}
	writeJSON(w, http.StatusOK, c.renderUser(p.user, wantAll))
}

// scimBody is what create and PUT accept, for any resource type.
type scimBody struct {
	UserName      string                                 `json:"userName"`
	DisplayName   string                                 `json:"displayName"`
	ApplicationID string                                 `json:"applicationId"`
	ExternalID    string                                 `json:"externalId"`
	Active        *bool                                  `json:"active"`
	Name          struct{ GivenName, FamilyName string } `json:"name"`
	Members       []scimValue                            `json:"members"`
	Entitlements  []scimValue                            `json:"entitlements"`
}

type scimValue struct {
	Value string `json:"value"`
}

func values(vs []scimValue) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.Value)
	}
	return out
}

// scimCreate creates a workspace resource. A user or service principal that
// already exists in the account but is not assigned is assigned instead, as
// in an identity-federated workspace.
func (s *Server) scimCreate(t string) dbHandler {
	return func(w http.ResponseWriter, r *http.Request, p principal) {
		c := s.scimCtx(wsSCIM, p)
		var b scimBody
		if err := readJSON(r, &b); err != nil {
			writeSCIMError(w, scimFail(http.StatusBadRequest, "invalidSyntax", "Request is unparsable, syntactically incorrect, or violates schema."))
			return
		}
		ents, err := checkEntitlements(values(b.Entitlements))
		if err != nil {
			writeSCIMError(w, err)
			return
		}
		db := s.Org.DB
		var v any
		switch t {
		case scimUsers:
			if b.UserName == "" {
				writeSCIMError(w, scimFail(http.StatusBadRequest, "invalidValue", "userName is required."))
				return
			}
			u := s.Org.dbUserByName(b.UserName)
			if u != nil && u.Assigned {
				writeSCIMError(w, scimFail(http.StatusConflict, "", "User with username %s already exists.", b.UserName))
				return
			}
			if u == nil {
				u = s.Org.addDBUser(DBUser{UserName: b.UserName, DisplayName: b.DisplayName, Active: true})
			}
			u.Assigned, u.Entitlements = true, ents
			u.GivenName, u.FamilyName = cmpOr(b.Name.GivenName, u.GivenName), cmpOr(b.Name.FamilyName, u.FamilyName)
			u.DisplayName, u.ExternalID = cmpOr(b.DisplayName, u.DisplayName), cmpOr(b.ExternalID, u.ExternalID)
			if b.Active != nil {
				u.Active = *b.Active
			}
			v = u
		case scimSPs:
			var sp *DBServicePrincipal
			for _, x := range db.ServicePrincipals {
				if b.ApplicationID != "" && strings.EqualFold(x.ApplicationID, b.ApplicationID) {
					sp = x
				}
			}
			if sp != nil && sp.Assigned {
				writeSCIMError(w, scimFail(http.StatusConflict, "", "Service principal with application ID %s already exists.", b.ApplicationID))
				return
			}
			if sp == nil {
				sp = s.Org.addServicePrincipal(DBServicePrincipal{ApplicationID: b.ApplicationID, Active: true})
			}
			sp.Assigned, sp.Entitlements = true, ents
			sp.DisplayName, sp.ExternalID = cmpOr(b.DisplayName, sp.DisplayName), cmpOr(b.ExternalID, sp.ExternalID)
			if b.Active != nil {
				sp.Active = *b.Active
			}
			v = sp
		case scimGroups:
			if b.DisplayName == "" {
				writeSCIMError(w, scimFail(http.StatusBadRequest, "invalidValue", "displayName is required."))
				return
			}
			for _, id := range c.ids(scimGroups) {
				if strings.EqualFold(db.Groups[id].DisplayName, b.DisplayName) {
					writeSCIMError(w, scimFail(http.StatusConflict, "", "Group with name %s already exists.", b.DisplayName))
					return
				}
			}
			members, err := c.resolveMembers(nil, values(b.Members))
			if err != nil {
				writeSCIMError(w, err)
				return
			}
			v = s.Org.addDBGroup(DBGroup{DisplayName: b.DisplayName, ExternalID: b.ExternalID, Kind: WorkspaceGroup, Members: members, Entitlements: ents})
		}
		writeJSON(w, http.StatusCreated, c.render(v, wantAll))
	}
}

// scimPut replaces a workspace resource.
func (s *Server) scimPut(t string) dbHandler {
	return func(w http.ResponseWriter, r *http.Request, p principal) {
		c := s.scimCtx(wsSCIM, p)
		v, serr := c.lookup(t, r.PathValue("id"))
		if serr != nil {
			writeSCIMError(w, serr)
			return
		}
		var b scimBody
		if err := readJSON(r, &b); err != nil {
			writeSCIMError(w, scimFail(http.StatusBadRequest, "invalidSyntax", "Request is unparsable, syntactically incorrect, or violates schema."))
			return
		}
		ents, serr := checkEntitlements(values(b.Entitlements))
		if serr != nil {
			writeSCIMError(w, serr)
			return
		}
		active := b.Active == nil || *b.Active
		switch x := v.(type) {
		case *DBUser:
			x.UserName = cmpOr(b.UserName, x.UserName)
			x.DisplayName, x.GivenName, x.FamilyName = b.DisplayName, b.Name.GivenName, b.Name.FamilyName
			x.ExternalID, x.Entitlements, x.Active = b.ExternalID, ents, active
		case *DBServicePrincipal:
			x.DisplayName, x.ExternalID, x.Entitlements, x.Active = b.DisplayName, b.ExternalID, ents, active
		case *DBGroup:
			if x.Kind == AccountGroup {
				writeSCIMError(w, accountGroupError(x))
				return
			}
			members, serr := c.resolveMembers(x, values(b.Members))
			if serr != nil {
				writeSCIMError(w, serr)
				return
			}
			x.DisplayName, x.ExternalID = cmpOr(b.DisplayName, x.DisplayName), b.ExternalID
			x.Members, x.Entitlements = members, ents
		}
		writeJSON(w, http.StatusOK, c.render(v, wantAll))
	}
}

// scimDelete deletes a workspace-local group, or removes a user or service
// principal from the workspace (it stays in the account, unassigned, and its
// tokens go).
func (s *Server) scimDelete(t string) dbHandler {
	return func(w http.ResponseWriter, r *http.Request, p principal) {
		c := s.scimCtx(wsSCIM, p)
		id := r.PathValue("id")
		v, serr := c.lookup(t, id)
		if serr != nil {
			writeSCIMError(w, serr)
			return
		}
		db := s.Org.DB
		switch x := v.(type) {
		case *DBUser:
			x.Assigned = false
		case *DBServicePrincipal:
			x.Assigned = false
		case *DBGroup:
			if x.Kind == AccountGroup {
				writeSCIMError(w, accountGroupError(x))
				return
			}
			delete(db.Groups, id)
		}
		for _, g := range db.Groups {
			if g.Kind == WorkspaceGroup || t == scimGroups {
				g.Members = slices.DeleteFunc(g.Members, func(m DBMember) bool { return m.Value == id })
			}
		}
		if t != scimGroups {
			for tid, tok := range db.Tokens {
				if tok.OwnerID == id {
					delete(db.Tokens, tid)
					delete(db.TokensByValue, tok.Value)
				}
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func accountGroupError(g *DBGroup) *scimErr {
	return scimFail(http.StatusBadRequest, "invalidValue",
		"Group %s (%s) is an account group: workspace-level SCIM API calls fail if they involve account groups. "+
			"Use the account SCIM API (/api/2.0/accounts/{account_id}/scim/v2/Groups) or, as a workspace admin or group manager, /api/2.0/account/scim/v2/Groups.",
		g.ID, g.DisplayName)
}

// checkEntitlements rejects entitlements the service does not know.
func checkEntitlements(ents []string) ([]string, *scimErr) {
	for _, e := range ents {
		if !slices.Contains(knownEntitlements, e) {
			return nil, scimFail(http.StatusBadRequest, "invalidValue", "Invalid entitlement %q; valid ones are %s.", e, strings.Join(knownEntitlements, ", "))
		}
	}
	return ents, nil
}

// resolveMembers turns member ids into the members of g (nil for a new
// group), checking that each new one exists where this API can see it.
func (c *scimCtx) resolveMembers(g *DBGroup, ids []string) ([]DBMember, *scimErr) {
	db := c.o.DB
	var out []DBMember
	for _, id := range ids {
		if g != nil {
			if i := slices.IndexFunc(g.Members, func(m DBMember) bool { return m.Value == id }); i >= 0 {
				out = append(out, g.Members[i])
				continue
			}
		}
		var typ string
		switch sub := db.Groups[id]; {
		case db.Users[id] != nil:
			typ = "User"
		case db.ServicePrincipals[id] != nil:
			typ = "ServicePrincipal"
		case sub != nil && (g == nil || sub != g) && (c.api == wsSCIM && c.groupVisible(sub) || c.api != wsSCIM && sub.Kind == AccountGroup):
			typ = "Group"
		default:
			return nil, scimFail(http.StatusBadRequest, "invalidValue", "Member %s does not exist or cannot be a member of this group.", id)
		}
		out = append(out, DBMember{Value: id, Type: typ})
	}
	return out, nil
}

// ---- PATCH ----

// scimChange is one elementary change of a PATCH: an operation on one
// attribute, optionally narrowed to one value (members[value eq "42"]).
type scimChange struct {
	op    string // add, remove, replace
	attr  string // lower case: members, entitlements, displayname, active, externalid, name, ...
	sub   string // lower case sub-attribute, for name.givenName
	match string // the value selected by the path filter, if any
	value json.RawMessage
}

var patchPathRE = regexp.MustCompile(`^([A-Za-z$]+)(?:\[\s*value\s+eq\s+"?([^"\]]*)"?\s*\])?(?:\.([A-Za-z]+))?$`)

func parsePatch(r *http.Request) ([]scimChange, *scimErr) {
	var body struct {
		Operations []struct {
			Op    string          `json:"op"`
			Path  string          `json:"path"`
			Value json.RawMessage `json:"value"`
		} `json:"Operations"`
	}
	bad := scimFail(http.StatusBadRequest, "invalidSyntax", "Request is unparsable, syntactically incorrect, or violates schema.")
	if err := readJSON(r, &body); err != nil || len(body.Operations) == 0 {
		return nil, bad
	}
	var out []scimChange
	for _, op := range body.Operations {
		ch := scimChange{op: strings.ToLower(op.Op), value: op.Value}
		if ch.op != "add" && ch.op != "remove" && ch.op != "replace" {
			return nil, scimFail(http.StatusBadRequest, "invalidSyntax", "Unsupported patch operation %q.", op.Op)
		}
		if op.Path == "" {
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(op.Value, &fields); err != nil {
				return nil, bad
			}
			for _, k := range sortedIDs(fields) {
				out = append(out, scimChange{op: ch.op, attr: strings.ToLower(k), value: fields[k]})
			}
			continue
		}
		m := patchPathRE.FindStringSubmatch(strings.TrimSpace(op.Path))
		if m == nil {
			return nil, scimFail(http.StatusBadRequest, "invalidPath", "Invalid path %q.", op.Path)
		}
		ch.attr, ch.match, ch.sub = strings.ToLower(m[1]), m[2], strings.ToLower(m[3])
		out = append(out, ch)
	}
	return out, nil
}

// decodeValues reads a multi-valued attribute's values: [{"value":..}], one
// {"value":..}, or bare strings.
func decodeValues(raw json.RawMessage) []string {
	var list []scimValue
	if json.Unmarshal(raw, &list) == nil {
		return values(list)
	}
	var one scimValue
	if json.Unmarshal(raw, &one) == nil && one.Value != "" {
		return []string{one.Value}
	}
	var strs []string
	if json.Unmarshal(raw, &strs) == nil {
		return strs
	}
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return []string{s}
	}
	return nil
}

// applyValues applies a change to a multi-valued attribute and returns the
// new list (never the old backing array).
func applyValues(cur []string, ch scimChange) []string {
	vals := decodeValues(ch.value)
	out := slices.Clone(cur)
	switch ch.op {
	case "remove":
		drop := vals
		if ch.match != "" {
			drop = []string{ch.match}
		} else if len(vals) == 0 {
			return nil
		}
		return slices.DeleteFunc(out, func(v string) bool { return slices.Contains(drop, v) })
	case "replace":
		if ch.match == "" {
			out = nil
		} else {
			out = slices.DeleteFunc(out, func(v string) bool { return v == ch.match })
		}
	}
	for _, v := range vals {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func decodeString(raw json.RawMessage) (string, bool) {
	var s string
	return s, json.Unmarshal(raw, &s) == nil
}

// decodeBool accepts true/false and the strings "True"/"False" some
// provisioning clients send.
func decodeBool(raw json.RawMessage) (bool, bool) {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, true
	}
	s, ok := decodeString(raw)
	b, err := strconv.ParseBool(s)
	return b, ok && err == nil
}

func (s *Server) scimPatch(api scimAPI, t string) dbHandler {
	return func(w http.ResponseWriter, r *http.Request, p principal) {
		c := s.scimCtx(api, p)
		v, serr := c.lookup(t, r.PathValue("id"))
		if serr == nil {
			var changes []scimChange
			if changes, serr = parsePatch(r); serr == nil {
				serr = c.patch(v, changes)
			}
		}
		if serr != nil {
			writeSCIMError(w, serr)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// patchable points into a copy of a resource at the attributes PATCH may
// change; nil pointers are attributes the resource does not have.
type patchable struct {
	ents, members                    *[]string
	display, external, given, family *string
	active                           *bool
}

// patch applies every change to a copy of v and commits only if all succeed.
func (c *scimCtx) patch(v any, changes []scimChange) *scimErr {
	var f patchable
	var commit func() *scimErr
	switch x := v.(type) {
	case *DBUser:
		cp := *x
		f = patchable{ents: &cp.Entitlements, display: &cp.DisplayName, external: &cp.ExternalID, active: &cp.Active, given: &cp.GivenName, family: &cp.FamilyName}
		commit = func() *scimErr { *x = cp; return nil }
	case *DBServicePrincipal:
		cp := *x
		f = patchable{ents: &cp.Entitlements, display: &cp.DisplayName, external: &cp.ExternalID, active: &cp.Active}
		commit = func() *scimErr { *x = cp; return nil }
	case *DBGroup:
		if c.api == wsSCIM && x.Kind == AccountGroup {
			for _, ch := range changes {
				if ch.attr != "entitlements" {
					return accountGroupError(x)
				}
			}
		}
		cp := *x
		var memberIDs []string
		for _, m := range x.Members {
			memberIDs = append(memberIDs, m.Value)
		}
		f = patchable{ents: &cp.Entitlements, display: &cp.DisplayName, external: &cp.ExternalID, members: &memberIDs}
		commit = func() *scimErr {
			members, err := c.resolveMembers(x, memberIDs)
			if err == nil {
				cp.Members = members
				*x = cp
			}
			return err
		}
	}
	if c.api != wsSCIM {
		f.ents = nil // entitlements are per workspace
	}
	for _, ch := range changes {
		if err := f.apply(ch); err != nil {
			return err
		}
	}
	if f.ents != nil {
		if _, err := checkEntitlements(*f.ents); err != nil {
			return err
		}
	}
	return commit()
}

// apply applies one change to the copy.
func (f patchable) apply(ch scimChange) *scimErr {
	str := func(dst *string) *scimErr {
		if ch.op == "remove" {
			*dst = ""
			return nil
		}
		s, ok := decodeString(ch.value)
		if !ok {
			return scimFail(http.StatusBadRequest, "invalidValue", "Attribute %q needs a string value.", ch.attr)
		}
		*dst = s
		return nil
	}
	switch {
	case ch.attr == "entitlements" && f.ents != nil:
		*f.ents = applyValues(*f.ents, ch)
	case ch.attr == "members" && f.members != nil:
		*f.members = applyValues(*f.members, ch)
	case ch.attr == "displayname":
		return str(f.display)
	case ch.attr == "externalid":
		return str(f.external)
	case ch.attr == "active" && f.active != nil:
		b, ok := decodeBool(ch.value)
		if !ok {
			return scimFail(http.StatusBadRequest, "invalidValue", "Attribute active needs a boolean value.")
		}
		*f.active = b
	case ch.attr == "name" && f.given != nil && ch.sub == "givenname":
		return str(f.given)
	case ch.attr == "name" && f.given != nil && ch.sub == "familyname":
		return str(f.family)
	case ch.attr == "name" && f.given != nil && ch.sub == "":
		var n struct{ GivenName, FamilyName *string }
		if json.Unmarshal(ch.value, &n) != nil {
			return scimFail(http.StatusBadRequest, "invalidValue", "Attribute name needs an object value.")
		}
		if n.GivenName != nil {
			*f.given = *n.GivenName
		}
		if n.FamilyName != nil {
			*f.family = *n.FamilyName
		}
	case ch.attr == "schemas":
	default:
		return scimFail(http.StatusBadRequest, "invalidPath", "Attribute %q cannot be patched through this API.", ch.attr)
	}
	return nil
}
