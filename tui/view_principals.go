package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"

	"github.com/bitbricks/bitbricks/views/components"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// principalsView lists every Databricks user, service principal and group.
type principalsView struct {
	tabBase
	listPane[principalRow]
	d    *dataset
	keys struct{ Sort key.Binding }
	sort int // index in principalSorts
}

// principalSorts are the orders s cycles through.
var principalSorts = []struct {
	name string
	cmp  func(a, b principalRow) int
}{
	{"type, name", func(a, b principalRow) int {
		return cmp.Or(cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)), cmp.Compare(a.Name, b.Name))
	}},
	{"name", func(a, b principalRow) int { return cmp.Compare(a.Name, b.Name) }},
	{"credentials ↓", func(a, b principalRow) int { return cmp.Or(cmp.Compare(b.Creds, a.Creds), cmp.Compare(a.Name, b.Name)) }},
	{"groups ↓", func(a, b principalRow) int {
		return cmp.Or(cmp.Compare(b.Groups, a.Groups), cmp.Compare(a.Name, b.Name))
	}},
}

func kindRank(k string) int {
	switch k {
	case "user":
		return 0
	case "sp":
		return 1
	}
	return 2
}

func newPrincipalsView(th *theme) *principalsView {
	cols := []components.Column{
		{Width: 5}, {Width: 18, Flex: true, Max: 36}, {Width: 18, Flex: true, Max: 36, Drop: 2}, {Width: 7}, {Width: 7, Drop: 3}, {Width: 10, Flex: true, Drop: 1},
	}
	v := &principalsView{listPane: listPane[principalRow]{th: th, title: "Databricks principals", columns: cols,
		headers: []string{"type", "name", "detail", "groups", "creds", "flags"}}}
	v.table = components.NewTable(th.st,
		func(r principalRow) string { return r.Key },
		func(r principalRow) string { return r.Kind + " " + r.Name + " " + r.Detail + " " + r.Flags },
		func(r principalRow, w int) string {
			widths := components.Layout(w, 1, cols)
			groups := fmt.Sprintf("%d grp", r.Groups)
			creds := ""
			if r.Kind != "group" {
				creds = fmt.Sprintf("%d cred", r.Creds)
			}
			return components.Join(widths, 1, r.Kind, r.Name, th.st.Text.Muted.Render(r.Detail), groups, creds, r.Flags)
		})
	v.detail = v.principalDetail
	v.keys.Sort = key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort"))
	v.table.SetEmpty("no principals")
	v.table.Focus()
	return v
}

func (v *principalsView) Title() (string, string) { return "Principals", "Princ" }
func (v *principalsView) SetData(d *dataset) {
	v.d = d
	v.table.SetEmpty(cmp.Or(d.ws.notRead(), "no principals"))
	v.notRead = d.ws.why != ""
	v.resort()
}

func (v *principalsView) resort() {
	if v.d == nil {
		return
	}
	rows := slices.Clone(v.d.principal)
	slices.SortStableFunc(rows, principalSorts[v.sort].cmp)
	v.table.SetItems(rows)
	v.title = "Databricks principals · by " + principalSorts[v.sort].name
}

func (v *principalsView) ShortHelp() []key.Binding {
	return append(v.table.ShortHelp(), v.keys.Sort)
}

func (v *principalsView) FullHelp() [][]key.Binding {
	return append(v.table.FullHelp(), []key.Binding{v.keys.Sort})
}

func (v *principalsView) Update(msg tea.Msg) (tabView, tea.Cmd) {
	if km, ok := msg.(tea.KeyMsg); ok && key.Matches(km, v.keys.Sort) {
		v.sort = (v.sort + 1) % len(principalSorts)
		v.resort()
		return v, nil
	}
	var cmd tea.Cmd
	v.table, cmd = v.table.Update(msg)
	return v, cmd
}

// principalDetail is a principal whole: its groups and its credentials.
func (v *principalsView) principalDetail(r principalRow) (string, string) {
	var b strings.Builder
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(&b, "%-8s %s\n", k+":", val)
		}
	}
	kind := map[string]string{"user": "user", "sp": "service principal", "group": "group"}[r.Kind]
	row("Type", kind)
	row("Name", r.Name)
	row("Detail", r.Detail)
	row("Id", views.Sanitize(r.ID))
	row("Flags", r.Flags)
	if v.d == nil {
		return "Principal · " + r.Name, b.String()
	}
	var groups []string
	for _, s := range v.d.snaps() {
		for _, name := range v.d.dbGroups {
			g := s.snap.DBGroups[name]
			if g != nil && slices.ContainsFunc(g.Members, func(m sync.Member) bool { return m.ID == r.ID }) {
				shown := name
				if s.name != "" && g.Kind != sync.KindAccount { // each workspace's own: say whose
					shown = s.name + " · " + name
				}
				if n := views.Sanitize(shown); !slices.Contains(groups, n) {
					groups = append(groups, n)
				}
			}
		}
	}
	fmt.Fprintf(&b, "\nMember of %d %s", len(groups), plural(len(groups), "group"))
	if len(groups) > 0 {
		b.WriteString(": " + strings.Join(groups, ", "))
	}
	b.WriteString(".\n")
	if r.Kind == "group" {
		if src := v.d.sourcesOf(v.groupName(r.ID)); len(src) > 0 {
			fmt.Fprintf(&b, "Mapped from Bitbucket %s.\n", views.Sanitize(strings.Join(src, ", ")))
		}
		return "Group · " + r.Name, strings.TrimRight(b.String(), "\n")
	}
	creds := v.d.byOwner[r.ID]
	fmt.Fprintf(&b, "Holds %d %s", len(creds), plural(len(creds), "credential"))
	if len(creds) > 0 {
		b.WriteString(":")
	}
	b.WriteString("\n")
	// With several workspaces, each credential says where it lives (an
	// OAuth secret is the account's), as the Credentials view does.
	where := func(c sync.CredentialStatus) string {
		if !v.d.ws.several() {
			return ""
		}
		w := views.CredentialWorkspace(c)
		if c.Kind == sync.CredentialAtlassianToken {
			w = "Atlassian"
		}
		return fmt.Sprintf("%-9s ", w)
	}
	line := func(c sync.CredentialStatus) {
		exp := views.Expiry(c.Expiry, v.d.now)
		if strings.HasPrefix(exp, "in ") {
			exp = "expires " + exp
		}
		fmt.Fprintf(&b, "  %s%s  %s, %s, %s, last used %s%s\n", where(c), shortID(c.ID), views.KindName(c.Kind), ageOld(c.Age),
			exp, views.LastUsed(c.LastUsed, v.d.now), quoted(c.Comment))
	}
	for _, c := range creds {
		line(c)
	}
	// An Atlassian API token is the person's, by email, not by SCIM id.
	var atl []sync.CredentialStatus
	for _, c := range v.d.inv {
		if r.Kind == "user" && c.Kind == sync.CredentialAtlassianToken && views.Sanitize(c.Owner) == r.Name && c.OwnerID != r.ID {
			atl = append(atl, c)
		}
	}
	if len(atl) > 0 {
		fmt.Fprintf(&b, "Also holds %s (revoked in admin.atlassian.com, not here):\n", views.Count(len(atl), "Atlassian API token", ""))
		for _, c := range atl {
			line(c)
		}
	}
	return "Principal · " + r.Name, strings.TrimRight(b.String(), "\n")
}

func (v *principalsView) groupName(id string) string {
	for _, s := range v.d.snaps() {
		for name, g := range s.snap.DBGroups {
			if g.ID == id {
				return name
			}
		}
	}
	return ""
}
