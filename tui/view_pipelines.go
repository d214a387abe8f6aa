package tui

import (
	"fmt"
	"strings"

	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
	"github.com/bitbricks/bitbricks/views/components"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// pipelinesView lists the pipeline bindings: last rotation, when the next is
// due, and where each stands on the way to Pipelines OIDC (stored,
// federating, federated).
type pipelinesView struct {
	tabBase
	listPane[bindingRow]
	keys struct {
		Rotate   key.Binding
		Federate key.Binding
	}
	readOnly bool
	// ws shows each binding's workspace (the scope of all workspaces);
	// shared by the copies of the view, as the table's rows read it.
	ws *bool
}

// pipelineHeaders name pipelineColumns.
var pipelineHeaders = []string{"binding", "variable", "service principal", "kind", "rotated", "due", "status", "oidc"}

var pipelineColumns = []components.Column{
	{Width: 14, Flex: true, Max: 24}, {Width: 20, Flex: true, Max: 40, Drop: 3}, {Width: 16, Drop: 4}, {Width: 12, Drop: 5},
	{Width: 9}, {Width: 12}, {Width: 16, Flex: true, Drop: 1}, {Width: 12, Drop: 2},
}

func newPipelinesView(th *theme, readOnly bool) *pipelinesView {
	v := &pipelinesView{listPane: listPane[bindingRow]{th: th, title: "Pipeline bindings", columns: pipelineColumns,
		headers: pipelineHeaders}, readOnly: readOnly, ws: new(bool)}
	v.keys.Rotate = rotateKey()
	v.keys.Rotate.SetEnabled(!readOnly)
	v.keys.Federate = key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "federate (OIDC)"))
	v.keys.Federate.SetEnabled(!readOnly)
	v.table = components.NewTable(th.st,
		func(r bindingRow) string { return r.Name },
		func(r bindingRow) string {
			return r.Name + " " + r.Repository + " " + r.ServicePrincipal + " " + r.Workspace
		},
		func(r bindingRow, w int) string { return th.bindingLine(r, w, *v.ws) })
	v.table.SetEmpty("no pipeline bindings in the config")
	v.table.Focus()
	return v
}

func rotateKey() key.Binding { return key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "rotate")) }

// pipelineWorkspaceColumn is the workspace, first, in the scope of all
// workspaces.
var pipelineWorkspaceColumn = components.Column{Width: 10}

// pipelineColumnsWS are pipelineColumns after the workspace.
var pipelineColumnsWS = append([]components.Column{pipelineWorkspaceColumn}, pipelineColumns...)

func (th *theme) bindingLine(r bindingRow, w int, ws bool) string {
	cols := components.Layout(w, 1, pipelineColumns)
	if ws {
		cols = components.Layout(w, 1, pipelineColumnsWS)
	}
	target := r.Repository + "/" + r.Variable
	if r.Environment != "" {
		target = r.Repository + "@" + r.Environment + "/" + r.Variable
	}
	last, due := "-", "-"
	if r.Current != nil {
		last = agoText(r.Current.Age)
		due = "in " + views.Age(r.DueIn)
		if r.DueIn <= 0 {
			due = th.st.Age.Warn.Render(components.GlyphWarn + " overdue " + views.Age(-r.DueIn))
		}
	}
	var state string
	switch {
	case r.State == nil || !r.State.Known:
		state = th.st.Drift.Unresolved.Render(components.GlyphUnresolved + " not read")
	case r.Rotation != nil:
		state = th.st.Age.Warn.Render(components.GlyphRotate + " " + views.Sanitize(r.Rotation.Reason))
	default:
		state = th.marks[markInSync] + " ok"
	}
	cells := []string{r.Name, target, r.ServicePrincipal, string(r.Credential), last, due, state, th.federation(r.Federation)}
	if ws {
		cells = append([]string{views.Sanitize(r.Workspace)}, cells...)
	}
	return components.Join(cols, 1, cells...)
}

// federation is a binding's federation status with its glyph: ● federated,
// ◐ federating, ○ stored (+ when it could federate), ? unknown.
func (th *theme) federation(bf sync.BindingFederation) string {
	s := views.FederationGlyph(bf.Status) + " " + string(bf.Status)
	switch {
	case bf.Status == sync.FederationFederated:
		return th.marks[markInSync] + " federated"
	case bf.CanFederate:
		return th.st.Age.Warn.Render(s + " +")
	case bf.Status == sync.FederationUnknown:
		return th.st.Drift.Unresolved.Render(s)
	}
	return s
}

func (v *pipelinesView) Title() (string, string) { return "Pipelines", "Pipes" }
func (v *pipelinesView) SetData(d *dataset) {
	if ws := d.ws.all(); ws != *v.ws {
		*v.ws = ws
		v.columns, v.headers = pipelineColumns, pipelineHeaders
		if ws {
			v.columns = pipelineColumnsWS
			v.headers = append([]string{"workspace"}, pipelineHeaders...)
		}
		v.SetSize(v.w, v.h)
	}
	v.notRead = d.ws.why != ""
	switch {
	case d.ws.why != "":
		v.table.SetEmpty(d.ws.notRead())
	case d.ws.name != "":
		v.table.SetEmpty("no pipeline bindings in workspace " + views.Sanitize(d.ws.name) + " (pipelines[].workspace)")
	case len(d.ws.unread) > 0:
		// The unread workspaces' bindings are not shown: say so, not that
		// the config has none.
		v.table.SetEmpty("no pipeline bindings in the workspaces read" + d.ws.unreadText() + ", so its bindings are not shown (R retries)")
	default:
		v.table.SetEmpty("no pipeline bindings in the config")
	}
	v.table.SetItems(d.bindings)
}
func (v *pipelinesView) MutatingKeys() []key.Binding {
	return []key.Binding{v.keys.Rotate, v.keys.Federate}
}

func (v *pipelinesView) Update(msg tea.Msg) (tabView, tea.Cmd) {
	if km, ok := msg.(tea.KeyMsg); ok && key.Matches(km, v.keys.Rotate) {
		if r, ok := v.table.Selected(); ok {
			return v, emit(rotateIntent{binding: r.Name})
		}
		return v, nil
	}
	if km, ok := msg.(tea.KeyMsg); ok && key.Matches(km, v.keys.Federate) {
		if r, ok := v.table.Selected(); ok {
			return v, emit(federateIntent{binding: r.Name})
		}
		return v, nil
	}
	var cmd tea.Cmd
	v.table, cmd = v.table.Update(msg)
	return v, cmd
}

func (v *pipelinesView) ShortHelp() []key.Binding {
	return append(v.table.ShortHelp(), v.keys.Rotate, v.keys.Federate)
}
func (v *pipelinesView) FullHelp() [][]key.Binding {
	return append(v.table.FullHelp(), []key.Binding{v.keys.Rotate, v.keys.Federate})
}

// Detail is the selected binding whole: where its credential lives, its
// rotation and why the plan rotates it.
func (v *pipelinesView) Detail() (string, string, bool) {
	r, ok := v.table.Selected()
	if !ok {
		return "", "", false
	}
	var b strings.Builder
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(&b, "%-18s %s\n", k+":", val)
		}
	}
	target := r.Repository
	if r.Environment != "" {
		target += " (deployment environment " + r.Environment + ")"
	}
	row("Workspace", views.Sanitize(r.Workspace))
	row("Repository", target)
	row("Variable", r.Variable+" (its id in "+r.Variable+"_ID)")
	row("Service principal", r.ServicePrincipal)
	row("Credential", string(r.Credential))
	row("Rotate every", r.RotateEvery.String())
	row("Lifetime", r.Lifetime.String())
	switch {
	case r.State == nil || !r.State.Known:
		problem := "not read"
		if r.State != nil && r.State.Problem != "" {
			problem += ": " + views.Sanitize(r.State.Problem)
		}
		row("State", components.GlyphUnresolved+" "+problem)
	case r.Current != nil:
		row("Recorded", shortID(r.Current.ID)+", created "+agoText(r.Current.Age))
		due := "in " + views.Age(r.DueIn)
		if r.DueIn <= 0 {
			due = components.GlyphWarn + " overdue by " + views.Age(-r.DueIn)
		}
		row("Next rotation", due)
	case r.State.RecordedID != "":
		row("Recorded", views.Sanitize(r.State.RecordedID)+" (not found among the service principal's credentials)")
	default:
		row("Recorded", "nothing: "+r.Variable+"_ID is not set")
	}
	if r.Rotation != nil {
		row("Plan", components.GlyphRotate+" rotate: "+views.Sanitize(r.Rotation.Reason))
	} else if r.State != nil && r.State.Known {
		row("Plan", components.GlyphInSync+" nothing to do")
	}
	fed := r.Federation
	row("OIDC", views.FederationGlyph(fed.Status)+" "+string(fed.Status)+": "+views.Sanitize(fed.Why))
	if fed.Policy != nil {
		verb := "would trust"
		if fed.InPlace {
			verb = "trusts"
		}
		row("Policy", fmt.Sprintf("%s %s %s = %s", views.Sanitize(fed.Policy.ID), verb, fed.Policy.SubjectClaim, views.Sanitize(fed.Policy.Subject)))
	}
	for _, bp := range fed.TooBroad {
		row("Too broad", components.GlyphWarn+" "+views.Sanitize(bp.Policy.ID)+": "+views.Sanitize(bp.Why))
	}
	b.WriteString("\nr rotates it now: a new credential is made, checked and written, then the old ones are revoked.")
	b.WriteString("\nf federates it (phase 1): a policy trusts its pipeline's OIDC token; `bitbricks federate --finish` then removes the stored credential.")
	return "Binding · " + r.Name, b.String(), true
}
