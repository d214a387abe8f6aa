package sync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
)

// downable puts each workspace of tw behind a switch that makes its host
// answer every request 500 INTERNAL_ERROR, as a workspace that is down
// (the SDK does not retry it).
func downable(t *testing.T, tw *twoWorkspaces) map[string]*atomic.Bool {
	t.Helper()
	down := map[string]*atomic.Bool{}
	serve := func(name string) *httptest.Server {
		h, d := tw.srv.WorkspaceHandler(name), new(atomic.Bool)
		down[name] = d
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if d.Load() {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, `{"error_code":"INTERNAL_ERROR","message":"the workspace is down"}`)
				return
			}
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(hs.Close)
		return hs
	}
	tw.prod, tw.dev = serve(emulator.DemoWorkspace), serve(emulator.DemoDevWorkspace)
	tw.cfg.Databricks.Workspaces = config.Workspaces{List: []config.Workspace{
		{Name: emulator.DemoWorkspace, Host: tw.prod.URL}, {Name: emulator.DemoDevWorkspace, Host: tw.dev.URL}}}
	return down
}

// TestLeakTracedInEveryWorkspace: a value is asked of every workspace the
// service serves. A dev token is found in dev, also while prod (asked
// first) is down; a dead value names each workspace tried; with dev down,
// a value prod does not take is not called revoked but may be dev's. The
// value is in no error.
func TestLeakTracedInEveryWorkspace(t *testing.T) {
	ctx := context.Background()
	tw := newTwoWorkspaces(t)
	down := downable(t, tw)
	svc := tw.service(t)
	var live *emulator.DBToken
	tw.org.InWorkspace(emulator.DemoDevWorkspace, func(st *emulator.DatabricksState) {
		tw.org.Mu.Lock()
		for _, tok := range st.Tokens {
			if u := st.Users[tok.OwnerID]; u != nil && u.UserName == "dan@acme.com" {
				c := *tok
				live = &c
			}
		}
		tw.org.Mu.Unlock()
	})
	if live == nil {
		t.Fatal("dan holds no dev token")
	}
	dead := "dapi" + strings.Repeat("0", 32)
	noValue := func(err error) {
		t.Helper()
		if err != nil && (strings.Contains(err.Error(), live.Value) || strings.Contains(err.Error(), dead)) {
			t.Errorf("the error holds the value: %v", err)
		}
	}

	for _, prodDown := range []bool{false, true} {
		down[emulator.DemoWorkspace].Store(prodDown)
		tw.srv.ResetStats()
		ws, err := svc.WorkspacesOfLeak(ctx, live.Value)
		noValue(err)
		if err != nil || !slices.Equal(ws, []string{emulator.DemoDevWorkspace}) {
			t.Fatalf("prod down %v: WorkspacesOfLeak = %v, %v; want dev", prodDown, ws, err)
		}
		leak, err := svc.FindLeaked(ctx, live.Value)
		noValue(err)
		if err != nil || leak.Workspace != emulator.DemoDevWorkspace || leak.Owner.Name != "dan@acme.com" {
			t.Fatalf("prod down %v: FindLeaked = %+v, %v; want dan's in dev", prodDown, leak, err)
		}
		st := tw.srv.Stats()
		t.Logf("prod down %v: requests %v, writes %v", prodDown, st.Workspaces, st.WorkspaceWrites)
		if len(st.WorkspaceWrites) != 0 {
			t.Errorf("tracing wrote: %v", st.WorkspaceWrites)
		}
	}
	down[emulator.DemoWorkspace].Store(false)

	_, err := svc.FindLeaked(ctx, dead)
	noValue(err)
	var nf *LeakNotFoundError
	if !errors.As(err, &nf) || !slices.Equal(nf.Tried, []string{"prod", "dev"}) || len(nf.Unread) != 0 {
		t.Fatalf("a dead value: %v; want tried at prod and dev", err)
	}
	if want := "does not authenticate at any of the workspaces prod, dev (each was asked): already revoked, expired, or not of these workspaces; nothing was revoked"; !strings.Contains(err.Error(), want) {
		t.Errorf("a dead value: %v\nwant %q", err, want)
	}

	down[emulator.DemoDevWorkspace].Store(true)
	_, err = svc.FindLeaked(ctx, dead)
	noValue(err)
	if !errors.As(err, &nf) || !slices.Equal(nf.Tried, []string{"prod"}) || len(nf.Unread) != 1 || nf.Unread[0].Workspace != "dev" {
		t.Fatalf("dev down: %v; want tried at prod, dev unread", err)
	}
	msg := err.Error()
	for _, want := range []string{"does not authenticate at workspace prod, and workspace dev could not be asked (",
		"the workspace is down", "it may be a token of dev, so nothing was revoked: try again once dev answers"} {
		if !strings.Contains(msg, want) {
			t.Errorf("dev down: %s\nwant %q", msg, want)
		}
	}
	if strings.Contains(msg, "already revoked") {
		t.Errorf("dev down, the value is called revoked: %s", msg)
	}

	down[emulator.DemoWorkspace].Store(true)
	_, err = svc.FindLeaked(ctx, dead)
	noValue(err)
	if !errors.As(err, &nf) || len(nf.Tried) != 0 || len(nf.Unread) != 2 ||
		!strings.Contains(err.Error(), "could not be traced: workspace prod could not be asked (") ||
		!strings.Contains(err.Error(), "try again once prod and dev answer") {
		t.Errorf("both down: %v", err)
	}
}
