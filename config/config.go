// Package config reads, defaults and validates the bitbricks YAML config.
// Every validation error is one line of the form FILE:LINE:COL: message.
package config

import (
	"os"
	"strings"
	"time"
)

// Duration is a time.Duration written in days, hours and minutes: "90d", "12h", "1d12h".
type Duration time.Duration

// Config is the whole bitbricks configuration.
type Config struct {
	Path           string                `yaml:"-"` // file the config was read from
	Bitbucket      BitbucketConfig       `yaml:"bitbucket"`
	AtlassianAdmin *AtlassianAdminConfig `yaml:"atlassian_admin"` // nil when absent
	Databricks     DatabricksConfig      `yaml:"databricks"`
	Identity       IdentityConfig        `yaml:"identity"`
	Mappings       []Mapping             `yaml:"mappings"`
	Policy         Policy                `yaml:"policy"`
	Pipelines      []Binding             `yaml:"pipelines"`
	Audit          AuditConfig           `yaml:"audit"`

	// whole is the config this one was narrowed from (ForWorkspace); nil
	// when it was not.
	whole *Config
	// at is where each path was written in the file (ErrorAt); nil for a
	// config not read from a file.
	at map[string]loc
}

// BitbucketConfig names the Bitbucket workspace and where its groups come from.
type BitbucketConfig struct {
	Workspace    string `yaml:"workspace"`
	GroupsSource string `yaml:"groups_source"` // "workspace" (default) | "atlassian-admin"
	BaseURL      string `yaml:"base_url"`      // optional, the /2.0 root
}

// AtlassianAdminConfig points at the Atlassian organisation directory.
type AtlassianAdminConfig struct {
	OrgID       string `yaml:"org_id"`
	DirectoryID string `yaml:"directory_id"` // default "-"
	BaseURL     string `yaml:"base_url"`
}

// DefaultRateLimit is the Databricks SDK's own client-side limit (requests
// per second) when databricks.rate_limit is not set; MaxRateLimit bounds it.
const (
	DefaultRateLimit = 15
	MaxRateLimit     = 1000
)

// DatabricksConfig selects the Databricks workspace (and account, for account-level work).
type DatabricksConfig struct {
	Profile     string `yaml:"profile"`
	Host        string `yaml:"host"`
	AccountID   string `yaml:"account_id"`
	AccountHost string `yaml:"account_host"`
	// AccountProfile names a Databricks config profile of the account host
	// (as `databricks auth login --host https://accounts... --account-id`
	// writes it): the account API's credential, which takes OAuth only.
	AccountProfile string `yaml:"account_profile"`
	// RateLimit is the Databricks SDK's client-side limit, in requests per
	// second (0: the SDK's default, 15).
	RateLimit int `yaml:"rate_limit"`
	// Workspaces lists several workspaces of the account (instead of
	// Profile/Host), or is `all` of them.
	Workspaces Workspaces `yaml:"workspaces"`
	// Workspace names the one workspace of several a config was narrowed
	// to by ForWorkspace ("" otherwise).
	Workspace string `yaml:"-"`
}

// IdentityConfig says how Bitbucket accounts become Databricks userNames.
type IdentityConfig struct {
	EmailFrom string `yaml:"email_from"` // "atlassian-admin" (default when atlassian_admin set) | "map"
	MapFile   string `yaml:"map_file"`   // resolved against the config file's directory
}

// Mapping ties a Bitbucket group to a Databricks group.
type Mapping struct {
	BitbucketGroup  string   `yaml:"bitbucket_group"`
	DatabricksGroup string   `yaml:"databricks_group"`
	Entitlements    []string `yaml:"entitlements"`
	Prune           bool     `yaml:"prune"`
	Workspaces      []string `yaml:"workspaces"` // several workspaces only; empty: all
	Line            int      `yaml:"-"`          // source line, for errors and re-map
}

// Policy holds the credential and safety rules.
type Policy struct {
	TokenMaxAge    Duration `yaml:"token_max_age"`
	TokenWarnAge   Duration `yaml:"token_warn_age"`
	RequireExpiry  bool     `yaml:"require_expiry"`
	RevokeDeparted bool     `yaml:"revoke_departed"`
	MaxChanges     int      `yaml:"max_changes"`
	Protected      []string `yaml:"protected"`
}

// Binding ties a Bitbucket pipeline variable to a service principal credential.
type Binding struct {
	Name             string   `yaml:"name"`
	Repository       string   `yaml:"repository"`
	Environment      string   `yaml:"environment"`
	Variable         string   `yaml:"variable"`
	ServicePrincipal string   `yaml:"service_principal"`
	Credential       string   `yaml:"credential"` // "pat" | "oauth-secret"
	RotateEvery      Duration `yaml:"rotate_every"`
	Lifetime         Duration `yaml:"lifetime"`
	Workspace        string   `yaml:"workspace"` // required with several workspaces
}

// AuditConfig locates the audit log.
type AuditConfig struct {
	File string `yaml:"file"`
}

// Values accepted in the config.
const (
	GroupsSourceWorkspace      = "workspace"
	GroupsSourceAtlassianAdmin = "atlassian-admin"
	EmailFromAtlassianAdmin    = "atlassian-admin"
	EmailFromMap               = "map"
	CredentialPAT              = "pat"
	CredentialOAuthSecret      = "oauth-secret"
)

// AllowedEntitlements lists the Databricks entitlements a mapping may grant
// (a new slice each call: no package-level state to mutate).
func AllowedEntitlements() []string {
	return []string{
		"workspace-access",
		"databricks-sql-access",
		"allow-cluster-create",
		"allow-instance-pool-create",
	}
}

// DefaultPath is $BITBRICKS_CONFIG, else ./bitbricks.yaml.
func DefaultPath() string {
	if p := os.Getenv("BITBRICKS_CONFIG"); p != "" {
		return p
	}
	return "bitbricks.yaml"
}

// MappingFor returns the mappings of one Bitbucket group (a group may map to several).
func (c *Config) MappingFor(bitbucketGroup string) []Mapping {
	var out []Mapping
	for _, m := range c.Mappings {
		if m.BitbucketGroup == bitbucketGroup {
			out = append(out, m)
		}
	}
	return out
}

// BindingByName returns the pipeline binding called name.
func (c *Config) BindingByName(name string) (Binding, bool) {
	for _, b := range c.Pipelines {
		if b.Name == name {
			return b, true
		}
	}
	return Binding{}, false
}

// IsProtected reports whether name (an email, userName, service principal display name or
// application id) is in policy.protected, ignoring case.
func (c *Config) IsProtected(name string) bool {
	name = strings.TrimSpace(name)
	if name == "" {
		return false
	}
	for _, p := range c.Policy.Protected {
		if strings.EqualFold(strings.TrimSpace(p), name) {
			return true
		}
	}
	return false
}
