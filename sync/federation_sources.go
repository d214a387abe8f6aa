package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/oauth2"
	"github.com/goccy/go-yaml"
	bitbucket "github.com/ktrysmt/go-bitbucket"
)

// What federation reads from and writes to the two systems: the Bitbucket
// Pipelines OIDC issuer, UUIDs, pipeline runs and bitbucket-pipelines.yml,
// and the Databricks service principal federation policies. The adapters
// implement FederationBitbucket and FederationDatabricks; a source that does
// not leaves federation unknown.

// FederationBitbucket is the Bitbucket side of federation.
type FederationBitbucket interface {
	// Issuer is the workspace's Pipelines OIDC issuer URL.
	Issuer() string
	// WorkspaceUUID is the workspace's {UUID}.
	WorkspaceUUID(ctx context.Context) (string, error)
	// Repository is a repository's {UUID} and main branch.
	Repository(ctx context.Context, repo string) (uuid, mainBranch string, err error)
	// EnvironmentUUID is the {UUID} of a repository's deployment environment.
	EnvironmentUUID(ctx context.Context, repo, env string) (string, error)
}

// FederationDatabricks is the Databricks side of federation.
type FederationDatabricks interface {
	// FederationPolicies lists a service principal's federation policies.
	FederationPolicies(ctx context.Context, spID string) ([]FederationPolicy, error)
	// AccountFederationPolicies lists the account-wide federation policies.
	AccountFederationPolicies(ctx context.Context) ([]FederationPolicy, error)
}

// FederationPolicy is a Databricks federation policy: of one service
// principal, or account-wide (SPID empty).
type FederationPolicy struct {
	ID           string    `json:"policy_id"`
	SPID         string    `json:"service_principal_id,omitempty"`
	Description  string    `json:"description"`
	Issuer       string    `json:"issuer"`
	Audiences    []string  `json:"audiences"`
	Subject      string    `json:"subject"`
	SubjectClaim string    `json:"subject_claim"`
	Created      time.Time `json:"create_time,omitzero"` // none until the policy is created
}

// PipelineRun is one Bitbucket pipeline run.
type PipelineRun struct {
	UUID        string
	BuildNumber int
	Branch      string
	State       string // PENDING, IN_PROGRESS, COMPLETED
	Result      string // SUCCESSFUL, FAILED, STOPPED, ERROR; "" until completed
	Created     time.Time
	Completed   time.Time
}

// ---- Bitbucket ----

// Issuer is {base}/workspaces/{workspace}/pipelines-config/identity/oidc.
func (b *Bitbucket) Issuer() string {
	return b.v2 + "/workspaces/" + url.PathEscape(b.workspace) + "/pipelines-config/identity/oidc"
}

// WorkspaceUUID reads the workspace's {UUID}.
func (b *Bitbucket) WorkspaceUUID(ctx context.Context) (string, error) {
	var ws struct {
		UUID string `json:"uuid"`
	}
	if err := getJSON(ctx, b.http, b.auth, b.v2+"/workspaces/"+url.PathEscape(b.workspace), &ws); err != nil {
		return "", b.check("read workspace "+b.workspace, err, false)
	}
	if ws.UUID == "" {
		return "", fmt.Errorf("read workspace %s: the answer has no uuid", b.workspace)
	}
	return ws.UUID, nil
}

func (b *Bitbucket) repoURL(repo string) string {
	return b.v2 + "/repositories/" + url.PathEscape(b.workspace) + "/" + url.PathEscape(repo)
}

// Repository reads a repository's {UUID} and main branch.
func (b *Bitbucket) Repository(ctx context.Context, repo string) (string, string, error) {
	var r struct {
		UUID       string `json:"uuid"`
		MainBranch struct {
			Name string `json:"name"`
		} `json:"mainbranch"`
	}
	if err := getJSON(ctx, b.http, b.auth, b.repoURL(repo), &r); err != nil {
		return "", "", b.check("read repository "+repo, err, false)
	}
	if r.UUID == "" {
		return "", "", fmt.Errorf("read repository %s: the answer has no uuid", repo)
	}
	return r.UUID, cmp.Or(r.MainBranch.Name, "main"), nil
}

// EnvironmentUUID finds a deployment environment of repo by name.
func (b *Bitbucket) EnvironmentUUID(ctx context.Context, repo, env string) (string, error) {
	e, err := b.environment(ctx, repo, env)
	if err != nil {
		return "", b.check("list deployment environments of "+repo, err, false)
	}
	if e == nil || e.Uuid == "" {
		return "", fmt.Errorf("repository %s has no deployment environment %q", repo, env)
	}
	return e.Uuid, nil
}

// EnvironmentVariables reads the variables of a deployment environment (by
// name) with the environment's {UUID}, from one listing of the environments:
// a snapshot needs both, the variables for rotation and the UUID for
// federation.
func (b *Bitbucket) EnvironmentVariables(ctx context.Context, repo, env string) ([]Variable, string, error) {
	e, err := b.environment(ctx, repo, env)
	if err == nil && e == nil {
		err = fmt.Errorf("repository %s has no deployment environment %q", repo, env)
	}
	var vs []Variable
	if err == nil {
		vs, err = b.environmentVariables(ctx, repo, e)
	}
	if err != nil {
		return nil, "", b.check(fmt.Sprintf("list deployment variables of %s environment %s", repo, env), err, false)
	}
	return vs, e.Uuid, nil
}

// PipelineRuns reads the newest n runs of repo, newest first.
func (b *Bitbucket) PipelineRuns(ctx context.Context, repo string, n int) ([]PipelineRun, error) {
	var page struct {
		Values []struct {
			UUID        string `json:"uuid"`
			BuildNumber int    `json:"build_number"`
			CreatedOn   string `json:"created_on"`
			CompletedOn string `json:"completed_on"`
			Target      struct {
				RefName string `json:"ref_name"`
			} `json:"target"`
			State struct {
				Name   string `json:"name"`
				Result struct {
					Name string `json:"name"`
				} `json:"result"`
			} `json:"state"`
		} `json:"values"`
	}
	u := b.repoURL(repo) + "/pipelines/?sort=-created_on&pagelen=" + strconv.Itoa(n)
	if err := getJSON(ctx, b.http, b.auth, u, &page); err != nil {
		return nil, b.check("list pipeline runs of "+repo, err, false)
	}
	out := make([]PipelineRun, 0, len(page.Values))
	for _, v := range page.Values {
		out = append(out, PipelineRun{UUID: v.UUID, BuildNumber: v.BuildNumber, Branch: v.Target.RefName,
			State: v.State.Name, Result: v.State.Result.Name, Created: parseTime(v.CreatedOn), Completed: parseTime(v.CompletedOn)})
	}
	return out, nil
}

// File reads a file of repo at ref (a branch or commit); found is false on 404.
func (b *Bitbucket) File(ctx context.Context, repo, ref, path string) (content string, found bool, err error) {
	u := b.repoURL(repo) + "/src/" + url.PathEscape(ref) + "/" + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", false, err
	}
	b.auth(req)
	resp, err := b.http.Do(req)
	if err != nil {
		return "", false, b.check("read "+path+" of "+repo, err, false)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case err != nil:
		return "", false, fmt.Errorf("read %s of %s: %w", path, repo, err)
	case resp.StatusCode == http.StatusNotFound:
		return "", false, nil
	case resp.StatusCode/100 != 2:
		return "", false, b.check("read "+path+" of "+repo, &statusError{StatusCode: resp.StatusCode, URL: req.URL.Redacted(), Body: string(body)}, false)
	}
	return string(body), true, nil
}

// deleteVariable deletes one variable of a binding's scope by key; one
// already gone counts as deleted.
func (v *pipelineVars) delete(ctx context.Context, key string) error {
	cur, ok := v.byKey[key]
	if !ok {
		return nil
	}
	repo, ws := v.bb.bb.Repositories.Repository, v.bb.workspace
	_, err := withContext(ctx, func() (any, error) {
		if v.env == nil {
			return repo.DeletePipelineVariable(&bitbucket.RepositoryPipelineVariableDeleteOptions{Owner: ws, RepoSlug: v.repo, Uuid: cur.UUID})
		}
		return repo.DeleteDeploymentVariable(&bitbucket.RepositoryDeploymentVariableDeleteOptions{Owner: ws, RepoSlug: v.repo, Environment: v.env, Uuid: cur.UUID})
	})
	if err != nil && httpStatus(err) != http.StatusNotFound {
		return v.bb.check(fmt.Sprintf("delete variable %s of %s", key, v.repo), err, false)
	}
	delete(v.byKey, key)
	return nil
}

// ---- Databricks ----

func spNumber(spID string) (int64, error) {
	n, err := strconv.ParseInt(spID, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("service principal id %q is not numeric", spID)
	}
	return n, nil
}

func fromPolicy(p oauth2.FederationPolicy, spID string) FederationPolicy {
	fp := FederationPolicy{ID: p.PolicyId, SPID: spID, Description: p.Description, Created: parseTime(p.CreateTime)}
	if o := p.OidcPolicy; o != nil {
		fp.Issuer, fp.Audiences, fp.Subject, fp.SubjectClaim = o.Issuer, o.Audiences, o.Subject, cmp.Or(o.SubjectClaim, "sub")
	}
	return fp
}

// FederationPolicies lists a service principal's federation policies.
func (d *Databricks) FederationPolicies(ctx context.Context, spID string) ([]FederationPolicy, error) {
	if d.a == nil {
		return nil, d.accErr
	}
	n, err := spNumber(spID)
	if err != nil {
		return nil, err
	}
	ps, err := d.a.ServicePrincipalFederationPolicy.ListAll(ctx, oauth2.ListServicePrincipalFederationPoliciesRequest{ServicePrincipalId: n})
	if err != nil {
		return nil, fmt.Errorf("list federation policies of service principal %s: %w", spID, err)
	}
	out := make([]FederationPolicy, 0, len(ps))
	for _, p := range ps {
		out = append(out, fromPolicy(p, spID))
	}
	return out, nil
}

// AccountFederationPolicies lists the account-wide federation policies.
func (d *Databricks) AccountFederationPolicies(ctx context.Context) ([]FederationPolicy, error) {
	if d.a == nil {
		return nil, d.accErr
	}
	ps, err := d.a.FederationPolicy.ListAll(ctx, oauth2.ListAccountFederationPoliciesRequest{})
	if err != nil {
		return nil, fmt.Errorf("list account federation policies: %w", accountTokenRefused(err, d.accSetting))
	}
	out := make([]FederationPolicy, 0, len(ps))
	for _, p := range ps {
		out = append(out, fromPolicy(p, ""))
	}
	return out, nil
}

// createFederationPolicy creates p for service principal spID under id.
func (d *Databricks) createFederationPolicy(ctx context.Context, spID, id string, p FederationPolicy) (FederationPolicy, error) {
	if d.a == nil {
		return FederationPolicy{}, d.accErr
	}
	n, err := spNumber(spID)
	if err != nil {
		return FederationPolicy{}, err
	}
	got, err := d.a.ServicePrincipalFederationPolicy.Create(ctx, oauth2.CreateServicePrincipalFederationPolicyRequest{
		ServicePrincipalId: n, PolicyId: id, Policy: oauth2.FederationPolicy{Description: p.Description,
			OidcPolicy: &oauth2.OidcFederationPolicy{Issuer: p.Issuer, Audiences: p.Audiences, Subject: p.Subject, SubjectClaim: p.SubjectClaim}}})
	if err != nil {
		if errors.Is(err, apierr.ErrResourceAlreadyExists) {
			return FederationPolicy{}, fmt.Errorf("create federation policy %s of service principal %s: a policy of that id exists and trusts something else; delete it or compare it with `bitbricks federate --dry-run`: %w", id, spID, err)
		}
		return FederationPolicy{}, fmt.Errorf("create federation policy %s of service principal %s: %w", id, spID, err)
	}
	return fromPolicy(*got, spID), nil
}

// ---- the issuer, read as Databricks reads it ----

// issuerCheck fetches the issuer's discovery document and keys, as a
// Databricks federation policy does, and reports what does not hold: the
// issuer named in the document, an RS256 key, and claim among the claims
// the issuer supports.
func issuerCheck(ctx context.Context, c *http.Client, issuer, claim string) error {
	var conf struct {
		Issuer          string   `json:"issuer"`
		JWKSURI         string   `json:"jwks_uri"`
		ClaimsSupported []string `json:"claims_supported"`
	}
	noAuth := func(*http.Request) {}
	if err := getJSON(ctx, c, noAuth, issuer+"/.well-known/openid-configuration", &conf); err != nil {
		return fmt.Errorf("the issuer's discovery document is not reachable: %w", err)
	}
	if conf.Issuer != issuer {
		return fmt.Errorf("the discovery document names issuer %q, not %q", conf.Issuer, issuer)
	}
	if len(conf.ClaimsSupported) > 0 && !slices.Contains(conf.ClaimsSupported, claim) {
		return fmt.Errorf("the issuer does not list claim %s among its claims", claim)
	}
	var keys struct {
		Keys []struct{ Kty, Alg string }
	}
	if err := getJSON(ctx, c, noAuth, cmp.Or(conf.JWKSURI, issuer+"/keys.json"), &keys); err != nil {
		return fmt.Errorf("the issuer's keys are not reachable: %w", err)
	}
	if !slices.ContainsFunc(keys.Keys, func(k struct{ Kty, Alg string }) bool { return k.Kty == "RSA" && cmp.Or(k.Alg, "RS256") == "RS256" }) {
		return errors.New("the issuer publishes no RS256 key")
	}
	return nil
}

// oidcYAML reports whether a bitbucket-pipelines.yml turns OIDC on for some
// step: `oidc: true`, or `oidc:` with custom audiences. A file that is not
// YAML turns nothing on.
func oidcYAML(src string) bool {
	var doc any
	if yaml.Unmarshal([]byte(src), &doc) != nil {
		return false
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if k == "oidc" {
					if on, _ := e.(bool); on {
						return true
					}
					if m, ok := e.(map[string]any); ok && m != nil {
						return true
					}
				}
				if walk(e) {
					return true
				}
			}
		case []any:
			for _, e := range x {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(doc)
}
