package sync

import (
	"cmp"
	"slices"
)

// MemberState is where one principal of a mapped Databricks group stands
// after planning.
type MemberState string

const (
	MemberAdd        MemberState = "add"        // the plan adds it
	MemberRemove     MemberState = "remove"     // the plan removes it
	MemberInSync     MemberState = "in_sync"    // in Bitbucket and in Databricks
	MemberKept       MemberState = "kept"       // in Databricks only, and the plan leaves it
	MemberNotAdded   MemberState = "not_added"  // Bitbucket calls for it, but the plan cannot add it
	MemberUnresolved MemberState = "unresolved" // a Bitbucket account with no email: no Databricks identity
)

// MemberReason is why a principal has its MemberState: one code per rule of
// the planner.
type MemberReason string

const (
	// Added, in sync: a mapped Bitbucket group has it.
	ReasonInBitbucketGroup MemberReason = "in_bitbucket_group"
	// Removed: in no mapped Bitbucket group, and nothing holds it.
	ReasonInNoMappedGroup MemberReason = "in_no_mapped_group"
	// Kept: listed in policy.protected.
	ReasonProtected MemberReason = "protected"
	// Kept: no mapping to the group prunes it.
	ReasonPruneOff MemberReason = "prune_off"
	// Kept: a source Bitbucket group is unknown, empty or has unresolved
	// members, so nobody is removed on its strength.
	ReasonSourceUnknown MemberReason = "source_unknown"
	// Kept: the group is provisioned by an identity provider.
	ReasonIdPManaged MemberReason = "idp_managed"
	// Kept, not added: an account group these credentials cannot change.
	ReasonAccountGroupNoAccess MemberReason = "account_group_no_access"
	// Kept: service principals and nested groups are never removed by a mapping.
	ReasonNotAUser MemberReason = "not_a_user"
	// Kept: not in the Databricks users list, so its userName is unknown.
	ReasonUserNameUnknown MemberReason = "username_unknown"
	// Not added: there is no Databricks user of that name.
	ReasonMissingUser MemberReason = "missing_user"
	// Not added: the Databricks user is inactive.
	ReasonInactiveUser MemberReason = "inactive_user"
	// Not added, or in the group but unable to reach the workspace: an
	// account user not assigned to this workspace, whom the plan cannot
	// assign (one workspace, or no account access).
	ReasonNotAssigned MemberReason = "not_assigned"
	// Unresolved: the Bitbucket account has no email.
	ReasonUnresolvedIdentity MemberReason = "unresolved_identity"
	// Added or in the group, but not assigned to this workspace (so it cannot
	// reach it): the plan assigns it (assign_workspace, several workspaces).
	ReasonAssignWorkspace MemberReason = "assign_workspace"
	// Removed, and its own assignment to this workspace taken back
	// (unassign_workspace, prune, several workspaces).
	ReasonUnassignWorkspace MemberReason = "unassign_workspace"
)

// MemberStatus is the planner's account of one principal of a mapped
// Databricks group: who, where it stands, and why. ComputePlan returns one
// for every principal in the group and every one a mapped Bitbucket group
// puts in it, so front ends display the planner's reasons instead of
// re-deriving them.
type MemberStatus struct {
	// Workspace is the workspace of the group, with several (else "").
	Workspace     string
	Group         string // the Databricks group
	Principal     string // userName (email), display name, or a Bitbucket account's UUID when unresolved
	PrincipalType PrincipalType
	PrincipalID   string // SCIM id, when the principal is in Databricks
	State         MemberState
	Reason        MemberReason
	// Detail says the reason in words, naming the groups or the policy
	// involved (not sanitised).
	Detail string
	// ChangeID is the plan's change for it (add_member, remove_member).
	ChangeID string
}

// MembersOf returns the member statuses of Databricks group group, in the
// plan's order (by principal).
func (p Plan) MembersOf(group string) []MemberStatus {
	var out []MemberStatus
	for _, m := range p.Members {
		if m.Group == group {
			out = append(out, m)
		}
	}
	return out
}

func (pl *planner) member(ms MemberStatus) {
	if !pl.quiet {
		pl.members = append(pl.members, ms)
	}
}

// sortMembers orders ms by group and principal, one status per principal
// (an unresolved account in two source groups is reported once).
func sortMembers(ms []MemberStatus) []MemberStatus {
	slices.SortStableFunc(ms, func(a, b MemberStatus) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Principal, b.Principal), cmp.Compare(a.PrincipalID, b.PrincipalID))
	})
	return slices.CompactFunc(ms, func(a, b MemberStatus) bool {
		return a.Group == b.Group && a.Principal == b.Principal && a.PrincipalID == b.PrincipalID
	})
}
