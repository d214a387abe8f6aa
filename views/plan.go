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

// FindingGlyph is a finding's glyph in the text plan and the console: ? for
// an identity that could not be matched (unresolved, missing, not assigned
// to the workspace), ! for every other finding.
func FindingGlyph(k sync.FindingKind) string {
	switch k {
	case sync.FindingUnresolvedIdentity, sync.FindingMissingUser, sync.FindingNotAssigned:
		return "?"
	}
	return "!"
}

func glyphStyle(g string) string {
	return map[string]string{"+": ansiGreen, "-": ansiRed, "↻": ansiYellow, "*": ansiCyan, "!": ansiYellow, "?": ansiMagenta, "●": ansiDim, "⚑": ansiDim}[g]
}

// ChangeLabel is the short text of a change: the member, entitlement,
// binding or token it is about, sanitised for a terminal.
func ChangeLabel(c sync.Change) string { return Sanitize(c.Describe()) }

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
	if len(p.Changes) == 0 && len(p.Problems) > 0 {
		return fmt.Sprintf("No changes in what could be read; %s (below), so Databricks may not be in step.", plural(len(p.Problems), "source problem", "source problems"))
	}
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
	for _, ms := range p.Members {
		if Held(ms) {
			width = max(width, len([]rune(MemberLabel(ms))))
		}
	}
	width = min(width, maxLabel)
	line := func(glyph, label, reason string) {
		style := glyphStyle(glyph)
		t.printf("  %s %s%s  %s\n", opts.paint(style, glyph), opts.paint(style, label), pad("", width-len([]rune(label))), Sanitize(reason))
	}

	// The run's workspaces in config order, then any other the plan names.
	names := slices.Clone(opts.Workspaces)
	for _, ws := range planWorkspaces(p) {
		if !slices.Contains(names, ws) {
			names = append(names, ws)
		}
	}
	if len(names) > 1 || len(opts.Workspaces) > 0 && len(names) > 0 {
		// Several workspaces: a section for each.
		for _, ws := range names {
			t.printf("%s\n\n", opts.paint(ansiBold, "== Workspace "+Sanitize(ws)+" =="))
			renderPlanBody(t, workspacePlan(p, ws), opts, line)
		}
	} else {
		renderPlanBody(t, p, opts, line)
	}
	t.printf("%s\n", opts.paint(ansiBold, SummaryLine(p)))
	if t.err == nil {
		t.err = RenderProblemsText(w, p.Problems, opts)
	}
	return t.err
}

// RenderProblemsText writes the problems block that ends the text output of
// a run whose sources were not all read: one line per problem, naming the
// system, what failed and the HTTP status. Nothing without problems.
func RenderProblemsText(w io.Writer, ps []sync.Problem, opts TextOptions) error {
	if len(ps) == 0 {
		return nil
	}
	t := &textWriter{w: w}
	t.printf("\n%s\n", opts.paint(ansiBold+ansiRed, "Problems: the output above covers only what could be read"))
	for _, p := range ps {
		t.printf("  %s %s\n", opts.paint(ansiRed, "✗"), Sanitize(p.String()))
	}
	return t.err
}

// findingLabel is a finding's kind and subject, sanitised for a terminal.
func findingLabel(f sync.Finding) string { return string(f.Kind) + " " + Sanitize(f.Subject) }

// groupNote says what kind of group it is and, for account groups, which API
// changes its members.
func groupNote(cs []sync.Change) string {
	if len(cs) == 0 || cs[0].GroupKind != sync.KindAccount {
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
	Changes       []sync.Change  `json:"changes"`
	Findings      []sync.Finding `json:"findings"`
	Problems      []sync.Problem `json:"problems"`
	Results       *[]sync.Result `json:"results,omitempty"`
	// SnapshotDigest is set in a saved plan (`sync --out`).
	SnapshotDigest string `json:"snapshot_digest,omitempty"`
}

// RenderPlanJSON writes p as the JSON plan document; results, when not nil,
// are the outcome of applying it.
func RenderPlanJSON(w io.Writer, p sync.Plan, results []sync.Result) error {
	doc := planJSON{
		FormatVersion: FormatVersion,
		GeneratedAt:   p.GeneratedAt.UTC().Format(time.RFC3339),
		Summary:       sync.PlanSummary(p),
		Changes:       append([]sync.Change{}, p.Changes...),
		Findings:      append([]sync.Finding{}, p.Findings...),
		Problems:      append([]sync.Problem{}, p.Problems...),
	}
	if results != nil {
		doc.Results = &results
	}
	return writeJSON(w, doc)
}

// RenderSavedPlanJSON writes p as a saved plan (`sync --out`): the JSON plan
// document with the digest of the snapshot it was computed from, which
// sync.ParseSavedPlan reads back.
func RenderSavedPlanJSON(w io.Writer, p sync.Plan, snapshotDigest string) error {
	doc := planJSON{
		FormatVersion:  FormatVersion,
		GeneratedAt:    p.GeneratedAt.UTC().Format(time.RFC3339),
		Summary:        sync.PlanSummary(p),
		Changes:        append([]sync.Change{}, p.Changes...),
		Findings:       append([]sync.Finding{}, p.Findings...),
		Problems:       append([]sync.Problem{}, p.Problems...),
		SnapshotDigest: snapshotDigest,
	}
	return writeJSON(w, doc)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// planWorkspaces names the workspaces of p's changes, findings and
// members, in order of first appearance.
func planWorkspaces(p sync.Plan) []string {
	var out []string
	add := func(ws string) {
		if ws != "" && !slices.Contains(out, ws) {
			out = append(out, ws)
		}
	}
	for _, c := range p.Changes {
		add(c.Workspace)
	}
	for _, f := range p.Findings {
		add(f.Workspace)
	}
	for _, ms := range p.Members {
		add(ms.Workspace)
	}
	return out
}

// workspacePlan is the part of p in workspace ws.
func workspacePlan(p sync.Plan, ws string) sync.Plan {
	out := sync.Plan{GeneratedAt: p.GeneratedAt}
	for _, c := range p.Changes {
		if c.Workspace == ws {
			out.Changes = append(out.Changes, c)
		}
	}
	for _, f := range p.Findings {
		if f.Workspace == ws {
			out.Findings = append(out.Findings, f)
		}
	}
	for _, ms := range p.Members {
		if ms.Workspace == ws {
			out.Members = append(out.Members, ms)
		}
	}
	return out
}

// renderPlanBody writes p's group, credential and finding sections.
func renderPlanBody(t *textWriter, p sync.Plan, opts TextOptions, line func(glyph, label, reason string)) {
	var groups []string
	byGroup := map[string][]sync.Change{}
	var creds []sync.Change
	for _, c := range p.Changes {
		if !c.Action.GroupChange() {
			creds = append(creds, c)
			continue
		}
		if byGroup[c.Group] == nil {
			groups = append(groups, c.Group)
		}
		byGroup[c.Group] = append(byGroup[c.Group], c)
	}
	// The members the plan leaves or cannot add, with the planner's reason.
	held := map[string][]sync.MemberStatus{}
	for _, ms := range p.Members {
		if !Held(ms) {
			continue
		}
		if byGroup[ms.Group] == nil && held[ms.Group] == nil {
			groups = append(groups, ms.Group)
		}
		held[ms.Group] = append(held[ms.Group], ms)
	}
	slices.Sort(groups)
	for _, g := range groups {
		// Members before entitlements reads better than the plan's global order.
		slices.SortStableFunc(byGroup[g], func(a, b sync.Change) int { return a.Action.Info().GroupOrder - b.Action.Info().GroupOrder })
		t.printf("%s\n", opts.paint(ansiBold, "Databricks group "+Sanitize(g)+groupNote(byGroup[g])))
		for _, c := range byGroup[g] {
			line(c.Action.Glyph(), ChangeLabel(c), c.Reason)
		}
		for _, ms := range held[g] {
			line(MemberGlyph(ms), MemberLabel(ms), MemberNote(ms))
		}
		t.printf("\n")
	}
	if len(creds) > 0 {
		t.printf("%s\n", opts.paint(ansiBold, "Credentials"))
		for _, c := range creds {
			line(c.Action.Glyph(), ChangeLabel(c), c.Reason)
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
}
