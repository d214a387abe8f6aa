package views

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bitbricks/bitbricks/sync"
)

// FederationGlyph marks a binding's federation status: ✓ federated (no
// stored credential; the console's in-step mark), ◐ federating (policy in
// place, variable still there), ○ stored, ? unknown.
func FederationGlyph(s sync.FederationStatus) string {
	switch s {
	case sync.FederationFederated:
		return "✓"
	case sync.FederationFederating:
		return "◐"
	case sync.FederationStored:
		return "○"
	}
	return "?"
}

// CanFederate says in a word or two whether a binding can move to OIDC.
func CanFederate(bf sync.BindingFederation) string {
	switch {
	case bf.Status == sync.FederationFederated:
		return "done"
	case bf.Status == sync.FederationFederating:
		return "finish"
	case bf.CanFederate:
		return "yes"
	case bf.Status == sync.FederationUnknown:
		return "unknown"
	}
	return "no"
}

// RenderPipelinesText writes one line per binding: workspace, repository
// (and environment), variable, credential kind and age, federation status,
// and whether it could federate, then why for each binding.
func RenderPipelinesText(w io.Writer, bfs []sync.BindingFederation, now time.Time) error {
	if len(bfs) == 0 {
		_, err := fmt.Fprintln(w, "No pipeline bindings in the config.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// With several Databricks workspaces, each binding's comes after its
	// name (WORKSPACE is the Bitbucket workspace).
	several := slices.ContainsFunc(bfs, func(bf sync.BindingFederation) bool { return bf.DatabricksWorkspace != "" })
	if several {
		fmt.Fprintln(tw, "  BINDING\tDATABRICKS\tWORKSPACE\tREPOSITORY\tVARIABLE\tKIND\tAGE\tSTATUS\tFEDERATE")
	} else {
		fmt.Fprintln(tw, "  BINDING\tWORKSPACE\tREPOSITORY\tVARIABLE\tKIND\tAGE\tSTATUS\tFEDERATE")
	}
	for _, bf := range bfs {
		repo := bf.Repository
		if bf.Environment != "" {
			repo += " (" + bf.Environment + ")"
		}
		age, variable := "-", bf.Variable
		if !bf.Created.IsZero() {
			age = Age(now.Sub(bf.Created))
		}
		if bf.Status == sync.FederationFederated {
			variable = "-"
		}
		name := Sanitize(bf.Binding)
		if several {
			name += "\t" + Sanitize(bf.DatabricksWorkspace)
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", FederationGlyph(bf.Status), name, Sanitize(bf.Workspace),
			Sanitize(repo), Sanitize(variable), Sanitize(bf.Credential), age, bf.Status, CanFederate(bf))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, bf := range bfs {
		fmt.Fprintf(w, "%s: %s\n", Sanitize(bf.Binding), Sanitize(bf.Why))
		for _, bp := range bf.TooBroad {
			fmt.Fprintf(w, "  ! policy %s is too broad: %s\n", Sanitize(bp.Policy.ID), Sanitize(bp.Why))
		}
	}
	return nil
}

// RenderFederationText writes what phase 1 did or would do: the policy,
// the checks, the status and the step snippet.
func RenderFederationText(w io.Writer, r sync.FederationResult) error {
	p := r.Policy
	what := "created"
	switch {
	case r.DryRun:
		what = "dry run: not created"
	case !r.Created:
		what = "already in place"
	}
	fmt.Fprintf(w, "Federation policy %s for %s (%s)\n", Sanitize(p.ID), Sanitize(r.Binding), what)
	fmt.Fprintf(w, "  issuer         %s\n", Sanitize(p.Issuer))
	fmt.Fprintf(w, "  audiences      %s\n", Sanitize(strings.Join(p.Audiences, ", ")))
	fmt.Fprintf(w, "  subject_claim  %s\n", Sanitize(p.SubjectClaim))
	fmt.Fprintf(w, "  subject        %s\n", Sanitize(p.Subject))
	for _, c := range r.Checks {
		fmt.Fprintf(w, "  ✓ %s\n", Sanitize(c))
	}
	for _, bp := range r.Broad {
		fmt.Fprintf(w, "  ! policy %s is too broad: %s\n", Sanitize(bp.Policy.ID), Sanitize(bp.Why))
	}
	status := r.Status
	if r.DryRun {
		status = r.State.Status
	}
	fmt.Fprintf(w, "Status: %s\n\n", status)
	fmt.Fprintf(w, "Add `oidc: true` and these variables to the step in bitbucket-pipelines.yml (no token needed):\n\n%s\n", r.Snippet)
	if status != sync.FederationFederated {
		fmt.Fprintf(w, "After a successful run with it on the main branch: bitbricks federate %s --finish\n", Sanitize(r.Binding))
	}
	return nil
}

// RenderFinishPlanText writes what phase 2 will do, and the evidence for it.
func RenderFinishPlanText(w io.Writer, p sync.FinishPlan, now time.Time) error {
	fmt.Fprintf(w, "Evidence that %s authenticates by OIDC:\n", Sanitize(p.Binding))
	if p.Policy.ID != "" {
		fmt.Fprintf(w, "  ✓ federation policy %s (created %s)\n", Sanitize(p.Policy.ID), When(p.Policy.Created, now, "-"))
	}
	if p.Run != nil {
		fmt.Fprintf(w, "  ✓ pipeline run #%d on %s succeeded %s\n", p.Run.BuildNumber, Sanitize(p.Run.Branch), When(p.Run.Created, now, "-"))
	}
	if p.OIDC {
		fmt.Fprintf(w, "  ✓ bitbucket-pipelines.yml on %s sets oidc: true\n", Sanitize(p.Branch))
	}
	for _, m := range p.Missing {
		fmt.Fprintf(w, "  ✗ %s\n", Sanitize(m))
	}
	if len(p.Missing) > 0 {
		return nil
	}
	if len(p.Delete) == 0 && len(p.Revoke) == 0 {
		_, err := fmt.Fprintln(w, "Nothing is stored any more: the binding is federated.")
		return err
	}
	for _, v := range p.Delete {
		fmt.Fprintf(w, "- delete variable %s\n", Sanitize(v))
	}
	for _, c := range p.Revoke {
		fmt.Fprintf(w, "- revoke %s %s of %s (created %s)\n", KindName(c.Kind), Sanitize(c.ID), Sanitize(c.Owner), When(c.Created, now, "-"))
	}
	return nil
}
