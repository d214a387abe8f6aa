package sync

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/service/oauth2"
)

// testClock is a clock tests move forward, shared by the emulator and the engine.
type testClock struct {
	mu gosync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newFedEnv is newCredEnv on a clock that moves: "since phase 1" needs time.
func newFedEnv(t *testing.T) (*credEnv, *testClock) {
	t.Helper()
	e := newCredEnv(t)
	clock := &testClock{t: demoNow}
	e.org.Mu.Lock()
	e.org.Now = clock.Now
	e.org.Mu.Unlock()
	e.creds.Now = clock.Now
	return e, clock
}

// control calls one of the emulator's control endpoints, playing the pipeline.
func (e *credEnv) control(t *testing.T, method, path, body string) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, e.http.URL+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out.String())
	}
	return out.Bytes()
}

// stepToken mints the $BITBUCKET_STEP_OIDC_TOKEN of a step described by body.
func (e *credEnv) stepToken(t *testing.T, body string) string {
	t.Helper()
	var tok struct{ Token string }
	if err := json.Unmarshal(e.control(t, "POST", "/_emulator/pipelines/oidc-token", body), &tok); err != nil || tok.Token == "" {
		t.Fatalf("mint %s: %v", body, err)
	}
	return tok.Token
}

// sdkEnv lists every variable the SDK's unified auth reads: the pipeline
// step's four are set, the rest blanked, so nothing of the machine leaks in.
var sdkEnv = []string{"DATABRICKS_HOST", "DATABRICKS_CLUSTER_ID", "DATABRICKS_WAREHOUSE_ID", "DATABRICKS_SERVERLESS_COMPUTE_ID",
	"DATABRICKS_METADATA_SERVICE_URL", "DATABRICKS_ACCOUNT_ID", "DATABRICKS_WORKSPACE_ID", "DATABRICKS_TOKEN", "DATABRICKS_USERNAME",
	"DATABRICKS_PASSWORD", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_GOOGLE_SERVICE_ACCOUNT", "GOOGLE_CREDENTIALS",
	"DATABRICKS_AZURE_RESOURCE_ID", "ARM_USE_MSI", "ARM_CLIENT_SECRET", "ARM_CLIENT_ID", "ARM_TENANT_ID", "ACTIONS_ID_TOKEN_REQUEST_URL",
	"ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ARM_ENVIRONMENT", "DATABRICKS_AZURE_LOGIN_APP_ID", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET",
	"DATABRICKS_CLI_PATH", "DATABRICKS_AUTH_TYPE", "DATABRICKS_OIDC_TOKEN_FILEPATH", "DATABRICKS_OIDC_TOKEN_ENV", "DATABRICKS_TOKEN_AUDIENCE",
	"DATABRICKS_DISCOVERY_URL", "DATABRICKS_CLOUD", "BITBUCKET_STEP_OIDC_TOKEN"}

// asPipelineStep authenticates the way the federated pipeline step does:
// the unmodified SDK, configured only by the step's environment
// (DATABRICKS_AUTH_TYPE=env-oidc, DATABRICKS_HOST, DATABRICKS_CLIENT_ID,
// DATABRICKS_OIDC_TOKEN_ENV=BITBUCKET_STEP_OIDC_TOKEN), and returns the
// userName SCIM Me reports (a service principal's application id).
func (e *credEnv) asPipelineStep(t *testing.T, clientID, token string) (string, error) {
	t.Helper()
	for _, k := range sdkEnv {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("DATABRICKS_CONFIG_FILE", filepath.Join(dir, "no-databrickscfg"))
	t.Setenv("DATABRICKS_AUTH_TYPE", "env-oidc")
	t.Setenv("DATABRICKS_HOST", e.http.URL)
	t.Setenv("DATABRICKS_CLIENT_ID", clientID)
	t.Setenv("DATABRICKS_OIDC_TOKEN_ENV", "BITBUCKET_STEP_OIDC_TOKEN")
	t.Setenv("BITBUCKET_STEP_OIDC_TOKEN", token)
	w, err := databricks.NewWorkspaceClient(&databricks.Config{RetryTimeoutSeconds: 5, HTTPTimeoutSeconds: 5})
	if err != nil {
		return "", err
	}
	me, err := w.CurrentUser.Me(context.Background())
	if err != nil {
		return "", err
	}
	return me.UserName, nil
}

// mustStep fails unless a step token minted by body authenticates as sp.
func (e *credEnv) mustStep(t *testing.T, b config.Binding, body string) {
	t.Helper()
	app := e.sp(b.ServicePrincipal).ApplicationID
	if who, err := e.asPipelineStep(t, app, e.stepToken(t, body)); err != nil || who != app {
		t.Fatalf("step %s: authenticates as %q (%v), want %s", body, who, err, app)
	}
}

// mustNotStep fails if a step token minted by body authenticates.
func (e *credEnv) mustNotStep(t *testing.T, b config.Binding, body string) {
	t.Helper()
	app := e.sp(b.ServicePrincipal).ApplicationID
	if who, err := e.asPipelineStep(t, app, e.stepToken(t, body)); err == nil {
		t.Fatalf("step %s authenticated as %s; want refused", body, who)
	}
}

// Acceptance 1: the unmodified SDK configured for env-oidc with a step token
// fails before phase 1, authenticates as the service principal after it, and
// fails with a token of another repository, environment or workspace, or
// an expired one.
func TestFederationPhase1WithSDK(t *testing.T) {
	e, clock := newFedEnv(t)
	ctx := context.Background()
	etl, ml := e.binding(t, "etl-prod"), e.binding(t, "ml-prod")
	const etlStep, mlStep = `{"repository":"etl"}`, `{"repository":"ml-models","environment":"Production"}`

	e.mustNotStep(t, etl, etlStep)
	e.mustNotStep(t, ml, mlStep)

	before := e.state()
	dry, err := e.creds.Federate(ctx, etl, true)
	if err != nil || dry.Created || !dry.DryRun || dry.Policy.Subject == "" {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	if e.state() != before || len(e.policies(t, etl)) != 0 {
		t.Fatal("a dry run changed something")
	}
	e.mustNotStep(t, etl, etlStep)

	clock.Advance(time.Minute)
	res, err := e.creds.Federate(ctx, etl, false)
	if err != nil {
		t.Fatalf("federate: %v", err)
	}
	repoUUID := e.repoUUID(t, "etl")
	if !res.Created || res.Status != FederationFederating || res.Policy.SubjectClaim != ClaimRepository || res.Policy.Subject != repoUUID ||
		res.Policy.Issuer != e.http.URL+"/2.0/workspaces/acme/pipelines-config/identity/oidc" || len(res.Checks) != 3 {
		t.Fatalf("phase 1: %+v", res)
	}
	app := e.sp("etl-deployer").ApplicationID
	for _, want := range []string{"oidc: true", "DATABRICKS_AUTH_TYPE=env-oidc", "DATABRICKS_HOST=" + e.http.URL, "DATABRICKS_CLIENT_ID=" + app,
		"DATABRICKS_OIDC_TOKEN_ENV=BITBUCKET_STEP_OIDC_TOKEN"} {
		if !strings.Contains(res.Snippet, want) {
			t.Errorf("snippet lacks %q:\n%s", want, res.Snippet)
		}
	}
	e.mustStep(t, etl, etlStep)
	e.mustStep(t, etl, `{"repository":"etl","branch":"feature/x"}`)         // any branch of the repository
	e.mustNotStep(t, etl, `{"repository":"ml-models"}`)                     // another repository
	e.mustNotStep(t, etl, `{"repository":"etl","workspace":"umbrella"}`)    // another workspace's namesake
	e.mustNotStep(t, etl, `{"repository":"etl","ttl":"-1m"}`)               // expired
	e.mustNotStep(t, etl, `{"repository":"etl","audience":"someone-else"}`) // another audience
	e.mustNotStep(t, ml, etlStep)                                           // trusted for another service principal only

	// A forged token: the right claims, signed by a key the issuer never
	// published; and the same claims unsigned (alg none).
	good := e.stepToken(t, etlStep)
	parts := strings.Split(good, ".")
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	sig, err := rsa.SignPKCS1v15(nil, forger, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	for what, tok := range map[string]string{
		"forged":   parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig),
		"unsigned": none + "." + parts[1] + ".",
	} {
		if who, err := e.asPipelineStep(t, app, tok); err == nil {
			t.Errorf("a %s token authenticated as %s", what, who)
		}
	}
	if who, err := e.asPipelineStep(t, app, good); err != nil || who != app {
		t.Errorf("the genuine token: %q, %v", who, err)
	}

	// Idempotent: a second phase 1 finds the policy in place.
	again, err := e.creds.Federate(ctx, etl, false)
	if err != nil || again.Created || again.Policy.ID != res.Policy.ID || len(e.policies(t, etl)) != 1 {
		t.Fatalf("second phase 1: %+v, %v; policies %v", again, err, e.policies(t, etl))
	}

	// An environment binding trusts that environment only.
	if _, err := e.creds.Federate(ctx, ml, false); err != nil {
		t.Fatal(err)
	}
	e.mustStep(t, ml, mlStep)
	e.mustNotStep(t, ml, `{"repository":"ml-models","environment":"Staging"}`) // another environment
	e.mustNotStep(t, ml, `{"repository":"ml-models"}`)                         // no environment
	e.mustNotStep(t, ml, `{"repository":"etl","environment":"Production"}`)    // another repository's Production

	// The stored credentials are untouched by phase 1, and every line is audited.
	e.mustWork(t, etl)
	e.mustWork(t, ml)
	audit := e.auditText(t)
	if strings.Count(audit, `"create_federation_policy","target"`) != 4 || strings.Count(audit, `"result":"intent"`) != 2 {
		t.Errorf("audit: %s", audit)
	}
}

func (e *credEnv) policies(t *testing.T, b config.Binding) []string {
	t.Helper()
	sp := e.sp(b.ServicePrincipal)
	e.org.Mu.Lock()
	defer e.org.Mu.Unlock()
	var out []string
	for _, p := range e.org.DB.FederationPolicies {
		if p.SPID == sp.ID {
			out = append(out, p.ID+" "+p.SubjectClaim+"="+p.Subject)
		}
	}
	slices.Sort(out)
	return out
}

func (e *credEnv) repoUUID(t *testing.T, slug string) string {
	t.Helper()
	e.org.Mu.Lock()
	defer e.org.Mu.Unlock()
	for _, r := range e.org.BB.Repos {
		if r.Slug == slug {
			return r.UUID
		}
	}
	t.Fatalf("no repository %s", slug)
	return ""
}

const oidcPipeline = "pipelines:\n  branches:\n    main:\n      - step:\n          oidc: true\n          script: [./deploy.sh]\n"

// Acceptance 2: phase 2 refuses without a successful run since phase 1 and
// without oidc: true on the main branch; with both, the variable and its
// _ID are gone, the stored credentials revoked, and OIDC still works.
func TestFederationPhase2(t *testing.T) {
	e, clock := newFedEnv(t)
	ctx := context.Background()
	for _, name := range []string{"etl-prod", "ml-prod"} {
		t.Run(name, func(t *testing.T) {
			b := e.binding(t, name)
			repoBody := `{"repository":"` + b.Repository + `"}`
			step := `{"repository":"` + b.Repository + `","environment":"` + b.Environment + `"}`
			if b.Environment == "" {
				step = repoBody
			}
			refused := func(want ...string) {
				t.Helper()
				plan, err := e.creds.FinishEvidence(ctx, b)
				var r *FederationRefusal
				if !errors.As(err, &r) || ExitCode(err) != 3 || plan.Federate {
					t.Fatalf("want a refusal, got %+v, %v", plan, err)
				}
				if len(r.Missing) != len(want) {
					t.Fatalf("missing %q, want %d items like %q", r.Missing, len(want), want)
				}
				for i, w := range want {
					if !strings.Contains(r.Missing[i], w) {
						t.Errorf("missing[%d] = %q, want it to say %q", i, r.Missing[i], w)
					}
				}
			}
			e.mustWork(t, b)
			value, recorded := e.bound(b)
			refused("no federation policy")

			// A successful run before phase 1 is no evidence.
			e.control(t, "POST", "/_emulator/pipelines/runs", repoBody)
			clock.Advance(time.Minute)
			if _, err := e.creds.Federate(ctx, b, false); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Minute)
			before := e.state()
			refused("no successful pipeline run", "has no bitbucket-pipelines.yml")
			e.control(t, "POST", "/_emulator/pipelines/runs", `{"repository":"`+b.Repository+`","result":"FAILED"}`)
			e.control(t, "PUT", "/_emulator/pipelines/config?repository="+b.Repository, strings.Replace(oidcPipeline, "oidc: true", "oidc: false", 1))
			refused("no successful pipeline run", "does not set oidc: true")
			e.control(t, "POST", "/_emulator/pipelines/runs", repoBody)
			refused("does not set oidc: true")
			e.control(t, "PUT", "/_emulator/pipelines/config?repository="+b.Repository, oidcPipeline)
			if e.state() != before {
				t.Fatal("a refused phase 2 changed something")
			}

			plan, err := e.creds.FinishEvidence(ctx, b)
			if err != nil || !plan.Federate || plan.Run == nil || !plan.OIDC || plan.Branch != "main" ||
				!slices.Equal(plan.Delete, []string{b.Variable, b.Variable + "_ID"}) ||
				!slices.ContainsFunc(plan.Revoke, func(c Credential) bool { return c.ID == recorded }) {
				t.Fatalf("evidence: %+v, %v", plan, err)
			}
			res, err := e.creds.FinishFederation(ctx, b, plan)
			if err != nil || res.Done != FinishDeleteID || len(res.Revoked) != len(plan.Revoke) {
				t.Fatalf("phase 2: %+v, %v", res, err)
			}
			if v, id := e.bound(b); v != "" || id != "" || e.hasVariable(b, b.Variable) || e.hasVariable(b, b.Variable+"_ID") {
				t.Fatalf("variables left: %q %q", Redact(v), id)
			}
			if len(e.live(b)) != 0 {
				t.Errorf("stored credentials still live: %v", e.live(b))
			}
			if who, err := e.authenticatesAs(t, b, value); err == nil {
				t.Errorf("the old stored credential still authenticates as %s", who)
			}
			e.mustStep(t, b, step)

			// The plan now leaves the binding alone; a second finish is a no-op.
			snap := e.read(t)
			if st := FederationOf(snap, b).Status; st != FederationFederated {
				t.Errorf("status after phase 2: %s", st)
			}
			for _, c := range ComputePlan(snap, e.cfg, clock.Now()).Changes {
				if c.Binding == b.Name {
					t.Errorf("the plan still has %s (%s)", c.ID, c.Reason)
				}
			}
			again, err := e.creds.FinishEvidence(ctx, b)
			if err != nil || len(again.Delete) != 0 || len(again.Revoke) != 0 {
				t.Errorf("evidence after phase 2: %+v, %v", again, err)
			}
			// Rotating it would store a credential again: refused, nothing changed.
			state := e.state()
			if _, err := e.creds.RotateBinding(ctx, b); !errors.As(err, new(*FederatedError)) {
				t.Errorf("rotating a federated binding: %v", err)
			}
			if e.state() != state {
				t.Error("a refused rotation of a federated binding changed something")
			}
			e.mustNotShow(t, []string{value})
		})
	}
	audit := e.auditText(t)
	for _, a := range []string{"create_federation_policy", "check_federation_policy", "delete_variable", "revoke_token", "revoke_secret", "federate_finish"} {
		if !strings.Contains(audit, `"`+a+`"`) {
			t.Errorf("audit lacks %s", a)
		}
	}
	if err := VerifyAudit(e.creds.AuditFile); err != nil {
		t.Error(err)
	}
}

func (e *credEnv) hasVariable(b config.Binding, key string) bool {
	e.org.Mu.Lock()
	defer e.org.Mu.Unlock()
	for _, r := range e.org.BB.Repos {
		if r.Slug != b.Repository {
			continue
		}
		vars := r.Variables
		for _, en := range r.Environments {
			if en.Name == b.Environment {
				vars = en.Variables
			}
		}
		for _, v := range vars {
			if v.Key == key {
				return true
			}
		}
	}
	return false
}

// A phase 2 that stops at any step leaves the pipeline a way to
// authenticate (the policy; before the variable goes, the stored credential
// too), says so, and a second --finish completes it.
func TestFederationPhase2FailureAtEachStep(t *testing.T) {
	for step := FinishCheckPolicy; step <= FinishDeleteID; step++ {
		t.Run(step.String(), func(t *testing.T) {
			e, clock := newFedEnv(t)
			b := e.binding(t, "etl-prod")
			value, _ := e.bound(b)
			if _, err := e.creds.Federate(context.Background(), b, false); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Minute)
			e.control(t, "POST", "/_emulator/pipelines/runs", `{"repository":"etl"}`)
			e.control(t, "PUT", "/_emulator/pipelines/config?repository=etl", oidcPipeline)
			plan, err := e.creds.FinishEvidence(context.Background(), b)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			e.creds.beforeFinish = func(_ context.Context, s FinishStep) {
				if s == step {
					cancel()
				}
			}
			_, err = e.creds.FinishFederation(ctx, b, plan)
			var fe *FederationError
			if !errors.As(err, &fe) || fe.Step != step {
				t.Fatalf("want a FederationError at %s, got %v", step, err)
			}
			if !strings.Contains(err.Error(), "authenticate") {
				t.Errorf("the error does not say how the pipeline authenticates: %v", err)
			}
			e.creds.beforeFinish = nil

			// The pipeline still authenticates: by OIDC always, and with
			// the stored credential while it is stored.
			e.mustStep(t, b, `{"repository":"etl"}`)
			if step <= FinishDeleteVariable {
				e.mustWork(t, b)
			}
			if v, _ := e.bound(b); v == "" && step <= FinishDeleteVariable {
				t.Errorf("the variable went before its step")
			}
			if who, err := e.authenticatesAs(t, b, value); step <= FinishRevoke && err != nil {
				t.Errorf("the stored credential was revoked before its step: %v", err)
			} else if step > FinishRevoke && err == nil {
				t.Errorf("the stored credential still authenticates as %s after its step", who)
			}

			// A second --finish completes the job.
			plan, err = e.creds.FinishEvidence(context.Background(), b)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.creds.FinishFederation(context.Background(), b, plan); err != nil {
				t.Fatal(err)
			}
			if v, id := e.bound(b); v != "" || id != "" || len(e.live(b)) != 0 {
				t.Errorf("after a second finish: variable %q, id %q, live %v", Redact(v), id, e.live(b))
			}
			if _, err := e.authenticatesAs(t, b, value); err == nil {
				t.Error("the stored credential still authenticates after a second finish")
			}
			e.mustStep(t, b, `{"repository":"etl"}`)
		})
	}
}

// Phase 2 refuses a plan it did not read, or one for another binding.
func TestFederationFinishNeedsEvidence(t *testing.T) {
	e, _ := newFedEnv(t)
	b := e.binding(t, "etl-prod")
	before := e.state()
	for _, plan := range []FinishPlan{{}, {Binding: "ml-prod", Federate: true}} {
		if _, err := e.creds.FinishFederation(context.Background(), b, plan); err == nil {
			t.Errorf("finish with %+v: no error", plan)
		}
	}
	if e.state() != before {
		t.Error("a refused finish changed something")
	}
	if _, err := os.Stat(e.creds.AuditFile); err == nil && strings.Contains(e.auditText(t), "delete_variable") {
		t.Error("a refused finish audited a deletion")
	}
}

// The snapshot finds policies wider than one repository through the real
// SDK: an account-wide policy trusting the Pipelines issuer, and a service
// principal policy on workspaceUuid; the plan reports both.
func TestFederationTooBroadFromEmulator(t *testing.T) {
	e, _ := newFedEnv(t)
	ctx := context.Background()
	issuer := e.src.Bitbucket.(*Bitbucket).Issuer()
	sp := e.sp("etl-deployer")
	n, _ := spNumber(sp.ID)
	if _, err := e.db.a.FederationPolicy.Create(ctx, oauth2.CreateAccountFederationPolicyRequest{PolicyId: "bitbucket-everything",
		Policy: oauth2.FederationPolicy{OidcPolicy: &oauth2.OidcFederationPolicy{Issuer: issuer, SubjectClaim: "sub"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.a.ServicePrincipalFederationPolicy.Create(ctx, oauth2.CreateServicePrincipalFederationPolicyRequest{ServicePrincipalId: n,
		PolicyId: "whole-workspace", Policy: oauth2.FederationPolicy{OidcPolicy: &oauth2.OidcFederationPolicy{Issuer: issuer,
			SubjectClaim: "workspaceUuid", Subject: "{any}"}}}); err != nil {
		t.Fatal(err)
	}
	snap := e.read(t)
	var got []string
	for _, f := range ComputePlan(snap, e.cfg, demoNow).Findings {
		if f.Kind == FindingFederationTooBroad || f.Kind == FindingCouldFederate {
			got = append(got, string(f.Kind)+" "+f.Subject)
		}
	}
	want := []string{"could_federate etl-prod", "could_federate ml-prod", "federation_too_broad account policy bitbucket-everything", "federation_too_broad policy whole-workspace"}
	if !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
}

// The service runs both phases under the write lock, audited as the
// operator, and reports each binding's status before and after.
func TestServiceFederation(t *testing.T) {
	e, _ := newServiceEnv(t)
	clock := &testClock{t: demoNow}
	e.org.Mu.Lock()
	e.org.Now = clock.Now
	e.org.Mu.Unlock()
	svc := NewService(e.src, e.cfg, ServiceOptions{Now: clock.Now, StateDir: t.TempDir()})
	ctx := context.Background()
	status := func() map[string]string {
		t.Helper()
		bfs, err := svc.Pipelines(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, bf := range bfs {
			out[bf.Binding] = fmt.Sprintf("%s %v", bf.Status, bf.CanFederate)
		}
		return out
	}
	if got := status(); got["etl-prod"] != "stored true" || got["ml-prod"] != "stored true" {
		t.Fatalf("before: %v", got)
	}
	if _, err := svc.Federate(ctx, "nope", false); err == nil || !strings.Contains(err.Error(), "etl-prod") {
		t.Errorf("an unknown binding: %v", err)
	}
	if res, err := svc.Federate(ctx, "etl-prod", true); err != nil || res.Created {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	if got := status(); got["etl-prod"] != "stored true" {
		t.Fatalf("after a dry run: %v", got)
	}
	clock.Advance(time.Minute)
	if res, err := svc.Federate(ctx, "etl-prod", false); err != nil || !res.Created {
		t.Fatalf("phase 1: %+v %v", res, err)
	}
	if got := status(); got["etl-prod"] != "federating false" || got["ml-prod"] != "stored true" {
		t.Fatalf("after phase 1: %v", got)
	}
	if _, err := svc.FinishEvidence(ctx, "etl-prod"); ExitCode(err) != 3 {
		t.Fatalf("phase 2 without evidence: %v", err)
	}
	clock.Advance(time.Minute)
	post := func(path, body string) {
		req, _ := http.NewRequest(http.MethodPost, e.http.URL+path, strings.NewReader(body))
		if strings.HasSuffix(path, "config?repository=etl") {
			req.Method = http.MethodPut
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode/100 != 2 {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	post("/_emulator/pipelines/runs", `{"repository":"etl"}`)
	post("/_emulator/pipelines/config?repository=etl", oidcPipeline)
	plan, err := svc.FinishEvidence(ctx, "etl-prod")
	if err != nil {
		t.Fatal(err)
	}
	if res, err := svc.FinishFederation(ctx, plan); err != nil || len(res.Deleted) != 2 || len(res.Revoked) == 0 {
		t.Fatalf("phase 2: %+v %v", res, err)
	}
	if got := status(); got["etl-prod"] != "federated false" {
		t.Fatalf("after phase 2: %v", got)
	}
	actions := strings.Join(auditActions(t, svc), " ")
	for _, a := range []string{"create_federation_policy", "federate_finish", "delete_variable", "revoke_token"} {
		if !strings.Contains(actions, a) {
			t.Errorf("audit lacks %s: %s", a, actions)
		}
	}
}

// No audit, no action: phase 2 with an audit log that cannot be written
// deletes and revokes nothing.
func TestFederationFinishNeedsTheAudit(t *testing.T) {
	e, clock := newFedEnv(t)
	b := e.binding(t, "etl-prod")
	if _, err := e.creds.Federate(context.Background(), b, false); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	e.control(t, "POST", "/_emulator/pipelines/runs", `{"repository":"etl"}`)
	e.control(t, "PUT", "/_emulator/pipelines/config?repository=etl", oidcPipeline)
	plan, err := e.creds.FinishEvidence(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e.creds.AuditFile = filepath.Join(blocker, "audit.jsonl")
	before := e.state()
	if _, err := e.creds.FinishFederation(context.Background(), b, plan); err == nil {
		t.Fatal("phase 2 ran without an audit log")
	}
	if e.state() != before {
		t.Error("phase 2 changed something it could not audit")
	}
	e.mustWork(t, b)
}

// The refusal of another workspace's token is the trust, not the emulator:
// a policy naming that workspace's issuer and repository accepts its token
// (verified with that workspace's key) and refuses this workspace's.
func TestFederationAnotherWorkspaceByItsOwnPolicy(t *testing.T) {
	e, _ := newFedEnv(t)
	b := e.binding(t, "etl-prod")
	app := e.sp(b.ServicePrincipal).ApplicationID
	foreign := e.stepToken(t, `{"repository":"etl","workspace":"umbrella"}`)
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(foreign, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Iss, Aud, RepositoryUuid string
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	n, _ := spNumber(e.sp(b.ServicePrincipal).ID)
	if _, err := e.db.a.ServicePrincipalFederationPolicy.Create(context.Background(), oauth2.CreateServicePrincipalFederationPolicyRequest{
		ServicePrincipalId: n, Policy: oauth2.FederationPolicy{OidcPolicy: &oauth2.OidcFederationPolicy{Issuer: claims.Iss,
			Audiences: []string{claims.Aud}, SubjectClaim: ClaimRepository, Subject: claims.RepositoryUuid}}}); err != nil {
		t.Fatal(err)
	}
	if who, err := e.asPipelineStep(t, app, foreign); err != nil || who != app {
		t.Fatalf("umbrella's token under umbrella's policy: %q, %v", who, err)
	}
	e.mustNotStep(t, b, `{"repository":"etl"}`)
}

// The same with the services failing for real: Bitbucket refusing to delete
// the variable, then Databricks refusing to revoke the token. Each time the
// pipeline keeps a way to authenticate, and a retry once the fault is gone
// completes phase 2.
func TestFederationPhase2ServiceFaults(t *testing.T) {
	for _, tc := range []struct {
		fault string
		step  FinishStep
	}{
		{"DELETE /2.0/repositories/*/*/pipelines_config/variables/*=500", FinishDeleteVariable},
		{"DELETE /api/2.0/token-management/tokens/*=500", FinishRevoke},
	} {
		t.Run(tc.step.String(), func(t *testing.T) {
			e, clock := newFedEnv(t)
			b := e.binding(t, "etl-prod")
			value, _ := e.bound(b)
			ctx := context.Background()
			if _, err := e.creds.Federate(ctx, b, false); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Minute)
			e.control(t, "POST", "/_emulator/pipelines/runs", `{"repository":"etl"}`)
			e.control(t, "PUT", "/_emulator/pipelines/config?repository=etl", oidcPipeline)
			plan, err := e.creds.FinishEvidence(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			rules, err := emulator.ParseFaults(tc.fault)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.srv.SetFaults(rules); err != nil {
				t.Fatal(err)
			}
			_, err = e.creds.FinishFederation(ctx, b, plan)
			var fe *FederationError
			if !errors.As(err, &fe) || fe.Step != tc.step {
				t.Fatalf("want a FederationError at %s, got %v", tc.step, err)
			}
			e.mustStep(t, b, `{"repository":"etl"}`)
			if tc.step == FinishDeleteVariable {
				e.mustWork(t, b)
			}
			if _, err := e.authenticatesAs(t, b, value); err != nil {
				t.Errorf("the stored credential stopped working although its revocation failed: %v", err)
			}
			if err := e.srv.SetFaults(nil); err != nil {
				t.Fatal(err)
			}
			if plan, err = e.creds.FinishEvidence(ctx, b); err != nil {
				t.Fatal(err)
			}
			if _, err := e.creds.FinishFederation(ctx, b, plan); err != nil {
				t.Fatal(err)
			}
			if v, id := e.bound(b); v != "" || id != "" || len(e.live(b)) != 0 {
				t.Errorf("after the retry: variable %q, id %q, live %v", Redact(v), id, e.live(b))
			}
			e.mustStep(t, b, `{"repository":"etl"}`)
		})
	}
}
