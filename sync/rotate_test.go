package sync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
)

func TestRotationHappyPath(t *testing.T) {
	for _, name := range []string{"etl-prod", "ml-prod"} {
		t.Run(name, func(t *testing.T) {
			e := newCredEnv(t)
			b := e.binding(t, name)
			sp := e.sp(b.ServicePrincipal)
			oldValue, oldID := e.bound(b)
			before := e.live(b)
			others := len(e.tokens(sp.ID, "")) - len(e.tokens(sp.ID, bindingMarker(b.Name)))

			res, err := e.creds.RotateBinding(context.Background(), b)
			if err != nil {
				t.Fatal(err)
			}
			value, recorded := e.bound(b)
			if value == oldValue || recorded == oldID || recorded != res.NewID || res.Done != StepRevoke {
				t.Fatalf("after rotation: recorded %s (was %s), result %+v", recorded, oldID, res)
			}
			e.mustConverge(t, b, res)
			if len(res.Revoked) != len(before) {
				t.Errorf("revoked %v, want the %d older credentials %v", res.Revoked, len(before), before)
			}
			if _, err := e.authenticatesAs(t, b, oldValue); err == nil {
				t.Errorf("the old credential %s still authenticates", oldID)
			}
			if n := len(e.tokens(sp.ID, "")) - len(e.tokens(sp.ID, bindingMarker(b.Name))); n != others {
				t.Errorf("%s's other tokens: %d left, want all %d kept", sp.DisplayName, n, others)
			}
			if b.Credential == "pat" {
				tk := e.tokens(sp.ID, bindingMarker(b.Name))[0]
				if life := tk.Expiry.Sub(tk.Created); life != b.Lifetime.Std() {
					t.Errorf("new token lifetime %s, want %s", life, b.Lifetime.Std())
				}
			}
			if err := VerifyAudit(e.creds.AuditFile); err != nil {
				t.Error(err)
			}
			e.mustNotShow(t, []string{value, oldValue}, fmt.Sprintf("%+v", res))
		})
	}
}

// persistent is a fault that outlasts the Bitbucket transport's retries of
// an idempotent request.
func persistent(k emulator.FaultKind) []emulator.FaultKind {
	return slices.Repeat([]emulator.FaultKind{k}, RetryAttempts)
}

// faultRoutes are the routes each rotation step of each binding calls first.
var faultRoutes = map[string][StepRevoke + 1]emulator.FaultRule{
	"etl-prod": {
		StepCreate: {Route: "POST /api/2.0/token-management/on-behalf-of/tokens", Sequence: []emulator.FaultKind{emulator.Fault500}},
		StepVerify: {Route: "GET /api/2.0/preview/scim/v2/Me", Sequence: []emulator.FaultKind{emulator.Fault401}},
		StepWrite:  {Route: "PUT /2.0/repositories/*/etl/pipelines_config/variables/*", Sequence: persistent(emulator.Fault500)},
		StepRecord: {Route: "PUT /2.0/repositories/*/etl/pipelines_config/variables/*", Sequence: append([]emulator.FaultKind{emulator.FaultNone}, persistent(emulator.Fault500)...)},
		StepRevoke: {Route: "DELETE /api/2.0/token-management/tokens/*", Sequence: []emulator.FaultKind{emulator.Fault500}},
	},
	"ml-prod": {
		StepCreate: {Route: "POST /api/2.0/accounts/*/servicePrincipals/*/credentials/secrets", Sequence: []emulator.FaultKind{emulator.Fault500}},
		StepVerify: {Route: "POST /oidc/v1/token", Sequence: []emulator.FaultKind{emulator.Fault401}},
		StepWrite:  {Route: "PUT /2.0/repositories/*/ml-models/deployments_config/environments/*/variables/*", Sequence: persistent(emulator.Fault500)},
		StepRecord: {Route: "PUT /2.0/repositories/*/ml-models/deployments_config/environments/*/variables/*", Sequence: append([]emulator.FaultKind{emulator.FaultNone}, persistent(emulator.Fault500)...)},
		StepRevoke: {Route: "DELETE /api/2.0/accounts/*/servicePrincipals/*/credentials/secrets/*", Sequence: []emulator.FaultKind{emulator.Fault500}},
	},
}

// A failure or a cancellation at any step leaves the variable with a
// credential that works, and one more rotation converges to exactly one live
// credential, the recorded one.
func TestRotationFailureMatrix(t *testing.T) {
	type row struct {
		binding string
		step    RotationStep
		fault   *emulator.FaultRule // nil: cancel the context just before the step
	}
	var rows []row
	for _, name := range []string{"etl-prod", "ml-prod"} {
		for step := StepCreate; step <= StepRevoke; step++ {
			rule := faultRoutes[name][step]
			rows = append(rows, row{name, step, &rule}, row{name, step, nil})
		}
	}
	// The write lands but its answer is lost: the new credential must stay.
	truncated := emulator.FaultRule{Route: faultRoutes["etl-prod"][StepWrite].Route, Sequence: persistent(emulator.FaultTruncated)}
	rows = append(rows, row{"etl-prod", StepWrite, &truncated})

	for _, r := range rows {
		how := "cancel"
		if r.fault != nil {
			how = "fault " + r.fault.String()
		}
		t.Run(fmt.Sprintf("%s/%d %s/%s", r.binding, r.step, r.step, how), func(t *testing.T) {
			e := newCredEnv(t)
			b := e.binding(t, r.binding)
			_, oldID := e.bound(b)
			before := len(e.live(b))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if r.fault != nil {
				if err := e.srv.SetFaults([]emulator.FaultRule{*r.fault}); err != nil {
					t.Fatal(err)
				}
			} else {
				e.creds.beforeStep = func(_ context.Context, s RotationStep) {
					if s == r.step {
						cancel()
					}
				}
			}

			res, err := e.creds.RotateBinding(ctx, b)
			var re *RotationError
			if !errors.As(err, &re) || re.Step != r.step {
				t.Fatalf("rotation error %v, want one at step %d (%s)", err, r.step, r.step)
			}
			if re.State == "" || !strings.Contains(err.Error(), re.State) {
				t.Errorf("error %q does not say what it left behind", err)
			}
			e.mustWork(t, b)
			if _, recorded := e.bound(b); r.step < StepRecord && recorded != oldID {
				t.Errorf("%s_ID is %s after a failure at step %d, want the old %s", b.Variable, recorded, r.step, oldID)
			}
			if n := len(e.live(b)); r.step < StepWrite && n != before {
				t.Errorf("%d live credentials after a failure at step %d, want the %d from before (the new one revoked)", n, r.step, before)
			}
			seen := []string{err.Error(), fmt.Sprintf("%+v", res)}
			var values []string
			for _, v := range e.live(b) {
				values = append(values, v)
			}

			e.srv.SetFaults(nil)
			e.creds.beforeStep = nil
			// The next run holds the write lock, as every command's does.
			res2, err := e.rotateLocked(t, context.Background(), b)
			if err != nil {
				t.Fatal(err)
			}
			e.mustConverge(t, b, res2)
			value, _ := e.bound(b)
			e.mustNotShow(t, append(values, value), append(seen, fmt.Sprintf("%+v", res2))...)
		})
	}
}

func err2s(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// A binding whose variables are missing gets them: the value secured, the id not.
func TestRotationCreatesMissingVariables(t *testing.T) {
	e := newCredEnv(t)
	b := e.binding(t, "etl-prod")
	e.org.Mu.Lock()
	for _, r := range e.org.BB.Repos {
		if r.Slug == b.Repository {
			r.Variables = nil
		}
	}
	e.org.Mu.Unlock()

	res, err := e.creds.RotateBinding(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	e.mustConverge(t, b, res)
	e.org.Mu.Lock()
	defer e.org.Mu.Unlock()
	for _, r := range e.org.BB.Repos {
		if r.Slug != b.Repository {
			continue
		}
		if len(r.Variables) != 2 {
			t.Errorf("%d variables in %s, want %s and %s_ID", len(r.Variables), r.Slug, b.Variable, b.Variable)
		}
		for _, v := range r.Variables {
			if v.Secured != (v.Key == b.Variable) {
				t.Errorf("%s created with secured=%v", v.Key, v.Secured)
			}
		}
	}
}

// A service principal already holding 5 secrets: a refusal that says what
// to do, and nothing changed anywhere.
func TestRotationSecretLimit(t *testing.T) {
	e := newCredEnv(t)
	b := e.binding(t, "ml-prod")
	sp := e.sp(b.ServicePrincipal)
	for range SecretLimit - len(e.secrets(sp.ID)) {
		e.org.AddSecret(emulator.DBSecret{SPID: sp.ID, Created: e.org.Now().Add(-time.Hour)})
	}
	before := e.state()

	_, err := e.creds.RotateBinding(context.Background(), b)
	var le *SecretLimitError
	if !errors.As(err, &le) {
		t.Fatalf("error %v, want a SecretLimitError", err)
	}
	want := "ml-deployer holds 5 of 5 OAuth secrets: revoke one with `bitbricks revoke --secret-id " + le.Oldest + " --service-principal ml-deployer`"
	if le.Oldest == "" || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("error %q, want it to contain %q and say nothing was changed", err, want)
	}
	if _, recorded := e.bound(b); le.Oldest == recorded {
		t.Errorf("suggests revoking %s, the secret ml-prod records", recorded)
	}
	if after := e.state(); after != before {
		t.Errorf("state changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// Bindings sharing a service principal never revoke each other's credentials.
func TestRotationSharedServicePrincipal(t *testing.T) {
	e := newCredEnv(t,
		config.Binding{Name: "ml-staging", Repository: "ml-models", Environment: "Staging", Variable: "DATABRICKS_CLIENT_SECRET",
			ServicePrincipal: "ml-deployer", Credential: config.CredentialOAuthSecret},
		config.Binding{Name: "etl-canary", Repository: "etl", Variable: "CANARY_TOKEN",
			ServicePrincipal: "etl-deployer", Credential: config.CredentialPAT, Lifetime: config.Duration(45 * 24 * time.Hour)})
	ctx := context.Background()
	staging, canary := e.binding(t, "ml-staging"), e.binding(t, "etl-canary")
	for _, b := range []string{"ml-staging", "etl-canary"} {
		if _, err := e.creds.RotateBinding(ctx, e.binding(t, b)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"ml-prod", "etl-prod"} {
		res, err := e.creds.RotateBinding(ctx, e.binding(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "etl-prod" {
			e.mustConverge(t, e.binding(t, name), res)
		}
	}
	e.mustWork(t, staging)
	e.mustWork(t, canary)
	e.mustWork(t, e.binding(t, "ml-prod"))
	// ml-prod's old secrets are gone; the two bindings' secrets remain.
	if n := len(e.secrets(e.sp("ml-deployer").ID)); n != 2 {
		t.Errorf("ml-deployer holds %d secrets, want 2 (one per binding)", n)
	}
}

// DueBindings and the Rotator: sync --apply performs planned rotations.
func TestRotatorAppliesPlannedRotations(t *testing.T) {
	e := newCredEnv(t)
	ctx := context.Background()
	snap := e.read(t)
	due := DueBindings(snap, e.cfg, e.org.Now())
	if len(due) != 1 || due[0].Binding.Name != "etl-prod" || !strings.Contains(due[0].Reason, "due") {
		t.Fatalf("due bindings %+v, want etl-prod (40 days old, rotate every 30d)", due)
	}
	var plan Plan
	for _, c := range ComputePlan(snap, e.cfg, e.org.Now()).Changes {
		if c.Action == ActionRotateCredential {
			plan.Changes = append(plan.Changes, c)
		}
	}
	exec, _ := e.src.Executor()
	results, err := Apply(ctx, plan, exec, nil, ApplyOptions{MaxChanges: -1, Rotator: e.creds, AuditFile: e.creds.AuditFile})
	if err != nil || len(results) != 1 || results[0].Status != ResultApplied {
		t.Fatalf("apply: %+v, %v", results, err)
	}
	e.mustWork(t, due[0].Binding)
	if due := DueBindings(e.read(t), e.cfg, e.org.Now()); len(due) != 0 {
		t.Errorf("still due after apply: %+v", due)
	}
}

// Two rotations of one binding at once (two pipelines, or a pipeline and an
// admin): B creates its credential, A starts (so B's new credential is among
// A's "older" ones) and records its own, then B writes and records its
// credential after A did. A must then leave every revocation to the next
// run: B's credential is what the variable holds.
func TestConcurrentRotationsKeepTheRecordedCredential(t *testing.T) {
	for _, name := range []string{"etl-prod", "ml-prod"} {
		t.Run(name, func(t *testing.T) {
			e := newCredEnv(t)
			b := e.binding(t, name)
			ctx := context.Background()

			bAtWrite, resumeB := make(chan struct{}), make(chan struct{})
			bAtRevoke, finishB := make(chan struct{}), make(chan struct{})
			credsB := *e.creds
			credsB.beforeStep = func(_ context.Context, s RotationStep) {
				switch s {
				case StepWrite:
					bAtWrite <- struct{}{}
					<-resumeB
				case StepRevoke:
					bAtRevoke <- struct{}{}
					<-finishB
				}
			}
			var resB RotationResult
			var errB error
			doneB := make(chan struct{})
			go func() {
				defer close(doneB)
				resB, errB = credsB.RotateBinding(ctx, b)
			}()
			<-bAtWrite // B's credential exists, unwritten

			e.creds.beforeStep = func(_ context.Context, s RotationStep) {
				if s == StepRevoke { // A has recorded its credential; B now writes and records its own
					resumeB <- struct{}{}
					<-bAtRevoke
				}
			}
			resA, errA := e.creds.RotateBinding(ctx, b)
			close(finishB)
			<-doneB
			if errA != nil || errB != nil {
				t.Fatalf("rotations: A %v, B %v", errA, errB)
			}
			value, recorded := e.bound(b)
			if recorded != resB.NewID {
				t.Fatalf("%s_ID records %s, want B's %s (B recorded last)", b.Variable, recorded, resB.NewID)
			}
			if _, ok := e.live(b)[recorded]; !ok || slices.Contains(resA.Revoked, recorded) {
				t.Errorf("A revoked %v, the credential B recorded (%s) among them", resA.Revoked, recorded)
			}
			e.mustWork(t, b)
			if resA.Deferred == "" || len(resA.Revoked) != 0 {
				t.Errorf("A revoked %v and deferred %q; want nothing revoked and a reason", resA.Revoked, resA.Deferred)
			}
			if !strings.Contains(e.auditText(t), `"action":"revoke_older_credentials","target":"binding:`+b.Name) {
				t.Errorf("the skipped revocation is not audited:\n%s", e.auditText(t))
			}
			if err := VerifyAudit(e.creds.AuditFile); err != nil {
				t.Error(err)
			}

			// The next run (under the write lock, as every command's) cleans up.
			e.creds.beforeStep = nil
			res, err := e.rotateLocked(t, ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			e.mustConverge(t, b, res)
			e.mustNotShow(t, []string{value}, fmt.Sprintf("%+v %+v %+v", resA, resB, res))
		})
	}
}

// auditText is the audit log as written.
func (e *credEnv) auditText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(e.creds.AuditFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
