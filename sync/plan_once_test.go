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
