package sync

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
)

// newServiceEnv is the demo organisation on loopback with a Service over the
// real adapters; the config is written to disk (Remap rewrites it) with the
// audit log beside it.
func newServiceEnv(t *testing.T) (*demoEnv, *Service) {
	t.Helper()
	e := newDemo(t, emulator.Options{})
	dir := t.TempDir()
	path := filepath.Join(dir, "bitbricks.yaml")
	src := append(emulator.DemoConfig(e.org, e.http.URL), []byte("audit:\n  file: "+filepath.Join(dir, "audit.jsonl")+"\n")...)
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = cfg
	e.src = e.sources(t, e.org.Creds.DatabricksToken)
	e.db = e.src.Databricks.(*Databricks)
	return e, NewService(e.src, cfg, ServiceOptions{Now: e.org.Now})
}

// auditActions are the actions of the service's audit log, oldest first.
func auditActions(t *testing.T, svc *Service) []string {
	t.Helper()
	evs, err := svc.Audit(-1)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		out = append(out, evs[i].Action)
	}
	return out
}

// The service end to end on the demo organisation, every method through the
// real SDK clients: plan, apply with the rotator and audit, each kind of
// revocation, rotation, re-map, and the audit log read back and verified.
func TestServiceEndToEnd(t *testing.T) {
	e, svc := newServiceEnv(t)
	ctx := context.Background()

	snap, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Caller != "admin@acme.com" || len(plan.Changes) == 0 {
		t.Fatalf("Load: caller %q, %d changes", snap.Caller, len(plan.Changes))
	}

	// The max_changes guard: checked before asking, and by Apply itself.
	svc.LimitChanges(1)
	if err := svc.CheckPlanSize(plan); err == nil {
		t.Fatal("CheckPlanSize passed a plan over the limit")
	}
	var guard *GuardError
	if _, err := svc.Apply(ctx, plan, nil); !errors.As(err, &guard) || guard.Max != 1 {
		t.Fatalf("Apply over the limit: %v, want a *GuardError", err)
	}
	if acts := auditActions(t, svc); len(acts) != 0 {
		t.Fatalf("a refused apply audited %v", acts)
	}
	svc.LimitChanges(-1)

	// Apply one add_member and one rotation: both audited, the rotation with
	// its protocol steps under it.
	var some []Change
	for _, want := range []Action{ActionAddMember, ActionRotateCredential} {
		for _, c := range plan.Changes {
			if c.Action == want {
				some = append(some, c)
				break
			}
		}
	}
	if len(some) != 2 {
		t.Fatalf("the demo plan lacks add_member or rotate_credential: %v", changeIDs(plan))
	}
	results, err := svc.Apply(ctx, Plan{Changes: some}, nil)
	requireApplied(t, results, err)
	acts := strings.Join(auditActions(t, svc), " ")
	for _, a := range []string{"add_member", "rotate_credential", "create_credential", "verify_credential", "write_variable", "record_credential_id"} {
		if !strings.Contains(acts, a) {
			t.Errorf("the audit log lacks %s: %s", a, acts)
		}
	}
	if evs, _ := svc.Audit(1); len(evs) != 1 || evs[0].Operator.Databricks != "admin@acme.com" {
		t.Errorf("Audit(1) = %+v, want the newest event as admin@acme.com", evs)
	}
	_, again, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range again.Changes {
		if c.ID == some[0].ID {
			t.Errorf("%s is still planned after it was applied", c.ID)
		}
	}

	// Revoke one token by id.
	hana := e.userID(t, "hana@acme.com")
	var tokenID string
	e.org.Mu.Lock()
	for _, tk := range e.org.DB.Tokens {
		if tk.OwnerID == hana {
			tokenID = tk.ID
			break
		}
	}
	e.org.Mu.Unlock()
	if tokenID == "" {
		t.Fatal("hana has no token")
	}
	cr, err := svc.RevokeToken(ctx, tokenID)
	if err != nil || cr.ID != tokenID {
		t.Fatalf("RevokeToken: %+v %v", cr, err)
	}

	// Revoke by owner: list first, then revoke exactly the list; a service
	// principal's bindings are named.
	owned, err := svc.OwnerCredentials(ctx, "reporting-bot")
	if err != nil || len(owned.Credentials) == 0 {
		t.Fatalf("OwnerCredentials: %+v %v", owned, err)
	}
	rev, err := svc.RevokeCredentials(ctx, owned.Credentials)
	if err != nil || len(rev.Revoked) != len(owned.Credentials) {
		t.Fatalf("RevokeCredentials: %+v %v", rev, err)
	}
	etl, err := svc.OwnerCredentials(ctx, "etl-deployer")
	if err != nil {
		t.Fatal(err)
	}
	if bs := svc.OwnerBindings(etl.Principal); len(bs) == 0 || bs[0].ServicePrincipal != "etl-deployer" {
		t.Errorf("OwnerBindings(etl-deployer) = %+v, want its pipeline binding", bs)
	}
	if bs := svc.OwnerBindings(Principal{Name: "hana@acme.com", Type: PrincipalUser}); len(bs) != 0 {
		t.Errorf("a user backs bindings %+v", bs)
	}

	// A leaked user token: traced, then every token of its owner revoked.
	var ivy, leaked string
	ivy = e.userID(t, "ivy.chen@acme.com")
	e.org.Mu.Lock()
	for _, tk := range e.org.DB.Tokens {
		if tk.OwnerID == ivy {
			leaked = tk.Value
			break
		}
	}
	e.org.Mu.Unlock()
	if leaked == "" {
		t.Fatal("ivy has no token")
	}
	leak, err := svc.FindLeaked(ctx, leaked)
	if err != nil || leak.Owner.Name != "ivy.chen@acme.com" {
		t.Fatalf("FindLeaked: %+v %v", leak, err)
	}
	lr, err := svc.RevokeLeaked(ctx, leak, LeakOptions{Rest: true})
	if err != nil || lr.StillValid || len(lr.Revoked) != len(leak.Tokens) {
		t.Fatalf("RevokeLeaked: %+v %v", lr, err)
	}
	if _, err := svc.RevokeLeaked(ctx, nil, LeakOptions{}); err == nil {
		t.Error("RevokeLeaked without a trace did not fail")
	}

	// Rotation by name, and an unknown name listing the bindings.
	name := e.cfg.Pipelines[0].Name
	rot, err := svc.Rotate(ctx, name)
	if err != nil || rot.NewID == "" {
		t.Fatalf("Rotate(%s): %+v %v", name, rot, err)
	}
	if _, err := svc.Rotate(ctx, "nope"); err == nil || !strings.Contains(err.Error(), name) {
		t.Errorf("Rotate(nope): %v, want the bindings listed", err)
	}
	if _, _, err := svc.DueBindings(ctx); err != nil {
		t.Fatal(err)
	}

	// Re-map: the file is rewritten, audited, and the next plan uses it.
	if err := svc.Remap(ctx, 3, "ml-platform"); err != nil {
		t.Fatal(err)
	}
	if got := svc.Config().Mappings[3].DatabricksGroup; got != "ml-platform" {
		t.Fatalf("after Remap the service plans with %q", got)
	}
	onDisk, err := config.Load(svc.Config().Path)
	if err != nil || onDisk.Mappings[3].DatabricksGroup != "ml-platform" {
		t.Fatalf("the config file was not rewritten: %v", err)
	}
	if err := svc.Remap(ctx, 99, "x"); err == nil {
		t.Error("Remap of a missing mapping did not fail")
	}
	_, plan, err = svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	created := false
	for _, c := range plan.Changes {
		created = created || (c.Action == ActionCreateGroup && c.Group == "ml-platform")
	}
	if !created {
		t.Errorf("after Remap the plan does not create ml-platform: %v", changeIDs(plan))
	}

	acts = strings.Join(auditActions(t, svc), " ")
	for _, a := range []string{"revoke_token", "lookup_leaked_token", "remap"} {
		if !strings.Contains(acts, a) {
			t.Errorf("the audit log lacks %s: %s", a, acts)
		}
	}
	if path, err := svc.VerifyAudit(); err != nil || path != svc.Config().Audit.File {
		t.Errorf("VerifyAudit: %s %v", path, err)
	}
	for _, ev := range must(svc.Audit(-1)) {
		if strings.Contains(ev.Target+ev.Error, leaked) {
			t.Fatalf("the audit log shows the leaked value")
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// With no audit log yet, Audit has no events and VerifyAudit says what to do.
func TestServiceAuditWithoutLog(t *testing.T) {
	cfg := &config.Config{Path: "x.yaml"}
	cfg.Audit.File = filepath.Join(t.TempDir(), "none.jsonl")
	svc := NewService(Sources{}, cfg, ServiceOptions{})
	if evs, err := svc.Audit(10); err != nil || len(evs) != 0 {
		t.Errorf("Audit = %v %v, want none", evs, err)
	}
	if _, err := svc.VerifyAudit(); err == nil || !strings.Contains(err.Error(), "no audit log at") {
		t.Errorf("VerifyAudit = %v", err)
	}
	if _, err := svc.Apply(context.Background(), Plan{}, nil); err == nil {
		t.Error("Apply without an executor did not fail")
	}
}
