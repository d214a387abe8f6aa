package sync

import (
	"fmt"
	"slices"

	"github.com/bitbricks/bitbricks/config"
)

// MappingReach is where an edit of a mapping (a re-map, or a new mapping)
// takes effect with several workspaces, for a confirmation to say before
// the config file is rewritten: the workspaces whose plans it changes, and
// whether the Databricks group it points at is an account group (its
// membership is the account's, the same in every workspace).
type MappingReach struct {
	// Path is the mapping's place in the config: "mappings[3]"; "" for a
	// mapping not written yet.
	Path string
	// Workspaces are the workspaces the mapping applies to, in the load's
	// order; nil with one workspace.
	Workspaces []string
	// Every is true when the mapping names no workspaces: it applies to
	// every workspace, those added later too.
	Every bool
	// AccountGroup is true when the group is an account group in the load;
	// SharedBy are then the load's workspaces that list it (every one, with
	// identity federation), and Beyond those of them the mapping does not
	// name: its new members reach them too, through the group.
	AccountGroup bool
	SharedBy     []string
	Beyond       []string
}

// MappingReachOf is the reach of mapping index (-1: a new mapping, which
// names no workspaces) pointed at the Databricks group named group, over
// load (a load of several workspaces, Snapshot.Workspaces; any other load
// gives the zero reach).
func MappingReachOf(load *Snapshot, cfg *config.Config, index int, group string) MappingReach {
	var r MappingReach
	if load == nil || len(load.Workspaces) == 0 {
		return r
	}
	m := config.Mapping{}
	if index >= 0 && index < len(cfg.Mappings) {
		m = cfg.Mappings[index]
		r.Path = fmt.Sprintf("mappings[%d]", index)
	}
	r.Every = len(m.Workspaces) == 0
	names := make([]string, 0, len(load.Workspaces)+len(load.Unread))
	for _, w := range load.Workspaces {
		names = append(names, w.Name)
	}
	for _, u := range load.Unread { // not read this time, still the config's
		if u.Workspace != "" && !slices.Contains(names, u.Workspace) {
			names = append(names, u.Workspace)
		}
	}
	for _, n := range names {
		if m.AppliesTo(n) {
			r.Workspaces = append(r.Workspaces, n)
		}
	}
	for _, w := range load.Workspaces {
		if g := w.Snap.DBGroups[group]; g != nil && g.Kind == KindAccount {
			r.AccountGroup = true
			r.SharedBy = append(r.SharedBy, w.Name)
			if !m.AppliesTo(w.Name) {
				r.Beyond = append(r.Beyond, w.Name)
			}
		}
	}
	return r
}
