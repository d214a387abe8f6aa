package tui

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
)

// dataset is one load, indexed for the views. It is built once per load and only read
// afterwards (members fills in as groups are first shown), so views share it.
//
// Names, comments, reasons and details come from Bitbucket and Databricks, where anyone
// can set a display name or a token comment: the rows built here carry them through
// views.Sanitize, and the views sanitise whatever else they draw of the snapshot, the
// plan or the audit log. Keys, ids and the changes handed back to the engine stay raw.
type dataset struct {
	snap *sync.Snapshot
	plan sync.Plan
	cfg  *config.Config
	now  time.Time

	inv       []sync.CredentialStatus
	groups    []groupRow
	dbGroups  []string // Databricks group names, sorted, for the re-map picker
	bindings  []bindingRow
	principal []principalRow

	changes  map[string][]sync.Change  // by Databricks group
	findings map[string][]sync.Finding // by Databricks group
	revokes  map[string]sync.Change    // revoke_token / revoke_secret changes by token id
	byOwner  map[string][]sync.CredentialStatus
	members  map[string][]memberRow         // by Databricks group, built on first use
	statuses map[string][]sync.MemberStatus // the planner's member statuses by Databricks group
	overAge  int
	// atlassian counts, in one workspace's scope of several, the Atlassian
	// API tokens over age, listed but not in the workspace's overAge.
	atlassian int

	// ws is the scope of a load over several workspaces (data_scope.go);
	// its zero value is a load of one workspace.
	ws wsScope
	// loaded are the changes of the whole load, whichever scope shows it:
	// the selection is kept over them.
	loaded []sync.Change
}

func newDataset(snap *sync.Snapshot, plan sync.Plan, cfg *config.Config, now time.Time) *dataset {
	return newDatasetIn(snap, plan, cfg, now, wsScope{})
}

// newDatasetIn indexes a load shown in scope ws: snap and plan are the
// scope's, cfg the whole config (mapping indexes are the config file's).
func newDatasetIn(snap *sync.Snapshot, plan sync.Plan, cfg *config.Config, now time.Time, ws wsScope) *dataset {
	d := &dataset{
		snap: snap, plan: plan, cfg: cfg, now: now, ws: ws, loaded: plan.Changes,
		inv:      ws.inventory(snap, cfg, now),
		changes:  map[string][]sync.Change{},
		findings: map[string][]sync.Finding{},
		revokes:  map[string]sync.Change{},
		byOwner:  map[string][]sync.CredentialStatus{},
		members:  map[string][]memberRow{},
	}
	for _, c := range plan.Changes {
		if c.Group != "" {
			d.changes[c.Group] = append(d.changes[c.Group], c)
		}
		if c.TokenID != "" {
			d.revokes[c.TokenID] = c
		}
	}
	d.statuses = map[string][]sync.MemberStatus{}
	for _, ms := range ws.members(plan.Members) {
		d.statuses[ms.Group] = append(d.statuses[ms.Group], ms)
	}
	for _, f := range plan.Findings {
		if f.Group != "" {
			d.findings[f.Group] = append(d.findings[f.Group], f)
		}
	}
	for _, s := range d.inv {
		d.byOwner[s.OwnerID] = append(d.byOwner[s.OwnerID], s)
	}
	own, atl := sync.OverAgeCounts(d.inv)
	d.overAge = own + atl
	if ws.name != "" {
		// One workspace of several: an Atlassian API token is nobody's
		// workspace, so not in its figure (the Credentials view says so).
		d.overAge, d.atlassian = own, atl
	}
	d.dbGroups = slices.Sorted(maps.Keys(snap.DBGroups))
	if ws.why != "" {
		return d // a workspace not read: nothing of it is known, no row is made up from the config
	}
	d.groups = groupRows(d)
	d.bindings = bindingRows(d)
	d.principal = principalRows(d)
	if ws.all() {
		d.acrossWorkspaces()
	}
	return d
}

// mark is how a principal of a mapped group stands against its Bitbucket group, from
// the planner's sync.MemberState.
type mark int

const (
	markMissing    mark = iota // + in Bitbucket, not in Databricks: the plan adds it
	markExtra                  // - in Databricks, in no mapped Bitbucket group: the plan removes it
	markBlocked                // ! Bitbucket calls for it, but the plan cannot add it
	markUnresolved             // ? a Bitbucket account with no Databricks identity
	markInSync                 // ✓ in both
	markKept                   // ● in Databricks only, kept (protected, prune off, not a user, ...)
	markManaged                // ⚑ the group is IdP-managed; bitbricks leaves it alone
)

// groupRow is one Bitbucket group of the Mappings view: a mapping, or a group no
// mapping mentions.
type groupRow struct {
	Key       string
	Bitbucket string // sanitised, for display
	Mapping   int    // index in cfg.Mappings, -1 when not mapped
	Target    string // the Databricks group as the config names it: a key, drawn sanitised
	Add, Rem  int    // member changes
	Other     int    // entitlement and create changes
	Unres     int    // unresolved identities and missing users
	Held      int    // member changes the plan cannot make (account_group_no_access)
	IdP, New  bool
	Unknown   bool // the Bitbucket group could not be read, or does not exist
}

func groupRows(d *dataset) []groupRow {
	var rows []groupRow
	mapped := map[string]bool{}
	for i, m := range d.cfg.Mappings {
		if !d.ws.applies(m) {
			continue
		}
		r := groupRow{Key: fmt.Sprintf("m%d", i), Bitbucket: views.Sanitize(m.BitbucketGroup), Mapping: i, Target: m.DatabricksGroup}
		mapped[m.BitbucketGroup] = true
		bg := d.snap.Groups[m.BitbucketGroup]
		r.Unknown = bg == nil || !bg.Known
		if bg != nil {
			mapped[bg.Slug], mapped[bg.Name] = true, true
		}
		if g := d.snap.DBGroups[m.DatabricksGroup]; g != nil {
			r.IdP = g.ExternalID != ""
		}
		for _, c := range d.changes[m.DatabricksGroup] {
			switch c.Action {
			case sync.ActionAddMember:
				r.Add++
			case sync.ActionRemoveMember:
				r.Rem++
			case sync.ActionCreateGroup:
				r.New = true
			default:
				r.Other++
			}
		}
		for _, ms := range d.statuses[m.DatabricksGroup] {
			if ms.Reason == sync.ReasonAccountGroupNoAccess {
				r.Held++
			}
		}
		for _, f := range d.findings[m.DatabricksGroup] {
			switch f.Kind {
			case sync.FindingUnresolvedIdentity, sync.FindingMissingUser, sync.FindingNotAssigned:
				r.Unres++
			case sync.FindingIdPManaged:
				r.IdP = true
			}
		}
		rows = append(rows, r)
	}
	seen := map[*sync.BitbucketGroup]bool{}
	var unmapped []groupRow
	for _, k := range slices.Sorted(maps.Keys(d.snap.Groups)) {
		bg := d.snap.Groups[k]
		if seen[bg] || mapped[bg.Slug] || mapped[bg.Name] {
			continue
		}
		seen[bg] = true
		unmapped = append(unmapped, groupRow{Key: "u:" + bg.Slug, Bitbucket: views.Sanitize(bg.Slug), Mapping: -1, Unknown: !bg.Known})
	}
	return append(rows, unmapped...)
}

// drift is a group row's drift in glyphs: "+2 -1 ?1", "⚑", "new", "✓".
func (r groupRow) drift() string {
	if r.Mapping < 0 {
		return "(not mapped)"
	}
	var parts []string
	if r.New {
		parts = append(parts, "new")
	}
	if r.Add > 0 {
		parts = append(parts, fmt.Sprintf("+%d", r.Add))
	}
	if r.Rem > 0 {
		parts = append(parts, fmt.Sprintf("-%d", r.Rem))
	}
	if r.Other > 0 {
		parts = append(parts, fmt.Sprintf("~%d", r.Other))
	}
	if r.Held > 0 {
		parts = append(parts, fmt.Sprintf("!%d", r.Held))
	}
	if r.Unres > 0 {
		parts = append(parts, fmt.Sprintf("?%d", r.Unres))
	}
	if r.IdP {
		parts = append(parts, "⚑")
	}
	if r.Unknown {
		parts = append(parts, "!unknown")
	}
	if len(parts) == 0 {
		return "✓"
	}
	return strings.Join(parts, " ")
}

// memberRow is one principal of a mapped Databricks group, or one that should be.
type memberRow struct {
	Key    string
	Mark   mark
	Name   string // sanitised, as Note
	Type   sync.PrincipalType
	Note   string // the planner's reason (views.MemberNote)
	Change *sync.Change
	Status sync.MemberStatus
	ID     string // SCIM id, when the principal exists in Databricks
}

// membersOf lists the principals of the group r maps to with the planner's state and
// reason for each (sync.Plan.Members): who is there, who the plan adds or removes, who
// it cannot add, who cannot be resolved. It only displays the plan; it never re-plans.
func (d *dataset) membersOf(r groupRow) []memberRow {
	if r.Mapping < 0 {
		return nil
	}
	if rows, ok := d.members[r.Target]; ok {
		return rows
	}
	byID := map[string]*sync.Change{}
	changes := d.changes[r.Target]
	for i := range changes {
		byID[changes[i].ID] = &changes[i]
	}
	var rows []memberRow
	for _, ms := range d.statuses[r.Target] {
		row := memberRow{Key: string(ms.State) + ":" + ms.PrincipalID + ":" + ms.Principal, Name: views.Sanitize(ms.Principal),
			Type: ms.PrincipalType, Note: views.MemberNote(ms), Change: byID[ms.ChangeID], Status: ms, ID: ms.PrincipalID}
		if d.ws.all() && !d.ws.account[r.Target] { // each workspace's own group: say whose
			row.Key, row.Name = ms.Workspace+":"+row.Key, views.Sanitize(ms.Workspace)+" · "+row.Name
		}
		switch ms.State {
		case sync.MemberAdd:
			row.Mark = markMissing
		case sync.MemberRemove:
			row.Mark = markExtra
		case sync.MemberInSync:
			row.Mark = markInSync
		case sync.MemberUnresolved:
			row.Mark = markUnresolved
		case sync.MemberNotAdded:
			row.Mark = markBlocked
			if ms.Reason != sync.ReasonAccountGroupNoAccess {
				row.Mark = markUnresolved
			}
		default:
			row.Mark = markKept
			if ms.Reason == sync.ReasonIdPManaged {
				row.Mark = markManaged
			}
		}
		rows = append(rows, row)
	}
	slices.SortStableFunc(rows, func(a, b memberRow) int {
		return cmp.Or(cmp.Compare(a.Mark, b.Mark), cmp.Compare(a.Name, b.Name))
	})
	d.members[r.Target] = rows
	return rows
}

// sourcesOf lists the Bitbucket groups mapped to a Databricks group.
func (d *dataset) sourcesOf(target string) []string {
	var out []string
	for _, m := range d.cfg.Mappings {
		if m.DatabricksGroup == target && d.ws.applies(m) && !slices.Contains(out, m.BitbucketGroup) {
			out = append(out, m.BitbucketGroup)
		}
	}
	return out
}

// principalRow is one Databricks user, service principal or group; its texts are
// sanitised.
type principalRow struct {
	Key, Kind, Name, Detail, Flags string
	ID                             string // SCIM id
	Groups, Creds                  int
}

func principalRows(d *dataset) []principalRow {
	memberOf := map[string]int{}
	for _, g := range d.snap.DBGroups {
		for _, m := range g.Members {
			memberOf[m.ID]++
		}
	}
	var rows []principalRow
	for _, id := range slices.Sorted(maps.Keys(d.snap.Users)) {
		u := d.snap.Users[id]
		var flags []string
		if !u.Active {
			flags = append(flags, "inactive")
		}
		if !u.Assigned {
			flags = append(flags, "not_assigned")
		}
		if u.ExternalID != "" {
			flags = append(flags, "⚑ idp")
		}
		if d.cfg.IsProtected(u.UserName) {
			flags = append(flags, "protected")
		}
		rows = append(rows, principalRow{Key: "u" + id, ID: id, Kind: "user", Name: views.Sanitize(u.UserName), Detail: views.Sanitize(u.DisplayName),
			Flags: views.Sanitize(strings.Join(flags, " ")), Groups: memberOf[id], Creds: len(d.byOwner[id])})
	}
	for _, id := range slices.Sorted(maps.Keys(d.snap.SPs)) {
		sp := d.snap.SPs[id]
		var flags []string
		if !sp.Active {
			flags = append(flags, "inactive")
		}
		for _, b := range d.cfg.Pipelines {
			if sp.Named(b.ServicePrincipal) && d.ws.has(b) {
				flags = append(flags, "binding "+b.Name)
			}
		}
		rows = append(rows, principalRow{Key: "s" + id, ID: id, Kind: "sp", Name: views.Sanitize(sp.DisplayName), Detail: views.Sanitize(sp.ApplicationID),
			Flags: views.Sanitize(strings.Join(flags, " ")), Groups: memberOf[id], Creds: len(d.byOwner[id])})
	}
	for _, name := range d.dbGroups {
		g := d.snap.DBGroups[name]
		var flags []string
		if g.ExternalID != "" {
			flags = append(flags, "⚑ idp")
		}
		if src := d.sourcesOf(name); len(src) > 0 {
			flags = append(flags, "← "+strings.Join(src, ", "))
		}
		rows = append(rows, principalRow{Key: "g" + g.ID, ID: g.ID, Kind: "group", Name: views.Sanitize(name),
			Detail: fmt.Sprintf("%s, %d %s", cmp.Or(string(g.Kind), "workspace"), len(g.Members), plural(len(g.Members), "member")),
			Flags:  views.Sanitize(strings.Join(flags, " ")), Groups: memberOf[g.ID]})
	}
	return rows
}

// bindingRow is one pipeline binding with what the snapshot knows of it.
type bindingRow struct {
	config.Binding
	State    *sync.BindingState
	Current  *sync.CredentialStatus // the recorded credential
	DueIn    time.Duration          // until the next rotation; negative: overdue
	Rotation *sync.Change           // the plan's rotate_credential, if any
	// Federation is where the binding stands on the way to Pipelines OIDC.
	Federation sync.BindingFederation
}

func bindingRows(d *dataset) []bindingRow {
	rows := make([]bindingRow, 0, len(d.cfg.Pipelines))
	for _, b := range d.cfg.Pipelines {
		if !d.ws.has(b) {
			continue
		}
		r := bindingRow{Binding: b, State: d.snap.Bindings[b.Name], Federation: sync.FederationOf(d.snap, b)}
		if r.State != nil && r.State.RecordedID != "" {
			for i := range d.inv {
				if d.inv[i].ID == r.State.RecordedID {
					r.Current = &d.inv[i]
					r.DueIn = b.RotateEvery.Std() - d.inv[i].Age
				}
			}
		}
		for i, c := range d.plan.Changes {
			if c.Action == sync.ActionRotateCredential && c.Binding == b.Name && (b.Workspace == "" || c.Workspace == b.Workspace) {
				r.Rotation = &d.plan.Changes[i]
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// shortID shortens a credential id for display: 1234…abcd. Ids are not secrets; values
// never reach the console.
func shortID(id string) string {
	id = views.Sanitize(id)
	r := []rune(id)
	if len(r) <= 12 {
		return id
	}
	return string(r[:4]) + "…" + string(r[len(r)-4:])
}
