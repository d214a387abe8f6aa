package tui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
	"github.com/bitbricks/bitbricks/views/components"
	tea "github.com/charmbracelet/bubbletea"
)

// ask opens a confirmation; a yes runs act. Every question gets a new operation id, so
// a late answer to an old one is ignored. The title and the text to type are
// sanitised here; a body, which may hold styled glyphs, is built from sanitised parts.
func (m Model) ask(title, body, require string, act action) (Model, tea.Cmd) {
	m.op++
	m.confirm = components.NewConfirm(m.th.st, m.op, views.Sanitize(title), body, views.Sanitize(require))
	m.confirm.SetSize(m.width, m.bodyH)
	m.modal = modalConfirm
	m.pending, m.declined = act, nil
	return m, nil
}

func (m Model) answered(msg components.ConfirmMsg) (Model, tea.Cmd) {
	if msg.ID != m.op || m.modal != modalConfirm {
		return m, nil
	}
	m.modal = modalNone
	act, declined := m.pending, m.declined
	m.pending, m.declined = nil, nil
	if !msg.Yes && declined != nil {
		return m, declined(&m)
	}
	if !msg.Yes || act == nil {
		m.setStatus(statusInfo, "cancelled; nothing changed")
		return m, nil
	}
	m.setStatus(statusInfo, "")
	cmd := act(&m)
	return m, tea.Batch(cmd, m.spin.Tick)
}

// intent turns what a view asks for into a confirmation (or, for a re-map, a picker).
func (m Model) intent(msg tea.Msg) (Model, tea.Cmd) {
	if m.ro || m.busy != "" || m.d == nil {
		return m, nil // the keys were refused already; this is belt and braces
	}
	switch it := msg.(type) {
	case applyIntent:
		return m.askApply(it)
	case revokeIntent:
		return m.askRevoke(it)
	case rotateIntent:
		return m.askRotate(it.binding)
	case federateIntent:
		return m.askFederate(it.binding)
	case remapIntent:
		m.op++
		m.pickFor = pickGroup
		m.remap = it
		title := fmt.Sprintf("Re-map %s (now %s) to the Databricks group…", it.bitbucket, views.Sanitize(it.from))
		if it.mapping < 0 {
			title = fmt.Sprintf("Map %s to the Databricks group…", it.bitbucket)
		}
		m.picker = components.NewPickerWith(m.th.st, m.op, title, m.d.dbGroups, it.from, components.PickerOptions{
			AllowNew: true, NewLabel: "new group, the plan creates it",
			Note: func(g string) string {
				if _, ok := sync.SystemGroup(g); ok {
					return components.GlyphWarn + " system group"
				}
				return ""
			},
		})
		m.picker.SetSize(m.width, m.bodyH)
		m.modal = modalPicker
	}
	return m, nil
}

// itThem is "it" for one, else "them".
func itThem(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// isAre is "is" for one, else "are".
func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// leftOut says which selected changes an apply leaves out, hidden by the
// filter or outside the scope shown, less those it brings as dependencies;
// "" for none.
func leftOut(it applyIntent, changes []sync.Change) string {
	in := make(map[string]bool, len(changes))
	for _, c := range changes {
		in[c.ID] = true
	}
	count := func(ids []string) int {
		n := 0
		for _, id := range ids {
			if !in[id] {
				n++
			}
		}
		return n
	}
	filtered, outside := count(it.filtered), count(it.outside)
	var parts []string
	if filtered > 0 {
		parts = append(parts, fmt.Sprintf("%d hidden by the filter", filtered))
	}
	if outside > 0 {
		parts = append(parts, fmt.Sprintf("%d in other workspaces", outside))
	}
	if len(parts) == 0 {
		return ""
	}
	n := filtered + outside
	return fmt.Sprintf("Only the selected changes shown are applied: %d more %s selected (%s) %s not included.",
		n, plural(n, "change"), strings.Join(parts, ", "), isAre(n))
}

func (m Model) askApply(it applyIntent) (Model, tea.Cmd) {
	picked := it.changes
	if len(picked) == 0 {
		msg := "nothing selected to apply; toggle changes with space in " + m.tabRef(tabOf[*planView](m.tabs))
		if note := leftOut(it, nil); note != "" {
			msg = "nothing selected is shown here: " + note
		}
		m.setStatus(statusInfo, msg)
		return m, nil
	}
	ids := make([]string, len(picked))
	for i, c := range picked {
		ids[i] = c.ID
	}
	// What the picked changes depend on comes along (a member of a group the
	// plan creates needs its create_group); the engine says why when it cannot.
	changes, err := m.d.plan.WithDependencies(ids...)
	if err != nil {
		m.setStatus(statusError, sync.Message(err))
		return m, nil
	}
	// What Apply would refuse is refused before anyone types a
	// confirmation: max_changes, and in all workspaces one not read (the
	// engine's rule, as `sync --apply`; one workspace's scope is a run of
	// it alone, as `--workspace NAME`).
	scoped := sync.ApplyInScope(m.d.plan, m.scope, changes)
	if err := m.b.CheckPlanSize(scoped.Plan); err != nil {
		m.setStatus(statusError, applyRefusal(err))
		return m, nil
	}
	pickedIDs := make(map[string]bool, len(ids))
	for _, id := range ids {
		pickedIDs[id] = true
	}
	var added []string
	for _, c := range changes {
		if !pickedIDs[c.ID] {
			added = append(added, strings.TrimSpace(c.Action.String()+" "+changeScope(c)+" "+changeSubject(c)))
		}
	}
	// Destructive changes first: they are what the confirmation is for.
	var destr, rest []string
	spaces := m.d.ws.of(changes)
	var local, account []sync.Change // account: an account group's membership
	for _, c := range changes {
		line := fmt.Sprintf("%s %s %s %s", m.th.actionGlyph(c.Action), c.Action, changeScope(c), changeSubject(c))
		if len(spaces) > 0 {
			where := views.Sanitize(c.Workspace)
			if accountMembership(c) {
				where = "account"
				account = append(account, c)
			} else {
				local = append(local, c)
			}
			line = fmt.Sprintf("%s %-8s %s %s %s", m.th.actionGlyph(c.Action), where, c.Action, changeScope(c), changeSubject(c))
		}
		if c.Action.Destructive() {
			destr = append(destr, "  "+line)
		} else {
			rest = append(rest, "  "+line)
		}
	}
	var b strings.Builder
	if note := scoped.Note(); note != "" {
		b.WriteString(components.GlyphWarn + " " + views.Sanitize(note) + "\n\n")
	}
	if note := leftOut(it, changes); note != "" {
		b.WriteString(note + "\n\n")
	}
	// An account group's membership is written once, through the part of
	// the workspace that planned it: said when that is not a workspace
	// whose own changes are made.
	if via := m.d.ws.of(account); len(via) > 0 {
		own := m.d.ws.of(local)
		var others []string
		for _, w := range via {
			if !slices.Contains(own, w) {
				others = append(others, w)
			}
		}
		if len(others) > 0 {
			fmt.Fprintf(&b, "%s The %d account-wide %s (an account group's membership, the same in every workspace) %s written once, through %s, which planned %s: its write lock is held for %s, and the audit log names it.\n\n",
				components.GlyphWarn, len(account), plural(len(account), "change"), isAre(len(account)), workspacesText(others), itThem(len(account)), itThem(len(account)))
		}
	}

	if len(added) > 0 {
		fmt.Fprintf(&b, "Includes what it depends on: %s.\n\n", strings.Join(added, ", "))
	}
	if len(destr) > 0 {
		fmt.Fprintf(&b, "%s Take access or a credential away (%d):\n%s\n", components.GlyphWarn, len(destr), strings.Join(destr, "\n"))
		if len(rest) > 0 {
			b.WriteString("\n")
		}
	}
	if len(rest) > 0 {
		fmt.Fprintf(&b, "Add or rotate (%d):\n%s\n", len(rest), strings.Join(rest, "\n"))
	}
	require := ""
	if len(changes) > 1 && len(destr) > 0 { // bulk and destructive: type the workspace
		require = cmp.Or(m.d.snap.Workspace, "apply")
		if len(spaces) > 0 {
			// Several Databricks workspaces: the ones whose own changes
			// are made, as databricks.workspaces names them ("account"
			// for account-wide changes alone).
			require = cmp.Or(strings.Join(m.d.ws.of(local), ","), "account")
		}
	}
	where := ""
	if len(spaces) > 0 {
		// An account group's membership is the account's: it changes for
		// every workspace, whichever one plans it.
		switch own := m.d.ws.of(local); {
		case len(local) == len(changes):
			where = " in " + workspacesText(spaces)
		case len(local) == 0:
			where = " " + accountWideText
		default:
			where = " in " + workspacesText(own) + " and " + accountWideText
		}
	}
	title := fmt.Sprintf("Apply %d %s%s?", len(changes), plural(len(changes), "change"), where)
	if len(destr) > 0 {
		title = fmt.Sprintf("Apply %d %s%s? %s %d take access or a credential away", len(changes), plural(len(changes), "change"), where, components.GlyphWarn, len(destr))
	}
	return m.ask(title, strings.TrimRight(b.String(), "\n"), require, func(m *Model) tea.Cmd {
		m.busy = fmt.Sprintf("applying %d %s", len(changes), plural(len(changes), "change"))
		m.total, m.done = len(changes), 0
		queued := map[string]string{}
		for _, c := range changes {
			queued[c.ID] = components.GlyphPending + " queued"
		}
		*m, _ = m.broadcast(changeStatusMsg{reset: true, status: queued})
		return m.applyCmd(m.op, scoped.Plan)
	})
}

// applyRefusal is why Apply refuses, in one line; over several workspaces
// with one not read, the way out first: the scope of each workspace that
// was read (w), where an apply is that workspace's alone.
func applyRefusal(err error) string {
	var un *sync.UnreadWorkspacesError
	if !errors.As(err, &un) {
		return sync.Message(err)
	}
	unread := strings.Join(un.UnreadNames(), ", ")
	var to []string
	for _, o := range un.Others {
		to = append(to, "w "+o+" applies "+o+" alone")
	}
	way := ""
	if len(to) > 0 {
		way = strings.Join(to, ", ") + "; "
	}
	return fmt.Sprintf("refused, %s not read: %snothing was applied: %s; R retries %s (the banner says why it was not read)", unread, way, sync.PartialReadRule, unread)
}

// accountWideText says a write is the account's, not one workspace's.
const accountWideText = "account-wide (all workspaces)"

// accountMembership reports whether change c is an account group's membership,
// the same in every workspace.
func accountMembership(c sync.Change) bool {
	return c.GroupKind == sync.KindAccount && (c.Action == sync.ActionAddMember || c.Action == sync.ActionRemoveMember)
}

// spReach are the workspaces of the load a service principal (by id, or
// by name or application id) is assigned to, in config order.
func (d *dataset) spReach(id, name string) []string {
	var out []string
	if d.ws.load == nil {
		return nil
	}
	for _, w := range d.ws.load.Workspaces {
		for _, sp := range w.Snap.SPs {
			if (id != "" && sp.ID == id) || (name != "" && sp.Named(name)) {
				out = append(out, w.Name)
				break
			}
		}
	}
	return out
}

// elsewhere names the credentials the owner of creds holds in workspaces
// other than ws, that this console could revoke: "1 credential in
// workspace dev"; "" when none.
func (m Model) elsewhere(creds []sync.Credential, ws string) string {
	in := map[string]bool{}
	for _, c := range creds {
		in[string(c.Kind)+"/"+c.ID] = true
	}
	count := map[string]int{}
	for _, c := range sync.WorkspacesInventory(m.d.ws.load, m.d.cfg, m.d.now) {
		if c.OwnerID != creds[0].OwnerID || c.Workspace == ws || c.Kind == sync.CredentialAtlassianToken || in[string(c.Kind)+"/"+c.ID] {
			continue
		}
		count[c.Workspace]++
	}
	var parts []string
	for _, n := range m.d.ws.names {
		if count[n] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s in workspace %s", count[n], plural(count[n], "credential"), views.Sanitize(n)))
		}
	}
	return strings.Join(parts, " and ")
}

func (m Model) askRevoke(it revokeIntent) (Model, tea.Cmd) {
	if it.ownerWide && m.d.ws.all() {
		return m.askRevokeOwnerEverywhere(it)
	}
	var creds []sync.Credential
	var atlassian []sync.CredentialStatus
	var b strings.Builder
	for _, c := range it.creds {
		if c.Kind == sync.CredentialAtlassianToken {
			atlassian = append(atlassian, c) // read-only here: revoked in admin.atlassian.com
			continue
		}
		creds = append(creds, c.Credential)
		if len(creds) <= 8 {
			fmt.Fprintf(&b, "%s  %s  %s, last used %s%s\n", shortID(c.ID), views.KindName(c.Kind), ageOld(c.Age),
				views.LastUsed(c.LastUsed, m.d.now), quoted(c.Comment))
		}
	}
	if len(creds) == 0 {
		m.setStatus(statusInfo, "Atlassian API tokens are revoked in admin.atlassian.com, not here")
		return m, nil
	}
	if len(creds) > 8 {
		fmt.Fprintf(&b, "… and %d more\n", len(creds)-8)
	}
	owner, typed := views.OwnerName(creds[0].Owner, creds[0].OwnerID)
	ws := it.creds[0].Workspace
	for _, c := range it.creds {
		if c.Workspace != ws { // the views never ask for this; a revocation goes to one workspace
			m.setStatus(statusError, "these credentials are in several workspaces; revoke them one workspace at a time")
			return m, nil
		}
	}
	where := ""
	if m.d.ws.several() {
		where = " in workspace " + views.Sanitize(ws)
		if creds[0].Kind == sync.CredentialOAuthSecret {
			// The account's: it works wherever its owner is assigned.
			where = ", " + accountWideText
			fmt.Fprintf(&b, "\n%s An OAuth secret is the account's, not %s's: it works at every workspace %s is assigned to (%s), and revoking it stops it in all of them.",
				components.GlyphWarn, views.Sanitize(ws), owner, views.Sanitize(strings.Join(m.d.spReach(creds[0].OwnerID, creds[0].Owner), ", ")))
		}
	}
	// Protected, bitbricks' own, or held by a pipeline: said in so many
	// words, and confirmed by typing the owner's name (the CLI's --force).
	checks := sync.RevokeChecksFrom(m.d.snapOf(ws), m.d.cfgOf(ws), creds)
	for _, c := range checks {
		for _, l := range c.Lines() {
			fmt.Fprintf(&b, "\n%s %s", components.GlyphWarn, l)
		}
		if c.Binding != "" {
			fmt.Fprintf(&b, "\n  To replace it without a break: esc, then r on %s in Pipelines (4).", c.Binding)
		}
	}
	if len(creds) > 1 {
		b.WriteString("\nWhatever uses them stops working at once; this cannot be undone.")
	} else {
		b.WriteString("\nWhatever uses it stops working at once; this cannot be undone.")
	}
	if note := atlassianLeftOut(atlassian, owner); note != "" {
		b.WriteString("\n\n" + note)
	}
	// All of an owner's credentials are revoked in one workspace: the
	// owner's credentials in the others are named, not taken silently.
	if it.ownerWide && m.d.ws.several() {
		if others := m.elsewhere(creds, ws); others != "" {
			where += " only"
			fmt.Fprintf(&b, "\n\n%s %s also holds %s, not included: X in all workspaces (w) revokes them in every workspace.",
				components.GlyphWarn, owner, others)
		}
	}
	title := fmt.Sprintf("Revoke %s of %s%s?", views.KindName(creds[0].Kind), owner, where)
	require := ""
	if len(checks) > 0 && typed != "" {
		require = typed
	}
	if it.ownerWide || len(creds) > 1 { // owner-wide or bulk: always a typed name, never y/n
		if typed == "" {
			m.setStatus(statusError, "cannot revoke all credentials of an owner with neither a name nor an id to type; revoke them one at a time with x")
			return m, nil
		}
		title = fmt.Sprintf("Revoke all %d credentials of %s%s?", len(creds), owner, where)
		if len(creds) == 1 {
			title = fmt.Sprintf("Revoke the 1 credential of %s%s?", owner, where)
		}
		require = typed
	}
	return m.ask(title, b.String(), require, func(m *Model) tea.Cmd {
		m.busy = fmt.Sprintf("revoking %d %s of %s", len(creds), plural(len(creds), "credential"), owner)
		b := m.b
		again := "press R to refresh and see what is left"
		if it.ownerWide {
			again = "X again retries what is left"
		}
		return m.opCmd(m.op, again, func(ctx context.Context) (string, error) {
			in, err := backendIn(b, ws)
			if err != nil {
				return "", fmt.Errorf("revoke %s: nothing was revoked: %w", owner, err)
			}
			if rev, err := in.Revoke(ctx, creds); err != nil {
				return "", errors.New(revocationText(rev, creds, err, owner, false))
			}
			return fmt.Sprintf("revoked %d %s of %s%s", len(creds), plural(len(creds), "credential"), owner, where), nil
		})
	})
}

// askRevokeOwnerEverywhere confirms X in the scope of all workspaces: every
// credential of the owner in every workspace read, grouped by workspace (an
// OAuth secret is the account's), each workspace's checks said; the owner's
// name is typed. The engine revokes each workspace's under that
// workspace's own write lock (Service.RevokeCredentials, as `bitbricks
// revoke --owner` does).
func (m Model) askRevokeOwnerEverywhere(it revokeIntent) (Model, tea.Cmd) {
	byWS := map[string][]sync.CredentialStatus{}
	var account, atlassian []sync.CredentialStatus
	n := 0
	for _, c := range it.creds {
		switch c.Kind {
		case sync.CredentialAtlassianToken:
			atlassian = append(atlassian, c) // read-only here: revoked in admin.atlassian.com
			continue
		case sync.CredentialOAuthSecret:
			account = append(account, c)
		default:
			byWS[c.Workspace] = append(byWS[c.Workspace], c)
		}
		n++
	}
	if n == 0 {
		m.setStatus(statusInfo, "Atlassian API tokens are revoked in admin.atlassian.com, not here")
		return m, nil
	}
	first := it.creds[0]
	owner, typed := views.OwnerName(first.Owner, first.OwnerID)
	if typed == "" {
		m.setStatus(statusError, "cannot revoke all credentials of an owner with neither a name nor an id to type; revoke them one at a time with x")
		return m, nil
	}
	now := m.d.now
	var creds []sync.Credential // in the order shown
	var b strings.Builder
	// Each list is capped, so the dialog fits; the typed name covers all.
	list := func(cs []sync.CredentialStatus) []sync.Credential {
		out := make([]sync.Credential, len(cs))
		for i, c := range cs {
			out[i] = c.Credential
			out[i].Workspace = c.Workspace // where the engine revokes it
			if i == 5 {
				fmt.Fprintf(&b, "  … and %d more\n", len(cs)-i)
			}
			if i >= 5 {
				continue
			}
			fmt.Fprintf(&b, "  %s  %s  %s, last used %s%s\n", shortID(c.ID), views.KindName(c.Kind), ageOld(c.Age),
				views.LastUsed(c.LastUsed, now), quoted(c.Comment))
		}
		return out
	}
	var spaces []string
	var checks []sync.RevokeCheck
	for _, ws := range m.d.ws.names {
		cs := byWS[ws]
		if len(cs) == 0 {
			continue
		}
		spaces = append(spaces, ws)
		fmt.Fprintf(&b, "In workspace %s (%d):\n", views.Sanitize(ws), len(cs))
		listed := list(cs)
		creds = append(creds, listed...)
		checks = append(checks, sync.RevokeChecksFrom(m.d.snapOf(ws), m.d.cfgOf(ws), listed)...)
	}
	if len(account) > 0 {
		fmt.Fprintf(&b, "Account-wide (%d), OAuth %s working at every workspace %s is assigned to (%s):\n", len(account), plural(len(account), "secret"),
			owner, views.Sanitize(strings.Join(m.d.spReach(account[0].OwnerID, account[0].Owner), ", ")))
		ws := account[0].Workspace
		listed := list(account)
		creds = append(creds, listed...)
		checks = append(checks, sync.RevokeChecksFrom(m.d.snapOf(ws), m.d.cfgOf(ws), listed)...)
	}
	for _, c := range checks {
		for _, l := range c.Lines() {
			fmt.Fprintf(&b, "\n%s %s", components.GlyphWarn, l)
		}
		if c.Binding != "" {
			fmt.Fprintf(&b, "\n  To replace it without a break: esc, then r on %s in Pipelines (4).", c.Binding)
		}
	}
	if names := m.d.ws.unreadNames(); len(names) > 0 {
		fmt.Fprintf(&b, "\n%s %s could not be read: what %s holds there is not known and not included; R retries.",
			components.GlyphWarn, workspacesText(names), owner)
	}
	them := "them"
	if len(creds) == 1 {
		them = "it"
	}
	fmt.Fprintf(&b, "\nEach workspace's credentials are revoked there, under its write lock. Whatever uses %s stops working at once; this cannot be undone.", them)
	if note := atlassianLeftOut(atlassian, owner); note != "" {
		b.WriteString("\n\n" + note)
	}
	where := ""
	switch {
	case len(spaces) > 0 && len(account) > 0:
		where = " in " + workspacesText(spaces) + " and " + accountWideText
	case len(spaces) > 0:
		where = " in " + workspacesText(spaces)
	default:
		where = ", " + accountWideText
	}
	title := fmt.Sprintf("Revoke all %d %s of %s%s?", len(creds), plural(len(creds), "credential"), owner, where)
	return m.ask(title, strings.TrimRight(b.String(), "\n"), typed, func(m *Model) tea.Cmd {
		m.busy = fmt.Sprintf("revoking %d %s of %s", len(creds), plural(len(creds), "credential"), owner)
		b := m.b
		return m.opCmd(m.op, "X again retries what is left", func(ctx context.Context) (string, error) {
			// The whole service: it routes each credential to its
			// workspace, under that workspace's lock. One workspace's
			// failure does not stop the others'.
			if rev, err := b.Revoke(ctx, creds); err != nil {
				return "", errors.New(revocationText(rev, creds, err, owner, true))
			}
			return fmt.Sprintf("revoked %d %s of %s%s", len(creds), plural(len(creds), "credential"), owner, where), nil
		})
	})
}

// atlassianLeftOut says which Atlassian API tokens of owner a revocation
// of all its credentials leaves out, and how they are revoked; "" for none.
func atlassianLeftOut(atl []sync.CredentialStatus, owner string) string {
	if len(atl) == 0 {
		return ""
	}
	var each []string
	seen := map[string]bool{}
	for _, c := range atl {
		if seen[c.ID] {
			continue
		}
		seen[c.ID] = true
		one := shortID(c.ID) + ", " + ageOld(c.Age)
		if c.Comment != "" {
			one = views.QuoteComment(c.Comment) + " " + one
		}
		each = append(each, one)
	}
	return fmt.Sprintf("%s Not included: %s of %s (%s): Atlassian's, not Databricks'; bitbricks only reads it: revoke it in admin.atlassian.com (Directory, the user's API tokens).",
		components.GlyphWarn, views.Count(len(each), "Atlassian API token", ""), owner, strings.Join(each, "; "))
}

// revocationText says what a revocation of creds that failed in part did:
// what was revoked and what failed, by workspace when several, each
// failure with its HTTP status (or its error), never two errors run
// together: "revoked 2 of 3 of alice@acme.com: prod 6ea4…, 5d88…; failed
// in dev: 8981… (HTTP 500)". Nothing revoked and nothing failed: the error, one line
// per cause joined by "; ".
func revocationText(rev sync.Revocation, creds []sync.Credential, err error, owner string, several bool) string {
	if len(rev.Revoked) == 0 && len(rev.Failed) == 0 {
		return "revoke " + owner + ": nothing was revoked: " + joinedMessage(err)
	}
	key := func(c sync.Credential) string { return c.Workspace + "\x00" + string(c.Kind) + "/" + c.ID }
	done := map[string]bool{}
	var order []string // workspaces in the order of creds
	seen := map[string]bool{}
	for _, c := range creds {
		if !seen[c.Workspace] {
			seen[c.Workspace] = true
			order = append(order, c.Workspace)
		}
	}
	revoked, failed := map[string][]string{}, map[string][]string{}
	for _, c := range rev.Revoked {
		done[key(c)] = true
		revoked[c.Workspace] = append(revoked[c.Workspace], shortID(c.ID))
	}
	for _, f := range rev.Failed {
		done[key(f.Credential)] = true
		why := views.Sanitize(f.Error)
		if f.Status != 0 {
			why = fmt.Sprintf("HTTP %d", f.Status)
		}
		failed[f.Credential.Workspace] = append(failed[f.Credential.Workspace], fmt.Sprintf("%s (%s)", shortID(f.Credential.ID), why))
	}
	var untried map[string][]string
	for _, c := range creds {
		if !done[key(c)] {
			if untried == nil {
				untried = map[string][]string{}
			}
			untried[c.Workspace] = append(untried[c.Workspace], shortID(c.ID))
		}
	}
	// group lists by's ids by workspace: "prod 6ea4…, 5d88…" (how: "%s
	// %s"), or "in dev: 8981…" (how: "in %s: %s").
	group := func(by map[string][]string, how string) string {
		var parts []string
		for _, ws := range order {
			if ids := by[ws]; len(ids) > 0 {
				if several && ws != "" {
					parts = append(parts, fmt.Sprintf(how, views.Sanitize(ws), strings.Join(ids, ", ")))
				} else {
					parts = append(parts, strings.Join(ids, ", "))
				}
			}
		}
		return strings.Join(parts, "; ")
	}
	out := fmt.Sprintf("revoked %d of %d of %s", len(rev.Revoked), len(creds), owner)
	if len(rev.Revoked) > 0 {
		out += ": " + group(revoked, "%s %s")
	}
	if len(rev.Failed) > 0 {
		if several {
			out += "; failed " + group(failed, "in %s: %s")
		} else {
			out += "; failed: " + group(failed, "")
		}
	}
	if untried != nil {
		out += "; not tried " + group(untried, "in %s: %s") + " (" + joinedMessage(err) + ")"
	}
	return out
}

// joinedMessage is err in one line, the errors it joins separated by "; ".
func joinedMessage(err error) string {
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			lines = append(lines, l)
		}
	}
	return views.Sanitize(strings.Join(lines, "; "))
}

// ageOld is a credential's age in a sentence: "75d old", "just created".
func ageOld(d time.Duration) string {
	if a := views.Age(d); a != "now" {
		return a + " old"
	}
	return "just created"
}

func quoted(s string) string {
	if s == "" {
		return ""
	}
	return "  " + views.QuoteComment(s)
}

func (m Model) askRotate(binding string) (Model, tea.Cmd) {
	bd, ok := m.d.cfg.BindingByName(binding)
	if !ok {
		return m, nil
	}
	body := fmt.Sprintf("A new %s for %s is created, checked, written to %s/%s and recorded in %s_ID; then older credentials of the binding are revoked. A failure before the write leaves the old one working.",
		bd.Credential, bd.ServicePrincipal, bd.Repository, bd.Variable, bd.Variable)
	title := "Rotate " + binding + " now?"
	if m.d.ws.several() {
		title = "Rotate " + binding + " in workspace " + views.Sanitize(bd.Workspace) + " now?"
	}
	return m.ask(title, body, "", func(m *Model) tea.Cmd {
		m.busy = "rotating " + binding
		b := m.b
		return m.opCmd(m.op, "the pipeline keeps a working credential; press r to retry", func(ctx context.Context) (string, error) {
			in, err := backendIn(b, bd.Workspace)
			if err != nil {
				return "", err
			}
			r, err := in.Rotate(ctx, binding)
			if err != nil {
				return "", err // a *sync.RotationError names the binding and the step
			}
			return rotationText(r), nil
		})
	})
}

func (m Model) picked(msg components.PickedMsg) (Model, tea.Cmd) {
	if msg.ID != m.op || m.modal != modalPicker {
		return m, nil
	}
	m.modal = modalNone
	if m.pickFor == pickWorkspace {
		if !msg.OK {
			m.setStatus(statusInfo, "still showing "+m.d.ws.title())
			return m, nil
		}
		return m.setScope(msg.Value)
	}
	it := m.remap
	switch {
	case !msg.OK:
		m.setStatus(statusInfo, "cancelled; nothing changed")
		return m, nil
	case msg.Value == it.from:
		m.setStatus(statusInfo, fmt.Sprintf("%s already maps to %s; nothing changed", it.bitbucket, it.from))
		return m, nil
	}
	to := msg.Value
	shownTo, from := views.Sanitize(to), views.Sanitize(it.from)
	var body strings.Builder
	title := fmt.Sprintf("Re-map %s from %s to %s?", it.bitbucket, from, shownTo)
	if it.mapping < 0 {
		title = fmt.Sprintf("Map %s to %s?", it.bitbucket, shownTo)
		fmt.Fprintf(&body, "A mapping of Bitbucket group %s to Databricks group %s is added to %s; comments and layout are kept, prune is off. The plan is recomputed: members of %s get access through %s.",
			it.bitbucket, shownTo, views.Sanitize(configName(m.d)), it.bitbucket, shownTo)
	} else {
		fmt.Fprintf(&body, "mappings[%d].databricks_group in %s becomes %s; comments and layout are kept. The plan is recomputed: members of %s are no longer managed through this mapping.",
			it.mapping, views.Sanitize(configName(m.d)), shownTo, from)
	}
	if reach, where := m.mappingReachText(it, to); reach != "" {
		title = strings.TrimSuffix(title, "?") + " in " + where + "?"
		body.WriteString("\n\n" + reach)
	}
	if msg.New {
		fmt.Fprintf(&body, "\n\n%s does not exist in Databricks yet: the plan then creates it (create_group), and nothing is created until you apply.", shownTo)
	}
	require := ""
	if why, ok := sync.SystemGroup(to); ok {
		// A system group is never taken without the warning and a typed name.
		title = components.GlyphWarn + " " + shownTo + " is a Databricks system group. " + title
		fmt.Fprintf(&body, "\n\n%s %s.", components.GlyphWarn, why)
		require = to
	}
	return m.ask(title, body.String(), require, func(m *Model) tea.Cmd {
		b := m.b
		if it.mapping < 0 {
			m.busy = "mapping " + it.bitbucket
			return m.opCmd(m.op, "the config file is unchanged", func(ctx context.Context) (string, error) {
				if err := b.Map(ctx, it.slug, to); err != nil {
					return "", err
				}
				return fmt.Sprintf("%s now maps to %s; config rewritten, plan refreshed", it.bitbucket, shownTo), nil
			})
		}
		m.busy = "re-mapping " + it.bitbucket
		return m.opCmd(m.op, "the config file is unchanged", func(ctx context.Context) (string, error) {
			if err := b.Remap(ctx, it.mapping, to); err != nil {
				return "", err // the engine's errors say "re-map: …"
			}
			return fmt.Sprintf("%s now maps to %s; config rewritten, plan refreshed", it.bitbucket, shownTo), nil
		})
	})
}

// mappingReachText says, with several workspaces, where a (re-)mapping of
// it to group takes effect (sync.MappingReachOf): the workspaces whose
// plans change, why, and whether the group is an account group shared by
// every workspace; "" with one workspace.
func (m Model) mappingReachText(it remapIntent, group string) (text, where string) {
	if !m.d.ws.several() {
		return "", ""
	}
	r := sync.MappingReachOf(m.d.ws.load, m.d.cfg, it.mapping, group)
	in := views.Sanitize(strings.Join(r.Workspaces, ", "))
	var b strings.Builder
	switch {
	case r.Path == "":
		fmt.Fprintf(&b, "Applies in %s: the new mapping names no workspaces:, so it covers every workspace.", in)
	case r.Every:
		fmt.Fprintf(&b, "Applies in %s: %s has no workspaces:, so it covers every workspace.", in, r.Path)
	default:
		fmt.Fprintf(&b, "Applies in %s only: %s.workspaces lists %s.", in, r.Path, in)
	}
	if m.scope != "" && len(r.Workspaces) > 0 && !(len(r.Workspaces) == 1 && r.Workspaces[0] == m.scope) {
		var others []string
		for _, w := range r.Workspaces {
			if w != m.scope {
				others = append(others, w)
			}
		}
		fmt.Fprintf(&b, " Not only %s, the workspace shown: the plan of %s changes too.", views.Sanitize(m.scope), views.Sanitize(strings.Join(others, ", ")))
	}
	if r.AccountGroup {
		fmt.Fprintf(&b, "\n\n%s %s is an account group, shared by every workspace (%s): its membership is the account's, so the members of Bitbucket group %s join it once, for every workspace.",
			components.GlyphWarn, views.Sanitize(group), views.Sanitize(strings.Join(r.SharedBy, ", ")), it.bitbucket)
		if len(r.Beyond) > 0 {
			fmt.Fprintf(&b, " Through it they reach %s too, which the mapping does not name.", views.Sanitize(strings.Join(r.Beyond, ", ")))
		}
	}
	return b.String(), workspacesText(r.Workspaces)
}

// findLeaked asks the backend which credential a token value is; the value goes
// nowhere else. Whatever the scope, the backend traces it through every
// workspace it serves (a token's value does not say whose it is), and the
// leak names the workspace it authenticates at.
func (m Model) findLeaked(value string) (Model, tea.Cmd) {
	m.op++
	m.setStatus(statusInfo, "")
	m.busy = "looking up the leaked token"
	if m.d != nil && m.d.ws.several() {
		m.busy += " in " + strings.Join(m.d.ws.names, ", ")
	}
	op, b, ctx := m.op, m.b, m.ctx
	return m, tea.Batch(m.spin.Tick, func() tea.Msg {
		l, err := b.FindLeaked(ctx, value)
		return leakFoundMsg{op: op, leak: l, err: err}
	})
}

// leakScope tells, in the leaked token's dialog, where the value is traced
// (several workspaces only).
func (m Model) leakScope() string {
	if m.d == nil || !m.d.ws.several() {
		return ""
	}
	return "\n\nTraced in every workspace, whichever is shown: " + views.Sanitize(strings.Join(m.d.ws.names, ", ")) + "."
}

// leakNotFound is the status for a value no workspace took: the
// workspaces tried, those that could not be asked, and what to do next.
func leakNotFound(err error) string {
	var nf *sync.LeakNotFoundError
	if errors.As(err, &nf) && len(nf.Unread) > 0 {
		return "leaked token: " + sync.Message(err) + "; or revoke by owner in Credentials (3, then X)"
	}
	return "no credential matches that token: " + sync.Message(err) + "; check it was copied whole, or revoke by owner in Credentials (3, then X)"
}

// askLeaked shows the blast radius of a leaked token: its owner, every token of
// the owner (all are revoked, since Databricks cannot say which one the value
// is) and the pipeline bindings rotated first; the owner's name (or, unresolved,
// its id) must be typed.
func (m Model) askLeaked(l Leak) (Model, tea.Cmd) {
	now := m.now()
	owner, typed := views.OwnerName(l.Owner, l.OwnerID)
	if typed == "" {
		m.setStatus(statusError, "the leaked token's owner has neither a name nor an id to type, so nothing was revoked; use `bitbricks revoke --leaked`, or revoke by token id in Credentials (3)")
		return m, nil
	}
	var b strings.Builder
	if l.Workspace != "" && m.d != nil && m.d.ws.several() {
		ws := views.Sanitize(l.Workspace)
		fmt.Fprintf(&b, "%s authenticates at workspace %s (asked: %s).\n", l.Redacted, ws, views.Sanitize(strings.Join(m.d.ws.names, ", ")))
		if m.scope != "" && m.scope != l.Workspace {
			fmt.Fprintf(&b, "Not a token of %s, the workspace shown: only %s is written to.\n", views.Sanitize(m.scope), ws)
		} else {
			fmt.Fprintf(&b, "Only %s is written to.\n", ws)
		}
		fmt.Fprintf(&b, "In workspace %s it belongs to ", ws)
	} else {
		fmt.Fprintf(&b, "%s belongs to ", l.Redacted)
	}
	fmt.Fprintf(&b, "%s (%s), who holds %d %s:\n", owner,
		strings.ReplaceAll(string(l.OwnerType), "_", " "), len(l.Tokens), plural(len(l.Tokens), "token"))
	for i, c := range l.Tokens {
		if i == 5 {
			fmt.Fprintf(&b, "  … and %d more\n", len(l.Tokens)-i)
			break
		}
		fmt.Fprintf(&b, "  %s  %s, created %s, last used %s%s\n", shortID(c.ID), views.KindName(c.Kind),
			views.When(c.Created, now, "at an unknown time"), views.LastUsed(c.LastUsed, now), quoted(c.Comment))
	}
	if len(l.Bindings) > 0 {
		fmt.Fprintf(&b, "Pipeline bindings rotated first: %s\n", strings.Join(l.Bindings, ", "))
	}
	b.WriteString("\nThe leaked token goes first: Databricks cannot say which token a value is, so they go one at a time, in this order, until it stops authenticating (a pipeline's only after its binding's rotation). Then you choose: only that token, or the rest too.")
	if l.Self {
		fmt.Fprintf(&b, "\n! %s is the identity bitbricks is using: its own credential is among these and goes last; the console can do nothing after it.", owner)
	}
	if l.Protected {
		fmt.Fprintf(&b, "\n! %s is protected (policy.protected): only the leaked token goes; `%s` revokes the rest.", owner, views.Sanitize(sync.RevokeOwnerCommand(l.Owner, l.Workspace, true)))
	}
	b.WriteString("\nWhatever uses them stops working at once. The revocation is audited as leaked.")
	title := "Revoke the leaked token of " + owner + "?"
	if l.Workspace != "" {
		title = "Revoke the leaked token of " + owner + " in workspace " + views.Sanitize(l.Workspace) + "?"
	}
	return m.ask(title, b.String(), typed, func(m *Model) tea.Cmd {
		c := l
		m.busy = "revoking the leaked token of " + owner
		op, b, ctx := m.op, m.b, m.ctx
		return func() tea.Msg {
			msg := leakRevokedMsg{op: op, leak: c}
			msg.err = guard(func() error {
				in, err := backendIn(b, c.Workspace)
				if err != nil {
					return err
				}
				msg.res, err = in.RevokeLeaked(ctx, c)
				return err
			})
			return msg
		}
	})
}

// leakRevoked follows the search for the leaked token: on success, when
// the owner holds more, a choice between only that token (the default) and
// the rest too; the rest, an owner-wide revocation, is then confirmed by
// typing the owner's name.
func (m Model) leakRevoked(msg leakRevokedMsg) (Model, tea.Cmd) {
	m.busy = ""
	if msg.err != nil {
		m.setStatus(statusError, "revoke leaked token: "+sync.Message(msg.err))
		return m.reload()
	}
	res, l := msg.res, msg.leak
	owner, typed := views.OwnerName(res.Owner, l.OwnerID)
	done := fmt.Sprintf("revoked the leaked token %s of %s", shortID(res.Leaked), owner)
	if l.Workspace != "" {
		done += " in workspace " + views.Sanitize(l.Workspace)
	}
	if n := res.Revoked - 1; n > 0 {
		done += fmt.Sprintf(" (and %s searched before it)", views.Count(n, "token", ""))
	}
	if res.Note != "" {
		done += "; " + views.Sanitize(res.Note)
	}
	if len(res.Rest) == 0 {
		m.setStatus(statusOK, done+"; audited")
		return m.reload()
	}
	now := m.now()
	var b strings.Builder
	fmt.Fprintf(&b, "The leaked token %s is revoked: %s no longer authenticates.\n%s still holds %s:\n", shortID(res.Leaked), l.Redacted, owner, views.Count(len(res.Rest), "credential", ""))
	for i, c := range res.Rest {
		if i == 5 {
			fmt.Fprintf(&b, "  … and %d more\n", len(res.Rest)-i)
			break
		}
		fmt.Fprintf(&b, "  %s  %s, created %s, last used %s%s\n", shortID(c.ID), views.KindName(c.Kind),
			views.When(c.Created, now, "at an unknown time"), views.LastUsed(c.LastUsed, now), quoted(c.Comment))
	}
	b.WriteString("\nOnly that token: the others keep working (enter). The rest too: pipeline bindings rotated first, bitbricks' own credential last; you type the owner's name next.")
	m, cmd := m.ask("Revoke the rest of "+owner+"'s credentials too?", b.String(), "", func(m *Model) tea.Cmd {
		return m.askLeakRest(l, res, owner, typed)
	})
	m.confirm = m.confirm.WithLabels("Only that token", "The rest too")
	m.declined = func(m *Model) tea.Cmd {
		m.setStatus(statusOK, fmt.Sprintf("%s; %s kept (`%s`); audited", done, views.Count(len(res.Rest), "other credential", ""), sync.RevokeOwnerCommand(res.Owner, l.Workspace, false)))
		next, cmd := m.reload()
		*m = next
		return cmd
	}
	return m, cmd
}

// askLeakRest confirms the rest of a leak's owner's credentials by the
// owner's typed name, then revokes them.
func (m *Model) askLeakRest(l Leak, res LeakResult, owner, typed string) tea.Cmd {
	body := fmt.Sprintf("%s and whatever uses them stop working at once; pipeline bindings are rotated first (%s), bitbricks' own credential goes last. Audited.",
		views.Count(len(res.Rest), "credential", ""), cmp.Or(strings.Join(l.Bindings, ", "), "none"))
	next, cmd := m.ask("Revoke the other "+views.Count(len(res.Rest), "credential", "")+" of "+owner+"?", body, typed, func(m *Model) tea.Cmd {
		m.busy = "revoking the rest of " + owner + "'s credentials"
		b := m.b
		return m.opCmd(m.op, "see Credentials (3)", func(ctx context.Context) (string, error) {
			in, err := backendIn(b, l.Workspace)
			if err != nil {
				return "", fmt.Errorf("revoke the rest of %s's credentials: %w", owner, err)
			}
			r, err := in.RevokeLeakRest(ctx, l)
			if err != nil {
				return "", fmt.Errorf("revoke the rest of %s's credentials: %w", owner, err)
			}
			line := fmt.Sprintf("revoked the leaked token and %s of %s", views.Count(r.Revoked, "other credential", ""), owner)
			if r.Note != "" {
				line += " (kept: " + r.Note + ")"
			}
			return line + "; audited", nil
		})
	})
	*m = next
	return cmd
}

// askFederate confirms phase 1 of moving a binding to Pipelines OIDC: the
// policy is shown before the key press; nothing stored is touched.
func (m Model) askFederate(binding string) (Model, tea.Cmd) {
	var bf *sync.BindingFederation
	ws := ""
	for i := range m.d.bindings {
		if m.d.bindings[i].Name == binding {
			bf, ws = &m.d.bindings[i].Federation, m.d.bindings[i].Workspace
		}
	}
	switch {
	case bf == nil:
		return m, nil
	case bf.InPlace:
		m.setStatus(statusInfo, fmt.Sprintf("%s is %s already; `bitbricks federate %s --finish` completes it after a federated run", binding, bf.Status, binding))
		return m, nil
	case !bf.CanFederate || bf.Policy == nil:
		m.setStatus(statusError, fmt.Sprintf("%s cannot federate: %s", binding, views.Sanitize(bf.Why)))
		return m, nil
	}
	p := bf.Policy
	body := fmt.Sprintf("Service principal %s gets federation policy %s, trusting the Bitbucket Pipelines OIDC token of %s:\n  issuer   %s\n  %s = %s\n\nNothing stored is touched: %s keeps working. Then add oidc: true and the DATABRICKS_ variables to the step (bitbricks federate %s --dry-run prints them) and, after a federated run, finish with bitbricks federate %s --finish.",
		views.Sanitize(bf.ServicePrincipal), views.Sanitize(p.ID), views.Sanitize(bf.Repository), views.Sanitize(p.Issuer),
		p.SubjectClaim, views.Sanitize(p.Subject), views.Sanitize(bf.Variable), binding, binding)
	// The policy is the service principal's and names no workspace: one
	// also assigned elsewhere lets the pipeline in there too (the plan's
	// federation_too_broad finding); confirming is federating anyway.
	for _, f := range m.d.plan.Findings {
		if f.Kind == sync.FindingFederationTooBroad && f.Subject == "binding "+binding {
			body += "\n\n! " + views.Sanitize(strings.TrimSuffix(f.Detail, ", or federate with --force")) + "; confirming federates anyway."
		}
	}
	title := "Federate " + binding + "? (phase 1)"
	if m.d.ws.several() {
		// The policy is the service principal's, the account's: it names
		// no workspace.
		title = "Federate " + binding + ", " + accountWideText + "? (phase 1)"
		body = fmt.Sprintf("%s The policy is account-wide: it is valid at every workspace %s is assigned to (%s), not only at %s, the workspace of %s.\n\n",
			components.GlyphWarn, views.Sanitize(bf.ServicePrincipal), views.Sanitize(strings.Join(m.d.spReach("", bf.ServicePrincipal), ", ")), views.Sanitize(ws), binding) + body
	}
	return m.ask(title, body, "", func(m *Model) tea.Cmd {
		m.busy = "federating " + binding
		b := m.b
		return m.opCmd(m.op, "no policy was created; the stored credential still works", func(ctx context.Context) (string, error) {
			in, err := backendIn(b, ws)
			if err != nil {
				return "", fmt.Errorf("federate %s: %w", binding, err)
			}
			res, err := in.Federate(ctx, binding)
			if err != nil {
				return "", fmt.Errorf("federate %s: %w", binding, err)
			}
			return fmt.Sprintf("%s is %s: policy %s trusts its pipeline; finish with bitbricks federate %s --finish", binding, res.Status, res.Policy.ID, binding), nil
		})
	})
}

// rotationText says in words what a rotation did: the new credential, what was
// revoked and what is left for the next run.
func rotationText(r sync.RotationResult) string {
	kind := "token"
	if r.Kind == sync.CredentialOAuthSecret {
		kind = "OAuth secret"
	}
	s := fmt.Sprintf("%s rotated: new %s %s for %s, recorded", r.Binding, kind, shortID(r.NewID), views.Sanitize(r.ServicePrincipal))
	switch n := len(r.Revoked); {
	case n > 0:
		ids := make([]string, n)
		for i, id := range r.Revoked {
			ids[i] = shortID(id)
		}
		s += fmt.Sprintf("; revoked %d older: %s", n, strings.Join(ids, ", "))
	case r.Deferred == "":
		s += "; nothing older to revoke"
	}
	if r.Deferred != "" {
		s += "; left for the next run: " + views.Sanitize(r.Deferred)
	}
	return s
}
