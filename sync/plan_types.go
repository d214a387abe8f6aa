package sync

import (
	"fmt"
	"time"
)

// Action is what a Change does.
type Action int

const (
	ActionCreateGroup Action = iota
	ActionAddMember
	ActionAddEntitlement
	ActionRotateCredential
	ActionRemoveEntitlement
	ActionRemoveMember
	ActionRevokeToken
	ActionRevokeSecret
)

var actionNames = [...]string{
	ActionCreateGroup:       "create_group",
	ActionAddMember:         "add_member",
	ActionAddEntitlement:    "add_entitlement",
	ActionRotateCredential:  "rotate_credential",
	ActionRemoveEntitlement: "remove_entitlement",
	ActionRemoveMember:      "remove_member",
	ActionRevokeToken:       "revoke_token",
	ActionRevokeSecret:      "revoke_secret",
}

// String is the action's JSON name.
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// Destructive reports whether the action takes access or a credential away.
func (a Action) Destructive() bool {
	switch a {
	case ActionRemoveEntitlement, ActionRemoveMember, ActionRevokeToken, ActionRevokeSecret:
		return true
	}
	return false
}

// MarshalText makes an Action its JSON name.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses a JSON action name.
func (a *Action) UnmarshalText(b []byte) error {
	for i, n := range actionNames {
		if n == string(b) {
			*a = Action(i)
			return nil
		}
	}
	return fmt.Errorf("unknown action %q", b)
}

// Route is the API a group change goes through.
type Route string

const (
	RouteWorkspace Route = "workspace" // workspace SCIM (workspace-local groups; entitlements)
	RouteAccount   Route = "account"   // account SCIM
	RouteProxy     Route = "proxy"     // workspace-proxied account SCIM
)

// Change is one typed change of a Plan. Its JSON form is the contract in
// DESIGN.md: every field present, empty where it does not apply.
type Change struct {
	ID            string        `json:"id"`
	Action        Action        `json:"action"`
	Group         string        `json:"group"`
	GroupKind     GroupKind     `json:"group_kind,omitempty"` // on group changes only
	Principal     string        `json:"principal"`
	PrincipalType PrincipalType `json:"principal_type"`
	Entitlement   string        `json:"entitlement"`
	TokenID       string        `json:"token_id"` // token id, or SP secret id for revoke_secret
	Binding       string        `json:"binding"`
	Destructive   bool          `json:"destructive"`
	Reason        string        `json:"reason"`

	// Fields the engine needs to apply the change; not in the JSON contract.
	GroupID     string `json:"-"`
	PrincipalID string `json:"-"` // SCIM id of the member, or owner id of a credential
	Route       Route  `json:"-"`
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
)

// Finding is something reported and never acted on.
type Finding struct {
	Kind    FindingKind `json:"kind"`
	Subject string      `json:"subject"`
	Detail  string      `json:"detail"`
	Group   string      `json:"group,omitempty"`
}

// Plan is the sorted list of changes (additive first, destructive last) and
// the findings, computed by a pure function from a Snapshot and a config.
type Plan struct {
	GeneratedAt time.Time
	Changes     []Change
	Findings    []Finding
}
