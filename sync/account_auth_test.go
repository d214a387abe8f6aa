package sync

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
	sdkconfig "github.com/databricks/databricks-sdk-go/config"
)

// accountTokenRoute is where the account's OAuth tokens are minted.
const accountTokenRoute = "databricks POST /oidc/accounts/{account_id}/v1/token"

// isolateSDKEnv keeps the process environment the SDK reads to what a test
// sets: no Databricks variable or ~/.databrickscfg of the machine's.
func isolateSDKEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET",
		"DATABRICKS_ACCOUNT_ID", "DATABRICKS_AUTH_TYPE", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CONFIG_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DATABRICKS_CONFIG_FILE", filepath.Join(t.TempDir(), "no-databrickscfg"))
}

// withBitbucket is env with the seed's Bitbucket and Atlassian credentials.
func withBitbucket(org *emulator.Org, env map[string]string) Env {
	all := map[string]string{"BITBUCKET_USERNAME": org.Creds.BitbucketUsername,
		"BITBUCKET_API_TOKEN": org.Creds.BitbucketAPIToken, "ATLASSIAN_ADMIN_API_KEY": org.Creds.AtlassianAdminKey}
	for k, v := range env {
		all[k] = v
	}
	return MapEnv(all)
}

// TestAccountNeedsOAuth: with databricks.account_id set and a workspace
// personal access token as the only credential, a plan stops before any
// request with one line that says the account API takes OAuth and what to
// set (exit 3), the token nowhere in it; isolated (demo, tests) and through
// the environment alike. (The sources are built: the workspace's own work
// needs no account credential.)
func TestAccountNeedsOAuth(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	e.srv.ResetStats()
	check := func(name string, err error) {
		t.Helper()
		var ace *AccountCredentialError
		if !errors.As(err, &ace) || ExitCode(err) != 3 {
			t.Fatalf("%s: want an AccountCredentialError (exit 3), got %v", name, err)
		}
		msg := Message(err)
		for _, want := range []string{"takes OAuth, not a personal access token", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET", "databricks.account_profile", e.cfg.Databricks.AccountID} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: the message lacks %q: %s", name, want, msg)
			}
		}
		if strings.Contains(msg, "\n") || strings.Contains(msg, e.org.Creds.DatabricksToken) || strings.Contains(msg, e.org.Creds.AccountClientSecret) {
			t.Errorf("%s: not one clean line: %q", name, msg)
		}
		// Only the SDK's unauthenticated host metadata lookup went out.
		st := e.srv.Stats()
		if n := st.Families["databricks"] - st.Routes["databricks GET /.well-known/databricks-config"]; n != 0 {
			t.Errorf("%s: %d Databricks requests before refusing: %v", name, n, st.Routes)
		}
	}
	plan := func(cfg *config.Config, opts SourceOptions) error {
		src, err := NewSources(cfg, opts)
		if err != nil {
			return err
		}
		_, _, err = NewService(src, cfg, ServiceOptions{}).Load(context.Background())
		return err
	}
	err := plan(e.cfg, SourceOptions{Env: withBitbucket(e.org, nil),
		Databricks: DatabricksOptions{Host: e.http.URL, Token: e.org.Creds.DatabricksToken}})
	check("isolated", err)

	isolateSDKEnv(t)
	t.Setenv("DATABRICKS_HOST", e.http.URL)
	t.Setenv("DATABRICKS_TOKEN", e.org.Creds.DatabricksToken)
	env := withBitbucket(e.org, map[string]string{"DATABRICKS_HOST": e.http.URL, "DATABRICKS_TOKEN": e.org.Creds.DatabricksToken})
	err = plan(e.cfg, SourceOptions{Env: env})
	check("DATABRICKS_TOKEN", err)

	// A profile of the account host holding a token is no better.
	profiles := filepath.Join(t.TempDir(), "databrickscfg")
	if err := os.WriteFile(profiles, []byte("[acct]\nhost = "+e.http.URL+"\ntoken = "+e.org.Creds.DatabricksToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := *e.cfg
	cfg.Databricks.AccountProfile = "acct"
	err = plan(&cfg, SourceOptions{Env: withBitbucket(e.org, map[string]string{"DATABRICKS_HOST": e.http.URL,
		"DATABRICKS_TOKEN": e.org.Creds.DatabricksToken, "DATABRICKS_CONFIG_FILE": profiles})})
	check("account_profile with a token", err)
}

// TestAccountOAuthCredentials: the account API is called with an OAuth
// token minted at the account's token endpoint from the account admin
// service principal's secret, given isolated, as DATABRICKS_CLIENT_ID and
// DATABRICKS_CLIENT_SECRET beside a workspace's DATABRICKS_TOKEN, or by
// databricks.account_profile; the workspace still answers with its token.
func TestAccountOAuthCredentials(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	isolateSDKEnv(t)
	profiles := filepath.Join(t.TempDir(), "databrickscfg")
	if err := os.WriteFile(profiles, []byte("[acct]\nhost = "+e.http.URL+"\naccount_id = "+e.cfg.Databricks.AccountID+
		"\nclient_id = "+e.org.Creds.AccountClientID+"\nclient_secret = "+e.org.Creds.AccountClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withProfile := *e.cfg
	withProfile.Databricks.AccountProfile = "acct"
	cases := []struct {
		name string
		run  func() (Sources, error)
	}{
		{"isolated", func() (Sources, error) {
			return NewSources(e.cfg, SourceOptions{Env: withBitbucket(e.org, nil), Databricks: withAccount(e.org, DatabricksOptions{Host: e.http.URL, Token: e.org.Creds.DatabricksToken})})
		}},
		{"environment", func() (Sources, error) {
			env := map[string]string{"DATABRICKS_HOST": e.http.URL, "DATABRICKS_TOKEN": e.org.Creds.DatabricksToken,
				"DATABRICKS_CLIENT_ID": e.org.Creds.AccountClientID, "DATABRICKS_CLIENT_SECRET": e.org.Creds.AccountClientSecret}
			for k, v := range env {
				t.Setenv(k, v) // the SDK reads the process environment
			}
			defer func() {
				for k := range env {
					os.Unsetenv(k)
				}
			}()
			return NewSources(e.cfg, SourceOptions{Env: withBitbucket(e.org, env)})
		}},
		{"account_profile", func() (Sources, error) {
			t.Setenv("DATABRICKS_HOST", e.http.URL)
			t.Setenv("DATABRICKS_TOKEN", e.org.Creds.DatabricksToken)
			defer os.Unsetenv("DATABRICKS_HOST")
			defer os.Unsetenv("DATABRICKS_TOKEN")
			return NewSources(&withProfile, SourceOptions{Env: withBitbucket(e.org, map[string]string{"DATABRICKS_HOST": e.http.URL,
				"DATABRICKS_TOKEN": e.org.Creds.DatabricksToken, "DATABRICKS_CONFIG_FILE": profiles})})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.srv.ResetStats()
			src, err := c.run()
			if err != nil {
				t.Fatalf("sources: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			me, err := src.Databricks.Me(ctx)
			if err != nil || me != e.org.Creds.BitbucketUsername {
				t.Fatalf("workspace Me: %q, %v (want the admin, by the workspace token)", me, err)
			}
			if err := src.Databricks.AccountAccess(ctx); err != nil {
				t.Fatalf("account access: %v", err)
			}
			users, err := src.Databricks.AccountUsers(ctx)
			if err != nil || len(users) == 0 {
				t.Fatalf("account users: %d, %v", len(users), err)
			}
			st := e.srv.Stats()
			if st.Routes[accountTokenRoute] == 0 || st.Routes["databricks POST /oidc/v1/token"] != 0 {
				t.Errorf("want the account's token endpoint used (and no workspace one): %v", st.Routes)
			}
		})
	}
}

// TestAccountCredentialChoice: which credential the account client gets,
// without a request: the isolated service principal, the environment's
// OAuth secret (at an accounts.* host as the SDK finds its token endpoint
// itself, elsewhere through the account's discovery document), the
// workspace's own OAuth credential (never its token), and a PAT alone
// refused.
func TestAccountCredentialChoice(t *testing.T) {
	const acct = "a1"
	const real, local = "https://accounts.cloud.databricks.com", "http://127.0.0.1:9"
	dc := config.DatabricksConfig{AccountID: acct}
	env := MapEnv(map[string]string{"DATABRICKS_CLIENT_ID": "sp-app", "DATABRICKS_CLIENT_SECRET": "dose-x"})
	c, err := accountCredential(real, acct, dc, DatabricksOptions{Env: env}, nil)
	if err != nil || c.AuthType != "oauth-m2m" || c.ClientID != "sp-app" || c.Token != "" || c.DiscoveryURL != "" {
		t.Errorf("environment, accounts host: %+v, %v", c, err)
	}
	c, err = accountCredential(local, acct, dc, DatabricksOptions{Env: env}, nil)
	if err != nil || c.DiscoveryURL != local+"/oidc/accounts/a1/.well-known/oauth-authorization-server" {
		t.Errorf("environment, other host: %+v, %v", c, err)
	}
	iso := DatabricksOptions{Host: local, Token: "dapi-w", AccountClientID: "sp-app", AccountClientSecret: "dose-x", Env: MapEnv(nil)}
	if c, err = accountCredential(local, acct, dc, iso, nil); err != nil || c.Token != "" || c.ClientSecret != "dose-x" {
		t.Errorf("isolated: %+v, %v", c, err)
	}
	iso.AccountClientID, iso.AccountClientSecret = "", ""
	if _, err = accountCredential(local, acct, dc, iso, nil); !errors.As(err, new(*AccountCredentialError)) {
		t.Errorf("isolated, token only: %v", err)
	}
	w := &sdkconfig.Config{Host: local, AuthType: "oauth-m2m", ClientID: "ws-sp", ClientSecret: "dose-w"}
	if c, err = accountCredential(local, acct, dc, DatabricksOptions{Env: MapEnv(nil), ProbeTimeout: time.Millisecond}, w); err != nil || c.ClientID != "ws-sp" || c.Token != "" {
		t.Errorf("the workspace's OAuth credential: %+v, %v", c, err)
	}
	for _, pat := range []*sdkconfig.Config{{Host: local, Token: "dapi-w"}, {Host: local, AuthType: "pat", Token: "dapi-w"}} {
		if _, err = accountCredential(local, acct, dc, DatabricksOptions{Env: MapEnv(nil)}, pat); !errors.As(err, new(*AccountCredentialError)) {
			t.Errorf("the workspace's PAT (%q): %v", pat.AuthType, err)
		}
	}
}
