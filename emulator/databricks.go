package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// routesDatabricks registers the Databricks workspace and account APIs. The
// SDK appends a bare "?" to requests without a query, so every pattern is
// matched on URL.Path only.
func (s *Server) routesDatabricks(mux *http.ServeMux) {
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		dbError(w, http.StatusNotFound, "ENDPOINT_NOT_FOUND", "No API found for '%s %s'", r.Method, r.URL.Path)
	})
	// The default for hosts without metadata; the SDK logs and carries on.
	mux.HandleFunc("GET /.well-known/databricks-config", func(w http.ResponseWriter, r *http.Request) {
		dbError(w, http.StatusNotFound, "NOT_FOUND", "Not Found")
	})

	// SCIM: workspace, account, and account SCIM proxied by the workspace.
	const ws, acct = "/api/2.0/preview/scim/v2/", "/api/2.0/accounts/{account_id}/scim/v2/"
	mux.HandleFunc("GET "+ws+"Me", s.db(wsUser, s.scimMe))
	for _, t := range []string{scimUsers, scimGroups, scimSPs} {
		mux.HandleFunc("GET "+ws+t, s.db(wsUser, s.scimList(wsSCIM, t)))
		mux.HandleFunc("POST "+ws+t, s.db(wsAdmin, s.scimCreate(t)))
		mux.HandleFunc("GET "+ws+t+"/{id}", s.db(wsUser, s.scimGet(wsSCIM, t)))
		mux.HandleFunc("PUT "+ws+t+"/{id}", s.db(wsAdmin, s.scimPut(t)))
		mux.HandleFunc("PATCH "+ws+t+"/{id}", s.db(wsAdmin, s.scimPatch(wsSCIM, t)))
		mux.HandleFunc("DELETE "+ws+t+"/{id}", s.db(wsAdmin, s.scimDelete(t)))

		mux.HandleFunc("GET "+acct+t, s.db(acctAdmin, s.scimList(acctSCIM, t)))
		mux.HandleFunc("GET "+acct+t+"/{id}", s.db(acctAdmin, s.scimGet(acctSCIM, t)))
		mux.HandleFunc("PATCH "+acct+t+"/{id}", s.db(acctAdmin, s.scimPatch(acctSCIM, t)))
	}
	const proxy = "/api/2.0/account/scim/v2/Groups"
	mux.HandleFunc("GET "+proxy, s.db(wsUser, s.scimList(proxySCIM, scimGroups)))
	mux.HandleFunc("GET "+proxy+"/{id}", s.db(wsUser, s.scimGet(proxySCIM, scimGroups)))
	mux.HandleFunc("PATCH "+proxy+"/{id}", s.db(wsUser, s.scimPatch(proxySCIM, scimGroups)))

	// Tokens and workspace settings.
	const tm = "/api/2.0/token-management/"
	mux.HandleFunc("GET "+tm+"tokens", s.db(wsAdmin, s.tmList))
	mux.HandleFunc("GET "+tm+"tokens/{token_id}", s.db(wsAdmin, s.tmGet))
	mux.HandleFunc("DELETE "+tm+"tokens/{token_id}", s.db(wsAdmin, s.tmDelete))
	mux.HandleFunc("POST "+tm+"on-behalf-of/tokens", s.db(wsAdmin, s.tmCreateOBO))
	mux.HandleFunc("POST /api/2.0/token/create", s.db(wsUser, s.tokenCreate))
	mux.HandleFunc("GET /api/2.0/token/list", s.db(wsUser, s.tokenList))
	mux.HandleFunc("POST /api/2.0/token/delete", s.db(wsUser, s.tokenDelete))
	mux.HandleFunc("GET /api/2.0/workspace-conf", s.db(wsUser, s.confGet))
	mux.HandleFunc("PATCH /api/2.0/workspace-conf", s.db(wsAdmin, s.confSet))

	// Service principal OAuth secrets (account, and the workspace proxy).
	const secrets = "/servicePrincipals/{sp_id}/credentials/secrets"
	for prefix, level := range map[string]access{"/api/2.0/accounts/{account_id}": acctAdmin, "/api/2.0/accounts": wsAdmin} {
		mux.HandleFunc("POST "+prefix+secrets, s.db(level, s.secretCreate))
		mux.HandleFunc("GET "+prefix+secrets, s.db(level, s.secretList))
		mux.HandleFunc("DELETE "+prefix+secrets+"/{secret_id}", s.db(level, s.secretDelete))
	}
	const fed = "/api/2.0/accounts/{account_id}/servicePrincipals/{sp_id}/federationPolicies"
	mux.HandleFunc("POST "+fed, s.db(acctAdmin, s.policyCreate))
	mux.HandleFunc("GET "+fed, s.db(acctAdmin, s.policyList))
	mux.HandleFunc("GET "+fed+"/{policy_id}", s.db(acctAdmin, s.policyGet))
	mux.HandleFunc("PATCH "+fed+"/{policy_id}", s.db(acctAdmin, s.policyUpdate))
	mux.HandleFunc("DELETE "+fed+"/{policy_id}", s.db(acctAdmin, s.policyDelete))
	const acctFed = "/api/2.0/accounts/{account_id}/federationPolicies"
	mux.HandleFunc("POST "+acctFed, s.db(acctAdmin, s.accountPolicyCreate))
	mux.HandleFunc("GET "+acctFed, s.db(acctAdmin, s.accountPolicyList))
	mux.HandleFunc("GET "+acctFed+"/{policy_id}", s.db(acctAdmin, s.accountPolicyGet))
	mux.HandleFunc("DELETE "+acctFed+"/{policy_id}", s.db(acctAdmin, s.accountPolicyDelete))
	const assign = "/api/2.0/accounts/{account_id}/workspaces/{workspace_id}/permissionassignments"
	mux.HandleFunc("GET "+assign, s.db(acctAdmin, s.assignmentList))
	mux.HandleFunc("PUT "+assign+"/principals/{principal_id}", s.db(acctAdmin, s.assignmentPut))
	mux.HandleFunc("DELETE "+assign+"/principals/{principal_id}", s.db(acctAdmin, s.assignmentDelete))
	mux.HandleFunc("GET /api/2.0/accounts/{account_id}/workspaces", s.db(acctAdmin, s.workspacesList))

	// Workspace files and folders.
	s.routesWorkspace(mux)

	// OAuth: endpoint discovery and the client-credentials grant.
	mux.HandleFunc("GET /oidc/.well-known/oauth-authorization-server", s.oidcMetadata)
	mux.HandleFunc("GET /oidc/accounts/{account_id}/.well-known/oauth-authorization-server", s.oidcMetadata)
	mux.HandleFunc("POST /oidc/v1/token", s.oidcToken)
	mux.HandleFunc("POST /oidc/accounts/{account_id}/v1/token", s.oidcToken)

	s.routesFiles(mux)
}

// Service limits.
const (
	maxUserTokens        = 600                // tokens per principal per workspace
	maxTokenLifetimeDays = 730                // platform limit on new tokens' lifetime
	maxSPSecrets         = 5                  // OAuth secrets per service principal
	defaultSecretTTL     = 730 * 24 * 60 * 60 // seconds; also the maximum
)

// ---- authentication ----

// principal is who a request acts as: a user or a service principal.
type principal struct {
	user *DBUser
	sp   *DBServicePrincipal
}

func (p principal) id() string {
	if p.user != nil {
		return p.user.ID
	}
	return p.sp.ID
}

// name is the user name, or the application id of a service principal (as
// token management and SCIM Me report it).
func (p principal) name() string {
	if p.user != nil {
		return p.user.UserName
	}
	return p.sp.ApplicationID
}

func (p principal) admin() bool {
	if p.user != nil {
		return p.user.Admin
	}
	return p.sp.Admin
}

func (p principal) accountAdmin() bool {
	if p.user != nil {
		return p.user.AccountAdmin
	}
	return p.sp.AccountAdmin
}

func (p principal) active() bool {
	if p.user != nil {
		return p.user.Active
	}
	return p.sp.Active
}

func (p principal) assigned() bool {
	if p.user != nil {
		return p.user.Assigned
	}
	return p.sp.Assigned
}

// principalByID finds a user or service principal by SCIM id. Callers hold o.Mu.
func (o *Org) principalByID(id string) (principal, bool) {
	if u := o.DB.Users[id]; u != nil {
		return principal{user: u}, true
	}
	if sp := o.DB.ServicePrincipals[id]; sp != nil {
		return principal{sp: sp}, true
	}
	return principal{}, false
}

// access is what a route requires of the caller.
type access int

const (
	wsUser    access = iota // any active principal assigned to the workspace
	wsAdmin                 // a workspace admin
	acctAdmin               // an account admin, for the account id in the path
)

type dbHandler func(w http.ResponseWriter, r *http.Request, p principal)

// db authenticates the Bearer token, checks access and runs h, all under o.Mu.
func (s *Server) db(level access, h dbHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o := s.Org
		o.Mu.Lock()
		defer o.Mu.Unlock()
		st := o.workspaceFor(r)
		primary := o.enter(st)
		defer func() { o.leave(st, primary, r.Method != http.MethodGet) }()
		if level == acctAdmin && !o.accountBearer(r) {
			s.mw.countWorkspace(st.Name, r)
			refuseAccountCredential(w)
			return
		}
		p, ok := o.authenticate(w, r)
		if !ok {
			s.mw.countWorkspace(st.Name, r)
			return
		}
		if target := o.pathWorkspace(r); target != nil && target != st {
			// An account API acting on another workspace than the host's.
			o.leave(st, primary, false)
			st = target
			o.enter(st)
		}
		s.mw.countWorkspace(st.Name, r)
		if !strings.HasPrefix(r.URL.Path, "/api/2.0/accounts/") {
			w.Header().Set("X-Databricks-Org-Id", strconv.FormatInt(st.WorkspaceID, 10))
		}
		switch {
		case !p.active():
			dbError(w, http.StatusForbidden, "PERMISSION_DENIED", "Principal %s is deactivated.", p.name())
			return
		case level == acctAdmin && r.PathValue("account_id") != o.DB.AccountID:
			dbError(w, http.StatusForbidden, "PERMISSION_DENIED", "Principal %s has no access to account %s.", p.name(), r.PathValue("account_id"))
			return
		case level == acctAdmin && !p.accountAdmin():
			dbError(w, http.StatusForbidden, "PERMISSION_DENIED", "Only account admins may call this API.")
			return
		case level != acctAdmin && !p.assigned():
			dbError(w, http.StatusForbidden, "PERMISSION_DENIED", "Principal %s is not assigned to this workspace.", p.name())
			return
		case level == wsAdmin && !p.admin():
			dbError(w, http.StatusForbidden, "PERMISSION_DENIED", "Only workspace admins may call this API.")
			return
		}
		h(w, r, p)
	}
}

// authenticate resolves the Bearer token to its principal: a live PAT or
// on-behalf-of token (which acts as its owner), or an OAuth access token. A
// token that was deleted or has expired fails at once. As the service does,
// a missing credential gets 401 and a bearer token that does not resolve
// (unknown, revoked or expired) gets 403 "Invalid access token.", both with a
// numeric error_code. Callers hold o.Mu.
func (o *Org) authenticate(w http.ResponseWriter, r *http.Request) (principal, bool) {
	value, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || value == "" {
		dbAuthError(w, http.StatusUnauthorized, unsupportedCredential)
		return principal{}, false
	}
	now := o.Now()
	var owner string
	if t := o.DB.TokensByValue[value]; t != nil && (t.Expiry.IsZero() || now.Before(t.Expiry)) {
		t.LastUsed = day(now)
		owner = t.OwnerID
	} else if t := o.DB.OAuthTokens[value]; t != nil && now.Before(t.Expiry) {
		owner = t.SPID
	}
	p, found := o.principalByID(owner)
	if !found {
		dbAuthError(w, http.StatusForbidden, "Invalid access token.")
		return principal{}, false
	}
	return p, true
}

// dbAuthError writes the authentication layer's error: the HTTP status as a
// number in error_code, and the message also in X-Databricks-Reason-Phrase
// (databricks/databricks-sdk-go#873, #917; PipedreamHQ/pipedream#20701).
func dbAuthError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("X-Databricks-Reason-Phrase", message)
	writeJSON(w, status, map[string]any{"error_code": status, "message": message})
}

// ---- errors and small helpers ----

// dbError writes the standard Databricks error shape.
func dbError(w http.ResponseWriter, status int, code, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error_code": code, "message": fmt.Sprintf(format, args...)})
}

// day truncates t to its UTC day, the precision of last_used_day.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// epochMS is t in epoch milliseconds, or 0 for the zero time.
func epochMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// randomHex returns n random hex digits, for credentials created through
// the API (seeds use the deterministic secretFrom instead).
func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// numericID parses a SCIM id for the APIs that report ids as numbers.
func numericID(id string) int64 {
	n, _ := strconv.ParseInt(id, 10, 64)
	return n
}

// cmpID orders numeric string ids numerically (and others sensibly).
func cmpID(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// sortedIDs returns the keys of m in id order.
func sortedIDs[V any](m map[string]V) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, cmpID)
	return ids
}

// ---- builders (for seeds and tests; they take o.Mu) ----

// AddDBUser adds a Databricks user, assigning an id if it has none.
func (o *Org) AddDBUser(u DBUser) *DBUser {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	return o.addDBUser(u)
}

func (o *Org) addDBUser(u DBUser) *DBUser {
	if u.ID == "" {
		u.ID = o.nextID()
	}
	o.DB.Users[u.ID] = &u
	return &u
}

// AddDBGroup adds a Databricks group (a workspace-local one unless Kind says
// otherwise), assigning an id if it has none.
func (o *Org) AddDBGroup(g DBGroup) *DBGroup {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	return o.addDBGroup(g)
}

func (o *Org) addDBGroup(g DBGroup) *DBGroup {
	if g.ID == "" {
		g.ID = o.nextID()
	}
	if g.Kind == "" {
		g.Kind = WorkspaceGroup
	}
	o.DB.Groups[g.ID] = &g
	return &g
}

// AddServicePrincipal adds a service principal, generating its id and
// application id if empty.
func (o *Org) AddServicePrincipal(sp DBServicePrincipal) *DBServicePrincipal {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	return o.addServicePrincipal(sp)
}

func (o *Org) addServicePrincipal(sp DBServicePrincipal) *DBServicePrincipal {
	if sp.ID == "" {
		sp.ID = o.nextID()
	}
	if sp.ApplicationID == "" {
		sp.ApplicationID = o.newUUID()
	}
	o.DB.ServicePrincipals[sp.ID] = &sp
	return &sp
}

// AddToken adds a token, generating its id and value if empty; Created
// defaults to now and the creator to the owner.
func (o *Org) AddToken(t DBToken) *DBToken {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	return o.addToken(t)
}

func (o *Org) addToken(t DBToken) *DBToken {
	if t.ID == "" {
		t.ID = secretFrom("token-id/"+o.nextID(), 32)
	}
	if t.Value == "" {
		t.Value = "dapi" + secretFrom("token-value/"+t.ID, 32)
	}
	if t.Created.IsZero() {
		t.Created = o.Now()
	}
	if t.CreatedByID == "" {
		t.CreatedByID = t.OwnerID
	}
	if p, ok := o.principalByID(t.CreatedByID); ok && t.CreatedByUsername == "" {
		t.CreatedByUsername = p.name()
	}
	o.DB.Tokens[t.ID] = &t
	o.DB.TokensByValue[t.Value] = &t
	return &t
}

// AddSecret adds a service principal OAuth secret, generating its id,
// value and hash if empty; Created defaults to now, Expire to 730 days later.
func (o *Org) AddSecret(sec DBSecret) *DBSecret {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	return o.addSecret(sec)
}

func (o *Org) addSecret(sec DBSecret) *DBSecret {
	if sec.ID == "" {
		sec.ID = o.nextID()
	}
	if sec.Secret == "" {
		sec.Secret = "dose" + secretFrom("sp-secret/"+sec.ID, 32)
	}
	if sec.Hash == "" {
		sec.Hash = secretFrom(sec.Secret, 16)
	}
	if sec.Status == "" {
		sec.Status = "ACTIVE"
	}
	if sec.Created.IsZero() {
		sec.Created = o.Now()
	}
	if sec.Expire.IsZero() {
		sec.Expire = sec.Created.Add(730 * 24 * time.Hour)
	}
	if sec.Updated.IsZero() {
		sec.Updated = sec.Created
	}
	o.DB.Secrets[sec.ID] = &sec
	return &sec
}

// DBUserByName finds a Databricks user by user name, ignoring case.
func (o *Org) DBUserByName(userName string) *DBUser {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	return o.dbUserByName(userName)
}

func (o *Org) dbUserByName(userName string) *DBUser {
	for _, u := range o.DB.Users {
		if strings.EqualFold(u.UserName, userName) {
			return u
		}
	}
	return nil
}
