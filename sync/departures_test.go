package sync

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/emulator"
)

// devToken gives user name a live token in the demo's dev workspace (used
// an hour ago, expiring in a month: no rule but departure revokes it) and
// returns its id.
func devToken(t *testing.T, tw *twoWorkspaces, name string) string {
	t.Helper()
	dev := tw.org.Workspace(emulator.DemoDevWorkspace)
	tw.org.Mu.Lock()
	defer tw.org.Mu.Unlock()
	for _, u := range dev.Users {
		if u.UserName == name {
			tok := &emulator.DBToken{ID: "devtok-" + strings.Split(name, "@")[0], Value: "dapi" + strings.Repeat("7", 32), OwnerID: u.ID,
				CreatedByID: u.ID, CreatedByUsername: name, Comment: "laptop", Created: demoNow.Add(-48 * time.Hour),
				Expiry: demoNow.Add(30 * 24 * time.Hour), LastUsed: demoNow.Add(-time.Hour)}
			dev.Tokens[tok.ID], dev.TokensByValue[tok.Value] = tok, tok
			return tok.ID
		}
	}
	t.Fatalf("no user %s in dev", name)
	return ""
}

// changeNamed is the change with id in plan, or nil.
func changeNamed(plan Plan, id string) *Change {
	i := slices.IndexFunc(plan.Changes, func(c Change) bool { return c.ID == id })
	if i < 0 {
		return nil
	}
	return &plan.Changes[i]
}

// TestDepartedTokensRevokedInEveryWorkspace: fay, in prod's de-team only,
// has left the Bitbucket workspace; her live dev token goes too, although
// no mapping of dev names a group she is in. Revoked through the real SDK
// and gone from dev. A protected fay keeps it.
func TestDepartedTokensRevokedInEveryWorkspace(t *testing.T) {
	tw := newTwoWorkspaces(t)
	id := devToken(t, tw, "fay@acme.com")
	ctx := context.Background()
	svc := tw.service(t)
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := changeNamed(plan, "dev:revoke_token/"+id)
	if c == nil {
		t.Fatalf("fay's dev token is not revoked; plan: %v", changeIDs(plan))
	}
	if c.Workspace != emulator.DemoDevWorkspace || c.Principal != "fay@acme.com" || c.Reason != "owner left the Bitbucket workspace" {
		t.Errorf("revocation: %+v", *c)
	}
	changes, err := plan.WithDependencies(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	results, err := svc.Apply(ctx, Plan{Changes: changes}, nil)
	if err != nil || len(results) != 1 || results[0].Status != ResultApplied {
		t.Fatalf("apply: %v %+v", err, results)
	}
	dev := tw.org.Workspace(emulator.DemoDevWorkspace)
	tw.org.Mu.Lock()
	_, left := dev.Tokens[id]
	tw.org.Mu.Unlock()
	if left {
		t.Error("fay's dev token still exists")
	}

	// Protected: kept in every workspace.
	tw2 := newTwoWorkspaces(t)
	id2 := devToken(t, tw2, "fay@acme.com")
	tw2.cfg.Policy.Protected = append(tw2.cfg.Policy.Protected, "fay@acme.com")
	_, plan2, err := tw2.service(t).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range plan2.Changes {
		if c.Action == ActionRevokeToken && strings.EqualFold(c.Principal, "fay@acme.com") {
			t.Errorf("protected fay: %s", c.ID)
		}
	}
	if changeNamed(plan2, "dev:revoke_token/"+id2) != nil {
		t.Error("protected fay's dev token revoked")
	}
}

// TestDepartedTokensRevokedInEveryWorkspaceUnknown: when Bitbucket cannot
// confirm that fay left (her direct membership lookup fails), no workspace
// revokes her tokens, and the finding names her.
func TestDepartedTokensRevokedInEveryWorkspaceUnknown(t *testing.T) {
	tw := newTwoWorkspaces(t)
	id := devToken(t, tw, "fay@acme.com")
	if err := tw.srv.SetFaults([]emulator.FaultRule{{Route: "/2.0/workspaces/{workspace}/members/{member}", Kind: emulator.Fault500}}); err != nil {
		t.Fatal(err)
	}
	_, plan, err := tw.service(t).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range plan.Changes {
		if c.Action == ActionRevokeToken && strings.Contains(c.Reason, "left the Bitbucket workspace") {
			t.Errorf("revoked on unknown evidence: %s", c.ID)
		}
	}
	if changeNamed(plan, "dev:revoke_token/"+id) != nil {
		t.Error("fay's dev token revoked while her departure is unknown")
	}
	if !slices.ContainsFunc(plan.Findings, func(f Finding) bool { return f.Kind == FindingNoDeparted && f.Subject == "fay@acme.com" }) {
		t.Errorf("no departed_unknown finding for fay: %v", plan.Findings)
	}
}

// TestDepartedAfterLimitedRun: `sync --apply --workspace dev` takes gus,
// who left, out of the shared account group platform-eng. The next plan
// over both workspaces still revokes his prod token: the audit log says
// bitbricks removed him from a mapped group, so his departure is still
// checked although he is in no mapped group any more.
func TestDepartedAfterLimitedRun(t *testing.T) {
	tw := newTwoWorkspaces(t)
	ctx := context.Background()
	_, before, err := tw.service(t).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var gusTokens []string
	for _, c := range before.Changes {
		if c.Action == ActionRevokeToken && c.Principal == "gus@acme.com" && strings.Contains(c.Reason, "owner left the Bitbucket workspace") {
			gusTokens = append(gusTokens, c.ID)
		}
	}
	if len(gusTokens) == 0 {
		t.Fatalf("the demo plan revokes no token of gus: %v", changeIDs(before))
	}
	tw.applyDevRemovingGus(t)
	_, after, err := tw.service(t).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if changeNamed(after, "prod:remove_member/platform-eng/gus@acme.com") != nil {
		t.Fatal("gus is still in platform-eng")
	}
	for _, id := range gusTokens {
		c := changeNamed(after, id)
		if c == nil || !strings.Contains(c.Reason, "owner left the Bitbucket workspace") {
			t.Errorf("after the dev run, %s is no longer planned (plan: %v)", id, changeIDs(after))
		}
	}
	// His own assignment to prod goes too, on its own (no removal left to
	// wait for), and is taken back through the account API.
	u := changeNamed(after, "prod:unassign_workspace/gus@acme.com")
	if u == nil || u.Reason != "assigned to this workspace directly; left the Bitbucket workspace" || len(u.RemovedFrom) != 0 {
		t.Fatalf("after the dev run, gus's prod assignment: %+v", u)
	}
	svc := tw.service(t)
	if !slices.Contains(assignedUsers(t, svc, emulator.DemoWorkspace), "gus@acme.com") {
		t.Fatal("gus not assigned to prod before")
	}
	changes, err := after.WithDependencies(u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if results, err := svc.Apply(ctx, Plan{Changes: changes}, nil); err != nil || len(results) != 1 || results[0].Status != ResultApplied {
		t.Fatalf("apply: %v %+v", err, results)
	}
	if slices.Contains(assignedUsers(t, svc, emulator.DemoWorkspace), "gus@acme.com") {
		t.Error("gus still assigned to prod")
	}
}

// TestDepartedAfterFailedRevocation: with one workspace, a run takes the
// departed people out of their mapped groups, but every token revocation
// fails (500). The next plan still revokes their tokens: the audit log
// says bitbricks removed them, so they are still asked about.
func TestDepartedAfterFailedRevocation(t *testing.T) {
	e, svc := newServiceEnv(t)
	svc.LimitChanges(-1)
	ctx := context.Background()
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	departed := map[string]string{} // token change id -> owner
	for _, c := range plan.Changes {
		if c.Action == ActionRevokeToken && c.Reason == "owner left the Bitbucket workspace" {
			departed[c.ID] = c.Principal
		}
	}
	if len(departed) == 0 {
		t.Fatal("the demo plan revokes no departed person's token")
	}
	if err := e.srv.SetFaults([]emulator.FaultRule{{Route: "/api/2.0/token-management/tokens/*", Method: "DELETE", Kind: emulator.Fault500}}); err != nil {
		t.Fatal(err)
	}
	results, err := svc.Apply(ctx, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	removed := 0
	for _, r := range results {
		if _, ok := departed[r.ID]; ok && r.Status != ResultFailed {
			t.Errorf("%s: %s, want failed", r.ID, r.Status)
		}
		if strings.HasPrefix(r.ID, "remove_member/") && r.Status == ResultApplied {
			removed++
		}
	}
	if removed == 0 {
		t.Fatal("no removal applied")
	}
	if err := e.srv.SetFaults(nil); err != nil {
		t.Fatal(err)
	}
	_, again, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for id, owner := range departed {
		if c := changeNamed(again, id); c == nil || c.Reason != "owner left the Bitbucket workspace" {
			t.Errorf("%s of %s is no longer revoked after its revocation failed (plan: %v)", id, owner, changeIDs(again))
		}
	}
}

// A person bitbricks took out of a mapped group is asked about only while
// they hold something here a departure takes. Once the demo's departed
// people (fay, gus) lost their tokens, no run asks Bitbucket about them
// again: with every direct membership lookup failing, the next plan is
// clean (before, their lookups were made on every run for ever, and their
// failure turned every run red). One whose token survived is still asked.
func TestFormerMembersAskedOnlyWhileTheyHoldSomething(t *testing.T) {
	e, svc := newServiceEnv(t)
	svc.LimitChanges(-1)
	ctx := context.Background()
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keep := "" // one departed token left alive, to show its owner is still asked
	var sub Plan
	for _, c := range plan.Changes {
		if keep == "" && c.Action == ActionRevokeToken && c.Reason == "owner left the Bitbucket workspace" {
			keep = c.Principal
			continue
		}
		if c.Action == ActionRevokeToken && c.Principal == keep {
			continue
		}
		sub.Changes = append(sub.Changes, c)
	}
	if keep == "" {
		t.Fatal("the demo plan revokes no departed person's token")
	}
	if _, err := svc.Apply(ctx, sub, nil); err != nil {
		t.Fatal(err)
	}
	lookups := []emulator.FaultRule{{Route: "/2.0/workspaces/*/members/*", Method: "GET", Kind: emulator.Fault500}}
	if err := e.srv.SetFaults(lookups); err != nil {
		t.Fatal(err)
	}
	_, again, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	for _, p := range again.Problems {
		problems = append(problems, p.System+"/"+p.What)
	}
	if len(problems) != 1 || problems[0] != "bitbucket/workspace membership" {
		t.Errorf("problems %v: want exactly the lookup of %s, who still holds a token", problems, keep)
	}
	for _, f := range again.Findings {
		if f.Kind == FindingNoDeparted && !strings.Contains(f.Subject+f.Detail, keep) {
			t.Errorf("someone holding nothing any more was asked about: %s %s", f.Subject, f.Detail)
		}
	}

	// Once that token is gone too, nobody is asked: the run is clean.
	if err := e.srv.SetFaults(nil); err != nil {
		t.Fatal(err)
	}
	_, plan, err = svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Apply(ctx, plan, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetFaults(lookups); err != nil {
		t.Fatal(err)
	}
	_, last, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(last.Problems) != 0 {
		t.Errorf("problems %v after every departed person's tokens went: nobody should be asked about", last.Problems)
	}
}

// applyDevRemovingGus applies, in a run limited to dev, dev's plan, which
// takes gus out of the account group platform-eng; it returns that run's
// service.
func (tw *twoWorkspaces) applyDevRemovingGus(t *testing.T) *Service {
	t.Helper()
	ctx := context.Background()
	devOnly := tw.service(t)
	if err := devOnly.LimitWorkspaces([]string{emulator.DemoDevWorkspace}); err != nil {
		t.Fatal(err)
	}
	_, devPlan, err := devOnly.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if changeNamed(devPlan, "dev:remove_member/platform-eng/gus@acme.com") == nil {
		t.Fatalf("the dev plan does not remove gus from platform-eng: %v", changeIDs(devPlan))
	}
	if _, err := devOnly.Apply(ctx, devPlan, nil); err != nil {
		t.Fatal(err)
	}
	return devOnly
}
