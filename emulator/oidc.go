package emulator

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"
)

// Bitbucket Pipelines OIDC: the discovery document and keys a resource
// server (such as a Databricks federation policy) uses to verify
// $BITBUCKET_STEP_OIDC_TOKEN, and a way to mint such tokens.

// oidcKey returns the workspace's signing key, generating it on first use.
// Callers hold o.Mu.
func (o *Org) oidcKey() (*rsa.PrivateKey, error) {
	if o.BB.OIDCKey == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate pipelines OIDC key: %w", err)
		}
		o.BB.OIDCKey = k
	}
	return o.BB.OIDCKey, nil
}

// foreignOIDCKey is the signing key of another Bitbucket workspace, slug.
// Callers hold o.Mu.
func (o *Org) foreignOIDCKey(slug string) (*rsa.PrivateKey, error) {
	if k := o.BB.ForeignOIDCKeys[slug]; k != nil {
		return k, nil
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate pipelines OIDC key of workspace %s: %w", slug, err)
	}
	if o.BB.ForeignOIDCKeys == nil {
		o.BB.ForeignOIDCKeys = map[string]*rsa.PrivateKey{}
	}
	o.BB.ForeignOIDCKeys[slug] = k
	return k, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// oidcKid names a key by its modulus, so it changes only with the key.
func oidcKid(k *rsa.PrivateKey) string {
	h := sha256.Sum256(k.N.Bytes())
	return b64(h[:12])
}

// oidcIssuer is the issuer for the workspace on the emulator at base
// (scheme and host). Callers hold o.Mu.
func (o *Org) oidcIssuer(base string) string {
	return base + "/2.0/workspaces/" + o.BB.Workspace.Slug + "/pipelines-config/identity/oidc"
}

// oidcWorkspace resolves {workspace} on the public OIDC routes.
func (o *Org) oidcWorkspace(w http.ResponseWriter, r *http.Request) (*rsa.PrivateKey, bool) {
	if id := r.PathValue("workspace"); !o.isWorkspace(id) {
		bbError(w, http.StatusNotFound, fmt.Sprintf("No workspace with identifier '%s'.", id), "")
		return nil, false
	}
	k, err := o.oidcKey()
	if err != nil {
		bbError(w, http.StatusInternalServerError, "Internal Server Error", err.Error())
		return nil, false
	}
	return k, true
}

func (s *Server) oidcConfiguration(w http.ResponseWriter, r *http.Request, _ *BBUser) {
	o := s.Org
	if _, ok := o.oidcWorkspace(w, r); !ok {
		return
	}
	iss := o.oidcIssuer(baseURL(r))
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              iss + "/keys.json",
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid"},
		"claims_supported": []string{"sub", "iss", "aud", "exp", "iat", "workspaceUuid", "repositoryUuid",
			"pipelineUuid", "stepUuid", "deploymentEnvironmentUuid", "branchName"},
	})
}

func (s *Server) oidcKeys(w http.ResponseWriter, r *http.Request, _ *BBUser) {
	k, ok := s.Org.oidcWorkspace(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": []any{map[string]any{
		"kty": "RSA",
		"use": "sig",
		"alg": "RS256",
		"kid": oidcKid(k),
		"n":   b64(k.N.Bytes()),
		"e":   b64(big.NewInt(int64(k.E)).Bytes()),
	}}})
}

// PipelineStep describes one Pipelines step run, for minting its OIDC token.
type PipelineStep struct {
	Repo        string        // repository slug
	Environment string        // deployment environment name or UUID; empty for none
	Branch      string        // empty: "main"
	Audience    string        // empty: the workspace's default audience
	TTL         time.Duration // zero: one hour; negative: a token that has already expired
	// Workspace is empty or this workspace (slug or {UUID}) for a step of
	// this workspace; another slug mints the token a namesake repository of
	// that other workspace would get: its issuer, audience, key and UUIDs.
	Workspace string
}

// PipelinesOIDCToken mints the RS256 token a step with `oidc: true` receives
// as $BITBUCKET_STEP_OIDC_TOKEN, signed with the key served at keys.json.
// base is the emulator's root URL (scheme and host) so the issuer matches the
// discovery document served there. Each call is a new step run: `sub` is
// {repositoryUuid}:{stepUuid}, or {repositoryUuid}:{environmentUuid}:{stepUuid}.
func (o *Org) PipelinesOIDCToken(base string, step PipelineStep) (string, error) {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	rp := o.repo(step.Repo)
	if rp == nil {
		return "", fmt.Errorf("mint pipelines OIDC token: no repository %q", step.Repo)
	}
	var env *BBEnvironment
	if step.Environment != "" {
		for _, e := range rp.Environments {
			if e.Name == step.Environment || sameUUID(e.UUID, step.Environment) {
				env = e
			}
		}
		if env == nil {
			return "", fmt.Errorf("mint pipelines OIDC token: no environment %q in %s", step.Environment, rp.Slug)
		}
	}
	k, err := o.oidcKey()
	if err != nil {
		return "", err
	}
	ws, iss, repoUUID := o.BB.Workspace, o.oidcIssuer(base), rp.UUID
	var envUUID string
	if env != nil {
		envUUID = env.UUID
	}
	if step.Workspace != "" && !o.isWorkspace(step.Workspace) {
		slug := step.Workspace
		if k, err = o.foreignOIDCKey(slug); err != nil {
			return "", err
		}
		ws = BBWorkspace{Slug: slug, UUID: "{" + uuidFrom("foreign-workspace/"+slug) + "}"}
		iss = base + "/2.0/workspaces/" + slug + "/pipelines-config/identity/oidc"
		repoUUID = "{" + uuidFrom("foreign-repo/"+slug+"/"+rp.Slug) + "}"
		if env != nil {
			envUUID = "{" + uuidFrom("foreign-env/"+slug+"/"+rp.Slug+"/"+env.Name) + "}"
		}
	}
	aud := step.Audience
	if aud == "" {
		aud = "ari:cloud:bitbucket::workspace/" + strings.Trim(ws.UUID, "{}")
	}
	branch := step.Branch
	if branch == "" {
		branch = "main"
	}
	ttl := step.TTL
	if ttl == 0 {
		ttl = time.Hour
	}
	iat := o.Now()
	exp := iat.Add(ttl)
	if ttl < 0 {
		iat = exp.Add(-time.Hour) // issued an hour before it expired
	}
	stepUUID, pipelineUUID := "{"+o.newUUID()+"}", "{"+o.newUUID()+"}"
	claims := map[string]any{
		"iss":            iss,
		"aud":            aud,
		"iat":            iat.Unix(),
		"exp":            exp.Unix(),
		"sub":            repoUUID + ":" + stepUUID,
		"workspaceUuid":  ws.UUID,
		"repositoryUuid": repoUUID,
		"pipelineUuid":   pipelineUUID,
		"stepUuid":       stepUUID,
		"branchName":     branch,
	}
	if env != nil {
		claims["sub"] = repoUUID + ":" + envUUID + ":" + stepUUID
		claims["deploymentEnvironmentUuid"] = envUUID
	}
	return signJWT(k, claims)
}

// signJWT encodes claims as an RS256 JWT.
func signJWT(k *rsa.PrivateKey, claims map[string]any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": oidcKid(k)})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signed := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign pipelines OIDC token: %w", err)
	}
	return signed + "." + b64(sig), nil
}
