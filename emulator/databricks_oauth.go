package emulator

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// OAuth on the workspace (and account) host: endpoint discovery, and a token
// endpoint that issues access tokens for service principals by client
// credentials (an OAuth secret) or by token exchange (a JWT accepted by one
// of the SP's federation policies, as the SDK's env-oidc does).

const oauthTokenTTL = time.Hour

func (s *Server) oidcMetadata(w http.ResponseWriter, r *http.Request) {
	base := baseURL(r) + "/oidc"
	if acct := r.PathValue("account_id"); acct != "" {
		base += "/accounts/" + acct
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                base,
		"authorization_endpoint":                base + "/v1/authorize",
		"token_endpoint":                        base + "/v1/token",
		"jwks_uri":                              base + "/jwks.json",
		"grant_types_supported":                 []string{"client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
	})
}

func (s *Server) oidcToken(w http.ResponseWriter, r *http.Request) {
	oauthError := func(status int, code, desc string) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if err := r.ParseForm(); err != nil {
		oauthError(http.StatusBadRequest, "invalid_request", "The request body must be form-encoded.")
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	o := s.Org
	o.Mu.Lock()
	defer o.Mu.Unlock()
	account := r.PathValue("account_id")
	if account != "" && account != o.DB.AccountID {
		oauthError(http.StatusBadRequest, "invalid_request", fmt.Sprintf("Unknown account %s.", account))
		return
	}
	var sp *DBServicePrincipal
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "client_credentials":
		if sp = o.spBySecret(id, secret); sp == nil {
			oauthError(http.StatusUnauthorized, "invalid_client", "Client authentication failed.")
			return
		}
	case "urn:ietf:params:oauth:grant-type:token-exchange":
		var err error
		if sp, err = o.spByFederation(id, r.PostForm.Get("subject_token")); err != nil {
			oauthError(http.StatusBadRequest, "invalid_grant", err.Error())
			return
		}
	default:
		oauthError(http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("Unsupported grant_type %q.", gt))
		return
	}
	if o.DB.OAuthTokens == nil {
		o.DB.OAuthTokens = map[string]*DBOAuthToken{}
	}
	value := "dbat" + randomHex(64)
	o.DB.OAuthTokens[value] = &DBOAuthToken{SPID: sp.ID, Expiry: o.Now().Add(oauthTokenTTL), Account: account}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": value, "token_type": "Bearer",
		"expires_in": int(oauthTokenTTL.Seconds()), "scope": cmpOr(r.PostForm.Get("scope"), "all-apis")})
}

// spByApplicationID finds an active service principal. Callers hold o.Mu.
func (o *Org) spByApplicationID(appID string) *DBServicePrincipal {
	for _, sp := range o.DB.ServicePrincipals {
		if strings.EqualFold(sp.ApplicationID, appID) && sp.Active {
			return sp
		}
	}
	return nil
}

// spBySecret authenticates a client id and one of its live secrets.
func (o *Org) spBySecret(appID, secret string) *DBServicePrincipal {
	sp := o.spByApplicationID(appID)
	if sp == nil {
		return nil
	}
	for _, sec := range o.secretsOf(sp.ID) {
		if subtle.ConstantTimeCompare([]byte(sec.Secret), []byte(secret)) == 1 && o.Now().Before(sec.Expire) {
			return sp
		}
	}
	return nil
}

// spByFederation accepts an RS256 JWT for the service principal appID when
// one of its federation policies matches: issuer, audience (default: the
// account id), the subject claim, expiry, and a signature by the policy's
// jwks_json keys or, without those, by the signing key of the emulated
// Bitbucket workspace whose Pipelines issuer the policy names (no network
// fetch of jwks_uri).
func (o *Org) spByFederation(appID, token string) (*DBServicePrincipal, error) {
	if appID == "" {
		return nil, errors.New("client_id is required: account-wide federation policies are not emulated")
	}
	sp := o.spByApplicationID(appID)
	if sp == nil {
		return nil, fmt.Errorf("no active service principal with application id %s", appID)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("subject_token is not a JWT")
	}
	var header struct{ Alg string }
	var claims map[string]any
	if decodeSegment(parts[0], &header) != nil || decodeSegment(parts[1], &claims) != nil || header.Alg != "RS256" {
		return nil, errors.New("subject_token is not an RS256 JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("subject_token has a malformed signature")
	}
	if exp, _ := claims["exp"].(float64); int64(exp) <= o.Now().Unix() {
		return nil, errors.New("subject_token has expired")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	for _, fp := range o.policiesOf(sp.ID) {
		audiences := fp.Audiences
		if len(audiences) == 0 {
			audiences = []string{o.DB.AccountID}
		}
		subject, _ := claims[cmpOr(fp.SubjectClaim, "sub")].(string)
		if claims["iss"] != fp.Issuer || subject != fp.Subject || !slices.ContainsFunc(claimList(claims["aud"]), func(a string) bool { return slices.Contains(audiences, a) }) {
			continue
		}
		for _, key := range o.policyKeys(fp) {
			if rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig) == nil {
				return sp, nil
			}
		}
	}
	return nil, fmt.Errorf("no federation policy of service principal %s accepts this token", sp.ID)
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// claimList reads a string-or-array claim such as aud.
func claimList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// policyKeys are the RSA keys a policy trusts. Callers hold o.Mu.
func (o *Org) policyKeys(fp *DBFederationPolicy) []*rsa.PublicKey {
	if fp.JWKSJSON == "" {
		// The keys the issuer publishes: a Bitbucket workspace's Pipelines
		// issuer, this one or another emulated one; any other issuer's keys
		// are out of the emulator's reach, so nothing verifies.
		const suffix = "/pipelines-config/identity/oidc"
		rest, ok := strings.CutSuffix(fp.Issuer, suffix)
		i := strings.LastIndex(rest, "/2.0/workspaces/")
		if !ok || i < 0 || o.BB == nil {
			return nil
		}
		slug := rest[i+len("/2.0/workspaces/"):]
		k := o.BB.ForeignOIDCKeys[slug]
		if o.isWorkspace(slug) {
			k = o.BB.OIDCKey
		}
		if k == nil {
			return nil
		}
		return []*rsa.PublicKey{&k.PublicKey}
	}
	var set struct {
		Keys []struct{ Kty, N, E string }
	}
	if json.Unmarshal([]byte(fp.JWKSJSON), &set) != nil {
		return nil
	}
	var keys []*rsa.PublicKey
	for _, k := range set.Keys {
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if k.Kty == "RSA" && err1 == nil && err2 == nil {
			keys = append(keys, &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())})
		}
	}
	return keys
}
