package sync

import (
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/config"
)

// unassignFixture is planFixture as one of several workspaces (dev), with
// account access and the users' own assignments read: carol, in de-team
// and in no Bitbucket group, is assigned to dev directly (USER).
func unassignFixture() (*Snapshot, *config.Config) {
	snap, cfg := planFixture()
	cfg.Databricks.Workspace = "dev"
	snap.AccountAccess = true
	snap.AssignmentsKnown = true
	snap.Assignments = map[string]Assignment{}
	for _, n := range []string{"alice", "bob", "carol"} {
		snap.Assignments["u-"+n] = Assignment{PrincipalID: "u-" + n, UserName: n + "@acme.com", Permissions: []string{"USER"}}
	}
	snap.DBGroups["de-team"].Members = append(snap.DBGroups["de-team"].Members, planMember("carol"))
	return snap, cfg
}

// TestUnassignWorkspace: who loses their own assignment to a workspace
// under prune, and every reason someone keeps it.
func TestUnassignWorkspace(t *testing.T) {
	const carol = "carol@acme.com"
	for _, tc := range []struct {
		name     string
		setup    func(s *Snapshot, cfg *config.Config)
		unassign bool   // unassign_workspace/carol@acme.com planned
		removed  bool   // remove_member/de-team/carol@acme.com planned
		detail   string // a part of carol's member status detail
		finding  string // a part of an unknown_source finding
	}{
		{name: "removed and unassigned", unassign: true, removed: true, detail: "so the plan also unassigns it (unassign_workspace/carol@acme.com)"},
		{name: "prune off", setup: func(_ *Snapshot, cfg *config.Config) { cfg.Mappings[0].Prune = false }},
		{name: "one workspace", setup: func(_ *Snapshot, cfg *config.Config) { cfg.Databricks.Workspace = "" }, removed: true},
		{name: "protected", setup: func(_ *Snapshot, cfg *config.Config) { cfg.Policy.Protected = append(cfg.Policy.Protected, carol) }},
		{name: "the caller", setup: func(s *Snapshot, _ *config.Config) { s.Caller = carol }, removed: true,
			detail: "stays assigned to this workspace: it is the identity bitbricks runs as"},
		{name: "admin permission", setup: func(s *Snapshot, _ *config.Config) {
			s.Assignments["u-carol"] = Assignment{PrincipalID: "u-carol", UserName: carol, Permissions: []string{"ADMIN"}}
		}, removed: true, detail: "stays assigned to this workspace: a workspace admin"},
		{name: "admins group", setup: func(s *Snapshot, _ *config.Config) {
			s.DBGroups["admins"] = &Group{ID: "g-admins", Name: "admins", Kind: KindWorkspace, Members: []Member{planMember("carol")}, MembersKnown: true}
		}, removed: true, detail: "a workspace admin"},
		{name: "reaches through an assigned account group", setup: func(s *Snapshot, _ *config.Config) {
			s.DBGroups["platform"] = &Group{ID: "g-pl", Name: "platform", Kind: KindAccount, Members: []Member{planMember("carol")}, MembersKnown: true}
		}, removed: true, detail: "through account group platform, whose assignment bitbricks never changes"},
		{name: "in a group no mapping manages", setup: func(s *Snapshot, _ *config.Config) {
			s.DBGroups["notebooks"] = &Group{ID: "g-nb", Name: "notebooks", Kind: KindWorkspace, Members: []Member{planMember("carol")}, MembersKnown: true}
			s.DBGroups["users"] = &Group{ID: "g-users", Name: "users", Kind: KindWorkspace, Members: []Member{planMember("carol")}, MembersKnown: true}
		}, removed: true, detail: "a member of notebooks, which no mapping manages"},
		{name: "in Databricks' own users group only", setup: func(s *Snapshot, _ *config.Config) {
			s.DBGroups["users"] = &Group{ID: "g-users", Name: "users", Kind: KindWorkspace, Members: []Member{planMember("carol")}, MembersKnown: true}
		}, removed: true, unassign: true},
		{name: "assigned through a group only", setup: func(s *Snapshot, _ *config.Config) { delete(s.Assignments, "u-carol") },
			removed: true},
		{name: "wanted by another mapping of the workspace", setup: func(s *Snapshot, cfg *config.Config) {
			ml := &BitbucketGroup{Slug: "ml", Name: "ML", Members: []Account{planAcct("carol")}, Known: true}
			s.Groups["ml"] = ml
			s.DBGroups["ml-team"] = &Group{ID: "g-ml", Name: "ml-team", Kind: KindWorkspace, Members: []Member{planMember("carol")}, MembersKnown: true}
			cfg.Mappings = append(cfg.Mappings, config.Mapping{BitbucketGroup: "ml", DatabricksGroup: "ml-team"})
		}, removed: true},
		{name: "another mapped Bitbucket group unknown", setup: func(s *Snapshot, cfg *config.Config) {
			s.Groups["ml"] = &BitbucketGroup{Slug: "ml", Name: "ML", Problem: "HTTP 500"}
			cfg.Mappings = append(cfg.Mappings, config.Mapping{BitbucketGroup: "ml", DatabricksGroup: "ml-team"})
		}, removed: true, detail: "unknown or incomplete, so nobody is unassigned"},
		{name: "assignments not read", setup: func(s *Snapshot, _ *config.Config) { s.AssignmentsKnown, s.Assignments = false, nil },
			removed: true, detail: "its assignment to this workspace is unknown", finding: "permission assignments could not be read; nobody is unassigned"},
		{name: "no account access", setup: func(s *Snapshot, _ *config.Config) { s.AccountAccess = false },
			removed: true, finding: "cannot be read without account access"},
		{name: "idp-managed group", setup: func(s *Snapshot, _ *config.Config) { s.DBGroups["de-team"].ExternalID = "okta-1" }},
		{name: "service principal in the group", setup: func(s *Snapshot, _ *config.Config) {
			s.DBGroups["de-team"].Members = []Member{planMember("alice"), {ID: "sp-etl", Type: PrincipalServicePrincipal, Display: "etl-deployer"}}
			s.Assignments["sp-etl"] = Assignment{PrincipalID: "sp-etl", Permissions: []string{"USER"}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap, cfg := unassignFixture()
			if tc.setup != nil {
				tc.setup(snap, cfg)
			}
			p := ComputePlan(snap, cfg, planNow)
			has := map[string]bool{}
			unassigns := 0
			for _, c := range p.Changes {
				has[c.ID] = true
				if c.Action == ActionUnassignWorkspace {
					unassigns++
					if !c.Destructive || c.PrincipalType != PrincipalUser || c.PrincipalID != "u-carol" {
						t.Errorf("change %+v", c)
					}
				}
			}
			if has["unassign_workspace/"+carol] != tc.unassign || unassigns != map[bool]int{true: 1}[tc.unassign] {
				t.Errorf("unassign_workspace: %d planned, want carol's: %v (changes %v)", unassigns, tc.unassign, keysOf(has))
			}
			if has["remove_member/de-team/"+carol] != tc.removed {
				t.Errorf("remove_member carol planned: %v, want %v", has["remove_member/de-team/"+carol], tc.removed)
			}
			for _, m := range p.MembersOf("de-team") {
				if m.Principal != carol {
					continue
				}
				if !strings.Contains(m.Detail, tc.detail) {
					t.Errorf("carol's status detail %q lacks %q", m.Detail, tc.detail)
				}
				if tc.unassign != (m.Reason == ReasonUnassignWorkspace) {
					t.Errorf("carol's reason %s with unassign %v", m.Reason, tc.unassign)
				}
			}
			found := false
			for _, f := range p.Findings {
				found = found || (f.Kind == FindingUnknownSource && tc.finding != "" && strings.Contains(f.Detail, tc.finding))
			}
			if found != (tc.finding != "") {
				t.Errorf("finding %q: found %v in %+v", tc.finding, found, p.Findings)
			}
		})
	}
}

func keysOf(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
