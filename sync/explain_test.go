package sync

import (
	"strings"
	"testing"
)

// One case per reason the planner gives a principal of a mapped group. Each
// starts from planFixture (data-engineers {alice, bob} mapped with prune to
// workspace group de-team {alice}) and changes one thing.
func TestMemberReasons(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(s *Snapshot, de *Group, bg *BitbucketGroup, prune *bool)
		principal string
		state     MemberState
		reason    MemberReason
		detail    string // a part of the detail
		change    string // the change id, when the plan makes one
		several   bool   // dev of several workspaces, with account access
	}{
		{name: "added", principal: "bob@acme.com", state: MemberAdd, reason: ReasonInBitbucketGroup,
			detail: "in Bitbucket group data-engineers", change: "add_member/de-team/bob@acme.com"},
		{name: "in sync", principal: "alice@acme.com", state: MemberInSync, reason: ReasonInBitbucketGroup, detail: "data-engineers"},
		{name: "removed", setup: func(_ *Snapshot, de *Group, _ *BitbucketGroup, _ *bool) {
			de.Members = append(de.Members, planMember("carol"))
		},
			principal: "carol@acme.com", state: MemberRemove, reason: ReasonInNoMappedGroup, detail: "in no mapped Bitbucket group",
			change: "remove_member/de-team/carol@acme.com"},
		{name: "protected", setup: func(_ *Snapshot, de *Group, _ *BitbucketGroup, _ *bool) {
			de.Members = append(de.Members, planMember("admin"))
		},
			principal: "admin@acme.com", state: MemberKept, reason: ReasonProtected, detail: "policy.protected"},
		{name: "prune off", setup: func(_ *Snapshot, de *Group, _ *BitbucketGroup, prune *bool) {
			de.Members = append(de.Members, planMember("carol"))
			*prune = false
		}, principal: "carol@acme.com", state: MemberKept, reason: ReasonPruneOff, detail: "prune"},
		{name: "source unknown", setup: func(s *Snapshot, de *Group, bg *BitbucketGroup, _ *bool) {
			de.Members = append(de.Members, planMember("carol"))
			bg.Members = append(bg.Members, Account{AccountID: "aid-ghost", UUID: "{ghost}", DisplayName: "Ghost"})
		}, principal: "carol@acme.com", state: MemberKept, reason: ReasonSourceUnknown, detail: "unknown or incomplete"},
		{name: "idp managed", setup: func(_ *Snapshot, de *Group, _ *BitbucketGroup, _ *bool) {
			de.Members = append(de.Members, planMember("carol"))
			de.ExternalID = "okta-1"
		}, principal: "carol@acme.com", state: MemberKept, reason: ReasonIdPManaged, detail: "identity provider"},
		{name: "account group without access: kept", setup: noAccessGroup,
			principal: "carol@acme.com", state: MemberKept, reason: ReasonAccountGroupNoAccess, detail: "account group"},
		{name: "account group without access: not added", setup: noAccessGroup,
			principal: "bob@acme.com", state: MemberNotAdded, reason: ReasonAccountGroupNoAccess, detail: "in Bitbucket group data-engineers; but de-team is an account group"},
		{name: "not a user", setup: func(_ *Snapshot, de *Group, _ *BitbucketGroup, _ *bool) {
			de.Members = append(de.Members, Member{ID: "sp-etl", Type: PrincipalServicePrincipal, Display: "etl-deployer"})
		}, principal: "etl-deployer", state: MemberKept, reason: ReasonNotAUser, detail: "service principals are never removed"},
		{name: "username unknown", setup: func(_ *Snapshot, de *Group, _ *BitbucketGroup, _ *bool) {
			de.Members = append(de.Members, Member{ID: "u-stranger", Type: PrincipalUser, Display: "Stranger"})
		}, principal: "Stranger", state: MemberKept, reason: ReasonUserNameUnknown, detail: "userName is unknown"},
		{name: "missing user", setup: func(s *Snapshot, _ *Group, bg *BitbucketGroup, _ *bool) {
			bg.Members = append(bg.Members, planAcct("dave"))
		}, principal: "dave@acme.com", state: MemberNotAdded, reason: ReasonMissingUser, detail: "no Databricks user"},
		{name: "inactive user", setup: func(s *Snapshot, _ *Group, _ *BitbucketGroup, _ *bool) { s.Users["u-bob"].Active = false },
			principal: "bob@acme.com", state: MemberNotAdded, reason: ReasonInactiveUser, detail: "inactive"},
		{name: "not assigned", setup: func(s *Snapshot, _ *Group, _ *BitbucketGroup, _ *bool) { s.Users["u-bob"].Assigned = false },
			principal: "bob@acme.com", state: MemberNotAdded, reason: ReasonNotAssigned, detail: "not assigned to this workspace"},
		{name: "in the group, cannot reach the workspace", setup: func(s *Snapshot, _ *Group, _ *BitbucketGroup, _ *bool) { s.Users["u-alice"].Assigned = false },
			principal: "alice@acme.com", state: MemberInSync, reason: ReasonNotAssigned, detail: "not assigned to this workspace, so it cannot reach it"},
		{name: "in the group, assigned by the plan", several: true, setup: func(s *Snapshot, _ *Group, _ *BitbucketGroup, _ *bool) { s.Users["u-alice"].Assigned = false },
			principal: "alice@acme.com", state: MemberInSync, reason: ReasonAssignWorkspace, detail: "the plan assigns it (assign_workspace/alice@acme.com)"},
		{name: "added and assigned by the plan", several: true, setup: func(s *Snapshot, _ *Group, _ *BitbucketGroup, _ *bool) { s.Users["u-bob"].Assigned = false },
			principal: "bob@acme.com", state: MemberAdd, reason: ReasonAssignWorkspace, detail: "in Bitbucket group data-engineers; not assigned to this workspace",
			change: "add_member/de-team/bob@acme.com"},
		{name: "removed and unassigned", several: true, setup: func(s *Snapshot, de *Group, _ *BitbucketGroup, _ *bool) {
			de.Members = append(de.Members, planMember("carol"))
			s.AssignmentsKnown = true
			s.Assignments = map[string]Assignment{"u-carol": {PrincipalID: "u-carol", UserName: "carol@acme.com", Permissions: []string{"USER"}}}
		}, principal: "carol@acme.com", state: MemberRemove, reason: ReasonUnassignWorkspace, detail: "the plan also unassigns it (unassign_workspace/carol@acme.com)",
			change: "remove_member/de-team/carol@acme.com"},
		{name: "unresolved", setup: func(_ *Snapshot, _ *Group, bg *BitbucketGroup, _ *bool) {
			bg.Members = append(bg.Members, Account{AccountID: "aid-ghost", UUID: "{ghost}", DisplayName: "Ghost"})
		}, principal: "{ghost}", state: MemberUnresolved, reason: ReasonUnresolvedIdentity, detail: "no email for Bitbucket account aid-ghost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap, cfg := planFixture()
			prune := true
			if tc.setup != nil {
				tc.setup(snap, snap.DBGroups["de-team"], snap.Groups["data-engineers"], &prune)
			}
			cfg.Mappings[0].Prune = prune
			if tc.several {
				cfg.Databricks.Workspace, snap.AccountAccess = "dev", true
			}
			p := ComputePlan(snap, cfg, planNow)
			var got *MemberStatus
			n := 0
			for i, m := range p.MembersOf("de-team") {
				if m.Principal == tc.principal {
					got = &p.MembersOf("de-team")[i]
					n++
				}
			}
			if got == nil || n != 1 {
				t.Fatalf("%s: %d statuses in %+v", tc.principal, n, p.Members)
			}
			if got.State != tc.state || got.Reason != tc.reason || !strings.Contains(got.Detail, tc.detail) || got.ChangeID != tc.change {
				t.Errorf("got %s %s %q change %q, want %s %s %q change %q", got.State, got.Reason, got.Detail, got.ChangeID,
					tc.state, tc.reason, tc.detail, tc.change)
			}
			// The change a status names is in the plan, and only then.
			planned := map[string]bool{}
			for _, c := range p.Changes {
				planned[c.ID] = true
			}
			for _, m := range p.Members {
				if (m.ChangeID != "") != (m.State == MemberAdd || m.State == MemberRemove) || (m.ChangeID != "" && !planned[m.ChangeID]) {
					t.Errorf("status %+v does not match the plan's changes", m)
				}
			}
			// Every principal in the group has exactly one status.
			for _, mem := range snap.DBGroups["de-team"].Members {
				k := 0
				for _, m := range p.MembersOf("de-team") {
					if m.PrincipalID == mem.ID {
						k++
					}
				}
				if k != 1 {
					t.Errorf("member %s has %d statuses", mem.ID, k)
				}
			}
		})
	}
}

// noAccessGroup makes de-team an account group that neither account SCIM nor
// the workspace proxy lets the credentials change, with carol to remove and
// bob to add.
func noAccessGroup(s *Snapshot, de *Group, _ *BitbucketGroup, _ *bool) {
	de.Kind = KindAccount
	de.Members = append(de.Members, planMember("carol"))
	s.AccountAccess, s.ProxyAccess, de.ProxyAccess = false, false, false
}
