package sync

import "context"

// Credential-free pipelines through the service: statuses, phase 1 and
// phase 2 (see federate.go). The front ends confirm phase 2 between
// FinishEvidence and FinishFederation.

// Pipelines reads a snapshot and returns every binding's federation status.
func (s *Service) Pipelines(ctx context.Context) ([]BindingFederation, error) {
	snap, err := s.Read(ctx)
	if err != nil {
		return nil, err
	}
	return s.Federations(snap), nil
}

// Federations is every binding's federation status in snap (pure).
func (s *Service) Federations(snap *Snapshot) []BindingFederation {
	if len(s.parts) > 0 && len(snap.Workspaces) > 0 {
		return s.federationsParts(snap)
	}
	return Federations(snap, s.Config())
}

// Federate runs phase 1 for the binding called name: the federation policy
// (created unless in place, audited, under the write lock) and the step
// snippet. dryRun changes nothing and takes no lock.
func (s *Service) Federate(ctx context.Context, name string, dryRun bool) (FederationResult, error) {
	if err := s.needAccount(); err != nil {
		return FederationResult{}, err // federation policies are the account's
	}
	if len(s.parts) > 0 {
		return s.federateParts(ctx, name, dryRun)
	}
	b, err := s.Binding(name)
	if err != nil {
		return FederationResult{}, err
	}
	c, err := s.credentials(ctx)
	if err != nil {
		return FederationResult{}, err
	}
	if dryRun {
		return c.Federate(ctx, b, true)
	}
	var res FederationResult
	err = s.Writing(ctx, "federate "+name, func(ctx context.Context) (err error) {
		res, err = c.Federate(ctx, b, false)
		return err
	})
	return res, err
}

// FinishEvidence reads the evidence phase 2 needs for the binding called
// name and what it would delete and revoke; a *FederationRefusal (exit 3)
// when the evidence is missing. It changes nothing.
func (s *Service) FinishEvidence(ctx context.Context, name string) (FinishPlan, error) {
	if err := s.needAccount(); err != nil {
		return FinishPlan{}, err // federation policies are the account's
	}
	if len(s.parts) > 0 {
		return s.finishEvidenceParts(ctx, name)
	}
	b, err := s.Binding(name)
	if err != nil {
		return FinishPlan{}, err
	}
	c, err := s.credentials(ctx)
	if err != nil {
		return FinishPlan{}, err
	}
	return c.FinishEvidence(ctx, b)
}

// FinishFederation runs phase 2 exactly as plan says, each step audited,
// under the write lock. Call it only after the operator confirmed plan; a
// front end that wants the evidence read under the same lock wraps both
// calls in Writing.
func (s *Service) FinishFederation(ctx context.Context, plan FinishPlan) (FinishResult, error) {
	if err := s.needAccount(); err != nil {
		return FinishResult{}, err // federation policies are the account's
	}
	if len(s.parts) > 0 {
		return s.finishFederationParts(ctx, plan)
	}
	b, err := s.Binding(plan.Binding)
	if err != nil {
		return FinishResult{}, err
	}
	c, err := s.credentials(ctx)
	if err != nil {
		return FinishResult{}, err
	}
	var res FinishResult
	err = s.Writing(ctx, "federate "+plan.Binding+" --finish", func(ctx context.Context) (err error) {
		res, err = c.FinishFederation(ctx, b, plan)
		return err
	})
	return res, err
}
