package emulator

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// tokenInfo renders a token for token management (TokenInfo).
func (o *Org) tokenInfo(t *DBToken) map[string]any {
	m := map[string]any{
		"token_id":            t.ID,
		"creation_time":       epochMS(t.Created),
		"expiry_time":         int64(-1),
		"owner_id":            numericID(t.OwnerID),
		"created_by_id":       numericID(t.CreatedByID),
		"created_by_username": t.CreatedByUsername,
		"workspace_id":        o.DB.WorkspaceID,
	}
	if !t.Expiry.IsZero() {
		m["expiry_time"] = epochMS(t.Expiry)
	}
	if !t.LastUsed.IsZero() {
		m["last_used_day"] = epochMS(day(t.LastUsed))
	}
	if t.Comment != "" {
		m["comment"] = t.Comment
	}
	return m
}

// publicTokenInfo renders a token for its owner (PublicTokenInfo).
func publicTokenInfo(t *DBToken) map[string]any {
	m := map[string]any{"token_id": t.ID, "creation_time": epochMS(t.Created), "expiry_time": int64(-1)}
	if !t.Expiry.IsZero() {
		m["expiry_time"] = epochMS(t.Expiry)
	}
	if t.Comment != "" {
		m["comment"] = t.Comment
	}
	return m
}

// tokensWhere lists tokens matching keep, oldest first.
func (o *Org) tokensWhere(keep func(*DBToken) bool) []*DBToken {
	var out []*DBToken
	for _, t := range o.DB.Tokens {
		if keep(t) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b *DBToken) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

func (s *Server) tmList(w http.ResponseWriter, r *http.Request, p principal) {
	o := s.Org
	q := r.URL.Query()
	byID, byName := q.Get("created_by_id"), q.Get("created_by_username")
	infos := []any{}
	for _, t := range o.tokensWhere(func(t *DBToken) bool {
		return (byID == "" || t.CreatedByID == byID) && (byName == "" || strings.EqualFold(t.CreatedByUsername, byName))
	}) {
		infos = append(infos, o.tokenInfo(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"token_infos": infos})
}

func (s *Server) tmGet(w http.ResponseWriter, r *http.Request, p principal) {
	t := s.Org.DB.Tokens[r.PathValue("token_id")]
	if t == nil {
		tokenNotFound(w, r.PathValue("token_id"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token_info": s.Org.tokenInfo(t)})
}

func (s *Server) tmDelete(w http.ResponseWriter, r *http.Request, p principal) {
	t := s.Org.DB.Tokens[r.PathValue("token_id")]
	if t == nil {
		tokenNotFound(w, r.PathValue("token_id"))
		return
	}
	s.Org.deleteToken(t)
	writeJSON(w, http.StatusOK, map[string]any{})
}

func tokenNotFound(w http.ResponseWriter, id string) {
	dbError(w, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Token with id %s does not exist.", id)
}

// deleteToken revokes a token; it stops authenticating at once. Callers hold o.Mu.
func (o *Org) deleteToken(t *DBToken) {
	delete(o.DB.Tokens, t.ID)
	delete(o.DB.TokensByValue, t.Value)
}

// tokenRequest is the body of both token create calls.
type tokenRequest struct {
	ApplicationID   string `json:"application_id"`
	Comment         string `json:"comment"`
	LifetimeSeconds int64  `json:"lifetime_seconds"`
}

// newToken creates a token for owner on behalf of creator, enforcing the
// workspace's token settings, lifetime limit and the per-owner quota. The
// limit is maxTokenLifetimeDays or, when that is "0", the platform's 730
// days ("By default, the maximum lifetime for all new tokens is 730 days");
// a token asked for without a lifetime (0, or the -1 that once meant "never
// expires") gets the limit, so no new token is without expiry. It writes the
// error and returns nil on failure. Callers hold o.Mu.
func (o *Org) newToken(w http.ResponseWriter, owner, creator principal, req tokenRequest) *DBToken {
	conf := o.DB.Conf
	if strings.EqualFold(conf["enableTokensConfig"], "false") {
		dbError(w, http.StatusForbidden, "PERMISSION_DENIED", "Personal access tokens are disabled for this workspace.")
		return nil
	}
	limitDays := maxTokenLifetimeDays
	if days, _ := strconv.Atoi(conf["maxTokenLifetimeDays"]); days > 0 {
		limitDays = days
	}
	limit := time.Duration(limitDays) * 24 * time.Hour
	lifetime := time.Duration(req.LifetimeSeconds) * time.Second
	switch {
	case lifetime > limit:
		dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
			"Requested token lifetime of %d seconds exceeds the maximum lifetime of %d days allowed for new tokens in this workspace.",
			req.LifetimeSeconds, limitDays)
		return nil
	case lifetime <= 0:
		lifetime = limit
	}
	if n := len(o.tokensWhere(func(t *DBToken) bool { return t.OwnerID == owner.id() })); n >= maxUserTokens {
		dbError(w, http.StatusBadRequest, "QUOTA_EXCEEDED", "Cannot create more than %d tokens for %s in this workspace; revoke unused tokens first.", maxUserTokens, owner.name())
		return nil
	}
	t := DBToken{Value: "dapi" + randomHex(32), OwnerID: owner.id(), CreatedByID: creator.id(), CreatedByUsername: creator.name(),
		Comment: req.Comment, Created: o.Now()}
	t.Expiry = t.Created.Add(lifetime)
	return o.addToken(t)
}

func (s *Server) tmCreateOBO(w http.ResponseWriter, r *http.Request, p principal) {
	o := s.Org
	var req tokenRequest
	if err := readJSON(r, &req); err != nil || req.ApplicationID == "" {
		dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "application_id is required.")
		return
	}
	var sp *DBServicePrincipal
	for _, x := range o.DB.ServicePrincipals {
		if strings.EqualFold(x.ApplicationID, req.ApplicationID) && x.Assigned {
			sp = x
		}
	}
	if sp == nil {
		dbError(w, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Service principal with application id %s does not exist in this workspace.", req.ApplicationID)
		return
	}
	if t := o.newToken(w, principal{sp: sp}, p, req); t != nil {
		writeJSON(w, http.StatusOK, map[string]any{"token_value": t.Value, "token_info": o.tokenInfo(t)})
	}
}

func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request, p principal) {
	var req tokenRequest
	if err := readJSON(r, &req); err != nil {
		dbError(w, http.StatusBadRequest, "MALFORMED_REQUEST", "Invalid JSON body.")
		return
	}
	if t := s.Org.newToken(w, p, p, req); t != nil {
		writeJSON(w, http.StatusOK, map[string]any{"token_value": t.Value, "token_info": publicTokenInfo(t)})
	}
}

func (s *Server) tokenList(w http.ResponseWriter, r *http.Request, p principal) {
	infos := []any{}
	for _, t := range s.Org.tokensWhere(func(t *DBToken) bool { return t.OwnerID == p.id() }) {
		infos = append(infos, publicTokenInfo(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"token_infos": infos})
}

func (s *Server) tokenDelete(w http.ResponseWriter, r *http.Request, p principal) {
	var req struct {
		TokenID string `json:"token_id"`
	}
	if err := readJSON(r, &req); err != nil || req.TokenID == "" {
		dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "token_id is required.")
		return
	}
	t := s.Org.DB.Tokens[req.TokenID]
	if t == nil || t.OwnerID != p.id() {
		tokenNotFound(w, req.TokenID)
		return
	}
	s.Org.deleteToken(t)
	writeJSON(w, http.StatusOK, map[string]any{})
}

// ---- workspace conf ----

func (s *Server) confGet(w http.ResponseWriter, r *http.Request, p principal) {
	conf := s.Org.DB.Conf
	out := map[string]string{}
	keys := r.URL.Query().Get("keys")
	if keys == "" {
		maps.Copy(out, conf)
	}
	for _, k := range strings.Split(keys, ",") {
		if v, ok := conf[strings.TrimSpace(k)]; ok {
			out[strings.TrimSpace(k)] = v
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) confSet(w http.ResponseWriter, r *http.Request, p principal) {
	var req map[string]string
	if err := readJSON(r, &req); err != nil {
		dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "The body must be a map of string keys to string values.")
		return
	}
	if v, ok := req["maxTokenLifetimeDays"]; ok {
		if n, err := strconv.Atoi(v); err != nil || n < 0 {
			dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "maxTokenLifetimeDays must be a non-negative whole number of days, got %q.", v)
			return
		}
	}
	if s.Org.DB.Conf == nil {
		s.Org.DB.Conf = map[string]string{}
	}
	maps.Copy(s.Org.DB.Conf, req)
	w.WriteHeader(http.StatusNoContent)
}
