package sync

import (
	"context"
	gosync "sync"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
)

// TestEachWorkspacePlannedOnce: a Load over two workspaces (departures
// acted on, so each workspace's departure evidence counts in the other)
// plans each workspace exactly once; the departure proof comes from that
// one pass.
func TestEachWorkspacePlannedOnce(t *testing.T) {
	tw := newTwoWorkspaces(t)
	svc := tw.service(t)
	if !tw.cfg.Policy.RevokeDeparted {
		t.Fatal("the demo config does not act on departures")
	}
	var mu gosync.Mutex
	passes := map[string]int{} // by Databricks host
	hook := func(snap *Snapshot) {
		mu.Lock()
		passes[snap.Host]++
		mu.Unlock()
	}
	planPassHook.Store(&hook)
	t.Cleanup(func() { planPassHook.Store(nil) })
	snap, plan, err := svc.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Workspaces) != 2 || len(plan.Changes) == 0 {
		t.Fatalf("%d workspaces read, %d changes", len(snap.Workspaces), len(plan.Changes))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, ws := range snap.Workspaces {
		if n := passes[ws.Snap.Host]; n != 1 {
			t.Errorf("workspace %s (%s) planned %d times, want once", ws.Name, ws.Snap.Host, n)
		}
	}
	if len(passes) != 2 {
		t.Errorf("planning passes by host = %v, want one for each of %s and %s", passes, emulator.DemoWorkspace, emulator.DemoDevWorkspace)
	}
}

// TestAccountUsersReadOncePerRun: the account's users are the same for
// every workspace of a run, so a Load over two workspaces lists them once
// (the demo account's users fit one page), and each workspace still tells
// its assigned users from the others (dev has the account's users it is
// not assigned, unassigned).
func TestAccountUsersReadOncePerRun(t *testing.T) {
	tw := newTwoWorkspaces(t)
	svc := tw.service(t)
	tw.srv.ResetStats()
	snap, _, err := svc.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const route = "databricks GET /api/2.0/accounts/{account_id}/scim/v2/Users"
	if n := tw.srv.Stats().Routes[route]; n != 1 {
		t.Errorf("%s: %d requests over two workspaces, want 1", route, n)
	}
	assigned := map[string]int{}
	for _, ws := range snap.Workspaces {
		if !ws.Snap.AccountAccess {
			t.Fatalf("workspace %s read without account access", ws.Name)
		}
		for _, u := range ws.Snap.Users {
			if u.Assigned {
				assigned[ws.Name]++
			}
		}
		if ws.Name == emulator.DemoDevWorkspace && len(ws.Snap.Users) == assigned[ws.Name] {
			t.Errorf("dev: every one of %d users assigned, want the account's users not assigned to dev too", len(ws.Snap.Users))
		}
	}
	if assigned[emulator.DemoWorkspace] <= assigned[emulator.DemoDevWorkspace] {
		t.Errorf("assigned users per workspace = %v, want dev's fewer than prod's", assigned)
	}
}
