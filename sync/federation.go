package sync

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/config"
)

// Credential-free pipelines (DESIGN.md, "Credential-free pipelines"): a
// binding whose pipeline holds a stored Databricks credential moves to a
// service principal federation policy that trusts the Bitbucket Pipelines
// OIDC token of exactly its repository (or deployment environment). This file
// holds the pure part: what each binding's status is, whether it can move,
// the policy it needs, which policies trust too much, and the step snippet.

// FederationFacts are the workspace-wide facts federation needs.
type FederationFacts struct {
	// Issuer is the Bitbucket workspace's Pipelines OIDC issuer; empty when
	// the Bitbucket source does not tell it.
	Issuer string
	// WorkspaceUUID is the Bitbucket workspace's {UUID}; empty when unread.
	WorkspaceUUID string
	// AccountID is databricks.account_id; empty: no policy can be made.
	AccountID string
	// AccountPolicies are the account-wide federation policies, when read.
	AccountPolicies      []FederationPolicy
	AccountPoliciesKnown bool
	// Problem says what could not be read, for messages.
	Problem string
}

// FederationStatus is where a binding stands on the way to Pipelines OIDC.
type FederationStatus string

const (
	// FederationStored: a secured variable holds a credential, no policy trusts the pipeline.
	FederationStored FederationStatus = "stored"
	// FederationFederating: the policy is in place, the variable still there (after phase 1).
	FederationFederating FederationStatus = "federating"
	// FederationFederated: the policy is in place and no credential is stored (after phase 2).
	FederationFederated FederationStatus = "federated"
	// FederationUnknown: the policies or variables could not be read.
	FederationUnknown FederationStatus = "unknown"
)

// Audience is the default audience of a Bitbucket workspace's step tokens.
func Audience(workspaceUUID string) string {
	return "ari:cloud:bitbucket::workspace/" + strings.Trim(workspaceUUID, "{}")
}

// Subject claims of a Bitbucket step token that name one repository, or
// one deployment environment of one repository.
const (
	ClaimRepository  = "repositoryUuid"
	ClaimEnvironment = "deploymentEnvironmentUuid"
)

// BindingFederation is one binding's federation status and what moving it
// takes. It holds no credential value.
type BindingFederation struct {
	Binding   string `json:"binding"`
	Workspace string `json:"workspace"` // Bitbucket workspace
	// DatabricksWorkspace is the binding's Databricks workspace, with several.
	DatabricksWorkspace string           `json:"databricks_workspace,omitempty"`
	Repository          string           `json:"repository"`
	Environment         string           `json:"environment"`
	Variable            string           `json:"variable"`
	ServicePrincipal    string           `json:"service_principal"`
	Credential          string           `json:"credential"`    // pat or oauth-secret, as configured
	CredentialID        string           `json:"credential_id"` // recorded in <VARIABLE>_ID; "" when none
	Created             time.Time        `json:"credential_created,omitzero"`
	Status              FederationStatus `json:"status"`
	// CanFederate says whether phase 1 can run; Why says why not (or, when
	// it can, what the status means).
	CanFederate bool   `json:"can_federate"`
	Why         string `json:"why"`
	// Policy is the policy phase 1 creates, or the one in place.
	Policy *FederationPolicy `json:"policy,omitempty"`
	// InPlace is true when Policy exists in Databricks.
	InPlace bool `json:"policy_in_place"`
	// TooBroad are policies of the service principal (or account-wide) that
	// trust more than one repository.
	TooBroad []BroadPolicy `json:"too_broad"`
}

// BroadPolicy is a federation policy wider than one repository, and why.
type BroadPolicy struct {
	Policy FederationPolicy `json:"policy"`
	Why    string           `json:"why"`
}

// wantedPolicy is the policy that trusts exactly binding b's pipeline, or
// why it cannot be made from what snap read.
func wantedPolicy(snap *Snapshot, b config.Binding, st *BindingState) (FederationPolicy, string) {
	f := snap.Federation
	var missing []string
	if f.AccountID == "" {
		missing = append(missing, "databricks.account_id is not configured (federation policies are account objects)")
	}
	if st == nil || st.SPID == "" {
		missing = append(missing, fmt.Sprintf("service principal %s not found in Databricks", b.ServicePrincipal))
	}
	if f.Issuer == "" || f.WorkspaceUUID == "" {
		missing = append(missing, "the Bitbucket workspace's UUID could not be read"+problemSuffix(f.Problem))
	}
	if st != nil && st.RepositoryUUID == "" {
		missing = append(missing, fmt.Sprintf("the UUID of repository %s could not be read%s", b.Repository, problemSuffix(st.FederationProblem)))
	}
	if st != nil && b.Environment != "" && st.RepositoryUUID != "" && st.EnvironmentUUID == "" {
		missing = append(missing, fmt.Sprintf("the UUID of environment %s of %s could not be read%s", b.Environment, b.Repository, problemSuffix(st.FederationProblem)))
	}
	if len(missing) > 0 {
		return FederationPolicy{}, strings.Join(missing, "; ")
	}
	p := FederationPolicy{
		ID:          PolicyID(b.Name),
		SPID:        st.SPID,
		Description: fmt.Sprintf("bitbricks: Bitbucket Pipelines of %s/%s for binding %s", snap.Workspace, b.Repository, b.Name),
		Issuer:      f.Issuer, Audiences: []string{Audience(f.WorkspaceUUID)},
		SubjectClaim: ClaimRepository, Subject: st.RepositoryUUID,
	}
	if b.Environment != "" {
		p.Description = fmt.Sprintf("bitbricks: Bitbucket Pipelines of %s/%s, environment %s, for binding %s", snap.Workspace, b.Repository, b.Environment, b.Name)
		p.SubjectClaim, p.Subject = ClaimEnvironment, st.EnvironmentUUID
	}
	return p, ""
}

func problemSuffix(p string) string {
	if p == "" {
		return ""
	}
	return " (" + p + ")"
}

// PolicyID is the id bitbricks gives the federation policy of a binding.
func PolicyID(binding string) string {
	var sb strings.Builder
	sb.WriteString("bitbricks-")
	for _, r := range strings.ToLower(binding) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('-')
		}
	}
	return sb.String()
}

// trusts reports whether policy p accepts the tokens want accepts: same
// issuer, subject claim and subject, and want's audience among p's.
func trusts(p, want FederationPolicy) bool {
	return p.Issuer == want.Issuer && cmp.Or(p.SubjectClaim, "sub") == want.SubjectClaim &&
		strings.EqualFold(p.Subject, want.Subject) && slices.Contains(p.Audiences, want.Audiences[0])
}

// bitbucketIssuer reports whether an issuer is a Bitbucket Pipelines OIDC issuer.
func bitbucketIssuer(issuer, ours string) bool {
	return issuer == ours || strings.HasSuffix(issuer, "/pipelines-config/identity/oidc")
}

// breadth says why a policy that trusts Bitbucket Pipelines trusts more
// than one repository; "" when it does not.
func breadth(p FederationPolicy, issuer string) string {
	if !bitbucketIssuer(p.Issuer, issuer) {
		return ""
	}
	if p.SPID == "" {
		return "an account-wide policy trusts every pipeline of the Bitbucket workspace for the whole account"
	}
	switch claim := cmp.Or(p.SubjectClaim, "sub"); claim {
	case ClaimRepository, ClaimEnvironment, "sub", "stepUuid", "pipelineUuid":
		return "" // one repository, one environment, or one run
	case "workspaceUuid":
		return "subject_claim workspaceUuid trusts every repository of the Bitbucket workspace"
	case "branchName":
		return fmt.Sprintf("subject_claim branchName trusts branch %q of every repository of the Bitbucket workspace", p.Subject)
	default:
		return fmt.Sprintf("subject_claim %s does not name one repository, so it may match many", claim)
	}
}

// Federations is each configured binding's federation status, in config
// order. It is pure: snap and cfg in, statuses out.
func Federations(snap *Snapshot, cfg *config.Config) []BindingFederation {
	out := make([]BindingFederation, 0, len(cfg.Pipelines))
	for _, b := range cfg.Pipelines {
		out = append(out, federation(snap, b))
	}
	return out
}

// FederationOf is the federation status of one binding.
func FederationOf(snap *Snapshot, b config.Binding) BindingFederation { return federation(snap, b) }

func federation(snap *Snapshot, b config.Binding) BindingFederation {
	st := snap.Bindings[b.Name]
	bf := BindingFederation{Binding: b.Name, Workspace: snap.Workspace, Repository: b.Repository, Environment: b.Environment,
		Variable: b.Variable, ServicePrincipal: b.ServicePrincipal, Credential: b.Credential, TooBroad: []BroadPolicy{}}
	if st == nil {
		bf.Status, bf.Why = FederationUnknown, "the binding was not read"
		return bf
	}
	bf.CredentialID = st.RecordedID
	if i := slices.IndexFunc(snap.Credentials, func(c Credential) bool { return c.ID == st.RecordedID && st.RecordedID != "" }); i >= 0 {
		bf.Created = snap.Credentials[i].Created
	}
	if st.PoliciesKnown {
		for _, p := range st.Policies {
			if why := breadth(p, snap.Federation.Issuer); why != "" {
				bf.TooBroad = append(bf.TooBroad, BroadPolicy{Policy: p, Why: why})
			}
		}
	}
	if snap.Federation.AccountPoliciesKnown {
		for _, p := range snap.Federation.AccountPolicies {
			if why := breadth(p, snap.Federation.Issuer); why != "" {
				bf.TooBroad = append(bf.TooBroad, BroadPolicy{Policy: p, Why: why})
			}
		}
	}
	want, why := wantedPolicy(snap, b, st)
	if why == "" {
		bf.Policy = &want
		if st.PoliciesKnown {
			if i := slices.IndexFunc(st.Policies, func(p FederationPolicy) bool { return trusts(p, want) }); i >= 0 {
				bf.Policy, bf.InPlace = &st.Policies[i], true
			}
		}
	}
	switch {
	case !st.Known:
		bf.Status, bf.Why = FederationUnknown, "the binding's variables could not be read"+problemSuffix(st.Problem)
		return bf
	case bf.InPlace && !st.VariableFound:
		bf.Status, bf.Why = FederationFederated, "the pipeline authenticates by OIDC and stores no Databricks credential"
		if st.RecordedID != "" {
			bf.Why += fmt.Sprintf("; %s_ID still records %s: finish with `bitbricks federate %s --finish`", b.Variable, st.RecordedID, b.Name)
		}
		return bf
	case bf.InPlace:
		bf.Status, bf.Why = FederationFederating, fmt.Sprintf("the policy is in place; after a successful OIDC run, `bitbricks federate %s --finish` deletes %s and revokes the stored credential", b.Name, b.Variable)
		return bf
	case why == "" && !st.PoliciesKnown:
		bf.Status, bf.Why = FederationUnknown, "the service principal's federation policies could not be read"+problemSuffix(st.FederationProblem)
		return bf
	}
	bf.Status = FederationStored
	if why != "" {
		bf.Why = why
		return bf
	}
	bf.CanFederate = true
	bf.Why = fmt.Sprintf("`bitbricks federate %s` creates the policy", b.Name)
	return bf
}

// federationFindings adds could_federate and federation_too_broad.
func (pl *planner) federationFindings() {
	seen := map[string]bool{}
	for _, bf := range Federations(pl.snap, pl.cfg) {
		if bf.Status == FederationStored && bf.CanFederate {
			what := "a stored " + bf.Credential
			if bf.Credential == "" {
				what = "a stored credential"
			}
			scope := "repository " + bf.Repository
			if bf.Environment != "" {
				scope += " environment " + bf.Environment
			}
			pl.find(FindingCouldFederate, bf.Binding, "", "%s keeps %s in %s; a federation policy trusting the Pipelines OIDC token of %s (%s %s) can replace it: bitbricks federate %s",
				bf.Binding, what, bf.Variable, scope, bf.Policy.SubjectClaim, bf.Policy.Subject, bf.Binding)
		}
		for _, bp := range bf.TooBroad {
			key := bp.Policy.SPID + "/" + bp.Policy.ID
			if seen[key] {
				continue
			}
			seen[key] = true
			subject, owner := "account policy "+bp.Policy.ID, "account-wide policy "+bp.Policy.ID
			if bp.Policy.SPID != "" {
				subject, owner = "policy "+bp.Policy.ID, fmt.Sprintf("policy %s of service principal %s", bp.Policy.ID, bf.ServicePrincipal)
			}
			pl.find(FindingFederationTooBroad, subject, "", "%s: %s; replace it with one per repository (subject_claim repositoryUuid)", owner, bp.Why)
		}
	}
}

// federatedBinding reports whether ComputePlan leaves binding b alone: the
// policy trusts its pipeline and no credential is stored, so there is nothing
// to rotate. When the variable is gone but the policies could not be read,
// the binding may be federated: it is reported, never rotated on a guess.
func (pl *planner) federatedBinding(b config.Binding, st *BindingState) bool {
	bf := federation(pl.snap, b)
	if bf.Status == FederationFederated {
		return true
	}
	if !st.VariableFound && pl.snap.Federation.AccountID != "" && !st.PoliciesKnown {
		pl.find(FindingUnknownSource, b.Name, "", "variable %s of binding %s is missing and the federation policies of %s could not be read%s; not rotated, since the binding may be federated",
			b.Variable, b.Name, b.ServicePrincipal, problemSuffix(st.FederationProblem))
		return true
	}
	return false
}

// Snippet is the Bitbucket Pipelines step that authenticates to Databricks
// by OIDC for bf: `oidc: true` and the four variables, no token.
func Snippet(bf BindingFederation, host, applicationID string) string {
	var sb strings.Builder
	sb.WriteString("- step:\n")
	sb.WriteString("    name: Databricks (OIDC, no stored credential)\n")
	if bf.Environment != "" {
		fmt.Fprintf(&sb, "    deployment: %s\n", bf.Environment)
	}
	sb.WriteString("    oidc: true\n")
	sb.WriteString("    script:\n")
	sb.WriteString("      - export DATABRICKS_AUTH_TYPE=env-oidc\n")
	fmt.Fprintf(&sb, "      - export DATABRICKS_HOST=%s\n", host)
	fmt.Fprintf(&sb, "      - export DATABRICKS_CLIENT_ID=%s\n", cmp.Or(applicationID, "<application id of "+bf.ServicePrincipal+">"))
	sb.WriteString("      - export DATABRICKS_OIDC_TOKEN_ENV=BITBUCKET_STEP_OIDC_TOKEN\n")
	sb.WriteString("      - ./deploy.sh   # the step's own commands; the SDK and the CLI exchange the token\n")
	return sb.String()
}

// federation reads what federation needs: the workspace's UUID and issuer,
// each binding's repository and environment UUIDs, the federation policies
// of the bound service principals and the account-wide ones, concurrently.
// Failures are recorded on the facts and bindings; only a failed read of the
// account-wide policies is also a source problem, since nothing else would
// show the finding it hides. It runs once the
// service principals and binding variables are read.
func (r *reader) federation(ctx context.Context) error {
	f := &r.snap.Federation
	f.AccountID = r.cfg.Databricks.AccountID
	bb, ok := r.src.Bitbucket.(FederationBitbucket)
	if !ok {
		f.Problem = "the Bitbucket source does not read federation facts"
		return nil
	}
	db, _ := r.src.Databricks.(FederationDatabricks)
	if db == nil || f.AccountID == "" {
		db = nil
	}
	f.Issuer = bb.Issuer()
	r.mu.Lock()
	states := map[string]*BindingState{}
	spIDs := map[string]bool{}
	for _, b := range r.cfg.Pipelines {
		if st := r.snap.Bindings[b.Name]; st != nil {
			states[b.Name] = st
			if sp := servicePrincipalNamed(r.snap.SPs, b.ServicePrincipal); sp != nil {
				spIDs[sp.ID] = true
			}
		}
	}
	r.mu.Unlock()

	policies := map[string][]FederationPolicy{}
	policyErr := map[string]string{}
	g := newGroup(ctx, readConcurrency)
	g.Go(func(ctx context.Context) error {
		uuid, err := bb.WorkspaceUUID(ctx)
		r.mu.Lock()
		defer r.mu.Unlock()
		f.WorkspaceUUID = uuid
		if err != nil {
			f.Problem = oneLine(err)
		}
		return nil
	})
	if db != nil {
		g.Go(func(ctx context.Context) error {
			ps, err := db.AccountFederationPolicies(ctx)
			r.mu.Lock()
			defer r.mu.Unlock()
			f.AccountPolicies, f.AccountPoliciesKnown = ps, err == nil
			// Unread, the account-wide policies would hide a
			// federation_too_broad finding: a failed read (not a refusal
			// of access, which a workspace admin gets) makes the run red.
			if status := httpStatus(err); err != nil && status != http.StatusForbidden && status != http.StatusUnauthorized && !isAccountUnavailable(err) {
				r.snap.Problems = append(r.snap.Problems, SourceProblem{System: SystemDatabricks,
					Source: "account federation policies", Err: oneLine(err), Status: status})
			}
			return nil
		})
		for id := range spIDs {
			g.Go(func(ctx context.Context) error {
				ps, err := db.FederationPolicies(ctx, id)
				r.mu.Lock()
				defer r.mu.Unlock()
				if err != nil {
					policyErr[id] = oneLine(err)
				} else {
					policies[id] = append([]FederationPolicy{}, ps...)
				}
				return nil
			})
		}
	}
	for _, b := range r.cfg.Pipelines {
		st := states[b.Name]
		if st == nil {
			continue
		}
		r.mu.Lock()
		envUUID := st.EnvironmentUUID // read with the variables, when the adapter could
		r.mu.Unlock()
		g.Go(func(ctx context.Context) error {
			repoUUID, _, err := bb.Repository(ctx, b.Repository)
			if err == nil && b.Environment != "" && envUUID == "" {
				envUUID, err = bb.EnvironmentUUID(ctx, b.Repository, b.Environment)
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			st.RepositoryUUID, st.EnvironmentUUID = repoUUID, envUUID
			if err != nil {
				st.FederationProblem = oneLine(err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, b := range r.cfg.Pipelines {
		st := states[b.Name]
		sp := servicePrincipalNamed(r.snap.SPs, b.ServicePrincipal)
		if st == nil || sp == nil || db == nil {
			continue
		}
		if ps, ok := policies[sp.ID]; ok {
			st.Policies, st.PoliciesKnown = ps, true
		} else {
			st.FederationProblem = cmp.Or(st.FederationProblem, policyErr[sp.ID])
		}
	}
	return ctx.Err()
}

// CheckBindings is nil when every binding's status could be read, else an
// error naming those that could not (a listing that printed what it could
// still exits 1: an unknown status is not a clean bill).
func CheckBindings(bfs []BindingFederation) error {
	var unknown []string
	for _, bf := range bfs {
		if bf.Status == FederationUnknown {
			unknown = append(unknown, bf.Binding)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	what := "binding"
	if len(unknown) > 1 {
		what = "bindings"
	}
	return fmt.Errorf("the status of %s %s could not be read (the lines above say why); fix that, then run again", what, strings.Join(unknown, ", "))
}
