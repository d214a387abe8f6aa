package sync

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
)

// What the account shares across the workspaces of one config: a service
// principal's OAuth secrets and the account groups' membership.

// shareMLDeployer binds ml-deployer's OAuth secret in dev too (ml-dev, in
// repository etl), ml-deployer assigned to dev, as prod's ml-prod does.
func shareMLDeployer(t *testing.T, tw *twoWorkspaces) {
	t.Helper()
	spID := ""
	tw.org.Mu.Lock()
	for id, sp := range tw.org.DB.ServicePrincipals {
		if sp.DisplayName == "ml-deployer" {
			spID = id
		}
	}
	tw.org.Mu.Unlock()
	if spID == "" {
		t.Fatal("no ml-deployer in the demo")
	}
	tw.org.InWorkspace(emulator.DemoDevWorkspace, func(st *emulator.DatabricksState) {
		tw.org.Mu.Lock()
		st.ServicePrincipals[spID].Assigned = true
		tw.org.Mu.Unlock()
	})
	prod, ok := tw.cfg.BindingByName("ml-prod")
	if !ok {
		t.Fatal("no ml-prod in the demo config")
	}
	dev := prod
	dev.Name, dev.Repository, dev.Environment, dev.Workspace = "ml-dev", "etl", "", emulator.DemoDevWorkspace
	tw.cfg.Pipelines = append(tw.cfg.Pipelines, dev)
}

// liveSecrets are the ids of the account's OAuth secrets.
func liveSecrets(tw *twoWorkspaces) []string {
	tw.org.Mu.Lock()
	defer tw.org.Mu.Unlock()
	var out []string
	for id := range tw.org.DB.Secrets {
		out = append(out, id)
	}
	return out
}

// recordedIDs are the credential ids the bindings of every workspace of snap record.
func recordedIDs(snap *Snapshot) map[string]string {
	out := map[string]string{}
	for _, ws := range snap.Workspaces {
		for name, st := range ws.Snap.Bindings {
			if st != nil && st.RecordedID != "" {
				out[name] = st.RecordedID
			}
		}
	}
	return out
}

// TestRotateKeepsOtherWorkspacesSecret: ml-deployer's OAuth secret (the
// account's) is bound by ml-prod in prod and ml-dev in dev. Rotating ml-dev
// and then ml-prod keeps each pipeline's recorded secret alive; the
// inventory flags both recorded secrets bound, and the next plan rotates
// neither for a recorded secret that no longer exists.
func TestRotateKeepsOtherWorkspacesSecret(t *testing.T) {
	ctx := context.Background()
	tw := newTwoWorkspaces(t)
	shareMLDeployer(t, tw)
	svc := tw.service(t)
	snap, _, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	prodSecret := recordedIDs(snap)["ml-prod"]
	if prodSecret == "" || !slices.Contains(liveSecrets(tw), prodSecret) {
		t.Fatalf("ml-prod records %q, live %v", prodSecret, liveSecrets(tw))
	}

	dev, err := svc.Rotate(ctx, "ml-dev")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(dev.Revoked, prodSecret) || !slices.Contains(liveSecrets(tw), prodSecret) {
		t.Fatalf("rotating ml-dev revoked %v: ml-prod's recorded secret %s among them (live %v)", dev.Revoked, prodSecret, liveSecrets(tw))
	}
	prod, err := svc.Rotate(ctx, "ml-prod")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(prod.Revoked, dev.NewID) || !slices.Contains(liveSecrets(tw), dev.NewID) {
		t.Fatalf("rotating ml-prod revoked %v: ml-dev's recorded secret %s among them (live %v)", prod.Revoked, dev.NewID, liveSecrets(tw))
	}
	if !slices.Contains(prod.Revoked, prodSecret) {
		t.Errorf("rotating ml-prod revoked %v, not its own older secret %s", prod.Revoked, prodSecret)
	}

	snap, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := recordedIDs(snap)
	if rec["ml-dev"] != dev.NewID || rec["ml-prod"] != prod.NewID {
		t.Errorf("recorded %v, want ml-dev %s and ml-prod %s", rec, dev.NewID, prod.NewID)
	}
	for _, c := range plan.Changes {
		if (c.Action == ActionRotateCredential || c.Action == ActionRevokeSecret) && (c.Binding == "ml-dev" || c.Binding == "ml-prod" || c.Principal == "ml-deployer") {
			t.Errorf("after both rotations the plan has %s (%s)", c.ID, c.Reason)
		}
	}
	inv, _, err := svc.Tokens(ctx, InventoryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{dev.NewID, prod.NewID} {
		i := slices.IndexFunc(inv, func(c CredentialStatus) bool { return c.Kind == CredentialOAuthSecret && c.ID == id })
		switch {
		case i < 0:
			t.Errorf("inventory: no secret %s", id)
		case !inv[i].Has(FlagBound):
			t.Errorf("inventory: secret %s (listed in %s), recorded by a binding, has flags %v, not bound", id, inv[i].Workspace, inv[i].Flags)
		}
	}
	t.Logf("ml-dev recorded %s (revoked %v), ml-prod recorded %s (revoked %v); live %v",
		dev.NewID, dev.Revoked, prod.NewID, prod.Revoked, liveSecrets(tw))
}

// platformForBoth maps the account group platform-eng from platform in prod
// (pruned) and from ml in dev (not pruned).
func platformForBoth(t *testing.T, tw *twoWorkspaces) {
	t.Helper()
	i := slices.IndexFunc(tw.cfg.Mappings, func(m config.Mapping) bool { return m.DatabricksGroup == "platform-eng" })
	if i < 0 || !tw.cfg.Mappings[i].Prune {
		t.Fatal("the demo config maps no pruned platform-eng")
	}
	tw.cfg.Mappings[i].Workspaces = []string{emulator.DemoWorkspace}
	tw.cfg.Mappings = append(tw.cfg.Mappings, config.Mapping{BitbucketGroup: "ml", DatabricksGroup: "platform-eng",
		Workspaces: []string{emulator.DemoDevWorkspace}})
}

// platformMembership is plan's membership changes of platform-eng, by
// principal, each "add" or "remove" with the workspace that plans it; a
// principal both added and removed is an error.
func platformMembership(t *testing.T, what string, plan Plan) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range plan.Changes {
		if c.Group != "platform-eng" || (c.Action != ActionAddMember && c.Action != ActionRemoveMember) {
			continue
		}
		verb := strings.TrimSuffix(c.Action.String(), "_member")
		if prev, ok := out[c.Principal]; ok && !strings.HasPrefix(prev, verb) {
			t.Errorf("%s: %s both %s and %s in platform-eng", what, c.Principal, prev, c.ID)
		}
		out[c.Principal] = verb + " (" + c.ID + ")"
	}
	return out
}

// TestAccountGroupMappedInTwoWorkspaces: platform-eng, an account group,
// is mapped from platform in prod (pruned) and from ml in dev. Its
// membership is one: ml's members that dev adds are not removed by prod's
// prune, so after one apply the plan has nothing left for platform-eng,
// whether it covers both workspaces, prod alone or dev alone.
func TestAccountGroupMappedInTwoWorkspaces(t *testing.T) {
	ctx := context.Background()
	tw := newTwoWorkspaces(t)
	platformForBoth(t, tw)
	svc := tw.service(t)
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := platformMembership(t, "first plan", plan)
	for _, who := range []string{"mia@acme.com", "noah@acme.com", "omar@acme.com", "tess@acme.com"} {
		if !strings.HasPrefix(first[who], "add") {
			t.Errorf("first plan: %s %q in platform-eng, want an addition (%v)", who, first[who], first)
		}
	}
	if !strings.HasPrefix(first["gus@acme.com"], "remove") {
		t.Errorf("first plan: gus (in no mapped group) %q, want removed by prod's prune (%v)", first["gus@acme.com"], first)
	}
	// A run of dev alone removes from the account group only whom no
	// mapping of either workspace wants (prod's prune), as the whole run does.
	devOnly := tw.service(t)
	if err := devOnly.LimitWorkspaces([]string{emulator.DemoDevWorkspace}); err != nil {
		t.Fatal(err)
	}
	_, devPlan, err := devOnly.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for who, what := range platformMembership(t, "dev-only plan", devPlan) {
		if strings.HasPrefix(what, "remove") && !strings.HasPrefix(first[who], "remove") {
			t.Errorf("dev-only plan: %s, which the whole plan keeps", what)
		}
	}
	results, err := svc.Apply(ctx, plan, nil)
	requireApplied(t, results, err)
	for _, scope := range [][]string{nil, {emulator.DemoWorkspace}, {emulator.DemoDevWorkspace}} {
		svc := tw.service(t)
		if err := svc.LimitWorkspaces(scope); err != nil {
			t.Fatal(err)
		}
		_, again, err := svc.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if left := platformMembership(t, "second plan", again); len(left) > 0 {
			t.Errorf("after apply, a plan over %v still changes platform-eng: %v", cmp.Or(strings.Join(scope, ","), "both"), left)
		}
	}
	t.Logf("first plan's platform-eng changes: %v", first)
}
