package emulator

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// rfc3339 formats times the way the account APIs do.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// pageOf cuts n items into the page asked for by page_size / page_token and
// returns its bounds and the next token ("" on the last page). It writes a
// 400 and returns ok=false for a token it did not issue.
func pageOf(w http.ResponseWriter, r *http.Request, n int) (lo, hi int, next string, ok bool) {
	q := r.URL.Query()
	size, _ := strconv.Atoi(q.Get("page_size"))
	if size <= 0 || size > 100 {
		size = 100
	}
	if tok := q.Get("page_token"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		off, err2 := strconv.Atoi(strings.TrimPrefix(string(raw), "offset:"))
		if err != nil || err2 != nil || off < 0 || !strings.HasPrefix(string(raw), "offset:") {
			dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid page_token.")
			return 0, 0, "", false
		}
		lo = min(off, n)
	}
	hi = min(lo+size, n)
	if hi < n {
		next = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(hi)))
	}
	return lo, hi, next, true
}

// writePage answers a list route with the page of all that page_size and
// page_token ask for, under key, and the next page's token when there is one.
func writePage[T any](w http.ResponseWriter, r *http.Request, key string, all []T, render func(T) any) {
	lo, hi, next, ok := pageOf(w, r, len(all))
	if !ok {
		return
	}
	items := []any{}
	for _, it := range all[lo:hi] {
		items = append(items, render(it))
	}
	resp := map[string]any{key: items}
	if next != "" {
		resp["next_page_token"] = next
	}
	writeJSON(w, http.StatusOK, resp)
}

// ---- service principal OAuth secrets ----

// secretSP finds the service principal of a secrets route: by SCIM id, in
// the account, or (workspace proxy) among those assigned to the workspace.
func (s *Server) secretSP(w http.ResponseWriter, r *http.Request) *DBServicePrincipal {
	sp := s.Org.DB.ServicePrincipals[r.PathValue("sp_id")]
	if sp == nil || r.PathValue("account_id") == "" && !sp.Assigned {
		dbError(w, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Service principal %s does not exist.", r.PathValue("sp_id"))
		return nil
	}
	return sp
}

func (o *Org) secretsOf(spID string) []*DBSecret {
	var out []*DBSecret
	for _, sec := range o.DB.Secrets {
		if sec.SPID == spID {
			out = append(out, sec)
		}
	}
	slices.SortFunc(out, func(a, b *DBSecret) int { return cmpID(a.ID, b.ID) })
	return out
}

// secretInfo renders a secret without its value.
func (o *Org) secretInfo(sec *DBSecret) map[string]any {
	status := sec.Status
	if !sec.Expire.IsZero() && !o.Now().Before(sec.Expire) {
		status = "EXPIRED"
	}
	m := map[string]any{"id": sec.ID, "secret_hash": sec.Hash, "status": status,
		"create_time": rfc3339(sec.Created), "update_time": rfc3339(sec.Updated)}
	if !sec.Expire.IsZero() {
		m["expire_time"] = rfc3339(sec.Expire)
	}
	return m
}

func (s *Server) secretCreate(w http.ResponseWriter, r *http.Request, p principal) {
	o := s.Org
	sp := s.secretSP(w, r)
	if sp == nil {
		return
	}
	var req struct {
		Lifetime string `json:"lifetime"`
	}
	if r.ContentLength != 0 {
		if err := readJSON(r, &req); err != nil {
			dbError(w, http.StatusBadRequest, "MALFORMED_REQUEST", "Invalid JSON body.")
			return
		}
	}
	seconds := int64(defaultSecretTTL)
	if req.Lifetime != "" {
		n, err := strconv.ParseInt(strings.TrimSuffix(req.Lifetime, "s"), 10, 64)
		if err != nil || n <= 0 || n > defaultSecretTTL {
			dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
				"Invalid lifetime %q: give seconds, such as \"7776000s\", of at most 730 days (63072000s).", req.Lifetime)
			return
		}
		seconds = n
	}
	if len(o.secretsOf(sp.ID)) >= maxSPSecrets {
		dbError(w, http.StatusBadRequest, "RESOURCE_LIMIT_EXCEEDED",
			"Service principal %s already has the maximum number of secrets (%d); delete one before creating another.", sp.ID, maxSPSecrets)
		return
	}
	now := o.Now()
	sec := o.addSecret(DBSecret{SPID: sp.ID, Secret: "dose" + randomHex(32), Created: now, Expire: now.Add(time.Duration(seconds) * time.Second)})
	resp := o.secretInfo(sec)
	resp["secret"] = sec.Secret
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) secretList(w http.ResponseWriter, r *http.Request, p principal) {
	sp := s.secretSP(w, r)
	if sp == nil {
		return
	}
	writePage(w, r, "secrets", s.Org.secretsOf(sp.ID), func(sec *DBSecret) any { return s.Org.secretInfo(sec) })
}

func (s *Server) secretDelete(w http.ResponseWriter, r *http.Request, p principal) {
	sp := s.secretSP(w, r)
	if sp == nil {
		return
	}
	sec := s.Org.DB.Secrets[r.PathValue("secret_id")]
	if sec == nil || sec.SPID != sp.ID {
		dbError(w, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Secret %s does not exist.", r.PathValue("secret_id"))
		return
	}
	delete(s.Org.DB.Secrets, sec.ID)
	writeJSON(w, http.StatusOK, map[string]any{})
}

// ---- federation policies ----

type oidcPolicy struct {
	Issuer       string   `json:"issuer,omitempty"`
	Audiences    []string `json:"audiences,omitempty"`
	Subject      string   `json:"subject,omitempty"`
	SubjectClaim string   `json:"subject_claim,omitempty"`
	JWKSURI      string   `json:"jwks_uri,omitempty"`
	JWKSJSON     string   `json:"jwks_json,omitempty"`
}

type policyBody struct {
	Description string      `json:"description"`
	OIDCPolicy  *oidcPolicy `json:"oidc_policy"`
}

// policySP finds the service principal of a federation policy route.
func (s *Server) policySP(w http.ResponseWriter, r *http.Request) *DBServicePrincipal {
	sp := s.Org.DB.ServicePrincipals[r.PathValue("sp_id")]
	if sp == nil {
		dbError(w, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Service principal %s does not exist.", r.PathValue("sp_id"))
	}
	return sp
}

// policiesOf lists an SP's policies in creation order. Policy ids are unique
// per service principal, so the map is searched by (SPID, ID) and keyed
// "SPID/ID" for the ones created here.
func (o *Org) policiesOf(spID string) []*DBFederationPolicy {
	var out []*DBFederationPolicy
	for _, fp := range o.DB.FederationPolicies {
		if fp.SPID == spID {
			out = append(out, fp)
		}
	}
	slices.SortFunc(out, func(a, b *DBFederationPolicy) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

func (s *Server) policyByID(w http.ResponseWriter, r *http.Request) (*DBServicePrincipal, *DBFederationPolicy) {
	sp := s.policySP(w, r)
	if sp == nil {
		return nil, nil
	}
	id := r.PathValue("policy_id")
	for _, fp := range s.Org.policiesOf(sp.ID) {
		if fp.ID == id {
			return sp, fp
		}
	}
	dbError(w, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Federation policy %s does not exist for service principal %s.", id, sp.ID)
	return nil, nil
}

func (s *Server) policyJSON(fp *DBFederationPolicy) map[string]any {
	return map[string]any{
		"policy_id":            fp.ID,
		"name":                 "accounts/" + s.Org.DB.AccountID + "/servicePrincipals/" + fp.SPID + "/federationPolicies/" + fp.ID,
		"uid":                  uuidFrom("federation-policy/" + fp.SPID + "/" + fp.ID),
		"service_principal_id": numericID(fp.SPID),
		"description":          fp.Description,
		"create_time":          rfc3339(fp.Created),
		"update_time":          rfc3339(fp.Updated),
		"oidc_policy": oidcPolicy{Issuer: fp.Issuer, Audiences: fp.Audiences, Subject: fp.Subject,
			SubjectClaim: fp.SubjectClaim, JWKSURI: fp.JWKSURI, JWKSJSON: fp.JWKSJSON},
	}
}

// checkPolicy validates a policy as the service does for SP policies.
func checkPolicy(w http.ResponseWriter, fp *DBFederationPolicy) bool {
	switch {
	case fp.Issuer == "":
		dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "oidc_policy.issuer is required.")
	case fp.Subject == "":
		dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "oidc_policy.subject is required for service principal federation policies.")
	case fp.JWKSJSON != "" && fp.JWKSURI != "":
		dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Set at most one of oidc_policy.jwks_uri and oidc_policy.jwks_json.")
	default:
		return true
	}
	return false
}

func (fp *DBFederationPolicy) setOIDC(p *oidcPolicy) {
	fp.Issuer, fp.Audiences, fp.Subject = p.Issuer, p.Audiences, p.Subject
	fp.SubjectClaim, fp.JWKSURI, fp.JWKSJSON = cmpOr(p.SubjectClaim, "sub"), p.JWKSURI, p.JWKSJSON
}

func (s *Server) policyCreate(w http.ResponseWriter, r *http.Request, p principal) {
	o := s.Org
	sp := s.policySP(w, r)
	if sp == nil {
		return
	}
	var body policyBody
	if err := readJSON(r, &body); err != nil || body.OIDCPolicy == nil {
		dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "The policy needs an oidc_policy.")
		return
	}
	id := r.URL.Query().Get("policy_id")
	if id == "" {
		id = o.newUUID()
	}
	for _, fp := range o.policiesOf(sp.ID) {
		if fp.ID == id {
			dbError(w, http.StatusConflict, "RESOURCE_ALREADY_EXISTS", "Federation policy %s already exists for service principal %s.", id, sp.ID)
			return
		}
	}
	now := o.Now()
	fp := &DBFederationPolicy{ID: id, SPID: sp.ID, Description: body.Description, Created: now, Updated: now}
	fp.setOIDC(body.OIDCPolicy)
	if !checkPolicy(w, fp) {
		return
	}
	o.DB.FederationPolicies[sp.ID+"/"+id] = fp
	writeJSON(w, http.StatusOK, s.policyJSON(fp))
}

func (s *Server) policyList(w http.ResponseWriter, r *http.Request, p principal) {
	sp := s.policySP(w, r)
	if sp == nil {
		return
	}
	writePage(w, r, "policies", s.Org.policiesOf(sp.ID), func(fp *DBFederationPolicy) any { return s.policyJSON(fp) })
}

func (s *Server) policyGet(w http.ResponseWriter, r *http.Request, p principal) {
	if _, fp := s.policyByID(w, r); fp != nil {
		writeJSON(w, http.StatusOK, s.policyJSON(fp))
	}
}

// policyUpdate applies the fields named by update_mask (all given fields
// when there is none): description, oidc_policy, or oidc_policy.<field>.
func (s *Server) policyUpdate(w http.ResponseWriter, r *http.Request, p principal) {
	_, fp := s.policyByID(w, r)
	if fp == nil {
		return
	}
	var body policyBody
	if err := readJSON(r, &body); err != nil {
		dbError(w, http.StatusBadRequest, "MALFORMED_REQUEST", "Invalid JSON body.")
		return
	}
	upd := *fp
	in := body.OIDCPolicy
	if in == nil {
		in = &oidcPolicy{}
	}
	mask := r.URL.Query().Get("update_mask")
	if mask == "" {
		mask = "description,oidc_policy"
		if body.Description == "" {
			mask = "oidc_policy"
		}
	}
	for _, f := range strings.Split(mask, ",") {
		switch strings.TrimSpace(f) {
		case "description":
			upd.Description = body.Description
		case "oidc_policy":
			if body.OIDCPolicy != nil {
				upd.setOIDC(in)
			}
		case "oidc_policy.issuer":
			upd.Issuer = in.Issuer
		case "oidc_policy.audiences":
			upd.Audiences = in.Audiences
		case "oidc_policy.subject":
			upd.Subject = in.Subject
		case "oidc_policy.subject_claim":
			upd.SubjectClaim = cmpOr(in.SubjectClaim, "sub")
		case "oidc_policy.jwks_uri":
			upd.JWKSURI = in.JWKSURI
		case "oidc_policy.jwks_json":
			upd.JWKSJSON = in.JWKSJSON
		default:
			dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid update_mask field %q.", f)
			return
		}
	}
	if !checkPolicy(w, &upd) {
		return
	}
	upd.Updated = s.Org.Now()
	*fp = upd
	writeJSON(w, http.StatusOK, s.policyJSON(fp))
}

func (s *Server) policyDelete(w http.ResponseWriter, r *http.Request, p principal) {
	_, fp := s.policyByID(w, r)
	if fp == nil {
		return
	}
	for k, v := range s.Org.DB.FederationPolicies {
		if v == fp {
			delete(s.Org.DB.FederationPolicies, k)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// ---- workspace assignment ----

// workspaceOK checks the workspace id in the path.
func (s *Server) workspaceOK(w http.ResponseWriter, r *http.Request) bool {
	if r.PathValue("workspace_id") != strconv.FormatInt(s.Org.DB.WorkspaceID, 10) {
		dbError(w, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Workspace %s does not exist in this account.", r.PathValue("workspace_id"))
		return false
	}
	return true
}

func permissions(admin bool) []string {
	if admin {
		return []string{"ADMIN"}
	}
	return []string{"USER"}
}

func (s *Server) assignmentList(w http.ResponseWriter, r *http.Request, p principal) {
	if !s.workspaceOK(w, r) {
		return
	}
	db := s.Org.DB
	out := []any{}
	add := func(id string, perms []string, principal map[string]any) {
		principal["principal_id"] = numericID(id)
		out = append(out, map[string]any{"principal": principal, "permissions": perms})
	}
	for _, id := range sortedIDs(db.Users) {
		if u := db.Users[id]; u.Assigned {
			add(id, permissions(u.Admin), map[string]any{"display_name": cmpOr(u.DisplayName, u.UserName), "user_name": u.UserName})
		}
	}
	for _, id := range sortedIDs(db.ServicePrincipals) {
		if sp := db.ServicePrincipals[id]; sp.Assigned {
			add(id, permissions(sp.Admin), map[string]any{"display_name": sp.DisplayName, "service_principal_name": sp.ApplicationID})
		}
	}
	for _, id := range sortedIDs(db.Groups) {
		if g := db.Groups[id]; g.Kind == AccountGroup && g.Assigned {
			add(id, permissions(false), map[string]any{"display_name": g.DisplayName, "group_name": g.DisplayName})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"permission_assignments": out})
}

// assignee applies assign to the principal of the path, if it exists.
func (s *Server) assignee(w http.ResponseWriter, r *http.Request, assign func(assigned, admin *bool) bool) {
	if !s.workspaceOK(w, r) {
		return
	}
	db, id := s.Org.DB, r.PathValue("principal_id")
	var assigned, admin *bool
	var dummy bool
	switch {
	case db.Users[id] != nil:
		assigned, admin = &db.Users[id].Assigned, &db.Users[id].Admin
	case db.ServicePrincipals[id] != nil:
		assigned, admin = &db.ServicePrincipals[id].Assigned, &db.ServicePrincipals[id].Admin
	case db.Groups[id] != nil && db.Groups[id].Kind == AccountGroup:
		assigned, admin = &db.Groups[id].Assigned, &dummy
	default:
		dbError(w, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Principal %s does not exist in this account.", id)
		return
	}
	if assign(assigned, admin) {
		writeJSON(w, http.StatusOK, map[string]any{"permissions": permissions(*admin), "principal": map[string]any{"principal_id": numericID(id)}})
	}
}

func (s *Server) assignmentPut(w http.ResponseWriter, r *http.Request, p principal) {
	var req struct {
		Permissions []string `json:"permissions"`
	}
	if err := readJSON(r, &req); err != nil || len(req.Permissions) == 0 {
		dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "permissions must list USER or ADMIN.")
		return
	}
	for _, perm := range req.Permissions {
		if perm != "USER" && perm != "ADMIN" {
			dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid permission %q; use USER or ADMIN.", perm)
			return
		}
	}
	s.assignee(w, r, func(assigned, admin *bool) bool {
		*assigned, *admin = true, slices.Contains(req.Permissions, "ADMIN")
		return true
	})
}

func (s *Server) assignmentDelete(w http.ResponseWriter, r *http.Request, p principal) {
	s.assignee(w, r, func(assigned, admin *bool) bool {
		*assigned, *admin = false, false
		writeJSON(w, http.StatusOK, map[string]any{})
		return false
	})
}
