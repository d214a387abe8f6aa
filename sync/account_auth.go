package sync

import (
	"fmt"
	"strings"

	"github.com/bitbricks/bitbricks/config"
	"github.com/databricks/databricks-sdk-go"
	sdkconfig "github.com/databricks/databricks-sdk-go/config"
)

// The account API (https://accounts.cloud.databricks.com/api/2.0/accounts/{id}/...)
// takes account-level OAuth only: a service principal that is an account
// admin, by its OAuth secret (M2M, tokens minted at
// {account host}/oidc/accounts/{id}/v1/token), a user's OAuth login (U2M),
// or a cloud identity (Azure, GCP, OIDC federation). A workspace's personal
// access token is answered with 401 there, so it is never sent.

// AccountCredentialError is account work configured (databricks.account_id)
// with no credential the account API takes: the only one at hand is a
// workspace's personal access token. It stops the run before anything is
// read or written.
type AccountCredentialError struct {
	AccountID string
	// Profile is databricks.account_profile when that profile is what is
	// wrong (Problem says what: missing, a personal access token); At is
	// where the config sets it (file:line), when known.
	Profile, Problem, At string
}

func (e *AccountCredentialError) Error() string {
	if e.Profile != "" {
		at := ""
		if e.At != "" {
			at = e.At + ": "
		}
		return fmt.Sprintf("%sdatabricks.account_profile %q %s: the account API (databricks.account_id %s) takes OAuth, not a personal access token: fix that profile (the account host, client_id and client_secret), or set DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET in its place",
			at, e.Profile, e.Problem, e.AccountID)
	}
	return fmt.Sprintf("databricks: the account API (databricks.account_id %s) takes OAuth, not a personal access token: set DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET (an OAuth secret of a service principal that is an account admin), or databricks.account_profile (a profile of the account host); or remove databricks.account_id",
		e.AccountID)
}

// accountCredential is the account client's config: the account host with
// the first of
//   - the isolated service principal of DatabricksOptions (AccountClientID
//     and AccountClientSecret), when the workspace is isolated too;
//   - databricks.account_profile, a profile of the account host;
//   - DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET (OAuth M2M);
//   - the workspace's own credential w when it is not a personal access
//     token (OAuth M2M or U2M, Azure, GCP, OIDC federation), or without w
//     the SDK's unified auth (DATABRICKS_CONFIG_PROFILE, the environment).
//
// A personal access token alone is an AccountCredentialError.
func accountCredential(host, accountID string, dc config.DatabricksConfig, opts DatabricksOptions, w *sdkconfig.Config) (*databricks.Config, error) {
	refuse := &AccountCredentialError{AccountID: accountID}
	if opts.Token != "" {
		if opts.AccountClientID == "" || opts.AccountClientSecret == "" {
			return nil, refuse
		}
		return accountM2M(host, accountID, opts.AccountClientID, opts.AccountClientSecret), nil
	}
	var c *databricks.Config
	id, secret := opts.Env.get("DATABRICKS_CLIENT_ID"), opts.Env.get("DATABRICKS_CLIENT_SECRET")
	switch {
	case dc.AccountProfile != "":
		c = &databricks.Config{Profile: dc.AccountProfile, ConfigFile: opts.Env.get("DATABRICKS_CONFIG_FILE"),
			Host: dc.AccountHost, AccountID: accountID, Loaders: []sdkconfig.Loader{sdkconfig.ConfigFile}}
	case id != "" && secret != "":
		return accountM2M(host, accountID, id, secret), nil
	case w != nil:
		if patAuth(w) {
			return nil, refuse
		}
		c = &databricks.Config{
			Host: host, AccountID: accountID, AuthType: w.AuthType,
			ClientID: w.ClientID, ClientSecret: w.ClientSecret,
			AzureClientID: w.AzureClientID, AzureClientSecret: w.AzureClientSecret, AzureTenantID: w.AzureTenantID,
			AzureUseMSI: w.AzureUseMSI, GoogleServiceAccount: w.GoogleServiceAccount, GoogleCredentials: w.GoogleCredentials,
			OIDCTokenEnv: w.OIDCTokenEnv, OIDCTokenFilepath: w.OIDCTokenFilepath, DatabricksCliPath: w.DatabricksCliPath,
			Loaders: []sdkconfig.Loader{noLoader{}},
		}
	default:
		c = &databricks.Config{Host: host, AccountID: accountID,
			Profile: opts.Env.get("DATABRICKS_CONFIG_PROFILE"), ConfigFile: opts.Env.get("DATABRICKS_CONFIG_FILE")}
	}
	c.HostMetadataResolver = quickMetadata((*sdkconfig.Config)(c), cmpDuration(opts.ProbeTimeout, ProbeTimeout))
	sc := (*sdkconfig.Config)(c)
	if err := sc.EnsureResolved(); err != nil && dc.AccountProfile != "" {
		return nil, &AccountCredentialError{AccountID: accountID, Profile: dc.AccountProfile, Problem: profileProblem(err)}
	} else if err == nil {
		if patAuth(sc) && dc.AccountProfile != "" {
			return nil, &AccountCredentialError{AccountID: accountID, Profile: dc.AccountProfile,
				Problem: "holds a personal access token"}
		}
		if dc.AccountProfile != "" && c.AuthType == "" && c.ClientID != "" && c.ClientSecret != "" {
			// The profile's OAuth secret, and nothing else: a refused one
			// is reported as such, not as no credential found.
			c.AuthType = "oauth-m2m"
		}
		if patAuth(sc) {
			return nil, refuse
		}
		if c.DiscoveryURL == "" && c.Host != "" && sc.HostType() != sdkconfig.AccountHost {
			c.DiscoveryURL = accountDiscovery(c.Host, accountID)
		}
	}
	return c, nil
}

// accountDiscovery is the account's OAuth discovery document on host.
func accountDiscovery(host, accountID string) string {
	return strings.TrimRight(host, "/") + "/oidc/accounts/" + accountID + "/.well-known/oauth-authorization-server"
}

// patAuth reports a config whose credential is a personal access token.
func patAuth(c *sdkconfig.Config) bool {
	return c.AuthType == "pat" || (c.AuthType == "" && c.Token != "" && c.ClientID == "")
}

// accountM2M is an isolated OAuth M2M config for the account API: the
// service principal's client id and secret, exchanged at the account's
// token endpoint. A host that is not an accounts.* host (the emulator's)
// names the account's OAuth discovery document, which the SDK would
// otherwise look for as a workspace's.
func accountM2M(host, accountID, clientID, clientSecret string) *databricks.Config {
	c := isolate(&databricks.Config{Host: host, AccountID: accountID, AuthType: "oauth-m2m", ClientID: clientID, ClientSecret: clientSecret})
	if (*sdkconfig.Config)(c).HostType() != sdkconfig.AccountHost {
		c.DiscoveryURL = accountDiscovery(host, accountID)
	}
	return c
}

// envTokenBesideClient reports DATABRICKS_TOKEN set beside
// DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET, with no
// DATABRICKS_AUTH_TYPE: the token is the workspace's and the OAuth secret the
// account's (the SDK alone would refuse two authorization methods).
func envTokenBesideClient(env Env) bool {
	return env.get("DATABRICKS_TOKEN") != "" && env.get("DATABRICKS_CLIENT_ID") != "" &&
		env.get("DATABRICKS_CLIENT_SECRET") != "" && env.get("DATABRICKS_AUTH_TYPE") == ""
}
