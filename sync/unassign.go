package sync

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bitbricks/bitbricks/config"
	"github.com/databricks/databricks-sdk-go/service/iam"
)

// unassign_workspace: taking back a user's access to one of several
// workspaces.
//
// Only under prune, and only what bitbricks can vouch for: a user whom
// this plan removes from a pruned mapped group of the workspace, whom no
// mapping of the workspace wants in any group, and who holds a permission
// assignment of their own to the workspace (USER, made to the user
// directly: by an earlier assign_workspace or by hand). Never unassigned:
// a protected principal, the caller, a workspace admin (ADMIN permission,
// or a member of the workspace's admins group), service principals (so no
// pipeline's principal), groups (a group's assignment is never touched),
// and a user who still reaches the workspace through an account group's
// assignment. When any mapped Bitbucket group of the workspace is unknown
// or incomplete, or the assignments could not be read (or came back
// empty), nobody is unassigned.

// Assignment is one principal's permission assignment to a workspace.
type Assignment struct {
	PrincipalID string
	UserName    string
	Permissions []string // USER, ADMIN
}

// Admin reports whether the assignment makes the principal a workspace admin.
func (a Assignment) Admin() bool {
	return slices.Contains(a.Permissions, string(iam.WorkspacePermissionAdmin))
}

// assignmentLister is a Databricks source that lists the workspace's
// permission assignments through the account API.
type assignmentLister interface {
	UserAssignments(ctx context.Context) ([]Assignment, error)
}

// UserAssignments lists the permission assignments made to users directly
// (groups' and service principals' are left out).
func (d *Databricks) UserAssignments(ctx context.Context) ([]Assignment, error) {
	if d.a == nil {
		return nil, d.accErr
	}
	id, err := d.workspaceID(ctx)
	if err != nil {
		return nil, fmt.Errorf("the workspace's id: %w", err)
	}
	all, err := d.a.WorkspaceAssignment.ListAll(ctx, iam.ListWorkspaceAssignmentRequest{WorkspaceId: id})
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, &ImplausibleError{List: "permission assignments", Why: "the workspace's permission assignments came back empty"}
	}
	var out []Assignment
	for _, pa := range all {
		if pa.Principal == nil || pa.Principal.UserName == "" {
			continue
		}
		a := Assignment{PrincipalID: strconv.FormatInt(pa.Principal.PrincipalId, 10), UserName: pa.Principal.UserName}
		for _, p := range pa.Permissions {
			a.Permissions = append(a.Permissions, string(p))
		}
		out = append(out, a)
	}
	return out, nil
}

// assignments reads the users' direct assignments when a plan could
// unassign anybody: several workspaces, account access, a pruning mapping.
func (r *reader) assignments(ctx context.Context) error {
	if !r.readsAssignments() {
		return nil
	}
	lister := r.src.Databricks.(assignmentLister)
	r.say("reading the workspace's permission assignments")
	as, err := lister.UserAssignments(ctx)
	if err != nil {
		return r.fail(SystemDatabricks, "permission assignments", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.snap.Assignments = map[string]Assignment{}
	for _, a := range as {
		r.snap.Assignments[a.PrincipalID] = a
	}
	r.snap.AssignmentsKnown = true
	return nil
}

// readsAssignments reports whether a read reads the users' direct
// assignments: only when a plan could unassign anybody.
func (r *reader) readsAssignments() bool {
	_, ok := r.src.Databricks.(assignmentLister)
	return ok && r.cfg.Databricks.Workspace != "" && r.snap.AccountAccess &&
		slices.ContainsFunc(r.cfg.Mappings, func(m config.Mapping) bool { return m.Prune })
}

// unassignments plans unassign_workspace for the users this plan removes
// from pruned groups (see the top of this file). desired holds the
// lower-case userNames any mapping of the workspace wants; complete is
// false when any of the workspace's mapped Bitbucket groups is unknown or
// incomplete.
func (pl *planner) unassignments(desired map[string]bool, complete bool, departed map[string]bool) {
	if pl.cfg.Databricks.Workspace == "" {
		return // one workspace: bitbricks never assigns, so never unassigns
	}
	removed := map[string][]string{} // user id -> groups this plan removes it from
	var ids []string
	for _, c := range pl.changes {
		if pruned, ok := pl.prunedHere[c.Group]; ok && !pruned {
			continue // an account group only another workspace's mapping prunes
		}
		if c.Action == ActionRemoveMember && c.PrincipalType == PrincipalUser && c.PrincipalID != "" {
			if removed[c.PrincipalID] == nil {
				ids = append(ids, c.PrincipalID)
			}
			removed[c.PrincipalID] = append(removed[c.PrincipalID], c.Group)
		}
	}
	// A person proven to have left the Bitbucket workspace loses an
	// assignment of their own too (under prune), whatever groups they are
	// still, or no longer, in (departures.go).
	left := map[string]bool{}
	if len(departed) > 0 && pl.snap.AssignmentsKnown && slices.ContainsFunc(pl.cfg.Mappings, func(m config.Mapping) bool { return m.Prune }) {
		for id, a := range pl.snap.Assignments {
			if departed[strings.ToLower(a.UserName)] {
				left[id] = true
				if removed[id] == nil {
					ids = append(ids, id)
				}
			}
		}
	}
	if len(ids) == 0 {
		return
	}
	slices.Sort(ids)
	statuses := pl.removalStatuses()
	if !pl.snap.AccountAccess || !pl.snap.AssignmentsKnown {
		what := "could not be read"
		if !pl.snap.AccountAccess {
			what = "cannot be read without account access"
		}
		pl.find(FindingUnknownSource, "permission assignments", "", "the workspace's permission assignments %s; nobody is unassigned from it", what)
		for _, id := range ids {
			pl.keepAssigned(statuses[id], "its assignment to this workspace is unknown (the permission assignments "+what+")")
		}
		return
	}
	for _, id := range ids {
		u := pl.snap.Users[id]
		a, direct := pl.snap.Assignments[id]
		if u == nil || !direct {
			continue // no assignment of its own: nothing to take back
		}
		name := u.UserName
		var why string
		switch {
		case !complete:
			why = "a mapped Bitbucket group of this workspace is unknown or incomplete, so nobody is unassigned"
		case desired[strings.ToLower(name)]:
			continue // another mapping of this workspace wants it
		case pl.cfg.IsProtected(name):
			why = "listed in policy.protected"
		case strings.EqualFold(name, pl.snap.Caller):
			why = "it is the identity bitbricks runs as"
		case a.Admin() || pl.inGroup("admins", id):
			why = "a workspace admin"
		case !slices.Equal(a.Permissions, []string{string(iam.WorkspacePermissionUser)}):
			why = "its assignment holds " + strings.Join(a.Permissions, ", ") + ", not USER alone"
		default:
			if g := pl.assignedGroupOf(id, removed[id]); g != "" {
				why = "it also reaches this workspace through account group " + g + ", whose assignment bitbricks never changes"
			} else if g := pl.unmappedGroupOf(id); g != "" {
				why = "a member of " + g + ", which no mapping manages: it may use this workspace for more than the mappings say"
			}
		}
		if why != "" {
			pl.keepAssigned(statuses[id], why)
			continue
		}
		reason := fmt.Sprintf("assigned to this workspace directly; removed from %s and wanted by no mapping of it", strings.Join(removed[id], ", "))
		switch {
		case left[id] && len(removed[id]) > 0:
			reason += "; left the Bitbucket workspace"
		case left[id]:
			reason = "assigned to this workspace directly; left the Bitbucket workspace"
		}
		c := Change{
			ID: "unassign_workspace/" + name, Action: ActionUnassignWorkspace, Principal: name,
			PrincipalType: PrincipalUser, PrincipalID: id, Destructive: true, RemovedFrom: slices.Clone(removed[id]),
			Reason: reason,
		}
		pl.changes = append(pl.changes, c)
		pl.explainUnassign(statuses[id], c)
	}
}

// inGroup reports whether user id is a direct member of the named group.
func (pl *planner) inGroup(group, id string) bool {
	g := pl.snap.DBGroups[group]
	return g != nil && slices.ContainsFunc(g.Members, func(m Member) bool { return m.ID == id })
}

// assignedGroupOf names an account group assigned to this workspace (every
// account group the workspace lists is) that has user id as a member and
// that this plan does not remove it from; "" when none.
func (pl *planner) assignedGroupOf(id string, removedFrom []string) string {
	var names []string
	for name, g := range pl.snap.DBGroups {
		if g.Kind == KindAccount && !slices.Contains(removedFrom, name) && slices.ContainsFunc(g.Members, func(m Member) bool { return m.ID == id }) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	slices.Sort(names)
	return names[0]
}

// unmappedGroupOf names a group of this workspace that has user id as a
// member and that no mapping of the workspace manages (Databricks' own
// groups aside); "" when none.
func (pl *planner) unmappedGroupOf(id string) string {
	var names []string
	for name, g := range pl.snap.DBGroups {
		if _, system := systemGroups[name]; system || g.Kind == KindAccount {
			continue // account groups: assignedGroupOf
		}
		mapped := slices.ContainsFunc(pl.cfg.Mappings, func(m config.Mapping) bool { return m.DatabricksGroup == name })
		if !mapped && slices.ContainsFunc(g.Members, func(m Member) bool { return m.ID == id }) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	slices.Sort(names)
	return names[0]
}

// explainUnassign gives the member statuses of a removed user (at, by
// removalStatuses) the reason unassign_workspace.
func (pl *planner) explainUnassign(at []int, c Change) {
	for _, i := range at {
		pl.members[i].Reason = ReasonUnassignWorkspace
		pl.members[i].Detail += "; assigned to this workspace directly and wanted by no mapping of it, so the plan also unassigns it (" + c.ID + ")"
	}
}

// removalStatuses indexes the member statuses of the plan's removals by
// user id (positions in pl.members), for keepAssigned and explainUnassign
// to annotate without a pass over every status per user.
func (pl *planner) removalStatuses() map[string][]int {
	out := map[string][]int{}
	for i, m := range pl.members {
		if m.State == MemberRemove {
			out[m.PrincipalID] = append(out[m.PrincipalID], i)
		}
	}
	return out
}

// keepAssigned says, on the member statuses of a removed user (at, by
// removalStatuses), why it stays assigned to the workspace.
func (pl *planner) keepAssigned(at []int, why string) {
	for _, i := range at {
		pl.members[i].Detail += "; stays assigned to this workspace: " + why
	}
}

// reachable gives a member the plan adds or keeps in a group, but who is
// not assigned to this workspace (so cannot reach it through the group), the
// reason assign_workspace when the plan assigns it, else not_assigned.
func (pl *planner) reachable(ms MemberStatus) MemberStatus {
	u := pl.snap.Users[ms.PrincipalID]
	if u == nil || u.Assigned {
		return ms
	}
	if pl.assigned[u.ID] {
		ms.Reason = ReasonAssignWorkspace
		ms.Detail += "; not assigned to this workspace, so it cannot reach it: the plan assigns it (assign_workspace/" + u.UserName + ")"
	} else {
		ms.Reason = ReasonNotAssigned
		ms.Detail += "; but not assigned to this workspace, so it cannot reach it: assign it (bitbricks plans that with several workspaces and account access)"
	}
	return ms
}
