package sync

import (
	"time"
)

// Route is the API a group change goes through.
type Route string

const (
	RouteWorkspace Route = "workspace" // workspace SCIM (workspace-local groups; entitlements)
	RouteAccount   Route = "account"   // account SCIM
	RouteProxy     Route = "proxy"     // workspace-proxied account SCIM
)

// Change is one typed change of a Plan. Its one JSON shape (MarshalJSON,
// actions.go) is the contract in DESIGN.md.
type Change struct {
	ID            string
	Action        Action
	Group         string
	GroupKind     GroupKind // on group changes only
	Principal     string
	PrincipalType PrincipalType
	Entitlement   string
	TokenID       string // token id, or SP secret id for revoke_secret
	Binding       string
	Destructive   bool
	Reason        string
	Workspace     string // the workspace the change is made in

	// Fields the engine needs to apply the change; not in the JSON contract.
	GroupID     string
	PrincipalID string // SCIM id of the member, or owner id of a credential
	Route       Route
	// RemovedFrom are, on unassign_workspace, the groups whose removal of
	// the user (planned with it) is why the user is unassigned: it is
	// applied only after every one of them was (plan_deps.go).
	RemovedFrom []string
}

// FindingKind is the kind of a Finding.
type FindingKind string

const (
	FindingUnresolvedIdentity   FindingKind = "unresolved_identity"
	FindingMissingUser          FindingKind = "missing_user"
	FindingIdPManaged           FindingKind = "idp_managed"
	FindingUnknownSource        FindingKind = "unknown_source"
	FindingStaleToken           FindingKind = "stale_token"
	FindingSecretLimit          FindingKind = "secret_limit"
	FindingAccountGroupNoAccess FindingKind = "account_group_no_access"
	FindingNotAssigned          FindingKind = "not_assigned" // user in the account but not assigned to the workspace
	FindingNoDeparted           FindingKind = "departed_unknown"
	FindingCouldFederate        FindingKind = "could_federate"       // a stored credential a federation policy can replace
	FindingFederationTooBroad   FindingKind = "federation_too_broad" // a federation policy trusting more than one repository
)

// Finding is something reported and never acted on.
type Finding struct {
	Kind    FindingKind `json:"kind"`
	Subject string      `json:"subject"`
	Detail  string      `json:"detail"`
	Group   string      `json:"group,omitempty"`
	// Workspace is the workspace the finding is about (the one workspace's
	// name when there is one).
	Workspace string `json:"workspace"`
}

// Plan is the sorted list of changes (additive first, destructive last) and
// the findings, computed by a pure function from a Snapshot and a config.
type Plan struct {
	GeneratedAt time.Time
	Changes     []Change
	Findings    []Finding
	// Problems are the sources that failed or were implausible: the plan
	// covers only what was read, and a run with problems exits 1.
	Problems []Problem
	// Members explain every principal of every mapped group: its state and
	// the planner's reason (explain.go). Not part of the JSON plan.
	Members []MemberStatus
}
