package sync

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/bitbricks/bitbricks/config"
)

// A federation policy belongs to a service principal of the account, and
// names no workspace: its issuer, audiences and subject say which OIDC
// tokens it trusts, not where they are exchanged. A pipeline federated for
// a dev binding can therefore exchange its token at every workspace the
// service principal is assigned to, prod included, where the stored
// credential it replaces (a dev token) worked in dev only. bitbricks says
// so: a federation_too_broad finding in the plan for such a binding that
// could federate, and `federate` refuses it without --force (or asks on a
// terminal).

// FederationReachError refuses phase 1 for a binding whose service
// principal is also assigned to other workspaces: nothing was created
// (exit code 3).
type FederationReachError struct {
	Binding, ServicePrincipal, Workspace string
	Others                               []string
}

func (e *FederationReachError) Error() string {
	return "refused without --force: " + federationReach(e.Binding, e.ServicePrincipal, e.Workspace, e.Others) + "; nothing was created"
}

// federationReach says what federating binding of workspace ws widens.
func federationReach(binding, sp, ws string, others []string) string {
	return fmt.Sprintf("a federation policy for %s is %s's, and %s is also assigned to workspace(s) %s: a pipeline of %s could exchange its OIDC token there too (a policy cannot name a workspace), where the stored credential worked in %s only; use a service principal of %s's own, or federate with --force",
		binding, sp, sp, strings.Join(others, ", "), binding, ws, ws)
}

// FederationReach names the workspaces of the config, other than binding
// name's, where its service principal is assigned too (nil with one
// workspace). A workspace that cannot be asked is named as such: it may be.
func (s *Service) FederationReach(ctx context.Context, name string) ([]string, error) {
	if len(s.parts) == 0 {
		return nil, nil
	}
	b, err := s.Binding(name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range s.parts {
		if p.name == b.Workspace {
			continue
		}
		c, err := p.svc.credentials(ctx)
		var found *ServicePrincipal
		if err == nil {
			found, err = c.findServicePrincipal(ctx, b.ServicePrincipal)
		}
		switch {
		case err != nil:
			out = append(out, p.name+" (could not be asked, so it may be)")
		case found != nil:
			out = append(out, p.name)
		}
	}
	return out, nil
}

// CheckFederationReach is a *FederationReachError when binding name's
// service principal is assigned to other workspaces too, else nil.
func (s *Service) CheckFederationReach(ctx context.Context, name string) ([]string, error) {
	others, err := s.FederationReach(ctx, name)
	if err != nil || len(others) == 0 {
		return others, err
	}
	b, _ := s.Binding(name)
	return others, &FederationReachError{Binding: name, ServicePrincipal: b.ServicePrincipal, Workspace: b.Workspace, Others: others}
}

// federationReachFindings adds to plan, for each binding that could
// federate, a federation_too_broad finding when its service principal is
// assigned to other workspaces of snap too.
func (s *Service) federationReachFindings(snap *Snapshot, plan *Plan) {
	for _, f := range slices.Clone(plan.Findings) {
		if f.Kind != FindingCouldFederate {
			continue
		}
		i := slices.IndexFunc(s.Config().Pipelines, func(b config.Binding) bool { return b.Name == f.Subject })
		if i < 0 {
			continue
		}
		b := s.Config().Pipelines[i]
		var others []string
		for _, ws := range snap.Workspaces {
			if ws.Name == b.Workspace || ws.Snap == nil {
				continue
			}
			for _, sp := range ws.Snap.SPs {
				if sp.Named(b.ServicePrincipal) {
					others = append(others, ws.Name)
					break
				}
			}
		}
		if len(others) > 0 {
			plan.Findings = append(plan.Findings, Finding{Kind: FindingFederationTooBroad, Subject: "binding " + b.Name, Workspace: b.Workspace,
				Detail: federationReach(b.Name, b.ServicePrincipal, b.Workspace, others)})
		}
	}
}
