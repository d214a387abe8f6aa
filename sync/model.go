// Package sync is the bitbricks engine: it reads a Snapshot of Bitbucket and
// Databricks, computes a Plan from the snapshot and the config, and applies
// exactly that plan. It imports no terminal UI package.
package sync

import (
	"time"
)

// Snapshot is what is, read from every source at one moment. Nothing in it is
// a secret: credential values never enter a snapshot.
type Snapshot struct {
	TakenAt time.Time
	// Workspaces are each workspace's snapshots when the config lists
	// several (the fields below are then the first's).
	Workspaces []WorkspaceSnapshot
	// Unread are the problems of the workspaces of several that could not
	// be read at all (not in Workspaces).
	Unread []Problem

	// Bitbucket side.
	Workspace string // Bitbucket workspace slug
	// Groups are the Bitbucket groups by slug (and by name: both keys are
	// filled, the config may use either).
	Groups map[string]*BitbucketGroup
	// Members are the current Bitbucket workspace members.
	Members      []Account
	MembersKnown bool // false when the workspace member list could not be read
	// Presence says, for the people a departure could concern (Databricks
	// members of mapped groups whom no mapped Bitbucket group names), by
	// lower-case email, whether Bitbucket reports them as workspace members.
	// It replaces the whole member list (one request per 89 people instead of
	// one per 100 members); PresenceKnown is false when it was not read or
	// the answers were implausible. A person missing from Presence is not
	// known to have left.
	Presence      map[string]bool
	PresenceKnown bool
	// PresenceUnknown holds, by lower-case email, the people the email
	// filter answered absent whose absence the direct lookup of their
	// account could not confirm, with why; they are not departed.
	PresenceUnknown map[string]string
	// PresenceSearches and PresenceLookups count the requests that
	// confirmation took: directory searches by email, then direct
	// membership lookups.
	PresenceSearches, PresenceLookups int
	// FormerMembers are the users bitbricks removed from a mapped group in
	// an earlier run, by the audit log (lower-case userName -> the group):
	// still asked about, and departed once proven gone (departures.go).
	FormerMembers map[string]string `json:"-"`
	// Emails maps a Bitbucket account id to the resolved Databricks userName
	// (an email, compared case-insensitively). Missing: unresolved.
	Emails map[string]string

	// Databricks side.
	Host          string                       // Databricks workspace host
	Caller        string                       // who the Databricks credentials act as (userName or SP application id)
	Users         map[string]*User             // by SCIM id
	DBGroups      map[string]*Group            // by display name
	SPs           map[string]*ServicePrincipal // by SCIM id
	Credentials   []Credential                 // tokens, OBO tokens, SP secrets, Atlassian API tokens
	TokensKnown   bool                         // false when token management could not be read
	SecretsKnown  bool                         // false when SP secrets could not be read (or no account access)
	MaxTokenDays  int                          // workspace maxTokenLifetimeDays; 0 = no limit
	AccountAccess bool                         // account SCIM reachable with the credentials in use
	ProxyAccess   bool                         // workspace-proxied account SCIM answers (which groups it may change: Group.ProxyAccess)
	// Assignments are the workspace's account permission assignments made
	// to users directly, by user id (read with several workspaces, account
	// access and a pruning mapping: unassign_workspace). AssignmentsKnown is
	// false when they were not read, or could not be, or were implausible.
	Assignments      map[string]Assignment
	AssignmentsKnown bool
	// WorkspaceID is the id the workspace answered Me with (0: none);
	// ReplacedFrom the other id earlier runs recorded for it, when it was
	// replaced since (workspace_replaced.go).
	WorkspaceID  int64 `json:"-"`
	ReplacedFrom int64 `json:"-"`

	// Bindings are what the snapshot knows about each pipeline binding, by name.
	Bindings map[string]*BindingState
	// Federation is what the snapshot read for moving bindings to Pipelines OIDC.
	Federation FederationFacts
	// Leftovers are credentials rotations created and never recorded
	// (FindLeftovers, from the audit log); the plan cleans them up.
	Leftovers []Leftover

	// Problems are sources that failed or looked suspicious; each makes part
	// of the snapshot unknown.
	Problems []SourceProblem
}

// Account is a Bitbucket (Atlassian) account.
type Account struct {
	AccountID   string
	UUID        string // with braces
	Nickname    string
	DisplayName string
}

// BitbucketGroup is a Bitbucket group and its members.
type BitbucketGroup struct {
	Slug    string
	Name    string
	Members []Account
	// Known is false when the group could not be read or came back empty
	// while its Databricks side has members: its membership is unknown.
	Known bool
	// Problem says why the group is unknown.
	Problem string
}

// User is a Databricks user.
type User struct {
	ID          string
	UserName    string
	DisplayName string
	Active      bool
	ExternalID  string
	// Assigned is false for an account user not assigned to the workspace.
	Assigned bool
}

// GroupKind tells a workspace-local group from an account group.
type GroupKind string

const (
	KindWorkspace GroupKind = "workspace"
	KindAccount   GroupKind = "account"
)

// PrincipalType is the type of a group member or credential owner.
type PrincipalType string

const (
	PrincipalUser             PrincipalType = "user"
	PrincipalServicePrincipal PrincipalType = "service_principal"
	PrincipalGroup            PrincipalType = "group"
)

// Group is a Databricks group.
type Group struct {
	ID           string
	Name         string
	Kind         GroupKind
	ExternalID   string // set: provisioned by an IdP, bitbricks never removes from it
	Members      []Member
	Entitlements []string
	// MembersKnown is false when the member list could not be read.
	MembersKnown bool
	// ProxyAccess is true for an account group the caller may change through
	// the workspace-proxied account SCIM (a workspace admin, or a manager of
	// this group). Read only when there is no account access.
	ProxyAccess bool
}

// Member is one member of a Databricks group.
type Member struct {
	ID      string
	Type    PrincipalType
	Display string // userName for users, display name otherwise
}

// ServicePrincipal is a Databricks service principal.
type ServicePrincipal struct {
	ID            string
	ApplicationID string
	DisplayName   string
	Active        bool
}

// Named reports whether the service principal is called name in a config: by
// display name or application id, ignoring case.
func (sp *ServicePrincipal) Named(name string) bool {
	return named(name, sp.DisplayName, sp.ApplicationID)
}

// servicePrincipalNamed finds the service principal called name (see Named);
// when several are, the one with the smallest id, so the choice is
// deterministic. nil: none.
func servicePrincipalNamed(sps map[string]*ServicePrincipal, name string) *ServicePrincipal {
	var found *ServicePrincipal
	for _, sp := range sps {
		if sp.Named(name) && (found == nil || sp.ID < found.ID) {
			found = sp
		}
	}
	return found
}

// CredentialKind is the kind of a credential.
type CredentialKind string

const (
	CredentialPAT            CredentialKind = "pat"             // personal access token
	CredentialOBO            CredentialKind = "obo"             // on-behalf-of token of a service principal
	CredentialOAuthSecret    CredentialKind = "oauth_secret"    // service principal OAuth secret
	CredentialAtlassianToken CredentialKind = "atlassian_token" // Atlassian API token of a managed user (read-only)
)

// Credential is one token or secret: metadata only, never the value.
type Credential struct {
	ID        string
	Kind      CredentialKind
	OwnerID   string        // SCIM id (Databricks) or account id (Atlassian)
	Owner     string        // resolved name: userName, SP display name, or email
	OwnerType PrincipalType // user or service_principal
	Comment   string
	Created   time.Time
	Expiry    time.Time // zero: never expires
	LastUsed  time.Time // zero: never used (or unknown)
	// Workspace is the Databricks workspace a token lives in, or the one an
	// account-level OAuth secret was listed through, with several ("" with one).
	Workspace string
}

// BindingState is what the snapshot read for one pipeline binding.
type BindingState struct {
	Name string
	// VariableFound is true when the secured variable exists.
	VariableFound bool
	// RecordedID is the credential id in the <VARIABLE>_ID companion; empty if absent.
	RecordedID string
	// SPID is the SCIM id of the binding's service principal; empty if not found.
	SPID string
	// Known is false when the binding's variables could not be read.
	Known   bool
	Problem string

	// RepositoryUUID and EnvironmentUUID (when the binding names an
	// environment) are the {UUID}s a federation policy trusts; empty when
	// unread, and FederationProblem says why.
	RepositoryUUID    string
	EnvironmentUUID   string
	FederationProblem string
	// Policies are the federation policies of the binding's service
	// principal; PoliciesKnown is false when they could not be read.
	Policies      []FederationPolicy
	PoliciesKnown bool
}

// SourceProblem is a source that failed or looked wrong.
type SourceProblem struct {
	System string // "bitbucket", "atlassian", "databricks", "identity"
	Source string // what was being read, e.g. "group data-engineers"
	Err    string
	Status int // the HTTP status of the failed answer; 0 when there was none
	// NotAsked: the source was not asked at all (no credential it takes).
	NotAsked bool
}
