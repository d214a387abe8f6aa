package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
	"github.com/bitbricks/bitbricks/views/components"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

type credentialsKeys struct {
	Sort, Revoke, RevokeOwner key.Binding
}

func defaultCredentialsKeys() credentialsKeys {
	return credentialsKeys{
		Sort:        key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort")),
		Revoke:      key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "revoke")),
		RevokeOwner: key.NewBinding(key.WithKeys("X"), key.WithHelp("X", "revoke all of owner")),
	}
}

type credSort int

const (
	byAge credSort = iota
	byOwner
	byLastUsed
	byExpiry
)

var credSortNames = [...]string{byAge: "age ↓", byOwner: "owner", byLastUsed: "last used", byExpiry: "expiry"}

// credFormat is what formatting a credential row needs. Copies of the view share it,
// so a change here (then Invalidate) reaches every copy.
type credFormat struct {
	th      *theme
	now     time.Time
	pol     config.Policy
	revokes map[string]sync.Change
	width   int
	cols    []int
	// ws shows each credential's workspace (the scope of all workspaces).
	ws bool
	// scoped is the workspace shown of several ("" for all, or one
	// workspace): the title says the Atlassian tokens are not its own.
	scoped string
}

// credentialsView lists every token and secret with its age drawn against the policy.
type credentialsView struct {
	tabBase
	th       *theme
	keys     credentialsKeys
	f        *credFormat
	table    components.Table[sync.CredentialStatus]
	sort     credSort
	inv      []sync.CredentialStatus
	w, h     int
	readOnly bool
	notRead  bool // the workspace shown could not be read: nothing to count
}

func newCredentialsView(th *theme, readOnly bool) *credentialsView {
	f := &credFormat{th: th}
	v := &credentialsView{th: th, keys: defaultCredentialsKeys(), f: f, readOnly: readOnly}
	v.table = components.NewTable(th.st,
		func(c sync.CredentialStatus) string { return c.ID },
		func(c sync.CredentialStatus) string {
			return c.Owner + " " + string(c.Kind) + " " + c.Comment + " " + c.ID + " " + strings.Join(c.Flags, " ") + " " + c.Workspace
		},
		f.line)
	v.table.SetEmpty("no credentials")
	v.table.Focus()
	v.keys.Revoke.SetEnabled(!readOnly)
	v.keys.RevokeOwner.SetEnabled(!readOnly)
	return v
}

var credColumns = []components.Column{
	{Width: 14, Flex: true, Max: 30},          // owner
	{Width: 6},                                // kind
	{Width: 14, Flex: true, Max: 28, Drop: 4}, // comment
	{Width: 17},                               // level glyph, bar, age
	{Width: 10, Drop: 2},                      // expiry
	{Width: 11, Drop: 3},                      // last used
	{Width: 12, Flex: true, Drop: 1},          // flags
}

// credWorkspaceColumn is the workspace, first, in the scope of all workspaces.
var credWorkspaceColumn = components.Column{Width: 10}

func (f *credFormat) header(w int) string {
	f.layout(w)
	if f.ws {
		return components.Join(f.cols, 1, "workspace", "owner", "kind", "comment", "age", "expires", "used", "flags")
	}
	return components.Join(f.cols, 1, "owner", "kind", "comment", "age", "expires", "used", "flags")
}

func (f *credFormat) layout(w int) {
	if w != f.width || f.cols == nil {
		cols := credColumns
		if f.ws {
			cols = append([]components.Column{credWorkspaceColumn}, credColumns...)
		}
		f.width, f.cols = w, components.Layout(w, 1, cols)
	}
}

func (f *credFormat) line(c sync.CredentialStatus, w int) string {
	f.layout(w)
	level := 0
	switch {
	case c.Has(sync.FlagOverAge):
		level = 2
	case c.Has(sync.FlagWarnAge):
		level = 1
	}
	flags := strings.Join(c.Flags, " ")
	if ch, ok := f.revokes[c.ID]; ok {
		flags = f.th.st.Drift.Extra.Render("- plan: "+ch.Action.String()) + " " + flags
	}
	cells := []string{views.Sanitize(c.Owner), views.KindName(c.Kind), views.QuoteComment(c.Comment),
		f.th.ageGl[level] + " " + f.th.age[level].Render(ageBar(c.Age, f.pol.TokenMaxAge.Std(), 10)) + " " + components.FitLeft(views.Age(c.Age), 4),
		views.Expiry(c.Expiry, f.now), views.LastUsed(c.LastUsed, f.now), flags}
	if f.ws {
		cells = append([]string{views.CredentialWorkspace(c)}, cells...)
	}
	return components.Join(f.cols, 1, cells...)
}

// ageBar draws age against the max age in n cells; full means over the max.
func ageBar(age, maxAge time.Duration, n int) string {
	fill := n
	if maxAge > 0 && age < maxAge {
		fill = int((age*time.Duration(n) + maxAge - 1) / maxAge)
	}
	fill = max(min(fill, n), 0)
	return strings.Repeat("█", fill) + strings.Repeat("░", n-fill)
}

func (v *credentialsView) Title() (string, string) { return "Credentials", "Creds" }
func (v *credentialsView) MutatingKeys() []key.Binding {
	return []key.Binding{v.keys.Revoke, v.keys.RevokeOwner}
}

func (v *credentialsView) SetData(d *dataset) {
	v.f.now, v.f.pol, v.f.revokes = d.now, d.cfg.Policy, d.revokes
	if ws := d.ws.all(); ws != v.f.ws {
		v.f.ws, v.f.cols = ws, nil
		v.table.SetHeader(v.f.header(v.table.RowWidth()))
	}
	v.inv, v.f.scoped, v.notRead = d.inv, "", d.ws.why != ""
	if d.ws.several() {
		v.f.scoped = d.ws.name
	}
	v.table.SetEmpty(cmp.Or(d.ws.notRead(), "no credentials"))
	v.resort()
}

func (v *credentialsView) resort() {
	items := slices.Clone(v.inv) // Inventory's order is by age
	switch v.sort {
	case byOwner:
		slices.SortStableFunc(items, func(a, b sync.CredentialStatus) int { return cmp.Compare(a.Owner, b.Owner) })
	case byLastUsed:
		slices.SortStableFunc(items, func(a, b sync.CredentialStatus) int { return a.LastUsed.Compare(b.LastUsed) })
	case byExpiry:
		slices.SortStableFunc(items, func(a, b sync.CredentialStatus) int {
			if a.Expiry.IsZero() != b.Expiry.IsZero() { // never-expiring last
				return cmp.Compare(b.Expiry.Unix(), a.Expiry.Unix())
			}
			return a.Expiry.Compare(b.Expiry)
		})
	}
	v.table.SetItems(items)
}

func (v *credentialsView) SetSize(w, h int) {
	v.w, v.h = w, h
	fw, fh := v.th.st.BoxFrame()
	v.table.SetSize(w-fw, h-fh)
	v.table.SetHeader(v.f.header(v.table.RowWidth()))
}

func (v *credentialsView) SetFilter(q string) { v.table.SetFilter(q) }
func (v *credentialsView) Filter() string     { return v.table.Filter() }

func (v *credentialsView) Update(msg tea.Msg) (tabView, tea.Cmd) {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return v, nil
	}
	switch {
	case key.Matches(km, v.keys.Sort):
		v.sort = (v.sort + 1) % credSort(len(credSortNames))
		v.resort()
	case key.Matches(km, v.keys.Revoke):
		if c, ok := v.table.Selected(); ok {
			return v, emit(revokeIntent{creds: []sync.CredentialStatus{c}})
		}
	case key.Matches(km, v.keys.RevokeOwner):
		if c, ok := v.table.Selected(); ok {
			var all []sync.CredentialStatus
			for _, o := range v.inv { // in every workspace shown (all of them, or the one)
				switch {
				case o.Kind != sync.CredentialAtlassianToken && o.OwnerID == c.OwnerID:
					all = append(all, o)
				case o.Kind == sync.CredentialAtlassianToken && c.Kind != sync.CredentialAtlassianToken && c.OwnerType == sync.PrincipalUser &&
					c.Owner != "" && strings.EqualFold(o.Owner, c.Owner):
					// The person's Atlassian API token (another id, the
					// same address): named as left out, revoked elsewhere.
					all = append(all, o)
				}
			}
			return v, emit(revokeIntent{creds: all, ownerWide: true})
		}
	default:
		var cmd tea.Cmd
		v.table, cmd = v.table.Update(km)
		return v, cmd
	}
	return v, nil
}

func (v *credentialsView) View() string {
	title := "Credentials · " + v.table.Position() + " · by " + credSortNames[v.sort]
	if v.notRead {
		title = "Credentials · not read"
	}
	if v.f.scoped != "" && slices.ContainsFunc(v.inv, func(c sync.CredentialStatus) bool { return c.Kind == sync.CredentialAtlassianToken }) {
		// Listed in every workspace, counted in none's over-age figure.
		title += " · atl: Atlassian's, not in " + views.Sanitize(v.f.scoped) + "'s count"
	}
	if q := v.table.Filter(); q != "" {
		title += " · /" + views.ShowFilter(q)
	}
	return v.th.st.BoxLines(title, v.table.Lines(), v.w, v.h, true)
}

func (v *credentialsView) ShortHelp() []key.Binding {
	return []key.Binding{v.table.ShortHelp()[0], v.keys.Sort, v.keys.Revoke, v.keys.RevokeOwner}
}

func (v *credentialsView) FullHelp() [][]key.Binding {
	return [][]key.Binding{v.table.Keys.FullHelp()[0], {v.keys.Sort, v.keys.Revoke, v.keys.RevokeOwner}}
}

// Detail is the selected credential whole: what the flags mean, what the plan
// does to it and what revoking it takes.
func (v *credentialsView) Detail() (string, string, bool) {
	c, ok := v.table.Selected()
	if !ok {
		return "", "", false
	}
	now := v.f.now
	var b strings.Builder
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(&b, "%-11s %s\n", k+":", val)
		}
	}
	owner, _ := views.OwnerName(c.Owner, c.OwnerID)
	switch {
	case c.Workspace == "": // one workspace
	case c.Kind == sync.CredentialAtlassianToken:
		row("Workspace", "none: an Atlassian API token is the organisation's, listed in every workspace's scope and counted in none's over-age figure")
	case c.Kind == sync.CredentialOAuthSecret:
		row("Workspace", "(account): an OAuth secret works at every workspace its service principal is assigned to")
	default:
		row("Workspace", views.CredentialWorkspace(c))
	}
	row("Owner", owner+" ("+strings.ReplaceAll(string(c.OwnerType), "_", " ")+", id "+views.Sanitize(c.OwnerID)+")")
	row("Kind", views.KindName(c.Kind)+" ("+string(c.Kind)+")")
	row("Id", views.Sanitize(c.ID))
	row("Comment", views.QuoteComment(c.Comment))
	created := "unknown"
	if !c.Created.IsZero() {
		created = c.Created.UTC().Format("2006-01-02 15:04") + " UTC, " + agoText(c.Age)
	}
	row("Created", created)
	if maxAge := v.f.pol.TokenMaxAge.Std(); maxAge > 0 {
		row("Age", fmt.Sprintf("%s of the %s policy.token_max_age", views.Age(c.Age), views.Age(maxAge)))
	}
	row("Expires", views.Expiry(c.Expiry, now))
	row("Last used", views.LastUsed(c.LastUsed, now))
	for _, f := range c.Flags {
		row("Flag", f+": "+flagMeaning(f))
	}
	if ch, ok := v.f.revokes[c.ID]; ok {
		row("Plan", components.GlyphExtra+" "+ch.Action.String()+": "+views.Sanitize(ch.Reason))
	}
	b.WriteString("\n")
	if c.Kind == sync.CredentialAtlassianToken {
		b.WriteString("An Atlassian API token is revoked in admin.atlassian.com, not here.")
	} else {
		b.WriteString("x revokes it, X every credential of its owner; whatever uses it stops working at once.")
	}
	return "Credential · " + shortID(c.ID), b.String(), true
}

// flagMeaning says what a credential flag means, in words.
func flagMeaning(f string) string {
	switch f {
	case sync.FlagOverAge:
		return "older than policy.token_max_age"
	case sync.FlagWarnAge:
		return "older than policy.token_warn_age, not yet over the max"
	case sync.FlagNoExpiry:
		return "never expires"
	case sync.FlagStale:
		return "not used for a long time"
	case sync.FlagExpiring:
		return "expires soon"
	case sync.FlagOverWorkspaceMax:
		return "older than the workspace's token lifetime limit"
	case sync.FlagSecretLimit:
		return "its service principal holds nearly the 5 secrets Databricks allows"
	case sync.FlagBound:
		return "the credential a pipeline binding records"
	case sync.FlagOrphaned:
		return "made for a pipeline binding that no longer records it"
	}
	return f
}
