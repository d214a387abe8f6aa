package emulator

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/oauth2"
	"github.com/databricks/databricks-sdk-go/service/settings"
)

func TestDatabricksServicePrincipalSecrets(t *testing.T) {
	f := newTestOrg(t)
	a := f.account(t, f.adminTok)
	ctx := context.Background()

	var created []string
	for i := range maxSPSecrets {
		sec, err := a.ServicePrincipalSecrets.Create(ctx, oauth2.CreateServicePrincipalSecretRequest{ServicePrincipalId: f.etl.ID, Lifetime: "7776000s"})
		if err != nil {
			t.Fatalf("secret %d: %v", i, err)
		}
		if sec.Secret == "" || sec.Status != "ACTIVE" || sec.ExpireTime != "2026-05-31T09:30:00Z" || sec.CreateTime != "2026-03-02T09:30:00Z" {
			t.Errorf("created = %+v", sec)
		}
		created = append(created, sec.Id)
	}
	_, err := a.ServicePrincipalSecrets.Create(ctx, oauth2.CreateServicePrincipalSecretRequest{ServicePrincipalId: f.etl.ID})
	wantErr(t, err, apierr.ErrBadRequest)

	// Pages of two: the SDK follows next_page_token to the end.
	var listed []string
	it := a.ServicePrincipalSecrets.List(ctx, oauth2.ListServicePrincipalSecretsRequest{ServicePrincipalId: f.etl.ID, PageSize: 2})
	for it.HasNext(ctx) {
		sec, err := it.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, sec.Id)
	}
	if !slices.Equal(listed, created) {
		t.Errorf("listed %v, want %v", listed, created)
	}
	var page struct {
		Secrets       []map[string]any `json:"secrets"`
		NextPageToken string           `json:"next_page_token"`
	}
	path := fmt.Sprintf("/api/2.0/accounts/%s/servicePrincipals/%s/credentials/secrets", f.org.DB.AccountID, f.etl.ID)
	if err := f.raw(t, accountLogin(f.org, f.adminTok)).Do(ctx, "GET", path, nil, map[string]any{"page_size": 2}, nil, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Secrets) != 2 || page.NextPageToken == "" || page.Secrets[0]["secret"] != nil {
		t.Errorf("first page = %+v", page)
	}

	if err := a.ServicePrincipalSecrets.Delete(ctx, oauth2.DeleteServicePrincipalSecretRequest{ServicePrincipalId: f.etl.ID, SecretId: created[0]}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, a.ServicePrincipalSecrets.Delete(ctx, oauth2.DeleteServicePrincipalSecretRequest{ServicePrincipalId: f.etl.ID, SecretId: created[0]}), apierr.ErrNotFound)

	// The workspace proxy sees the same secrets.
	w := f.workspace(t, f.adminTok)
	if _, err := w.ServicePrincipalSecretsProxy.Create(ctx, oauth2.CreateServicePrincipalSecretRequest{ServicePrincipalId: f.etl.ID}); err != nil {
		t.Fatal(err)
	}
	all, err := w.ServicePrincipalSecretsProxy.ListAll(ctx, oauth2.ListServicePrincipalSecretsRequest{ServicePrincipalId: f.etl.ID})
	if err != nil || len(all) != maxSPSecrets {
		t.Errorf("proxy list = %d, %v", len(all), err)
	}

	// Account APIs want an account admin, for this account.
	_, err = f.account(t, f.aliceTok).ServicePrincipalSecrets.ListAll(ctx, oauth2.ListServicePrincipalSecretsRequest{ServicePrincipalId: f.etl.ID})
	wantErr(t, err, apierr.ErrPermissionDenied)
	cfg := f.config(accountLogin(f.org, f.adminTok))
	cfg.AccountID = "00000000-0000-4000-8000-000000000000"
	other, err := databricks.NewAccountClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.ServicePrincipalSecrets.ListAll(ctx, oauth2.ListServicePrincipalSecretsRequest{ServicePrincipalId: f.etl.ID})
	wantErr(t, err, apierr.ErrPermissionDenied)
}

func TestDatabricksOAuthSecretAuthenticates(t *testing.T) {
	f := newTestOrg(t)
	ctx := context.Background()
	sec, err := f.account(t, f.adminTok).ServicePrincipalSecrets.Create(ctx, oauth2.CreateServicePrincipalSecretRequest{ServicePrincipalId: f.etl.ID})
	if err != nil {
		t.Fatal(err)
	}
	m2m := func(secret string) (*iam.User, error) {
		cfg := f.config("")
		cfg.AuthType, cfg.ClientID, cfg.ClientSecret = "oauth-m2m", f.etl.ApplicationID, secret
		w, err := databricks.NewWorkspaceClient(cfg)
		if err != nil {
			return nil, err
		}
		return w.CurrentUser.Me(ctx)
	}
	me, err := m2m(sec.Secret)
	if err != nil || me.UserName != f.etl.ApplicationID || me.Id != f.etl.ID {
		t.Fatalf("Me with OAuth M2M = %+v, %v", me, err)
	}
	if _, err := m2m("dose" + sec.Secret[4:len(sec.Secret)-1] + "x"); err == nil {
		t.Error("a wrong secret authenticated")
	}

	// Access tokens are not listed by token management.
	list, err := f.workspace(t, f.adminTok).TokenManagement.ListAll(ctx, settings.ListTokenManagementRequest{})
	if err != nil || len(list) != 4 {
		t.Errorf("token management lists %d tokens, %v", len(list), err)
	}
}

func TestDatabricksFederationPolicies(t *testing.T) {
	f := newTestOrg(t)
	a := f.account(t, f.adminTok)
	ctx := context.Background()
	spID := numericID(f.etl.ID)
	policy := oauth2.FederationPolicy{Description: "Bitbucket Pipelines, etl", OidcPolicy: &oauth2.OidcFederationPolicy{
		Issuer:    "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
		Audiences: []string{"ari:cloud:bitbucket::workspace/abc"},
		Subject:   "{repo-uuid}:{env-uuid}",
	}}
	p, err := a.ServicePrincipalFederationPolicy.Create(ctx, oauth2.CreateServicePrincipalFederationPolicyRequest{ServicePrincipalId: spID, PolicyId: "bitbucket-etl", Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	wantName := fmt.Sprintf("accounts/%s/servicePrincipals/%s/federationPolicies/bitbucket-etl", f.org.DB.AccountID, f.etl.ID)
	if p.PolicyId != "bitbucket-etl" || p.Name != wantName || p.Uid == "" || p.ServicePrincipalId != spID || p.OidcPolicy.SubjectClaim != "sub" || p.CreateTime == "" {
		t.Errorf("created = %+v", p)
	}
	_, err = a.ServicePrincipalFederationPolicy.Create(ctx, oauth2.CreateServicePrincipalFederationPolicyRequest{ServicePrincipalId: spID, PolicyId: "bitbucket-etl", Policy: policy})
	wantErr(t, err, apierr.ErrResourceConflict)
	noSubject := policy
	noSubject.OidcPolicy = &oauth2.OidcFederationPolicy{Issuer: "https://issuer.example"}
	_, err = a.ServicePrincipalFederationPolicy.Create(ctx, oauth2.CreateServicePrincipalFederationPolicyRequest{ServicePrincipalId: spID, Policy: noSubject})
	wantErr(t, err, apierr.ErrInvalidParameterValue)

	second, err := a.ServicePrincipalFederationPolicy.Create(ctx, oauth2.CreateServicePrincipalFederationPolicyRequest{ServicePrincipalId: spID, Policy: policy})
	if err != nil || second.PolicyId == "" {
		t.Fatalf("generated id: %+v, %v", second, err)
	}
	all, err := a.ServicePrincipalFederationPolicy.ListAll(ctx, oauth2.ListServicePrincipalFederationPoliciesRequest{ServicePrincipalId: spID, PageSize: 1})
	if err != nil || len(all) != 2 {
		t.Errorf("list = %v, %v", all, err)
	}

	upd, err := a.ServicePrincipalFederationPolicy.Update(ctx, oauth2.UpdateServicePrincipalFederationPolicyRequest{ServicePrincipalId: spID, PolicyId: "bitbucket-etl",
		UpdateMask: "oidc_policy.subject", Policy: oauth2.FederationPolicy{OidcPolicy: &oauth2.OidcFederationPolicy{Subject: "{repo}:{prod}"}}})
	if err != nil || upd.OidcPolicy.Subject != "{repo}:{prod}" || upd.OidcPolicy.Issuer != policy.OidcPolicy.Issuer || upd.Description != policy.Description {
		t.Errorf("update = %+v, %v", upd, err)
	}
	got, err := a.ServicePrincipalFederationPolicy.Get(ctx, oauth2.GetServicePrincipalFederationPolicyRequest{ServicePrincipalId: spID, PolicyId: "bitbucket-etl"})
	if err != nil || got.OidcPolicy.Subject != "{repo}:{prod}" {
		t.Errorf("get = %+v, %v", got, err)
	}
	if err := a.ServicePrincipalFederationPolicy.Delete(ctx, oauth2.DeleteServicePrincipalFederationPolicyRequest{ServicePrincipalId: spID, PolicyId: "bitbucket-etl"}); err != nil {
		t.Fatal(err)
	}
	_, err = a.ServicePrincipalFederationPolicy.Get(ctx, oauth2.GetServicePrincipalFederationPolicyRequest{ServicePrincipalId: spID, PolicyId: "bitbucket-etl"})
	wantErr(t, err, apierr.ErrNotFound)
}

func TestDatabricksWorkspaceAssignment(t *testing.T) {
	f := newTestOrg(t)
	a := f.account(t, f.adminTok)
	ctx := context.Background()
	ws := f.org.DB.WorkspaceID
	list := func() map[string][]iam.WorkspacePermission {
		t.Helper()
		got, err := a.WorkspaceAssignment.ListAll(ctx, iam.ListWorkspaceAssignmentRequest{WorkspaceId: ws})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]iam.WorkspacePermission{}
		for _, pa := range got {
			name := pa.Principal.UserName + pa.Principal.GroupName + pa.Principal.ServicePrincipalName
			out[name+"#"+strconv.FormatInt(pa.Principal.PrincipalId, 10)] = pa.Permissions
		}
		return out
	}
	key := func(name, id string) string { return name + "#" + id }
	got := list()
	if len(got) != 5 || !slices.Equal(got[key("admin@acme.com", f.admin.ID)], []iam.WorkspacePermission{"ADMIN"}) ||
		got[key("alice@acme.com", f.alice.ID)] == nil || got[key(f.etl.ApplicationID, f.etl.ID)] == nil || got[key("data-eng", f.dataEng.ID)] == nil {
		t.Errorf("assignments = %v", got)
	}
	if _, err := a.WorkspaceAssignment.Update(ctx, iam.UpdateWorkspaceAssignments{WorkspaceId: ws, PrincipalId: numericID(f.carol.ID), Permissions: []iam.WorkspacePermission{"USER"}}); err != nil {
		t.Fatal(err)
	}
	if me, err := f.workspace(t, f.carolTok).CurrentUser.Me(ctx); err != nil || me.UserName != "carol@acme.com" {
		t.Errorf("carol after assignment: %v, %v", me, err)
	}
	if err := a.WorkspaceAssignment.Delete(ctx, iam.DeleteWorkspaceAssignmentRequest{WorkspaceId: ws, PrincipalId: numericID(f.carol.ID)}); err != nil {
		t.Fatal(err)
	}
	if _, ok := list()[key("carol@acme.com", f.carol.ID)]; ok {
		t.Error("carol still assigned")
	}
	_, err := a.WorkspaceAssignment.ListAll(ctx, iam.ListWorkspaceAssignmentRequest{WorkspaceId: 42})
	wantErr(t, err, apierr.ErrNotFound)
}

func TestDatabricksAccountGroups(t *testing.T) {
	f := newTestOrg(t)
	a := f.account(t, f.adminTok)
	ctx := context.Background()

	groups, err := a.GroupsV2.ListAll(ctx, iam.ListAccountGroupsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	names := ids(groups, func(g iam.AccountGroup) string { return g.DisplayName })
	if !slices.Equal(names, []string{"data-eng", "finance"}) {
		t.Errorf("account groups = %v (workspace-local groups are not account groups)", names)
	}
	for _, g := range groups {
		if g.Members != nil {
			t.Errorf("list returned members of %s", g.DisplayName)
		}
	}
	g, err := a.GroupsV2.Get(ctx, iam.GetAccountGroupRequest{Id: f.finance.ID})
	if err != nil || len(g.Members) != 1 || g.Members[0].Value != f.carol.ID {
		t.Fatalf("get = %+v, %v", g, err)
	}
	err = a.GroupsV2.Patch(ctx, iam.PatchAccountGroupRequest{Id: f.finance.ID, Operations: []iam.Patch{
		{Op: iam.PatchOpAdd, Path: "members", Value: []map[string]string{{"value": f.bob.ID}}}}})
	if err != nil {
		t.Fatal(err)
	}
	g, _ = a.GroupsV2.Get(ctx, iam.GetAccountGroupRequest{Id: f.finance.ID})
	if len(g.Members) != 2 {
		t.Errorf("after patch: %v", g.Members)
	}
	_, err = a.GroupsV2.Get(ctx, iam.GetAccountGroupRequest{Id: f.deTeam.ID})
	wantErr(t, err, apierr.ErrNotFound)

	users, err := a.UsersV2.ListAll(ctx, iam.ListAccountUsersRequest{})
	if err != nil || len(users) != 4 {
		t.Errorf("account users = %d, %v (carol is in the account)", len(users), err)
	}
	sps, err := a.ServicePrincipalsV2.ListAll(ctx, iam.ListAccountServicePrincipalsRequest{Filter: `displayName eq "elsewhere"`})
	if err != nil || len(sps) != 1 {
		t.Errorf("account service principals = %v, %v", sps, err)
	}
}

func TestDatabricksProxiedAccountSCIM(t *testing.T) {
	f := newTestOrg(t)
	ctx := context.Background()
	path := "/api/2.0/account/scim/v2/Groups/" + f.dataEng.ID
	patch := func(token string, op iam.Patch) error {
		return f.raw(t, token).Do(ctx, "PATCH", path, map[string]string{"Content-Type": "application/json"}, nil,
			iam.PatchAccountGroupRequest{Schemas: []iam.PatchSchema{iam.PatchSchemaUrnIetfParamsScimApiMessages20PatchOp}, Operations: []iam.Patch{op}}, nil)
	}
	members := func() []string {
		t.Helper()
		var g iam.AccountGroup
		if err := f.raw(t, f.adminTok).Do(ctx, "GET", path, nil, nil, nil, &g); err != nil {
			t.Fatal(err)
		}
		return ids(g.Members, func(c iam.ComplexValue) string { return c.Value })
	}

	// A workspace admin adds and removes a member of an account group.
	if err := patch(f.adminTok, iam.Patch{Op: iam.PatchOpAdd, Value: map[string]any{"members": []map[string]string{{"value": f.bob.ID}}}}); err != nil {
		t.Fatal(err)
	}
	if got := members(); !slices.Equal(got, []string{f.alice.ID, f.bob.ID}) {
		t.Errorf("after add: %v", got)
	}
	if err := patch(f.adminTok, iam.Patch{Op: iam.PatchOpRemove, Path: fmt.Sprintf(`members[value eq "%s"]`, f.alice.ID)}); err != nil {
		t.Fatal(err)
	}
	if got := members(); !slices.Equal(got, []string{f.bob.ID}) {
		t.Errorf("after remove: %v", got)
	}
	// So does the group's manager; anyone else is refused.
	if err := patch(f.bobTok, iam.Patch{Op: iam.PatchOpAdd, Path: "members", Value: []map[string]string{{"value": f.etl.ID}}}); err != nil {
		t.Errorf("manager: %v", err)
	}
	wantErr(t, patch(f.aliceTok, iam.Patch{Op: iam.PatchOpAdd, Path: "members", Value: []map[string]string{{"value": f.alice.ID}}}), apierr.ErrPermissionDenied)

	// Lists show the account groups the caller may manage, without members.
	list := func(token string) []string {
		t.Helper()
		var resp iam.ListAccountGroupsResponse
		if err := f.raw(t, token).Do(ctx, "GET", "/api/2.0/account/scim/v2/Groups", nil, nil, nil, &resp); err != nil {
			t.Fatal(err)
		}
		for _, g := range resp.Resources {
			if g.Members != nil {
				t.Errorf("list returned members of %s", g.DisplayName)
			}
		}
		return ids(resp.Resources, func(g iam.AccountGroup) string { return g.DisplayName })
	}
	if got := list(f.adminTok); !slices.Equal(got, []string{"data-eng", "finance"}) {
		t.Errorf("admin sees %v", got)
	}
	if got := list(f.bobTok); !slices.Equal(got, []string{"data-eng"}) {
		t.Errorf("manager sees %v", got)
	}
	if got := list(f.aliceTok); len(got) != 0 {
		t.Errorf("non-manager sees %v", got)
	}

	// Workspace-local groups are not account groups.
	err := f.raw(t, f.adminTok).Do(ctx, "GET", "/api/2.0/account/scim/v2/Groups/"+f.deTeam.ID, nil, nil, nil, &iam.AccountGroup{})
	wantErr(t, err, apierr.ErrNotFound)
}

func TestDatabricksFederatedTokenExchange(t *testing.T) {
	f := newTestOrg(t)
	ctx := context.Background()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "RSA", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())}}})
	const issuer, audience = "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc", "ari:cloud:bitbucket::workspace/abc"
	_, err = f.account(t, f.adminTok).ServicePrincipalFederationPolicy.Create(ctx, oauth2.CreateServicePrincipalFederationPolicyRequest{
		ServicePrincipalId: numericID(f.etl.ID), Policy: oauth2.FederationPolicy{OidcPolicy: &oauth2.OidcFederationPolicy{
			Issuer: issuer, Audiences: []string{audience}, Subject: "{env-prod}", SubjectClaim: "deploymentEnvironmentUuid", JwksJson: string(jwks)}}})
	if err != nil {
		t.Fatal(err)
	}
	jwt := func(env string) string {
		seg := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
		signed := seg(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + seg(map[string]any{"iss": issuer, "aud": audience,
			"sub": "{repo}:{step}", "deploymentEnvironmentUuid": env, "exp": testNow.Add(time.Hour).Unix()})
		sum := sha256.Sum256([]byte(signed))
		sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	me := func(token string) (*iam.User, error) {
		t.Setenv("BITBRICKS_TEST_OIDC_TOKEN", token)
		cfg := f.config("")
		cfg.AuthType, cfg.ClientID, cfg.OIDCTokenEnv = "env-oidc", f.etl.ApplicationID, "BITBRICKS_TEST_OIDC_TOKEN"
		w, err := databricks.NewWorkspaceClient(cfg)
		if err != nil {
			return nil, err
		}
		return w.CurrentUser.Me(ctx)
	}
	got, err := me(jwt("{env-prod}"))
	if err != nil || got.Id != f.etl.ID {
		t.Fatalf("Me with a federated token = %+v, %v", got, err)
	}
	if _, err := me(jwt("{env-test}")); err == nil {
		t.Error("a token for another environment was accepted")
	}
}
