package sync

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bitbricks/bitbricks/config"
)

// Credential thresholds that come from the service, not from the policy.
const (
	// StaleAfter is when an unused token is reported: Databricks revokes PATs
	// unused for 90 days.
	StaleAfter = 80 * 24 * time.Hour
	// ExpiringWithin is when a credential counts as about to expire.
	ExpiringWithin = 7 * 24 * time.Hour
	// SecretLimitFrom is how many OAuth secrets of one service principal are
	// reported (the service allows SecretLimit).
	SecretLimitFrom = 4
	SecretLimit     = 5
)

// Summary counts a plan's changes and findings; it is the JSON "summary".
type Summary struct {
	Changes     int            `json:"changes"`
	Destructive int            `json:"destructive"`
	Findings    int            `json:"findings"`
	ByAction    map[string]int `json:"by_action"`
}

// PlanSummary counts p's changes by action.
func PlanSummary(p Plan) Summary {
	s := Summary{Changes: len(p.Changes), Findings: len(p.Findings), ByAction: map[string]int{}}
	for _, c := range p.Changes {
		s.ByAction[c.Action.String()]++
		if c.Action.Destructive() {
			s.Destructive++
		}
	}
	return s
}

// Destructive counts the changes that take access or a credential away.
func (p Plan) Destructive() int {
	n := 0
	for _, c := range p.Changes {
		if c.Action.Destructive() {
			n++
		}
	}
	return n
}

// ComputePlan diffs what should be (the config and the Bitbucket side of snap)
// against what is (the Databricks side of snap). It is pure: the same input
// gives the same plan, and unknown data never leads to a destructive change.
func ComputePlan(snap *Snapshot, cfg *config.Config, now time.Time) Plan {
	return startPlan(snap, cfg, now).finish(nil)
}

// planPassHook, when set, hears every pass of the planner over a
// workspace's snapshot (tests count them: one per workspace per plan).
var planPassHook atomic.Pointer[func(*Snapshot)]

// startPlan is the first half of planning snap: the mapped groups'
// membership and entitlements, and who snap alone proves departed (the
// planner's proven and departuresUnknown). What other workspaces of the
// run proved does not enter it, so a plan over several workspaces starts
// each, merges their departure evidence (departures.go), then finishes each
// with the run's.
func startPlan(snap *Snapshot, cfg *config.Config, now time.Time) *planner {
	if hook := planPassHook.Load(); hook != nil {
		(*hook)(snap)
	}
	pl := &planner{snap: snap, cfg: cfg, now: now, users: usersByName(snap), seen: map[Finding]bool{}}
	targets := mappingTargets(cfg)
	pl.desiredAnywhere = map[string]bool{}
	pl.allComplete = true
	var clean []*Group                // mapped groups whose members and sources are all known
	keptAnywhere := map[string]bool{} // desiredAnywhere, and whom other workspaces' mappings want in an account group
	for _, t := range targets {
		desired, complete := pl.desired(t)
		for e := range desired {
			pl.desiredAnywhere[e], keptAnywhere[e] = true, true
		}
		pl.allComplete = pl.allComplete && complete
		if pl.groupUnknown(t) {
			continue
		}
		// An account group is shared by every workspace: who stays in it,
		// and whether it is pruned, is what every mapping to it says.
		keep, keepComplete := desired, complete
		if w := pl.accountWant(t); w != nil {
			keep, keepComplete = w.desired, w.complete
			t.prune, t.sources = w.prune, w.sources
			for e := range keep {
				keptAnywhere[e] = true
			}
		}
		pl.membership(t, desired, keep, keepComplete)
		pl.entitlements(t)
		if g := snap.DBGroups[t.name]; g != nil && g.ExternalID == "" && keepComplete {
			clean = append(clean, g)
		}
	}
	pl.keptAnywhere = keptAnywhere
	// Who left the Bitbucket workspace (their tokens are revoked, their own
	// assignment to the workspace taken back), when the tokens are known.
	if pl.actsOnDepartures() {
		pl.proven = pl.departed(clean, keptAnywhere)
	}
	return pl
}

// actsOnDepartures reports whether the plan departs anybody at all: the
// policy revokes departed people's tokens, and the tokens are known.
func (pl *planner) actsOnDepartures() bool {
	return pl.cfg.Policy.RevokeDeparted && pl.snap.TokensKnown
}

// finish plans the rest of what startPlan began, with run (nil: none) what
// the other workspaces of the run proved about departures, and returns the
// plan.
func (pl *planner) finish(run *runEvidence) Plan {
	snap := pl.snap
	var departed map[string]bool
	if pl.actsOnDepartures() {
		departed = pl.proven
		if run != nil {
			// Proven while planning another workspace of the run
			// (departures.go).
			departed = maps.Clone(departed)
			if departed == nil {
				departed = map[string]bool{}
			}
			for k := range run.departed {
				if _, unsure := snap.PresenceUnknown[k]; !unsure && !pl.keptAnywhere[k] {
					departed[k] = true
				}
			}
		}
		pl.prunedUnknownDepartures(pl.desiredAnywhere)
	}
	pl.unassignments(pl.desiredAnywhere, pl.allComplete, departed)
	if !snap.TokensKnown {
		pl.find(FindingUnknownSource, "Databricks tokens", "", "token management could not be read; token rules skipped")
	} else {
		pl.tokens(departed)
	}
	pl.secretLimits()
	pl.rotations()
	pl.federationFindings()
	pl.leftovers()

	rank := make([]int, len(pl.changes))
	for i, c := range pl.changes {
		rank[i] = c.Action.Info().Rank
	}
	pl.changes = sortedStable(pl.changes, func(i, j int) int {
		a, b := &pl.changes[i], &pl.changes[j]
		return cmp.Or(cmp.Compare(rank[i], rank[j]), cmp.Compare(a.Group, b.Group),
			cmp.Compare(a.Principal, b.Principal), cmp.Compare(a.ID, b.ID))
	})
	slices.SortStableFunc(pl.findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Subject, b.Subject),
			cmp.Compare(a.Group, b.Group), cmp.Compare(a.Detail, b.Detail))
	})
	return Plan{GeneratedAt: pl.now, Changes: pl.changes, Findings: pl.findings, Problems: snap.ProblemList(), Members: sortMembers(pl.members)}
}

type planner struct {
	snap     *Snapshot
	cfg      *config.Config
	now      time.Time
	users    map[string]*User // by lower-case userName
	changes  []Change
	findings []Finding
	members  []MemberStatus
	seen     map[Finding]bool
	assigned map[string]bool // user ids with an assign_workspace change
	// departuresUnknown says why nobody is treated as departed this run
	// ("" when departures are known, person by person at least).
	departuresUnknown string
	// proven are the people this plan's own evidence proves departed.
	proven map[string]bool
	// Of the mapped groups (startPlan): desiredAnywhere are the lower-case
	// userNames some mapping of this workspace wants, keptAnywhere those
	// and whom another workspace's mapping keeps in an account group;
	// allComplete, whether every mapped source is known and complete.
	desiredAnywhere, keptAnywhere map[string]bool
	allComplete                   bool
	// prunedHere names the account groups a mapping of this workspace
	// prunes (another workspace's mapping may prune one too).
	prunedHere map[string]bool
	quiet      bool // find and member record nothing (accountWant)
}

// assignable reports whether u, wanted in a mapped group, is an active
// account user not assigned to this workspace that the plan assigns: with
// several workspaces configured (a mapping then gives access to this
// workspace), and account access to do it with. With one workspace, such a
// user stays a not_assigned finding.
func (pl *planner) assignable(u *User) bool {
	return u != nil && u.Active && !u.Assigned && pl.snap.AccountAccess && pl.cfg.Databricks.Workspace != ""
}

// assign plans u's assignment to this workspace (once per user).
func (pl *planner) assign(u *User, why, group string) {
	if pl.assigned == nil {
		pl.assigned = map[string]bool{}
	}
	if pl.assigned[u.ID] {
		return
	}
	pl.assigned[u.ID] = true
	pl.changes = append(pl.changes, Change{
		ID: "assign_workspace/" + u.UserName, Action: ActionAssignWorkspace, Principal: u.UserName,
		PrincipalType: PrincipalUser, PrincipalID: u.ID,
		Reason: fmt.Sprintf("%s; mapped to %s in this workspace, which %s cannot reach", why, group, u.UserName),
	})
}

func (pl *planner) find(kind FindingKind, subject, group, format string, args ...any) {
	if pl.quiet {
		return
	}
	f := Finding{Kind: kind, Subject: subject, Group: group, Detail: fmt.Sprintf(format, args...)}
	if !pl.seen[f] {
		pl.seen[f] = true
		pl.findings = append(pl.findings, f)
	}
}

// usersByName indexes users by lower-case userName; on a clash the active
// user with the smallest id wins, so the choice is deterministic.
func usersByName(snap *Snapshot) map[string]*User {
	out := map[string]*User{}
	for _, u := range snap.Users {
		k := strings.ToLower(u.UserName)
		if o := out[k]; o == nil || (u.Active && !o.Active) || (u.Active == o.Active && u.ID < o.ID) {
			out[k] = u
		}
	}
	return out
}

// groupTarget is one Databricks group with everything the mappings say about it.
type groupTarget struct {
	name         string
	sources      []string // Bitbucket group slugs or names, in config order
	prune        bool
	entitlements []string
	managesEnts  bool // some mapping lists entitlements: the union is authoritative
}

func mappingTargets(cfg *config.Config) []*groupTarget {
	byName := map[string]*groupTarget{}
	var out []*groupTarget
	for _, m := range cfg.Mappings {
		t := byName[m.DatabricksGroup]
		if t == nil {
			t = &groupTarget{name: m.DatabricksGroup}
			byName[m.DatabricksGroup] = t
			out = append(out, t)
		}
		if !slices.Contains(t.sources, m.BitbucketGroup) {
			t.sources = append(t.sources, m.BitbucketGroup)
		}
		t.prune = t.prune || m.Prune
		if len(m.Entitlements) > 0 {
			t.managesEnts = true
			for _, e := range m.Entitlements {
				if !slices.Contains(t.entitlements, e) {
					t.entitlements = append(t.entitlements, e)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b *groupTarget) int { return cmp.Compare(a.name, b.name) })
	return out
}

// desired returns the lower-case userNames the sources of t put into it, each
// with the Bitbucket groups that justify it, and whether the sources are
// complete enough to remove anybody on their strength.
func (pl *planner) desired(t *groupTarget) (map[string][]string, bool) {
	desired := map[string][]string{}
	complete := true
	g := pl.snap.DBGroups[t.name]
	for _, src := range t.sources {
		bg := pl.snap.Groups[src]
		switch {
		case bg == nil:
			complete = false
			pl.find(FindingUnknownSource, src, t.name, "Bitbucket group %s (mapped to %s) does not exist in workspace %s; nothing is removed from %s",
				src, t.name, pl.snap.Workspace, t.name)
			continue
		case !bg.Known:
			complete = false
			pl.find(FindingUnknownSource, src, t.name, "Bitbucket group %s could not be read (%s); nothing is removed from %s",
				src, cmp.Or(bg.Problem, "unknown error"), t.name)
		case len(bg.Members) == 0 && g != nil && hasUsers(g):
			// An empty list is read as unknown, never as "remove everybody".
			complete = false
			if t.prune {
				pl.find(FindingUnknownSource, src, t.name, "Bitbucket group %s came back empty while %s has members; nothing is removed from %s",
					src, t.name, t.name)
			}
		}
		unresolved := 0
		for _, a := range bg.Members {
			email := pl.snap.Emails[a.AccountID]
			if email == "" {
				unresolved++
				pl.find(FindingUnresolvedIdentity, a.UUID, t.name, "no email for Bitbucket account %s (%s) in group %s; %s",
					a.AccountID, cmp.Or(a.DisplayName, a.Nickname), src, pl.mapFileAdvice([]string{identityMapLine(a)}))
				pl.member(MemberStatus{Group: t.name, Principal: a.UUID, PrincipalType: PrincipalUser, State: MemberUnresolved,
					Reason: ReasonUnresolvedIdentity, Detail: fmt.Sprintf("no email for Bitbucket account %s (%s) in group %s; nothing changes for it",
						a.AccountID, cmp.Or(a.DisplayName, a.Nickname), src)})
				continue
			}
			k := strings.ToLower(email)
			if !slices.Contains(desired[k], src) {
				desired[k] = append(desired[k], src)
			}
		}
		if unresolved > 0 {
			complete = false
			if t.prune && bg.Known {
				pl.find(FindingUnknownSource, src, t.name, "%s of Bitbucket group %s without an email; nothing is removed from %s",
					count(unresolved, "member", "members"), src, t.name)
			}
		}
	}
	return desired, complete
}

func hasUsers(g *Group) bool {
	return slices.ContainsFunc(g.Members, func(m Member) bool { return m.Type == PrincipalUser })
}

// memberName is the userName of a user member, from the users list when the
// member's id is known there.
func (pl *planner) memberName(m Member) string {
	if u := pl.snap.Users[m.ID]; u != nil {
		return u.UserName
	}
	return m.Display
}

// groupUnknown reports (as unknown_source) a mapped group that exists but
// whose members or id could not be read, such as the placeholders Read leaves
// when the group list fails: neither its members nor its entitlements are
// changed, since any such change would act on unknown data or fail at apply.
func (pl *planner) groupUnknown(t *groupTarget) bool {
	g := pl.snap.DBGroups[t.name]
	if g == nil || (g.MembersKnown && g.ID != "") {
		return false
	}
	what := "no members are added or removed"
	if t.managesEnts {
		what = "no members are added or removed and no entitlements changed"
	}
	if g.ID == "" {
		pl.find(FindingUnknownSource, t.name, t.name, "Databricks group %s could not be read; %s", t.name, what)
	} else {
		pl.find(FindingUnknownSource, t.name, t.name, "members of Databricks group %s could not be read; %s", t.name, what)
	}
	return true
}

// membership plans the members of t: whom desired names is added, and under
// prune whom keep does not name is removed, when complete. keep is desired,
// or for an account group what every workspace's mappings want (accountWant).
func (pl *planner) membership(t *groupTarget, desired, keep map[string][]string, complete bool) {
	g := pl.snap.DBGroups[t.name]
	kind, groupID, route := KindWorkspace, "", RouteWorkspace
	if g == nil {
		pl.changes = append(pl.changes, Change{
			ID: "create_group/" + t.name, Action: ActionCreateGroup, Group: t.name, GroupKind: KindWorkspace,
			Reason: "mapped from Bitbucket group " + strings.Join(t.sources, ", "), Route: RouteWorkspace,
		})
	} else {
		kind, groupID = cmp.Or(g.Kind, KindWorkspace), g.ID
	}
	// Workspace SCIM refuses membership changes of account groups: they go
	// through account SCIM, or the workspace proxy where it lets the caller at
	// this very group (workspace admins, the group's managers).
	noAccess := false
	if kind == KindAccount {
		switch {
		case pl.snap.AccountAccess:
			route = RouteAccount
		case g.ProxyAccess:
			route = RouteProxy
		default:
			noAccess = true
		}
	}

	inGroup := map[string]bool{} // member ids and lower-case user names
	if g != nil {
		for _, m := range g.Members {
			inGroup[m.ID] = true
			if m.Type == PrincipalUser {
				inGroup[strings.ToLower(pl.memberName(m))] = true
			}
		}
	}
	var changes []Change
	var statuses []MemberStatus // of the changes, in step with them
	for _, email := range slices.Sorted(maps.Keys(desired)) {
		u := pl.users[email]
		why := "in Bitbucket group " + strings.Join(desired[email], ", ")
		notAdded := func(r MemberReason, name, id, detail string) {
			pl.member(MemberStatus{Group: t.name, Principal: name, PrincipalType: PrincipalUser, PrincipalID: id,
				State: MemberNotAdded, Reason: r, Detail: detail})
		}
		assignable := pl.assignable(u)
		if assignable {
			pl.assign(u, why, t.name)
		}
		switch {
		case u == nil:
			pl.find(FindingMissingUser, email, t.name, "no Databricks user %s (%s); bitbricks never creates users", email, why)
			notAdded(ReasonMissingUser, email, "", fmt.Sprintf("no Databricks user %s (%s); bitbricks never creates users", email, why))
		case inGroup[u.ID] || inGroup[email]:
			// In step: reported with the group's members below.
		case !u.Active:
			pl.find(FindingMissingUser, u.UserName, t.name, "Databricks user %s is inactive (%s)", u.UserName, why)
			notAdded(ReasonInactiveUser, u.UserName, u.ID, fmt.Sprintf("the Databricks user is inactive (%s)", why))
		case !u.Assigned && !assignable:
			pl.find(FindingNotAssigned, u.UserName, t.name, "%s is in the account but not assigned to this workspace (%s); assign it before adding it to %s",
				u.UserName, why, t.name)
			notAdded(ReasonNotAssigned, u.UserName, u.ID, fmt.Sprintf("in the account but not assigned to this workspace (%s); assign it before adding it to %s", why, t.name))
		default:
			c := Change{
				ID: memberChangeID(ActionAddMember, t.name, u.UserName), Action: ActionAddMember, Group: t.name, GroupKind: kind,
				Principal: u.UserName, PrincipalType: PrincipalUser, Reason: why,
				GroupID: groupID, PrincipalID: u.ID, Route: route,
			}
			changes = append(changes, c)
			statuses = append(statuses, pl.reachable(MemberStatus{Group: t.name, Principal: c.Principal, PrincipalType: PrincipalUser, PrincipalID: u.ID,
				State: MemberAdd, Reason: ReasonInBitbucketGroup, Detail: why, ChangeID: c.ID}))
		}
	}

	var removals []Change
	var removalStatuses []MemberStatus
	if g != nil {
		kept := func(m Member, name string, r MemberReason, detail string) {
			pl.member(MemberStatus{Group: t.name, Principal: name, PrincipalType: m.Type, PrincipalID: m.ID,
				State: MemberKept, Reason: r, Detail: detail})
		}
		for _, m := range g.Members {
			name := pl.memberName(m)
			switch {
			case m.Type != PrincipalUser:
				// Service principals and nested groups are never removed by a mapping.
				kept(m, name, ReasonNotAUser, strings.ReplaceAll(string(m.Type), "_", " ")+"s are never removed by a mapping")
				continue
			case pl.snap.Users[m.ID] == nil:
				// Not in the users list (an account user not assigned to the
				// workspace, read without account access): name is only its
				// display name, so neither the mappings nor policy.protected
				// can be checked against its userName.
				if t.prune {
					pl.find(FindingUnknownSource, name, t.name, "member %s (id %s) of %s is not in the Databricks users list, so its userName is unknown; not removed",
						name, m.ID, t.name)
				}
				kept(m, name, ReasonUserNameUnknown, fmt.Sprintf("not in the Databricks users list (id %s), so its userName is unknown", m.ID))
				continue
			case len(desired[strings.ToLower(name)]) > 0:
				pl.member(pl.reachable(MemberStatus{Group: t.name, Principal: name, PrincipalType: m.Type, PrincipalID: m.ID,
					State: MemberInSync, Reason: ReasonInBitbucketGroup, Detail: "in " + strings.Join(desired[strings.ToLower(name)], ", ")}))
				continue
			case len(keep[strings.ToLower(name)]) > 0:
				// Wanted in the account group by a mapping of another workspace.
				pl.member(MemberStatus{Group: t.name, Principal: name, PrincipalType: m.Type, PrincipalID: m.ID,
					State: MemberInSync, Reason: ReasonInBitbucketGroup,
					Detail: "in " + strings.Join(keep[strings.ToLower(name)], ", ") + ", mapped to account group " + t.name + " in another workspace"})
				continue
			case pl.cfg.IsProtected(name):
				kept(m, name, ReasonProtected, "listed in policy.protected")
				continue
			case !t.prune:
				kept(m, name, ReasonPruneOff, "in no mapped Bitbucket group, but no mapping to "+t.name+" sets prune")
				continue
			}
			c := Change{
				ID: memberChangeID(ActionRemoveMember, t.name, name), Action: ActionRemoveMember, Group: t.name, GroupKind: kind,
				Principal: name, PrincipalType: PrincipalUser, Destructive: true,
				Reason:  "in no mapped Bitbucket group (" + strings.Join(t.sources, ", ") + ")",
				GroupID: groupID, PrincipalID: m.ID, Route: route,
			}
			removals = append(removals, c)
			removalStatuses = append(removalStatuses, MemberStatus{Group: t.name, Principal: name, PrincipalType: PrincipalUser, PrincipalID: m.ID,
				State: MemberRemove, Reason: ReasonInNoMappedGroup, Detail: c.Reason, ChangeID: c.ID})
		}
		slices.SortFunc(removals, func(a, b Change) int { return cmp.Compare(a.Principal, b.Principal) })
	}
	// holdRemovals keeps every planned removal, for reason r.
	holdRemovals := func(r MemberReason, detail string) {
		for _, ms := range removalStatuses {
			ms.State, ms.Reason, ms.Detail, ms.ChangeID = MemberKept, r, detail, ""
			pl.member(ms)
		}
		removalStatuses = nil
	}
	if g != nil && g.ExternalID != "" {
		// The identity provider owns the group: no change of any kind is
		// planned (a change would be undone by, or fight, its provisioning).
		var would []string
		if len(changes) > 0 {
			would = append(would, "add "+principalList(changes))
		}
		if len(removals) > 0 {
			would = append(would, "remove "+principalList(removals))
		}
		would = append(would, pl.entitlementDiff(t)...)
		if len(would) > 0 {
			pl.find(FindingIdPManaged, t.name, t.name, "%s is provisioned by an identity provider (externalId %s); bitbricks changes nothing in it; would %s",
				t.name, g.ExternalID, strings.Join(would, "; "))
		}
		for _, ms := range statuses {
			ms.State, ms.Reason, ms.ChangeID = MemberNotAdded, ReasonIdPManaged, ""
			ms.Detail += "; but " + t.name + " is provisioned by an identity provider"
			pl.member(ms)
		}
		holdRemovals(ReasonIdPManaged, fmt.Sprintf("in no mapped Bitbucket group; %s is provisioned by an identity provider", t.name))
		return
	}
	switch {
	case len(removals) == 0:
	case !complete:
		// The sources said why (unknown_source).
		holdRemovals(ReasonSourceUnknown, "in no mapped Bitbucket group; a mapped Bitbucket group is unknown or incomplete, so nobody is removed from "+t.name)
		removals = nil
	}
	changes = append(changes, removals...)
	statuses = append(statuses, removalStatuses...)
	if noAccess && len(changes) > 0 {
		var adds, rems []Change
		for _, c := range changes {
			if c.Action == ActionAddMember {
				adds = append(adds, c)
			} else {
				rems = append(rems, c)
			}
		}
		var would []string
		if len(adds) > 0 {
			would = append(would, "add "+principalList(adds))
		}
		if len(rems) > 0 {
			would = append(would, "remove "+principalList(rems))
		}
		pl.find(FindingAccountGroupNoAccess, t.name, t.name, "%s is an account group and neither account SCIM nor the workspace proxy lets these credentials change it (the proxy needs a workspace admin or a manager of %s); would %s",
			t.name, t.name, strings.Join(would, "; "))
		for _, ms := range statuses {
			if ms.State == MemberAdd {
				ms.State, ms.Detail = MemberNotAdded, ms.Detail+"; but "+t.name+" is an account group that neither account SCIM nor the workspace proxy lets these credentials change"
			} else {
				ms.State, ms.Detail = MemberKept, ms.Detail+"; but "+t.name+" is an account group that neither account SCIM nor the workspace proxy lets these credentials change"
			}
			ms.Reason, ms.ChangeID = ReasonAccountGroupNoAccess, ""
			pl.member(ms)
		}
		return
	}
	pl.changes = append(pl.changes, changes...)
	for _, ms := range statuses {
		pl.member(ms)
	}
}

func memberChangeID(a Action, group, principal string) string {
	return a.String() + "/" + group + "/" + principal
}

func principalList(cs []Change) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Principal
	}
	return strings.Join(names, ", ")
}

// entitlements makes D's entitlements exactly the union its mappings list.
// Entitlements are set per workspace, for account groups too.
func (pl *planner) entitlements(t *groupTarget) {
	if !t.managesEnts {
		return
	}
	g := pl.snap.DBGroups[t.name]
	if g != nil && g.ExternalID != "" {
		return // membership's idp_managed finding names what would change
	}
	kind, groupID := KindWorkspace, ""
	var current []string
	if g != nil {
		kind, groupID, current = cmp.Or(g.Kind, KindWorkspace), g.ID, g.Entitlements
	}
	add := func(a Action, e, reason string) {
		pl.changes = append(pl.changes, Change{
			ID: a.String() + "/" + t.name + "/" + e, Action: a, Group: t.name, GroupKind: kind, Entitlement: e,
			Destructive: a.Destructive(), Reason: reason, GroupID: groupID, Route: RouteWorkspace,
		})
	}
	for _, e := range t.entitlements {
		if !slices.Contains(current, e) {
			add(ActionAddEntitlement, e, "listed by the mapping of "+strings.Join(t.sources, ", "))
		}
	}
	for _, e := range current {
		if !slices.Contains(t.entitlements, e) {
			add(ActionRemoveEntitlement, e, "not listed by the mappings to "+t.name)
		}
	}
}

// entitlementDiff says in words which entitlements the mappings would add
// to or remove from t's group.
func (pl *planner) entitlementDiff(t *groupTarget) []string {
	g := pl.snap.DBGroups[t.name]
	if !t.managesEnts || g == nil {
		return nil
	}
	var add, rem []string
	for _, e := range t.entitlements {
		if !slices.Contains(g.Entitlements, e) {
			add = append(add, e)
		}
	}
	for _, e := range g.Entitlements {
		if !slices.Contains(t.entitlements, e) {
			rem = append(rem, e)
		}
	}
	var out []string
	if len(add) > 0 {
		out = append(out, "add entitlement "+strings.Join(add, ", "))
	}
	if len(rem) > 0 {
		out = append(out, "remove entitlement "+strings.Join(rem, ", "))
	}
	return out
}

// departed returns the lower-case userNames of people who are in a cleanly
// known mapped group, desired in none, and no longer Bitbucket workspace
// members. If the workspace side is not fully known, nobody is departed.
func (pl *planner) departed(clean []*Group, desiredAnywhere map[string]bool) map[string]bool {
	subject := cmp.Or(pl.snap.Workspace, "workspace")
	if !pl.snap.MembersKnown && pl.snap.PresenceKnown {
		// Only what Bitbucket answered for the person proves a departure:
		// absent from the email filter and a clean 404 for their account.
		out := map[string]bool{}
		for _, k := range pl.departureCandidates(clean) {
			if present, asked := pl.snap.Presence[k]; !desiredAnywhere[k] && asked && !present {
				if why, unsure := pl.snap.PresenceUnknown[k]; unsure {
					pl.departureUnknown(subject, k, why)
				} else {
					out[k] = true
				}
			}
		}
		return out
	}
	if !pl.snap.MembersKnown {
		why := "could not be read"
		for _, p := range pl.snap.Problems {
			if p.System == SystemBitbucket && strings.HasPrefix(p.Source, "workspace members") {
				why = "could not be read (" + dropSubject(p.Err, "workspace members") + ")"
			}
		}
		pl.find(FindingNoDeparted, subject, "", "the Bitbucket workspace member list %s; nobody is treated as departed", why)
		pl.departuresUnknown = "the Bitbucket workspace member list " + why
		return nil
	}
	present := map[string]bool{}
	var unresolved []Account
	for _, a := range pl.snap.Members {
		if e := pl.snap.Emails[a.AccountID]; e != "" {
			present[strings.ToLower(e)] = true
		} else {
			unresolved = append(unresolved, a)
		}
	}
	if len(unresolved) > 0 {
		pl.find(FindingNoDeparted, subject, "", "%s without an email, so nobody is treated as departed: %s",
			count(len(unresolved), "Bitbucket workspace member", "Bitbucket workspace members"), pl.resolveHint(unresolved))
		pl.departuresUnknown = count(len(unresolved), "Bitbucket workspace member", "Bitbucket workspace members") + " without an email"
		return nil
	}
	out := map[string]bool{}
	for _, k := range pl.departureCandidates(clean) {
		if !desiredAnywhere[k] && !present[k] {
			out[k] = true
		}
	}
	return out
}

// departureCandidates are the people whose departure the plan checks, by
// lower-case userName: the users in a cleanly known mapped group, and those
// bitbricks removed from a mapped group in an earlier run (departures.go).
func (pl *planner) departureCandidates(clean []*Group) []string {
	var out []string
	seen := map[string]bool{}
	for _, g := range clean {
		for _, m := range g.Members {
			k := strings.ToLower(pl.memberName(m))
			if m.Type == PrincipalUser && !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	var former []string
	for k := range pl.snap.FormerMembers {
		if !seen[k] {
			seen[k] = true
			former = append(former, k)
		}
	}
	slices.Sort(former)
	return append(out, former...)
}

// maxNamed is how many unresolved accounts a finding names one by one.
const maxNamed = 5

// resolveHint names unresolved accounts and the identity.map_file line that
// resolves each (up to maxNamed, then how many more).
func (pl *planner) resolveHint(as []Account) string {
	var names, lines []string
	for i, a := range as {
		if i == maxNamed {
			names = append(names, fmt.Sprintf("and %d more", len(as)-maxNamed))
			break
		}
		names = append(names, accountLabel(a))
		lines = append(lines, identityMapLine(a))
	}
	return strings.Join(names, ", ") + "; " + pl.mapFileAdvice(lines)
}

// mapFileAdvice says where the identity map lines go.
func (pl *planner) mapFileAdvice(lines []string) string {
	what := "the line " + lines[0]
	if len(lines) > 1 {
		what = "the lines " + strings.Join(lines, ", ")
	}
	if f := pl.cfg.Identity.MapFile; f != "" {
		return "resolve with " + what + " in identity.map_file (" + f + ")"
	}
	return "resolve with " + what + " in a file that identity.map_file names"
}

// boundSP reports whether a service principal credential owner is the
// principal of a pipeline binding (its credentials rotate, not revoke here).
func (pl *planner) boundSP(c Credential) bool {
	names := []string{c.Owner}
	if sp := pl.snap.SPs[c.OwnerID]; sp != nil {
		names = append(names, sp.DisplayName, sp.ApplicationID)
	}
	for _, b := range pl.cfg.Pipelines {
		for _, n := range names {
			if n != "" && strings.EqualFold(n, b.ServicePrincipal) {
				return true
			}
		}
	}
	return false
}

// protectedOwner reports whether the credential's owner is in policy.protected
// by any of its names.
func (pl *planner) protectedOwner(c Credential) bool {
	names := []string{c.Owner}
	if sp := pl.snap.SPs[c.OwnerID]; sp != nil {
		names = append(names, sp.DisplayName, sp.ApplicationID)
	}
	if u := pl.snap.Users[c.OwnerID]; u != nil {
		names = append(names, u.UserName)
	}
	return slices.ContainsFunc(names, pl.cfg.IsProtected)
}

func isTokenKind(k CredentialKind) bool { return k == CredentialPAT || k == CredentialOBO }

func (pl *planner) tokens(departed map[string]bool) {
	pol := pl.cfg.Policy
	for _, c := range pl.snap.Credentials {
		if !isTokenKind(c.Kind) {
			continue
		}
		if idle, never := idleFor(c, pl.now); idle >= StaleAfter {
			use := fmt.Sprintf("unused for %d days", ageDays(idle))
			if never {
				use = fmt.Sprintf("never used, created %d days ago", ageDays(idle))
			}
			pl.find(FindingStaleToken, c.ID, "", "owner %s, %s; Databricks revokes tokens unused for 90 days", c.Owner, use)
		}
		if pl.protectedOwner(c) || (c.OwnerType == PrincipalServicePrincipal && pl.boundSP(c)) {
			continue
		}
		var why []string
		if age := pl.now.Sub(c.Created); pol.TokenMaxAge > 0 && age > pol.TokenMaxAge.Std() {
			why = append(why, fmt.Sprintf("older than %s (%dd)", pol.TokenMaxAge, ageDays(age)))
		}
		if pol.RequireExpiry && c.Expiry.IsZero() {
			why = append(why, "no expiry")
		}
		if c.OwnerType == PrincipalUser && pl.isDeparted(c, departed) {
			why = append(why, "owner left the Bitbucket workspace")
		}
		if len(why) == 0 {
			continue
		}
		pl.changes = append(pl.changes, Change{
			ID: "revoke_token/" + c.ID, Action: ActionRevokeToken, Principal: c.Owner, PrincipalType: c.OwnerType,
			TokenID: c.ID, Destructive: true, Reason: strings.Join(why, "; "), PrincipalID: c.OwnerID,
		})
	}
}

func (pl *planner) isDeparted(c Credential, departed map[string]bool) bool {
	if departed[strings.ToLower(c.Owner)] {
		return true
	}
	u := pl.snap.Users[c.OwnerID]
	return u != nil && departed[strings.ToLower(u.UserName)]
}

// idleFor is how long a credential has not been used; a never-used one counts
// from its creation.
func idleFor(c Credential, now time.Time) (idle time.Duration, never bool) {
	if c.LastUsed.IsZero() {
		return now.Sub(c.Created), true
	}
	return now.Sub(c.LastUsed), false
}

func ageDays(d time.Duration) int { return int(d / (24 * time.Hour)) }

// secretCounts counts OAuth secrets per owner id.
func secretCounts(snap *Snapshot) map[string]int {
	n := map[string]int{}
	for _, c := range snap.Credentials {
		if c.Kind == CredentialOAuthSecret {
			n[c.OwnerID]++
		}
	}
	return n
}

func (pl *planner) secretLimits() {
	if !pl.snap.SecretsKnown {
		return
	}
	counts := secretCounts(pl.snap)
	reported := map[string]bool{}
	for _, c := range pl.snap.Credentials {
		if n := counts[c.OwnerID]; c.Kind == CredentialOAuthSecret && n >= SecretLimitFrom && !reported[c.OwnerID] {
			reported[c.OwnerID] = true
			pl.find(FindingSecretLimit, cmp.Or(c.Owner, c.OwnerID), "", "service principal %s holds %d of %d OAuth secrets; a rotation needs a free slot",
				cmp.Or(c.Owner, c.OwnerID), n, SecretLimit)
		}
	}
}

func (pl *planner) rotations() {
	for _, b := range pl.cfg.Pipelines {
		st := pl.snap.Bindings[b.Name]
		if st == nil || !st.Known {
			problem := "not read"
			if st != nil {
				problem = cmp.Or(st.Problem, "unknown error")
			}
			pl.find(FindingUnknownSource, b.Name, "", "variables of binding %s (repository %s) could not be read (%s); not rotated", b.Name, b.Repository, problem)
			continue
		}
		if pl.federatedBinding(b, st) {
			continue // nothing stored, nothing to rotate
		}
		sp := servicePrincipalNamed(pl.snap.SPs, b.ServicePrincipal)
		if sp == nil {
			pl.find(FindingMissingUser, b.ServicePrincipal, "", "service principal %s of binding %s not found in Databricks; not rotated", b.ServicePrincipal, b.Name)
			continue
		}
		var reason string
		switch {
		case !st.VariableFound:
			reason = fmt.Sprintf("variable %s missing in repository %s", b.Variable, b.Repository)
		case st.RecordedID == "":
			reason = fmt.Sprintf("no credential recorded in %s_ID", b.Variable)
		case (b.Credential == config.CredentialOAuthSecret && !pl.snap.SecretsKnown) || (b.Credential != config.CredentialOAuthSecret && !pl.snap.TokensKnown):
			pl.find(FindingUnknownSource, b.Name, "", "credentials of service principal %s could not be read; binding %s not checked", b.ServicePrincipal, b.Name)
			continue
		default:
			i := slices.IndexFunc(pl.snap.Credentials, func(c Credential) bool { return c.ID == st.RecordedID })
			if i < 0 {
				reason = fmt.Sprintf("recorded credential %s no longer exists", st.RecordedID)
			} else if age := pl.now.Sub(pl.snap.Credentials[i].Created); b.RotateEvery > 0 && age >= b.RotateEvery.Std() {
				reason = fmt.Sprintf("due: credential is %dd old (rotate every %s)", ageDays(age), b.RotateEvery)
			}
		}
		if reason == "" {
			continue
		}
		pl.changes = append(pl.changes, Change{
			ID: "rotate_credential/" + b.Name, Action: ActionRotateCredential, Principal: b.ServicePrincipal,
			PrincipalType: PrincipalServicePrincipal, Binding: b.Name, Reason: reason, PrincipalID: cmp.Or(st.SPID, sp.ID),
		})
	}
}

// sortedStable is slices.SortStableFunc for large elements: it moves
// indices while it sorts, then each element once (a stable sort of 20,000
// changes otherwise spends most of its time copying them).
// cmp compares the elements at two indices of xs.
func sortedStable[T any](xs []T, cmp func(i, j int) int) []T {
	idx := make([]int, len(xs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, cmp)
	out := make([]T, len(xs))
	for i, j := range idx {
		out[i] = xs[j]
	}
	return out
}
