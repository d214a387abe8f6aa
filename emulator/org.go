// Package emulator serves faithful local copies of the Bitbucket Cloud 2.0 and
// 1.0 groups APIs, the Atlassian Admin API and the Databricks workspace and
// account APIs, all backed by one in-memory organisation, so a change made
// through one API is visible through the others.
package emulator

import (
	"crypto/rsa"
	"sync"
	"time"
)

// Org is the whole emulated organisation. Every handler takes Mu before it
// reads or writes any field below it.
type Org struct {
	Mu sync.Mutex

	// Now is the clock used for token ages, creation times and expiry.
	// Tests inject a fixed clock.
	Now func() time.Time

	BB    *BitbucketState
	Admin *AdminState
	DB    *DatabricksState

	// Creds are the seed's well-known credentials, printed by `bitbricks
	// emulate` and used by the demo and the tests. Values are generated at
	// seed time, never literals in source.
	Creds Credentials

	order idOrder // the Databricks maps' id order, cached between requests

	// Workspaces are the account's workspaces when it has several (the
	// first is DB's); empty for an account with one. See AddWorkspace.
	Workspaces []*DatabricksState
}

// Credentials are credentials a seed hands out.
type Credentials struct {
	DatabricksToken string // a workspace admin's PAT (also an account admin)
	// WorkspaceTokens are the same admin's PATs by workspace name, when the
	// account has several workspaces (each workspace has its own tokens).
	WorkspaceTokens   map[string]string
	BitbucketUsername string // email of a workspace admin (Basic auth user name)
	BitbucketAPIToken string // that user's Atlassian API token
	BitbucketBearer   string // an access token acting as the same admin
	AtlassianAdminKey string // an org API key for the Admin API
	// AccountClientID and AccountClientSecret are an OAuth secret of a
	// service principal that is an account admin: the account API's
	// credential (it takes no personal access token).
	AccountClientID, AccountClientSecret string
}

// ---- Bitbucket Cloud ----

// BitbucketState is one Bitbucket Cloud workspace and its users.
type BitbucketState struct {
	Workspace BBWorkspace
	// Users are every Atlassian account known to Bitbucket, workspace members
	// or not (a departed user stays here with InWorkspace false).
	Users []*BBUser
	// Groups are the workspace's /1.0 groups.
	Groups []*BBGroup
	Repos  []*BBRepo
	// Variables are the workspace-level pipeline variables.
	Variables []*BBVariable
	// EmailFilterMatchesCase makes the members email filter (q=user.email
	// IN (...)) compare addresses with their case. Bitbucket does not
	// document which it does; the default ignores case, this is the other
	// reading, so that both can be tested.
	EmailFilterMatchesCase bool
	// AccessTokens are Bearer tokens accepted by the Bitbucket API, mapped to
	// the account id they act as.
	AccessTokens map[string]string
	// OIDCKey signs the workspace's Pipelines OIDC tokens and is published at
	// keys.json. Generated on first use when nil.
	OIDCKey *rsa.PrivateKey
	// ForeignOIDCKeys sign step tokens of other Bitbucket workspaces (by
	// slug), which this workspace's issuer never vouches for. Nil until used.
	ForeignOIDCKeys map[string]*rsa.PrivateKey
}

// BBWorkspace identifies the workspace.
type BBWorkspace struct {
	UUID string // with braces
	Slug string
	Name string
	// CreatedOn is reported by GET /2.0/workspaces/{ws}.
	CreatedOn time.Time
}

// BBUser is an Atlassian account as Bitbucket sees it.
type BBUser struct {
	UUID          string // with braces, "{6a1c...}"
	AccountID     string // "557058:..."
	Nickname      string
	DisplayName   string
	Email         string // never returned by Bitbucket for other users; the Admin API knows it
	AccountStatus string // "active"
	CreatedOn     time.Time
	// APIToken is the Atlassian API token the user authenticates with
	// (Basic auth with Email as the user name). Empty: cannot authenticate.
	APIToken string
	// InWorkspace is true for members of the workspace.
	InWorkspace bool
	// Permission in the workspace: "owner", "collaborator" or "member".
	Permission string
}

// BBGroup is a /1.0 workspace group.
type BBGroup struct {
	Slug       string
	Name       string
	Permission string // "read", "write", "admin" or ""
	AutoAdd    bool
	Members    []string // account ids
}

// BBRepo is a repository with its pipeline configuration.
type BBRepo struct {
	UUID         string // with braces
	Slug         string
	Name         string
	Variables    []*BBVariable
	Environments []*BBEnvironment
	CreatedOn    time.Time
	// Files are the files on the main branch by path, such as
	// "bitbucket-pipelines.yml"; served by the source endpoint.
	Files map[string]string
	// Pipelines are the repository's pipeline runs, oldest first.
	Pipelines []*BBPipeline
}

// BBPipeline is one pipeline run of a repository.
type BBPipeline struct {
	UUID        string // with braces
	BuildNumber int
	Branch      string
	Created     time.Time
	Completed   time.Time // zero: not finished
	Result      string    // SUCCESSFUL, FAILED, STOPPED, ERROR; "" while not finished
}

// BBEnvironment is a deployment environment of a repository.
type BBEnvironment struct {
	UUID      string // with braces
	Name      string
	Type      string // "Test", "Staging", "Production"
	Rank      int
	Variables []*BBVariable
}

// BBVariable is a pipeline variable. Secured values are never returned.
type BBVariable struct {
	UUID    string // with braces
	Key     string
	Value   string
	Secured bool
}

// ---- Atlassian Admin ----

// AdminState is the Atlassian organisation that manages the Bitbucket users.
type AdminState struct {
	OrgID       string
	DirectoryID string
	// APIKeys are the accepted Bearer org API keys.
	APIKeys []string
	Groups  []*AdminGroup
	// Tokens are managed users' Atlassian API tokens (metadata only).
	Tokens []*AdminAPIToken
}

// AdminGroup is an org directory group.
type AdminGroup struct {
	ID             string
	Name           string
	Description    string
	ExternalSynced bool
	Members        []string // account ids
}

// AdminAPIToken is the metadata of one managed user's Atlassian API token.
type AdminAPIToken struct {
	ID           string
	Label        string
	Status       string // "active" (rendered "ALLOWED"), "revoked"
	CreatedAt    time.Time
	ExpiresAt    time.Time
	LastActiveAt time.Time
	AccountID    string
}

// ---- Databricks ----

// DatabricksState is one Databricks account with one workspace.
type DatabricksState struct {
	AccountID   string
	WorkspaceID int64
	// Name is the workspace's name in an account with several ("" with one).
	Name string
	// Status is the workspace's workspace_status in the account's workspace
	// list ("": RUNNING).
	Status string
	// Conf is the workspace-conf key/value map (maxTokenLifetimeDays, enableTokensConfig).
	Conf map[string]string
	// Users, Groups and ServicePrincipals are keyed by SCIM id (numeric string).
	Users             map[string]*DBUser
	Groups            map[string]*DBGroup
	ServicePrincipals map[string]*DBServicePrincipal
	// Tokens are keyed by token id; TokensByValue indexes the same tokens by value.
	Tokens        map[string]*DBToken
	TokensByValue map[string]*DBToken
	// Secrets are SP OAuth secrets keyed by secret id.
	Secrets map[string]*DBSecret
	// FederationPolicies are keyed by policy id.
	FederationPolicies map[string]*DBFederationPolicy
	// OAuthTokens are access tokens minted at /oidc/v1/token from SP OAuth
	// secrets, keyed by value. They authenticate like PATs but are not
	// listed by token management. Nil until the first is minted.
	OAuthTokens map[string]*DBOAuthToken
	// Volumes are the Unity Catalog volumes the Files API serves, keyed by
	// "/Volumes/catalog/schema/volume"; nil until the first is added.
	Volumes map[string]*DBVolume
	// Workspace is the workspace file tree keyed by path (the Workspace
	// API). Nil until first used.
	Workspace map[string]*WSObject
	// NextID is the next SCIM/token id to hand out.
	NextID int64
}

// DBUser is a Databricks user (account-level identity; Assigned says whether
// it reaches the workspace).
type DBUser struct {
	ID           string
	UserName     string // normally an email
	DisplayName  string
	GivenName    string
	FamilyName   string
	Active       bool
	ExternalID   string
	Entitlements []string
	// Admin users may call token management, SCIM writes and workspace-conf.
	Admin bool
	// AccountAdmin users may call the account APIs.
	AccountAdmin bool
	// Assigned is true when the user is assigned to the workspace (identity
	// federation); a user that is not assigned cannot use the workspace API.
	Assigned bool
}

// GroupKind tells a workspace-local group from an account group.
type GroupKind string

const (
	WorkspaceGroup GroupKind = "WorkspaceGroup"
	AccountGroup   GroupKind = "Group"
)

// DBMember is one member of a Databricks group.
type DBMember struct {
	Value string // SCIM id of the user, service principal or group
	Type  string // "User", "ServicePrincipal" or "Group"
}

// DBGroup is a Databricks group.
type DBGroup struct {
	ID           string
	DisplayName  string
	Kind         GroupKind
	ExternalID   string
	Members      []DBMember
	Entitlements []string
	// Assigned is false for an account group not assigned to this workspace
	// (it is then invisible to the workspace SCIM API).
	Assigned bool
	// Managers are principal ids holding the group manager role (they may
	// change the group through the workspace-proxied account SCIM API).
	Managers []string
}

// DBServicePrincipal is a Databricks service principal.
type DBServicePrincipal struct {
	ID            string
	ApplicationID string // a UUID
	DisplayName   string
	Active        bool
	ExternalID    string
	Entitlements  []string
	Admin         bool
	Assigned      bool
	// AccountAdmin service principals may call the account APIs.
	AccountAdmin bool
}

// DBToken is a personal access token or on-behalf-of token. OwnerID is the
// principal the token authenticates as.
type DBToken struct {
	ID                string
	Value             string // "dapi" + 32 hex
	OwnerID           string
	CreatedByID       string
	CreatedByUsername string
	Comment           string
	Created           time.Time
	Expiry            time.Time // zero: never expires
	LastUsed          time.Time // zero: never used
}

// DBSecret is a service principal OAuth secret.
type DBSecret struct {
	ID      string
	SPID    string // SCIM id of the service principal
	Secret  string // "dose" + hex; only returned on create
	Hash    string
	Status  string // "ACTIVE"
	Created time.Time
	Expire  time.Time
	Updated time.Time
}

// DBFederationPolicy is a service principal workload identity federation policy.
type DBFederationPolicy struct {
	ID           string
	SPID         string
	Description  string
	Issuer       string
	Audiences    []string
	Subject      string
	SubjectClaim string
	JWKSURI      string
	JWKSJSON     string
	Created      time.Time
	Updated      time.Time
}

// DBOAuthToken is an OAuth access token issued to a service principal for
// one of its secrets (client credentials grant).
type DBOAuthToken struct {
	SPID   string
	Expiry time.Time
	// Account is the account id of a token minted at the account's token
	// endpoint (/oidc/accounts/{id}/v1/token): only those authenticate to
	// the account API.
	Account string
}
