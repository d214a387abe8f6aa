package tui

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
	"github.com/bitbricks/bitbricks/views/components"
)

// wsScope is what the console shows of a load over several workspaces: one
// workspace (name), or all of them. The engine narrows the load
// (sync.ScopeWorkspace); this only indexes it. Its zero value is a load of
// one workspace, shown as it always was.
type wsScope struct {
	name  string         // the workspace shown; "" for all of them
	names []string       // the load's workspaces, in config order; nil with one
	load  *sync.Snapshot // the whole load, every workspace's snapshot in Workspaces
	// account are the account groups (shared by every workspace) by name:
	// their members are shown once, not once per workspace.
	account map[string]bool
	// unread are the workspaces of the config the load could not read
	// (sync.Snapshot.Unread), by name, each with why: they stay in names,
	// so the switcher and the header still count them.
	unread map[string]string
	// why says why the workspace shown (name) could not be read; "" when
	// it was. Nothing of it is shown then, and nothing can be applied.
	why string
}

// allScope is the name the switcher gives the scope of every workspace.
const allScope = "all workspaces"

func (w wsScope) several() bool { return len(w.names) > 0 }
func (w wsScope) all() bool     { return w.several() && w.name == "" }

// applies reports whether mapping m is shown in the scope.
func (w wsScope) applies(m config.Mapping) bool { return w.name == "" || m.AppliesTo(w.name) }

// has reports whether binding b is shown in the scope.
func (w wsScope) has(b config.Binding) bool { return w.name == "" || b.Workspace == w.name }

// title names the scope for the header: "workspace prod", "all workspaces (2)".
func (w wsScope) title() string {
	if w.name != "" {
		return "workspace " + w.name
	}
	if len(w.unread) > 0 {
		return fmt.Sprintf("%s (%d, %s unread)", allScope, len(w.names), views.Sanitize(strings.Join(w.unreadNames(), ", ")))
	}
	return fmt.Sprintf("%s (%d)", allScope, len(w.names))
}

// notRead is what every view shows of a workspace that could not be
// read, in place of its rows; "" when the scope shown was read.
func (w wsScope) notRead() string {
	if w.why == "" {
		return ""
	}
	return components.GlyphError + " workspace " + views.Sanitize(w.name) + " could not be read: " + views.Sanitize(w.why) + "; nothing of it is shown; R retries, w shows another"
}

// unreadNames are the workspaces the load could not read, in the order
// of names.
func (w wsScope) unreadNames() []string {
	var out []string
	for _, n := range w.names {
		if _, ok := w.unread[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

// unreadText says which workspaces the load could not read, for a view
// that would otherwise look empty: "; workspace prod could not be read"
// ("" when every one was).
func (w wsScope) unreadText() string {
	names := w.unreadNames()
	switch len(names) {
	case 0:
		return ""
	case 1:
		return "; workspace " + views.Sanitize(names[0]) + " could not be read"
	}
	return "; " + workspacesText(names) + " could not be read"
}

// inventory is the credential inventory of the scope, each credential
// naming its workspace when there are several.
func (w wsScope) inventory(snap *sync.Snapshot, cfg *config.Config, now time.Time) []sync.CredentialStatus {
	switch {
	case w.all():
		return sync.WorkspacesInventory(w.load, cfg, now)
	case w.several():
		sub, ok := cfg.ForWorkspace(w.name)
		if !ok {
			sub = cfg
		}
		inv := sync.Inventory(snap, sub, now)
		for i := range inv {
			inv[i].Workspace = w.name
		}
		return inv
	}
	return sync.Inventory(snap, cfg, now)
}

// members are the member statuses shown: in all workspaces, an account
// group's member once (its membership is the account's, the same in every
// workspace), each workspace's own groups' members each.
func (w wsScope) members(ms []sync.MemberStatus) []sync.MemberStatus {
	if !w.all() {
		return ms
	}
	out := make([]sync.MemberStatus, 0, len(ms))
	seen := map[string]bool{}
	for _, m := range ms {
		if w.account[m.Group] {
			k := m.Group + "\x00" + m.PrincipalID + "\x00" + m.Principal
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		out = append(out, m)
	}
	return out
}

// scopedDataset indexes a load for the scope called scope ("" for all
// workspaces). A load of one workspace has no scope: its dataset is the
// one it always was. A scope the load does not have (a workspace no longer
// configured) falls back to all.
func scopedDataset(snap *sync.Snapshot, plan sync.Plan, cfg *config.Config, now time.Time, scope string) *dataset {
	if len(snap.Workspaces) == 0 {
		return newDataset(snap, plan, cfg, now)
	}
	ws := wsScope{load: snap, account: map[string]bool{}}
	for _, w := range snap.Workspaces {
		ws.names = append(ws.names, w.Name)
		for name, g := range w.Snap.DBGroups {
			if g.Kind == sync.KindAccount {
				ws.account[name] = true
			}
		}
	}
	// A workspace that could not be read is still one of the config's: it
	// is listed, marked unread, never dropped as if it were not there.
	for _, u := range snap.Unread {
		if u.Workspace == "" || slices.Contains(ws.names, u.Workspace) {
			continue
		}
		if ws.unread == nil {
			ws.unread = map[string]string{}
		}
		ws.names = append(ws.names, u.Workspace)
		ws.unread[u.Workspace] = u.Detail
	}
	// In the config's order, read or not, as the switcher lists them.
	order := func(n string) int {
		i := slices.IndexFunc(cfg.Databricks.Workspaces.List, func(w config.Workspace) bool { return w.Name == n })
		if i < 0 {
			return len(cfg.Databricks.Workspaces.List)
		}
		return i
	}
	slices.SortStableFunc(ws.names, func(a, b string) int { return order(a) - order(b) })
	if scope != "" {
		if wl, ok := sync.ScopeWorkspace(snap, plan, cfg, scope); ok {
			ws.name, ws.why = scope, wl.Unread
			d := newDatasetIn(wl.Snap, wl.Plan, cfg, now, ws)
			d.loaded = plan.Changes
			return d
		}
	}
	return newDatasetIn(snap, sync.SharedMemberChanges(plan), cfg, now, ws)
}

// snapOf is the snapshot of workspace name ("" or one workspace: the
// dataset's).
func (d *dataset) snapOf(name string) *sync.Snapshot {
	if d.ws.load != nil {
		for _, w := range d.ws.load.Workspaces {
			if w.Name == name {
				return w.Snap
			}
		}
	}
	return d.snap
}

// cfgOf is the config narrowed to workspace name ("" or one workspace: the
// whole config).
func (d *dataset) cfgOf(name string) *config.Config {
	if name != "" && d.ws.several() {
		if sub, ok := d.cfg.ForWorkspace(name); ok {
			return sub
		}
	}
	return d.cfg
}

// acrossWorkspaces makes the rows that differ by workspace, in the scope of
// all of them: every workspace's pipeline bindings, and its principals. A
// user or service principal (the account's, in every workspace) is one row,
// its flags naming the workspace where they differ; an account group is one
// row; a workspace's own group is a row per workspace, which it names.
func (d *dataset) acrossWorkspaces() {
	d.bindings, d.principal = nil, nil
	type merged struct {
		at    int
		flags []string // "ws: flags" of each workspace, for when they differ
		same  bool
	}
	rows := map[string]*merged{}
	groupNames := map[string]bool{}
	for _, w := range d.ws.load.Workspaces {
		sub := &dataset{snap: w.Snap, plan: d.plan, cfg: d.cfg, now: d.now, byOwner: d.byOwner,
			ws: wsScope{name: w.Name, names: d.ws.names, load: d.ws.load, account: d.ws.account}}
		for _, c := range d.inv {
			if c.Workspace == w.Name {
				sub.inv = append(sub.inv, c)
			}
		}
		d.bindings = append(d.bindings, bindingRows(sub)...)
		sub.dbGroups = slices.Sorted(maps.Keys(w.Snap.DBGroups))
		byID := map[string]*sync.Group{}
		for name, g := range w.Snap.DBGroups {
			groupNames[name] = true
			byID[g.ID] = g
		}
		for _, r := range principalRows(sub) {
			if g := byID[r.ID]; r.Kind == "group" && g != nil && g.Kind != sync.KindAccount {
				r.Key = "g" + w.Name + ":" + r.ID
				r.Detail = fmt.Sprintf("workspace %s, %d %s", views.Sanitize(w.Name), len(g.Members), plural(len(g.Members), "member"))
			}
			m, ok := rows[r.Key]
			if !ok {
				rows[r.Key] = &merged{at: len(d.principal), same: true, flags: []string{workspaceFlags(w.Name, r.Flags)}}
				d.principal = append(d.principal, r)
				continue
			}
			first := &d.principal[m.at]
			m.same = m.same && first.Flags == r.Flags
			m.flags = append(m.flags, workspaceFlags(w.Name, r.Flags))
			first.Groups = max(first.Groups, r.Groups)
		}
	}
	for _, m := range rows {
		if m.same {
			continue
		}
		var parts []string
		for _, f := range m.flags {
			if f != "" {
				parts = append(parts, f)
			}
		}
		d.principal[m.at].Flags = strings.Join(parts, "; ")
	}
	d.dbGroups = slices.Sorted(maps.Keys(groupNames))
}

// workspaceFlags are a principal's flags in one workspace, naming it; ""
// for none.
func workspaceFlags(ws, flags string) string {
	if flags == "" {
		return ""
	}
	return views.Sanitize(ws) + ": " + flags
}

// of names the workspaces changes are made in, in config order; nil with
// one workspace.
func (w wsScope) of(changes []sync.Change) []string {
	if !w.several() {
		return nil
	}
	in := map[string]bool{}
	for _, c := range changes {
		in[c.Workspace] = true
	}
	var out []string
	for _, n := range w.names {
		if in[n] {
			out = append(out, n)
		}
	}
	return out
}

// workspacesText names workspaces in a sentence: "workspace dev",
// "workspaces prod and dev".
func workspacesText(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return "workspace " + views.Sanitize(names[0])
	}
	return "workspaces " + views.Sanitize(strings.Join(names[:len(names)-1], ", ")) + " and " + views.Sanitize(names[len(names)-1])
}

// namedSnap is a snapshot and the workspace it is of ("" with one, or in
// one workspace's scope).
type namedSnap struct {
	name string
	snap *sync.Snapshot
}

// snaps are the snapshots the scope shows: every workspace's in all of
// them, else the dataset's own.
func (d *dataset) snaps() []namedSnap {
	if !d.ws.all() {
		return []namedSnap{{snap: d.snap}}
	}
	out := make([]namedSnap, 0, len(d.ws.load.Workspaces))
	for _, w := range d.ws.load.Workspaces {
		out = append(out, namedSnap{name: w.Name, snap: w.Snap})
	}
	return out
}
