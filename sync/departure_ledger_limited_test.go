package sync

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/emulator"
)

// TestLimitedRunReadsEveryWorkspacesLedger: gus, who holds a dev token, is
// taken out of the account group platform-eng by a full run in which dev
// applies nothing, so only prod's ledger records it. A later run limited to
// dev, on another machine, reads prod's ledger too (one GET, no write) and
// revokes gus's dev token; when prod's ledger cannot be read, the dev-only
// run stays green and revokes nothing on that ledger's word.
func TestLimitedRunReadsEveryWorkspacesLedger(t *testing.T) {
	tw := newTwoWorkspaces(t)
	ctx := context.Background()
	dev := tw.org.Workspace(emulator.DemoDevWorkspace)
	var gusID string
	for id, u := range dev.Users {
		if u.UserName == "gus@acme.com" {
			gusID = id
		}
	}
	if gusID == "" {
		t.Fatal("gus is no dev user")
	}
	tok := &emulator.DBToken{ID: "aaaabbbbccccddddeeeeffff00001111", Value: "dapi0000111122223333444455556666aaaa", OwnerID: gusID,
		Comment: "gus dev", Created: demoNow.Add(-24 * time.Hour), Expiry: demoNow.Add(30 * 24 * time.Hour)}
	dev.Tokens[tok.ID] = tok
	dev.TokensByValue[tok.Value] = tok

	// run 0: dev's own changes applied (gus's left alone), so dev has nothing to apply in run 1.
	d0 := tw.service(t)
	d0.LimitChanges(-1)
	if err := tw.srv.SetFaults([]emulator.FaultRule{{Route: "/2.0/workspaces/*/members/*", Method: "GET", Kind: emulator.Fault500}}); err != nil {
		t.Fatal(err)
	}
	if err := d0.LimitWorkspaces([]string{emulator.DemoDevWorkspace}); err != nil {
		t.Fatal(err)
	}
	_, p0, err := d0.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keep Plan
	keep.GeneratedAt = p0.GeneratedAt
	for _, c := range p0.Changes {
		if !strings.Contains(c.ID, "gus") {
			keep.Changes = append(keep.Changes, c)
		}
	}
	if _, err := d0.Apply(ctx, keep, nil); err != nil {
		t.Logf("run 0 apply: %v", err)
	}
	full := tw.service(t)
	full.LimitChanges(-1)
	if err := tw.srv.SetFaults([]emulator.FaultRule{{Route: "/2.0/workspaces/*/members/*", Method: "GET", Kind: emulator.Fault500}}); err != nil {
		t.Fatal(err)
	}
	_, plan, err := full.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range plan.Changes {
		if strings.HasPrefix(c.ID, "dev:") {
			t.Logf("run 1 dev change %s", c.ID)
		}
		if strings.Contains(c.ID, "gus") {
			t.Logf("run 1 change %s", c.ID)
		}
	}
	if _, err := full.Apply(ctx, plan, nil); err != nil {
		t.Logf("run 1 apply: %v", err)
	}
	if err := tw.srv.SetFaults(nil); err != nil {
		t.Fatal(err)
	}
	// The scenario: prod's ledger names gus, dev's does not (dev applied
	// nothing in run 1).
	b, ok := tw.org.WorkspaceFile(DefaultDeparturesLedger)
	if !ok || !strings.Contains(string(b), "gus@") {
		t.Fatalf("prod's ledger (%v) does not name gus: %s", ok, b)
	}
	tw.org.Mu.Lock()
	devLedger := dev.Workspace[DefaultDeparturesLedger]
	tw.org.Mu.Unlock()
	if devLedger != nil && strings.Contains(string(devLedger.Content), "gus@") {
		t.Fatalf("dev's ledger names gus already: the scenario needs it not to")
	}
	// Another machine (own audit log), dev only.
	cfg := *tw.cfg
	cfg.Audit.File = filepath.Join(t.TempDir(), "audit.jsonl")
	limited := func() *Service {
		other := NewService(full.src, &cfg, ServiceOptions{Now: tw.org.Now, StateDir: t.TempDir()})
		other.LimitChanges(-1)
		if err := other.LimitWorkspaces([]string{emulator.DemoDevWorkspace}); err != nil {
			t.Fatal(err)
		}
		return other
	}
	tw.srv.ResetStats()
	_, after, err := limited().Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := tw.srv.Stats()
	t.Logf("dev-only run: requests to prod %d (writes %d), to dev %d", st.Workspaces[emulator.DemoWorkspace], st.WorkspaceWrites[emulator.DemoWorkspace], st.Workspaces[emulator.DemoDevWorkspace])
	if st.Workspaces[emulator.DemoWorkspace] != 1 || st.WorkspaceWrites[emulator.DemoWorkspace] != 0 {
		t.Errorf("dev-only run: %d requests to prod (%d writes), want its ledger's one read", st.Workspaces[emulator.DemoWorkspace], st.WorkspaceWrites[emulator.DemoWorkspace])
	}
	found := false
	for _, c := range after.Changes {
		if c.Workspace != emulator.DemoDevWorkspace {
			t.Errorf("dev-only run plans %s", c.ID)
		}
		if c.TokenID == tok.ID && c.Action == ActionRevokeToken {
			found = true
			t.Logf("dev-only run on another machine: %s %s", c.ID, c.Reason)
		}
	}
	if !found {
		t.Errorf("dev-only run on another machine does not revoke gus's dev token %s (plan: %v)", tok.ID, changeIDs(after))
	}
	if len(after.Problems) != 0 {
		t.Errorf("dev-only run: problems %+v", after.Problems)
	}
	// prod's ledger cannot be read (prod is down, say): the dev-only run
	// stays green (it is the way out while prod is down); only what that
	// ledger alone records waits for a run that reads it.
	if err := tw.srv.SetFaults([]emulator.FaultRule{{Workspace: emulator.DemoWorkspace, Route: "/api/2.0/workspace/export", Method: "GET", Kind: emulator.Fault500}}); err != nil {
		t.Fatal(err)
	}
	_, broken, err := limited().Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(broken.Problems) != 0 {
		t.Errorf("prod's unreadable ledger made the dev-only run fail: %+v", broken.Problems)
	}
	for _, c := range broken.Changes {
		if c.TokenID == tok.ID {
			t.Errorf("without prod's ledger, the dev-only run still plans %s", c.ID)
		}
	}
}
