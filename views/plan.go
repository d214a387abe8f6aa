package views

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/bitbricks/bitbricks/sync"
)

// FormatVersion is the version of the JSON documents written here.
const FormatVersion = "1"

// maxLabel caps the label column so one long name does not push every reason
// off the screen.
const maxLabel = 48

// Glyph returns the glyph of an action: + add, - remove or revoke, ~ rotate,
// * create.
func Glyph(a sync.Action) string {
	switch a {
	case sync.ActionCreateGroup:
		return "*"
	case sync.ActionAddMember, sync.ActionAddEntitlement:
		return "+"
	case sync.ActionRotateCredential:
		return "~"
	}
	return "-"
}

// FindingGlyph returns ? for an unresolved identity and ! for other findings.
func FindingGlyph(k sync.FindingKind) string {
	if k == sync.FindingUnresolvedIdentity {
		return "?"
	}
	return "!"
}

func glyphStyle(g string) string {
	return map[string]string{"+": ansiGreen, "-": ansiRed, "~": ansiYellow, "*": ansiCyan, "!": ansiYellow, "?": ansiMagenta}[g]
}

// IsGroupChange reports whether a change is about a Databricks group (and so
// carries group_kind in JSON).
func IsGroupChange(a sync.Action) bool {
	switch a {
	case sync.ActionCreateGroup, sync.ActionAddMember, sync.ActionRemoveMember,
		sync.ActionAddEntitlement, sync.ActionRemoveEntitlement:
		return true
	}
	return false
}

// ChangeLabel is the short text of a change: the member, entitlement,
// binding or token it is about, sanitised for a terminal.
func ChangeLabel(c sync.Change) string { return Sanitize(changeLabel(c)) }

func changeLabel(c sync.Change) string {
	switch c.Action {
	case sync.ActionCreateGroup:
		return "create group " + c.Group
	case sync.ActionAddEntitlement, sync.ActionRemoveEntitlement:
		return "entitlement " + c.Entitlement
	case sync.ActionRotateCredential:
		return fmt.Sprintf("rotate %s (%s)", c.Binding, c.Principal)
	case sync.ActionRevokeToken:
		return fmt.Sprintf("revoke token %s of %s", c.TokenID, c.Principal)
	case sync.ActionRevokeSecret:
		return fmt.Sprintf("revoke secret %s of %s", c.TokenID, c.Principal)
	}
	return c.Principal
}

// Counts is what the summary line counts.
type Counts struct{ Add, Remove, Rotate, Findings int }

// CountPlan counts p's changes for the summary line.
func CountPlan(p sync.Plan) Counts {
	n := Counts{Findings: len(p.Findings)}
	for _, c := range p.Changes {
		switch {
		case c.Action == sync.ActionRotateCredential:
			n.Rotate++
		case c.Action.Destructive():
			n.Remove++
		default:
			n.Add++
		}
	}
	return n
}

// SummaryLine is the terraform-like last line of a text plan.
func SummaryLine(p sync.Plan) string {
	n := CountPlan(p)
	if len(p.Changes) == 0 {
		if n.Findings == 0 {
			return "No changes. Databricks is in step with Bitbucket."
		}
		return fmt.Sprintf("No changes. Databricks is in step with Bitbucket (%s).", plural(n.Findings, "finding", "findings"))
	}
	return fmt.Sprintf("Plan: %d to add, %d to remove, %d to rotate; %s.", n.Add, n.Remove, n.Rotate, plural(n.Findings, "finding", "findings"))
}

// RenderPlanText writes p for people: the changes grouped by Databricks
// group, then the credential changes, then the findings, then a summary.
func RenderPlanText(w io.Writer, p sync.Plan, opts TextOptions) error {
	t := &textWriter{w: w}
	width := 0
	for _, c := range p.Changes {
		width = max(width, len([]rune(ChangeLabel(c))))
	}
	for _, f := range p.Findings {
		width = max(width, len([]rune(findingLabel(f))))
	}
	width = min(width, maxLabel)
	line := func(glyph, label, reason string) {
		style := glyphStyle(glyph)
		t.printf("  %s %s%s  %s\n", opts.paint(style, glyph), opts.paint(style, label), pad("", width-len([]rune(label))), Sanitize(reason))
	}

	var groups []string
	byGroup := map[string][]sync.Change{}
	var creds []sync.Change
	for _, c := range p.Changes {
		if !IsGroupChange(c.Action) {
			creds = append(creds, c)
			continue
		}
		if byGroup[c.Group] == nil {
			groups = append(groups, c.Group)
		}
		byGroup[c.Group] = append(byGroup[c.Group], c)
	}
	slices.Sort(groups)
	for _, g := range groups {
		// Members before entitlements reads better than the plan's global order.
		slices.SortStableFunc(byGroup[g], func(a, b sync.Change) int { return groupRank(a.Action) - groupRank(b.Action) })
		t.printf("%s\n", opts.paint(ansiBold, "Databricks group "+Sanitize(g)+groupNote(byGroup[g])))
		for _, c := range byGroup[g] {
			line(Glyph(c.Action), ChangeLabel(c), c.Reason)
		}
		t.printf("\n")
	}
	if len(creds) > 0 {
		t.printf("%s\n", opts.paint(ansiBold, "Credentials"))
		for _, c := range creds {
			line(Glyph(c.Action), ChangeLabel(c), c.Reason)
		}
		t.printf("\n")
	}
	if len(p.Findings) > 0 {
		t.printf("%s\n", opts.paint(ansiBold, "Findings"))
		for _, f := range p.Findings {
			line(FindingGlyph(f.Kind), findingLabel(f), f.Detail)
		}
		t.printf("\n")
	}
	t.printf("%s\n", opts.paint(ansiBold, SummaryLine(p)))
	return t.err
}

// findingLabel is a finding's kind and subject, sanitised for a terminal.
func findingLabel(f sync.Finding) string { return string(f.Kind) + " " + Sanitize(f.Subject) }

func groupRank(a sync.Action) int {
	return slices.Index([]sync.Action{sync.ActionCreateGroup, sync.ActionAddMember, sync.ActionRemoveMember,
		sync.ActionAddEntitlement, sync.ActionRemoveEntitlement}, a)
}

// groupNote says what kind of group it is and, for account groups, which API
// changes its members.
func groupNote(cs []sync.Change) string {
	if cs[0].GroupKind != sync.KindAccount {
		return ""
	}
	for _, c := range cs {
		if c.Action == sync.ActionAddMember || c.Action == sync.ActionRemoveMember {
			if c.Route == sync.RouteProxy {
				return " (account group, via the workspace proxy)"
			}
			return " (account group, via account SCIM)"
		}
	}
	return " (account group)"
}

// planJSON is the plan document of DESIGN.md.
type planJSON struct {
	FormatVersion string         `json:"format_version"`
	GeneratedAt   string         `json:"generated_at"`
	Summary       sync.Summary   `json:"summary"`
	Changes       []changeJSON   `json:"changes"`
	Findings      []sync.Finding `json:"findings"`
	Results       *[]sync.Result `json:"results,omitempty"`
}

// changeJSON fixes the contract: every field present, group_kind on group
// changes only.
type changeJSON struct {
	ID            string `json:"id"`
	Action        string `json:"action"`
	Group         string `json:"group"`
	GroupKind     string `json:"group_kind,omitempty"`
	Principal     string `json:"principal"`
	PrincipalType string `json:"principal_type"`
	Entitlement   string `json:"entitlement"`
	TokenID       string `json:"token_id"`
	Binding       string `json:"binding"`
	Destructive   bool   `json:"destructive"`
	Reason        string `json:"reason"`
}

// RenderPlanJSON writes p as the JSON plan document; results, when not nil,
// are the outcome of applying it.
func RenderPlanJSON(w io.Writer, p sync.Plan, results []sync.Result) error {
	doc := planJSON{
		FormatVersion: FormatVersion,
		GeneratedAt:   p.GeneratedAt.UTC().Format(time.RFC3339),
		Summary:       sync.PlanSummary(p),
		Changes:       make([]changeJSON, 0, len(p.Changes)),
		Findings:      append([]sync.Finding{}, p.Findings...),
	}
	for _, c := range p.Changes {
		j := changeJSON{
			ID: c.ID, Action: c.Action.String(), Group: c.Group, Principal: c.Principal,
			PrincipalType: string(c.PrincipalType), Entitlement: c.Entitlement, TokenID: c.TokenID,
			Binding: c.Binding, Destructive: c.Action.Destructive(), Reason: c.Reason,
		}
		if IsGroupChange(c.Action) {
			j.GroupKind = string(c.GroupKind)
			if j.GroupKind == "" {
				j.GroupKind = string(sync.KindWorkspace)
			}
		}
		doc.Changes = append(doc.Changes, j)
	}
	if results != nil {
		doc.Results = &results
	}
	return writeJSON(w, doc)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
