package sync

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/config"
)

// A scope over several workspaces: the console shows one workspace, or all
// of them, out of one load (Service.Load's snapshot with every workspace's
// in Workspaces, and the merged plan). These functions narrow that load to
// a workspace, and route a write to the workspace it belongs to
// (Service.InWorkspace). They hold no state: the same load serves every
// scope, so switching scope reads nothing.

// WorkspaceLoad is one workspace's part of a load over several workspaces.
type WorkspaceLoad struct {
	Workspace string
	Snap      *Snapshot
	// Plan holds the workspace's changes, findings and member statuses, and
	// the changes of shared account groups its member statuses point at.
	Plan Plan
	// Config is the config narrowed to the workspace (config.ForWorkspace):
	// the mappings that apply to it and its pipelines.
	Config *config.Config
	// Unread says why the workspace could not be read ("" when it was):
	// nothing of it is known, so Snap holds nothing of Databricks and Plan
	// no change, finding or member; nothing can be applied there.
	Unread string
}

// ScopeWorkspace narrows a load over several workspaces (snap.Workspaces,
// the merged plan, the whole config) to the workspace called name. An
// account group's membership is planned once, under the first workspace
// that uses the group (Plan's merge); a member status of another workspace
// points at that one change (SharedMemberChanges), and the narrowed plan
// includes it, so the workspace shows, and can apply, what its members
// need. The sources that could not be read are every workspace's. A
// workspace of the config the load could not read (Snapshot.Unread) is an
// empty load saying why (WorkspaceLoad.Unread). ok is false when the load
// has no such workspace.
func ScopeWorkspace(snap *Snapshot, plan Plan, cfg *config.Config, name string) (WorkspaceLoad, bool) {
	sub, ok := cfg.ForWorkspace(name)
	if !ok {
		return WorkspaceLoad{}, false
	}
	i := slices.IndexFunc(snap.Workspaces, func(w WorkspaceSnapshot) bool { return w.Name == name })
	if i < 0 {
		for _, u := range snap.Unread {
			if u.Workspace == name {
				empty := &Snapshot{Workspace: snap.Workspace, TakenAt: snap.TakenAt, Problems: snap.Problems}
				return WorkspaceLoad{Workspace: name, Snap: empty, Plan: Plan{GeneratedAt: plan.GeneratedAt, Problems: plan.Problems},
					Config: sub, Unread: u.Detail}, true
			}
		}
		return WorkspaceLoad{}, false
	}
	plan = SharedMemberChanges(plan)
	want := map[string]bool{}
	out := Plan{GeneratedAt: plan.GeneratedAt, Problems: plan.Problems}
	for _, c := range plan.Changes {
		if c.Workspace == name {
			want[c.ID] = true
		}
	}
	for _, m := range plan.Members {
		if m.Workspace == name {
			out.Members = append(out.Members, m)
			if m.ChangeID != "" {
				want[m.ChangeID] = true
			}
		}
	}
	for _, c := range plan.Changes { // in plan order
		if want[c.ID] {
			out.Changes = append(out.Changes, c)
		}
	}
	for _, f := range plan.Findings {
		if f.Workspace == name {
			out.Findings = append(out.Findings, f)
		}
	}
	return WorkspaceLoad{Workspace: name, Snap: snap.Workspaces[i].Snap, Plan: out, Config: sub}, true
}

// SharedMemberChanges points the member statuses of a merged plan at the
// change that is really planned: an account group's add_member or
// remove_member is kept under the first workspace that plans it, and the
// other workspaces' statuses name their own id ("dev:add_member/…"), which
// the merge dropped. Such a status is pointed at the kept change
// ("prod:add_member/…"). A plan of one workspace is returned as it is.
func SharedMemberChanges(plan Plan) Plan {
	ids := make(map[string]bool, len(plan.Changes))
	shared := map[string]string{} // id without its workspace -> the kept id
	for _, c := range plan.Changes {
		ids[c.ID] = true
		if c.GroupKind == KindAccount && (c.Action == ActionAddMember || c.Action == ActionRemoveMember) && c.Workspace != "" {
			if bare, ok := strings.CutPrefix(c.ID, c.Workspace+":"); ok {
				shared[bare] = c.ID
			}
		}
	}
	var members []MemberStatus
	for i, m := range plan.Members {
		if m.ChangeID == "" || ids[m.ChangeID] || m.Workspace == "" {
			continue
		}
		bare, ok := strings.CutPrefix(m.ChangeID, m.Workspace+":")
		kept, found := shared[bare]
		if !ok || !found {
			continue
		}
		if members == nil {
			members = slices.Clone(plan.Members)
		}
		members[i].ChangeID = kept
	}
	if members != nil {
		plan.Members = members
	}
	return plan
}

// WorkspacesInventory is the credential inventory of every workspace of a
// load over several workspaces, each credential naming its workspace and
// drawn against that workspace's pipelines; a service principal's OAuth
// secret (account-wide, listed by every workspace) is kept once. A load of
// one workspace gives Inventory's answer.
func WorkspacesInventory(snap *Snapshot, cfg *config.Config, now time.Time) []CredentialStatus {
	if len(snap.Workspaces) == 0 {
		return Inventory(snap, cfg, now)
	}
	var out []CredentialStatus
	seen := map[string]bool{}
	for _, ws := range snap.Workspaces {
		sub, ok := cfg.ForWorkspace(ws.Name)
		if !ok {
			continue
		}
		for _, c := range Inventory(ws.Snap, sub, now) {
			if !isTokenKind(c.Kind) {
				key := string(c.Kind) + "/" + c.ID
				if seen[key] {
					continue
				}
				seen[key] = true
			}
			c.Workspace = ws.Name
			out = append(out, c)
		}
	}
	// Oldest first over every workspace, as Inventory orders one; ties by
	// what is shown before the (random) id, so a listing reads the same.
	slices.SortStableFunc(out, func(a, b CredentialStatus) int {
		return cmp.Or(cmp.Compare(b.Age, a.Age), cmp.Compare(a.Owner, b.Owner), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Comment, b.Comment), cmp.Compare(a.Workspace, b.Workspace), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// InWorkspace is the service that writes to the workspace called name: with
// several workspaces, that workspace's own (its adapter, its write lock and
// its operator, the shared audit log), so a revocation, rotation or
// federation chosen in one workspace goes there and nowhere else. With one
// workspace, "" or its name is the service itself. Apply needs no such
// step: it routes each change by its Workspace.
func (s *Service) InWorkspace(name string) (*Service, error) {
	if len(s.parts) == 0 {
		cfg := s.Config()
		host := ""
		if s.src.Databricks != nil {
			host = s.src.Databricks.Host()
		}
		if name == "" || name == cfg.Databricks.Workspace || name == config.SingleWorkspaceName(host, cfg.Databricks.Profile) {
			return s, nil
		}
		return nil, fmt.Errorf("workspace %s: the config serves one workspace", name)
	}
	if name == "" {
		return nil, fmt.Errorf("name the workspace to write to (%s)", strings.Join(s.Workspaces(), ", "))
	}
	if p, ok := s.partNamed(name); ok {
		return p.svc, nil
	}
	return nil, fmt.Errorf("no workspace %s in databricks.workspaces (%s)", name, strings.Join(s.Workspaces(), ", "))
}

// ScopeWorkspace is the package function ScopeWorkspace on the service's
// config.
func (s *Service) ScopeWorkspace(snap *Snapshot, plan Plan, name string) (WorkspaceLoad, bool) {
	return ScopeWorkspace(snap, plan, s.Config(), name)
}
