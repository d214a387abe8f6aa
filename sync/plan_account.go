package sync

import "slices"

// An account group is shared by every workspace of the account, while each
// workspace of a config plans with the mappings that apply to it. Planned
// from those alone, two mappings to one account group scoped to different
// workspaces would undo each other run after run (one adds whom the other's
// prune removes). So a workspace plans an account group's removals from
// every mapping to it in the whole config: a member that a mapping of any
// workspace wants stays, and the group is pruned when any mapping to it
// prunes, with nobody removed while any of their Bitbucket groups is
// unknown. Additions stay with the workspace whose mapping wants them (the
// assignment to that workspace goes with them), so a plan never holds both
// the addition and the removal of one membership, and a run limited to some
// workspaces removes nothing another workspace's mapping wants.

// accountWant is what every mapping of the whole config says of an account
// group.
type accountWant struct {
	sources  []string            // Bitbucket groups of every mapping to the group
	desired  map[string][]string // lower-case userNames, with the groups that want them
	complete bool                // every source known and complete
	prune    bool                // a mapping to the group prunes
}

// accountWant is nil unless t is an account group that a mapping of
// another workspace of the config also maps to.
func (pl *planner) accountWant(t *groupTarget) *accountWant {
	g := pl.snap.DBGroups[t.name]
	if g == nil || g.Kind != KindAccount {
		return nil
	}
	if pl.prunedHere == nil {
		pl.prunedHere = map[string]bool{}
	}
	pl.prunedHere[t.name] = t.prune
	all := &groupTarget{name: t.name, sources: slices.Clone(t.sources), prune: t.prune}
	other := false
	for _, m := range mappingsElsewhere(pl.cfg) {
		if m.DatabricksGroup != t.name {
			continue
		}
		other = true
		if !slices.Contains(all.sources, m.BitbucketGroup) {
			all.sources = append(all.sources, m.BitbucketGroup)
		}
		all.prune = all.prune || m.Prune
	}
	if !other {
		return nil
	}
	// This workspace's sources said what they lack already (findings and
	// member statuses); the others' are said by their own workspace.
	pl.quiet = true
	desired, complete := pl.desired(all)
	pl.quiet = false
	return &accountWant{sources: all.sources, desired: desired, complete: complete, prune: all.prune}
}
