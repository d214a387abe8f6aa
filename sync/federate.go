package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/config"
)

// Moving a binding to Pipelines OIDC, in two phases (DESIGN.md):
// Federate (phase 1) creates the federation policy and hands back the step
// snippet; FinishEvidence and FinishFederation (phase 2) delete the stored
// variable and revoke its credentials, only once a pipeline run since phase 1
// succeeded and bitbucket-pipelines.yml turns OIDC on. At every point of
// phase 2 the policy is in place, so the pipeline keeps a way to authenticate.

// FederationResult is what phase 1 did (or, in a dry run, would do).
type FederationResult struct {
	Binding string            `json:"binding"`
	Status  FederationStatus  `json:"status"`
	Policy  FederationPolicy  `json:"policy"`
	Created bool              `json:"created"` // false: already in place, or a dry run
	DryRun  bool              `json:"dry_run"`
	Checks  []string          `json:"checks"` // what was checked before trusting the issuer
	Snippet string            `json:"snippet"`
	Broad   []BroadPolicy     `json:"too_broad"`
	State   BindingFederation `json:"-"`
}

// FederationRefusal is phase 2 refused for want of evidence; nothing changed.
type FederationRefusal struct {
	Binding string
	Missing []string
}

func (e *FederationRefusal) Error() string {
	return fmt.Sprintf("refused: %s is not moved off its stored credential yet: %s; nothing was changed",
		e.Binding, strings.Join(e.Missing, "; "))
}

// FederatedError refuses to rotate a federated binding: its pipeline
// authenticates by OIDC and stores nothing, and a rotation would store a
// credential again. Nothing changed.
type FederatedError struct{ Binding string }

func (e *FederatedError) Error() string {
	return fmt.Sprintf("rotate %s: the binding is federated (its pipeline authenticates by OIDC and stores no credential), so there is nothing to rotate; nothing was changed", e.Binding)
}

// FinishStep is one step of phase 2.
type FinishStep int

const (
	FinishCheckPolicy    FinishStep = iota + 1 // the policy still trusts the pipeline
	FinishDeleteVariable                       // delete the secured variable
	FinishRevoke                               // revoke the stored credentials
	FinishDeleteID                             // delete <VARIABLE>_ID
)

var finishNames = [...]string{"read the binding", "check the federation policy", "delete the secured variable",
	"revoke the stored credentials", "delete the recorded credential id"}

func (s FinishStep) String() string {
	if s >= 0 && int(s) < len(finishNames) {
		return finishNames[s]
	}
	return fmt.Sprintf("step %d", int(s))
}

// FinishPlan is what phase 2 will do for one binding, and the evidence for it.
type FinishPlan struct {
	Binding  string           `json:"binding"`
	Policy   FederationPolicy `json:"policy"`
	Run      *PipelineRun     `json:"run,omitempty"`   // the successful run since phase 1
	Branch   string           `json:"branch"`          // the main branch read for bitbucket-pipelines.yml
	OIDC     bool             `json:"oidc_configured"` // bitbucket-pipelines.yml sets oidc: true
	Delete   []string         `json:"delete"`          // variables to delete, in order
	Revoke   []Credential     `json:"revoke"`          // credentials to revoke
	Missing  []string         `json:"missing"`         // evidence not found; non-empty: refused
	Federate bool             `json:"-"`
}

// FinishResult is what phase 2 did.
type FinishResult struct {
	Binding string     `json:"binding"`
	Done    FinishStep `json:"-"`
	Deleted []string   `json:"deleted"`
	Revoked []string   `json:"revoked"`
}

// FederationError is a phase 2 stopped at Step; State says what it left,
// which in every case includes a way for the pipeline to authenticate.
type FederationError struct {
	Binding string
	Step    FinishStep
	State   string
	Err     error
}

func (e *FederationError) Error() string {
	return fmt.Sprintf("federate %s --finish: %s: %s; %s", e.Binding, e.Step, oneLine(e.Err), e.State)
}

func (e *FederationError) Unwrap() error { return e.Err }

// federationState reads one binding as a snapshot would, for the pure
// federation function: the service principal, variables, UUIDs, policies.
type federationState struct {
	snap *Snapshot
	sp   *ServicePrincipal
	vs   *pipelineVars
	bf   BindingFederation
}

func (c *Credentials) readFederation(ctx context.Context, b config.Binding) (*federationState, error) {
	if c.Bitbucket == nil {
		return nil, fmt.Errorf("federate %s: no Bitbucket client", b.Name)
	}
	cfg := c.Config
	fs := &federationState{snap: &Snapshot{Workspace: cfg.Bitbucket.Workspace, Host: c.Databricks.Host(),
		Bindings: map[string]*BindingState{}, SPs: map[string]*ServicePrincipal{}}}
	f := &fs.snap.Federation
	f.AccountID, f.Issuer = cfg.Databricks.AccountID, c.Bitbucket.Issuer()
	var err error
	if f.WorkspaceUUID, err = c.Bitbucket.WorkspaceUUID(ctx); err != nil {
		f.Problem = oneLine(err)
	}
	st := &BindingState{Name: b.Name}
	fs.snap.Bindings[b.Name] = st
	if fs.sp, err = c.servicePrincipal(ctx, b.ServicePrincipal); err != nil {
		return nil, fmt.Errorf("federate %s: %w", b.Name, err)
	}
	st.SPID = fs.sp.ID
	fs.snap.SPs[fs.sp.ID] = fs.sp
	if fs.vs, err = c.bindingVars(ctx, b); err != nil {
		return nil, fmt.Errorf("federate %s: read its variables: %w", b.Name, err)
	}
	st.Known = true
	_, st.VariableFound = fs.vs.byKey[b.Variable]
	st.RecordedID = strings.TrimSpace(fs.vs.byKey[b.Variable+"_ID"].Value)
	if st.RepositoryUUID, _, err = c.Bitbucket.Repository(ctx, b.Repository); err == nil && b.Environment != "" {
		st.EnvironmentUUID, err = c.Bitbucket.EnvironmentUUID(ctx, b.Repository, b.Environment)
	}
	if err != nil {
		st.FederationProblem = oneLine(err)
	}
	if f.AccountID != "" {
		ps, err := c.Databricks.FederationPolicies(ctx, fs.sp.ID)
		if err != nil {
			return nil, fmt.Errorf("federate %s: %w", b.Name, err)
		}
		st.Policies, st.PoliciesKnown = ps, true
		if ps, err := c.Databricks.AccountFederationPolicies(ctx); err == nil {
			f.AccountPolicies, f.AccountPoliciesKnown = ps, true
		}
	}
	fs.bf = federation(fs.snap, b)
	return fs, nil
}

// Federate runs phase 1 for binding b: it checks the issuer as Databricks
// will read it, creates the federation policy that trusts exactly the
// binding's repository (or environment) unless it is in place, and returns
// the step snippet. dryRun changes nothing. Audited.
func (c *Credentials) Federate(ctx context.Context, b config.Binding, dryRun bool) (FederationResult, error) {
	res := FederationResult{Binding: b.Name, DryRun: dryRun}
	fs, err := c.readFederation(ctx, b)
	if err != nil {
		return res, err
	}
	bf := fs.bf
	res.State, res.Status, res.Broad = bf, bf.Status, bf.TooBroad
	if bf.Policy == nil {
		return res, fmt.Errorf("federate %s: cannot build its federation policy: %s", b.Name, bf.Why)
	}
	res.Policy = *bf.Policy
	res.Snippet = Snippet(bf, c.Databricks.Host(), fs.sp.ApplicationID)
	if err := issuerCheck(ctx, c.Bitbucket.http, res.Policy.Issuer, res.Policy.SubjectClaim); err != nil {
		return res, fmt.Errorf("federate %s: the Pipelines OIDC issuer %s fails the check Databricks makes: %w", b.Name, res.Policy.Issuer, err)
	}
	res.Checks = append(res.Checks,
		"issuer "+res.Policy.Issuer+": discovery document and RS256 keys reachable, claim "+res.Policy.SubjectClaim+" supported",
		fmt.Sprintf("subject %s is the %s read from Bitbucket", res.Policy.Subject, map[string]string{
			ClaimRepository: "UUID of repository " + b.Repository, ClaimEnvironment: "UUID of environment " + b.Environment + " of " + b.Repository}[res.Policy.SubjectClaim]),
		"audience "+res.Policy.Audiences[0]+" is the workspace's default for step tokens")
	if dryRun || bf.InPlace {
		return res, nil
	}
	j := c.journal()
	target := fmt.Sprintf("binding:%s service_principal:%s policy:%s %s:%s", b.Name, fs.sp.DisplayName, res.Policy.ID, res.Policy.SubjectClaim, res.Policy.Subject)
	if err := j.intent(ctx, "create_federation_policy", target); err != nil {
		return res, err // no audit, no action
	}
	p, err := c.Databricks.createFederationPolicy(ctx, fs.sp.ID, res.Policy.ID, res.Policy)
	j.record("create_federation_policy", target, err)
	if err != nil {
		return res, j.done(err)
	}
	res.Policy, res.Created = p, true
	if fs.snap.Bindings[b.Name].VariableFound {
		res.Status = FederationFederating
	} else {
		res.Status = FederationFederated
	}
	c.log().Info("federation policy created", "binding", b.Name, "policy", p.ID)
	return res, j.done(nil)
}

// pipelineFile is where Bitbucket Pipelines reads its configuration.
const pipelineFile = "bitbucket-pipelines.yml"

// recentRuns is how many of the newest runs phase 2 looks through.
const recentRuns = 30

// FinishEvidence reads what phase 2 for b needs and would do. It returns a
// *FederationRefusal (and the plan, with Missing) when the evidence is not
// there: the policy in place, a successful run since it was created, and
// `oidc: true` in bitbucket-pipelines.yml on the main branch.
func (c *Credentials) FinishEvidence(ctx context.Context, b config.Binding) (FinishPlan, error) {
	plan := FinishPlan{Binding: b.Name, Delete: []string{}, Revoke: []Credential{}, Missing: []string{}}
	fs, err := c.readFederation(ctx, b)
	if err != nil {
		return plan, err
	}
	if !fs.bf.InPlace {
		plan.Missing = append(plan.Missing, fmt.Sprintf("no federation policy trusts its pipeline yet (run `bitbricks federate %s` first)", b.Name))
		return plan, &FederationRefusal{Binding: b.Name, Missing: plan.Missing}
	}
	plan.Policy = *fs.bf.Policy
	runs, err := c.Bitbucket.PipelineRuns(ctx, b.Repository, recentRuns)
	if err != nil {
		return plan, err
	}
	for _, r := range runs {
		if r.State == "COMPLETED" && r.Result == "SUCCESSFUL" && r.Created.After(plan.Policy.Created) {
			plan.Run = &r
			break
		}
	}
	if plan.Run == nil {
		plan.Missing = append(plan.Missing, fmt.Sprintf("no successful pipeline run of %s since the policy was created (%s)",
			b.Repository, plan.Policy.Created.UTC().Format(time.RFC3339)))
	}
	_, plan.Branch, err = c.Bitbucket.Repository(ctx, b.Repository)
	if err != nil {
		return plan, err
	}
	src, found, err := c.Bitbucket.File(ctx, b.Repository, plan.Branch, pipelineFile)
	if err != nil {
		return plan, err
	}
	plan.OIDC = found && oidcYAML(src)
	switch {
	case !found:
		plan.Missing = append(plan.Missing, fmt.Sprintf("%s has no %s on %s", b.Repository, pipelineFile, plan.Branch))
	case !plan.OIDC:
		plan.Missing = append(plan.Missing, fmt.Sprintf("%s on %s of %s does not set oidc: true", pipelineFile, plan.Branch, b.Repository))
	}
	if len(plan.Missing) > 0 {
		return plan, &FederationRefusal{Binding: b.Name, Missing: plan.Missing}
	}
	for _, key := range []string{b.Variable, b.Variable + "_ID"} {
		if _, ok := fs.vs.byKey[key]; ok {
			plan.Delete = append(plan.Delete, key)
		}
	}
	plan.Revoke, err = c.storedCredentials(ctx, b, fs)
	if err != nil {
		return plan, err
	}
	plan.Federate = true
	return plan, nil
}

// storedCredentials are the credentials the binding's rotations made: its
// marked on-behalf-of tokens and the recorded one, or the OAuth secrets a
// rotation of it would revoke.
func (c *Credentials) storedCredentials(ctx context.Context, b config.Binding, fs *federationState) ([]Credential, error) {
	recorded := fs.snap.Bindings[b.Name].RecordedID
	if b.Credential == config.CredentialOAuthSecret {
		ss, err := c.secretsOf(ctx, fs.sp)
		if err != nil {
			return nil, err
		}
		r := &rotation{c: c, b: b, sp: fs.sp, vs: fs.vs}
		sh, err := r.sharing(ctx, ss)
		if err != nil {
			return nil, err
		}
		return byAge(r.ownSecrets(ss, sh)), nil
	}
	ts, err := c.tokensOf(ctx, fs.sp.ID, fs.sp.DisplayName, PrincipalServicePrincipal)
	if err != nil {
		return nil, err
	}
	var out []Credential
	for _, t := range ts {
		if t.ID == recorded || strings.HasPrefix(t.Comment, bindingMarker(b.Name)) {
			out = append(out, t)
		}
	}
	return byAge(out), nil
}

// FinishFederation runs phase 2 for b exactly as plan (from FinishEvidence)
// says: check the policy is still in place, delete the secured variable,
// revoke the stored credentials, delete <VARIABLE>_ID (last: until then it
// names what is left to revoke, so a second --finish completes the job).
// Each step is audited. The caller has confirmed.
func (c *Credentials) FinishFederation(ctx context.Context, b config.Binding, plan FinishPlan) (FinishResult, error) {
	res := FinishResult{Binding: b.Name, Deleted: []string{}, Revoked: []string{}}
	if !plan.Federate || plan.Binding != b.Name {
		return res, fmt.Errorf("federate %s --finish: no evidence read for it; nothing was changed", b.Name)
	}
	j := c.journal()
	if err := j.intent(ctx, "federate_finish", "binding:"+b.Name+" policy:"+plan.Policy.ID); err != nil {
		return res, err // no audit, no action
	}
	var vs *pipelineVars
	steps := []func(context.Context) error{
		FinishCheckPolicy: func(ctx context.Context) error {
			sp, err := c.servicePrincipal(ctx, b.ServicePrincipal)
			if err != nil {
				return err
			}
			ps, err := c.Databricks.FederationPolicies(ctx, sp.ID)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(ps, func(p FederationPolicy) bool { return trusts(p, plan.Policy) }) {
				return fmt.Errorf("federation policy %s no longer trusts the pipeline", plan.Policy.ID)
			}
			vs, err = c.bindingVars(ctx, b)
			return err
		},
		FinishDeleteVariable: func(ctx context.Context) error {
			if !slices.Contains(plan.Delete, b.Variable) {
				return nil
			}
			if err := vs.delete(ctx, b.Variable); err != nil {
				return err
			}
			res.Deleted = append(res.Deleted, b.Variable)
			return nil
		},
		FinishRevoke: func(ctx context.Context) error {
			var errs []error
			for _, cr := range plan.Revoke {
				if err := c.revoke(ctx, j, cr); err != nil {
					errs = append(errs, err)
					continue
				}
				res.Revoked = append(res.Revoked, cr.ID)
			}
			return errors.Join(errs...)
		},
		FinishDeleteID: func(ctx context.Context) error {
			if !slices.Contains(plan.Delete, b.Variable+"_ID") {
				return nil
			}
			if err := vs.delete(ctx, b.Variable+"_ID"); err != nil {
				return err
			}
			res.Deleted = append(res.Deleted, b.Variable+"_ID")
			return nil
		},
	}
	actions := [...]string{FinishCheckPolicy: "check_federation_policy", FinishDeleteVariable: "delete_variable", FinishDeleteID: "delete_variable"}
	variable := strings.TrimSuffix(b.Repository+"/"+b.Environment, "/") + "/" + b.Variable
	targets := [...]string{FinishCheckPolicy: "binding:" + b.Name + " policy:" + plan.Policy.ID,
		FinishDeleteVariable: "binding:" + b.Name + " variable:" + variable, FinishDeleteID: "binding:" + b.Name + " variable:" + variable + "_ID"}
	for step := FinishCheckPolicy; step <= FinishDeleteID; step++ {
		if c.beforeFinish != nil {
			c.beforeFinish(ctx, step)
		}
		err := ctx.Err()
		if err == nil && (step == FinishDeleteVariable || step == FinishDeleteID) {
			err = j.intent(ctx, actions[step], targets[step]) // no audit, no action
		}
		if err == nil {
			err = steps[step](ctx)
		}
		if step != FinishRevoke {
			j.record(actions[step], targets[step], err)
		}
		if err != nil {
			e := &FederationError{Binding: b.Name, Step: step, Err: err, State: finishState(b, plan, step)}
			j.record("federate_finish", "binding:"+b.Name, e)
			c.log().Warn("federation finish stopped", "binding", b.Name, "step", step.String(), "err", oneLine(err))
			return res, j.done(e)
		}
		res.Done = step
	}
	j.record("federate_finish", "binding:"+b.Name+" policy:"+plan.Policy.ID, nil)
	c.log().Info("binding federated", "binding", b.Name, "revoked", res.Revoked)
	return res, j.done(nil)
}

// finishState says what a phase 2 stopped at step left: the policy is in
// place in every case (phase 2 never touches it), so the pipeline
// authenticates by OIDC; before the variable goes, by its stored credential too.
func finishState(b config.Binding, plan FinishPlan, step FinishStep) string {
	again := fmt.Sprintf("run `bitbricks federate %s --finish` again to complete it", b.Name)
	switch step {
	case FinishCheckPolicy:
		return fmt.Sprintf("nothing was deleted or revoked: the pipeline still authenticates with the stored credential in %s, and by OIDC once policy %s is in place; %s", b.Variable, plan.Policy.ID, again)
	case FinishDeleteVariable:
		return fmt.Sprintf("%s may still hold the stored credential, which still works, and policy %s lets the pipeline authenticate by OIDC; %s", b.Variable, plan.Policy.ID, again)
	case FinishRevoke:
		return fmt.Sprintf("%s is deleted and policy %s lets the pipeline authenticate by OIDC; some stored credentials are not revoked yet and %s_ID still names the recorded one; %s", b.Variable, plan.Policy.ID, b.Variable, again)
	default:
		return fmt.Sprintf("the stored credentials are revoked and policy %s lets the pipeline authenticate by OIDC; %s_ID is left; %s", plan.Policy.ID, b.Variable, again)
	}
}
