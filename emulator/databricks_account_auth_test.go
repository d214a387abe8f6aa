package emulator

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/iam"
)

// TestAccountAPITakesOAuthOnly: the account API answers a workspace's
// personal access token, and an OAuth token minted at a workspace's token
// endpoint, as the service answers a credential of the wrong type (401,
// numeric error_code, reason phrase, Bearer challenge), while the workspace
// API still takes the token; an OAuth token minted at the account's token
// endpoint from the seed's account admin service principal works, and one
// of a service principal that is no account admin is refused (403).
func TestAccountAPITakesOAuthOnly(t *testing.T) {
	ctx := context.Background()
	org := Demo(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	hs := httptest.NewServer(New(org, Options{SCIMConcurrency: -1}).Handler())
	t.Cleanup(hs.Close)
	groups := hs.URL + "/api/2.0/accounts/" + org.DB.AccountID + "/scim/v2/Groups"
	get := func(u, token string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	mint := func(path, id, secret string) string {
		t.Helper()
		resp, err := http.PostForm(hs.URL+path, url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {"all-apis"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&tok) != nil || tok.AccessToken == "" {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		return tok.AccessToken
	}
	const want = `{"error_code":401,"message":"Credential was not sent or was of an unsupported type for this API."}`
	workspaceOAuth := mint("/oidc/v1/token", org.Creds.AccountClientID, org.Creds.AccountClientSecret)
	for name, token := range map[string]string{"a workspace PAT": org.Creds.DatabricksToken, "a workspace OAuth token": workspaceOAuth} {
		code, h, body := get(groups, token)
		if code != http.StatusUnauthorized || strings.TrimSpace(body) != want ||
			h.Get("X-Databricks-Reason-Phrase") == "" || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s at the account API: %d %s %v", name, code, body, h)
		}
	}
	if code, _, body := get(hs.URL+"/api/2.0/preview/scim/v2/Me", org.Creds.DatabricksToken); code != http.StatusOK {
		t.Errorf("the PAT at the workspace API: %d %s", code, body)
	}
	if code, _, body := get(groups, mint("/oidc/accounts/"+org.DB.AccountID+"/v1/token", org.Creds.AccountClientID, org.Creds.AccountClientSecret)); code != http.StatusOK {
		t.Errorf("an account OAuth token of the account admin: %d %s", code, body)
	}

	// Through the SDK: the PAT fails as unauthenticated; M2M at the
	// account's token endpoint works for the account admin and is denied
	// for a service principal that is no account admin.
	cfg := func() *databricks.Config {
		return &databricks.Config{Host: hs.URL, AccountID: org.DB.AccountID,
			RetryTimeoutSeconds: 5, HTTPTimeoutSeconds: 5, RateLimitPerSecond: 1000,
			Loaders:              []config.Loader{noEnv{}},
			HostMetadataResolver: func(context.Context, string) (*config.HostMetadata, error) { return nil, nil },
			DiscoveryURL:         hs.URL + "/oidc/accounts/" + org.DB.AccountID + "/.well-known/oauth-authorization-server"}
	}
	list := func(c *databricks.Config) error {
		a, err := databricks.NewAccountClient(c)
		if err != nil {
			return err
		}
		_, err = a.GroupsV2.List(ctx, iam.ListAccountGroupsRequest{Count: 1}).Next(ctx)
		return err
	}
	pat := cfg()
	pat.AuthType, pat.Token = "pat", org.Creds.DatabricksToken
	wantErr(t, list(pat), apierr.ErrUnauthenticated)
	m2m := cfg()
	m2m.AuthType, m2m.ClientID, m2m.ClientSecret = "oauth-m2m", org.Creds.AccountClientID, org.Creds.AccountClientSecret
	if err := list(m2m); err != nil {
		t.Errorf("M2M of the account admin: %v", err)
	}
	sp := org.AddServicePrincipal(DBServicePrincipal{DisplayName: "no-account-admin", Active: true})
	plain := cfg()
	plain.AuthType, plain.ClientID, plain.ClientSecret = "oauth-m2m", sp.ApplicationID, org.AddSecret(DBSecret{SPID: sp.ID}).Secret
	wantErr(t, list(plain), apierr.ErrPermissionDenied)
}
