package sync

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"

	"github.com/bitbricks/bitbricks/emulator"
)

// throttleWorkspaces is tw.service with the SDK's retry budget cut to a
// second, so a change that keeps being throttled fails in about that.
func throttleWorkspaces(t *testing.T, tw *twoWorkspaces) *Service {
	t.Helper()
	src, err := NewSources(tw.cfg, SourceOptions{
		Env: MapEnv(map[string]string{
			"BITBUCKET_USERNAME":      tw.org.Creds.BitbucketUsername,
			"BITBUCKET_API_TOKEN":     tw.org.Creds.BitbucketAPIToken,
			"ATLASSIAN_ADMIN_API_KEY": tw.org.Creds.AtlassianAdminKey,
		}),
		Databricks: withAccount(tw.org, DatabricksOptions{Host: tw.prod.URL, Token: tw.org.Creds.DatabricksToken, RateLimit: 1000,
			RetryTimeout: time.Second,
			Workspaces: map[string]DatabricksOptions{
				emulator.DemoWorkspace:    {Host: tw.prod.URL, Token: tw.org.Creds.WorkspaceTokens[emulator.DemoWorkspace]},
				emulator.DemoDevWorkspace: {Host: tw.dev.URL, Token: tw.org.Creds.WorkspaceTokens[emulator.DemoDevWorkspace]},
			}}),
		RetryUnit: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	svc := NewService(src, tw.cfg, ServiceOptions{Now: func() time.Time { return demoNow }, StateDir: t.TempDir()})
	svc.LimitChanges(-1)
	return svc
}

// tripObserver notes how many faults the emulator had injected when the
// run's ThrottledChanges-th throttled change of dev ended.
type tripObserver struct {
	srv     *emulator.Server
	kind    emulator.FaultKind
	failed  int
	atTrip  int64
	tripped bool
}

func (o *tripObserver) Start(int, int, Change) {}

func (o *tripObserver) Done(_ int, _ int, c Change, r Result) {
	if c.Workspace != emulator.DemoDevWorkspace || r.Status != ResultFailed {
		return
	}
	o.failed++
	if o.failed == ThrottledChanges {
		o.tripped, o.atTrip = true, o.srv.Stats().Faults[string(o.kind)]
	}
}

// TestThrottledWorkspaceIsGivenUp: every group change (PATCH) in dev is
// answered 429 (then 503), after the SDK's retries too. After
// ThrottledChanges changes of dev failed so in a row, dev's remaining
// changes are skipped, saying dev is throttling; no PATCH reaches dev after
// that; prod's changes are all made; the next run makes dev's.
func TestThrottledWorkspaceIsGivenUp(t *testing.T) {
	for _, tc := range []struct {
		kind       emulator.FaultKind
		code, said string
	}{{emulator.Fault429, "HTTP 429", "Too many requests"}, {emulator.Fault503, "HTTP 503", "temporarily unavailable"}} {
		t.Run(string(tc.kind), func(t *testing.T) {
			tw := newTwoWorkspaces(t)
			svc := throttleWorkspaces(t, tw)
			ctx := context.Background()
			_, plan, err := svc.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			devPatches := 0
			for _, c := range plan.Changes {
				if c.Workspace == emulator.DemoDevWorkspace && c.Action.Info().GroupChange && c.Action != ActionCreateGroup {
					devPatches++
				}
			}
			if devPatches < ThrottledChanges+3 {
				t.Fatalf("dev has %d group changes; the test needs more than %d", devPatches, ThrottledChanges+3)
			}
			rules, err := emulator.ParseFaults("@dev PATCH /api/2.0/*/scim/v2/Groups/*=" + string(tc.kind))
			if err != nil {
				t.Fatal(err)
			}
			if err := tw.srv.SetFaults(rules); err != nil {
				t.Fatal(err)
			}
			obs := &tripObserver{srv: tw.srv, kind: tc.kind}
			results, err := svc.Apply(ctx, plan, obs)
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			faults := tw.srv.Stats().Faults[string(tc.kind)]
			t.Logf("dev: %d group changes planned; %d PATCHes answered %s in all, %d when the %d-th change failed",
				devPatches, faults, tc.kind, obs.atTrip, ThrottledChanges)
			if !obs.tripped {
				t.Fatalf("fewer than %d changes of dev failed", ThrottledChanges)
			}
			if faults != obs.atTrip {
				t.Errorf("%d PATCHes reached dev after its %d-th throttled change (%d before): a throttled workspace should be left alone", faults-obs.atTrip, ThrottledChanges, obs.atTrip)
			}
			var devFailed, devSkipped, prodApplied, prodOther int
			byID := map[string]Change{}
			for _, c := range plan.Changes {
				byID[c.ID] = c
			}
			for _, r := range results {
				c := byID[r.ID]
				switch {
				case c.Workspace == emulator.DemoDevWorkspace && r.Status == ResultFailed:
					devFailed++
					if !strings.Contains(r.Error, tc.said) {
						t.Errorf("%s failed for another reason: %s", r.ID, r.Error)
					}
				case c.Workspace == emulator.DemoDevWorkspace && r.Status == ResultSkipped:
					if devSkipped++; devSkipped == 1 {
						t.Logf("%s skipped: %s", r.ID, r.Error)
					}
					want := "workspace dev is throttling (" + tc.code + " ×3): nothing more was tried there; retry later"
					if !strings.Contains(r.Error, want) && !strings.Contains(r.Error, "was not") && !strings.Contains(r.Error, "not applied") {
						t.Errorf("%s skipped: %q, want %q", r.ID, r.Error, want)
					}
				case c.Workspace == emulator.DemoWorkspace && r.Status == ResultApplied:
					prodApplied++
				case c.Workspace == emulator.DemoWorkspace:
					prodOther++
					t.Errorf("prod's %s: %s %s", r.ID, r.Status, r.Error)
				}
			}
			t.Logf("dev: %d failed, %d skipped; prod: %d applied", devFailed, devSkipped, prodApplied)
			if devFailed != ThrottledChanges {
				t.Errorf("dev: %d changes failed, want %d", devFailed, ThrottledChanges)
			}
			if devSkipped == 0 || prodApplied == 0 {
				t.Errorf("dev skipped %d, prod applied %d: want both", devSkipped, prodApplied)
			}
			// The throttling over, the next run makes dev's changes.
			if err := tw.srv.SetFaults(nil); err != nil {
				t.Fatal(err)
			}
			_, again, err := svc.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			results, err = svc.Apply(ctx, again, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range results {
				if r.Status != ResultApplied {
					t.Errorf("second run: %s %s %s", r.ID, r.Status, r.Error)
				}
			}
		})
	}
}

// TestThrottleBreakerCountsInARowPerAPI: throttled failures count per API
// (the workspace's, the account's) and in a row: a change made or failed
// for another reason starts the count again; a rotation is never given up.
func TestThrottleBreakerCountsInARowPerAPI(t *testing.T) {
	limit := &apierr.APIError{StatusCode: 500, ErrorCode: "REQUEST_LIMIT_EXCEEDED", Message: "Too many concurrent requests"}
	busy := fmt.Errorf("add x: %w", &apierr.APIError{StatusCode: 429, ErrorCode: "TOO_MANY_REQUESTS"})
	other := &apierr.APIError{StatusCode: 400, ErrorCode: "INVALID_PARAMETER_VALUE"}
	ws := Change{Action: ActionAddMember, Route: RouteWorkspace}
	acc := Change{Action: ActionRemoveMember, Route: RouteAccount}
	rot := Change{Action: ActionRotateCredential}
	var b throttleBreaker
	for range ThrottledChanges - 1 {
		b.record(ws, busy)
		b.record(acc, limit)
	}
	b.record(ws, other) // the workspace's run is broken
	b.record(acc, limit)
	b.record(rot, busy)
	if got := b.open(ws); got != "" {
		t.Errorf("workspace given up after a failure of another kind: %s", got)
	}
	if got, want := b.open(acc), "the account API is throttling (HTTP 500 REQUEST_LIMIT_EXCEEDED ×3)"; !strings.HasPrefix(got, want) {
		t.Errorf("account: %q, want %q", got, want)
	}
	for range ThrottledChanges {
		b.record(rot, busy)
	}
	if got := b.open(rot); got != "" {
		t.Errorf("rotation given up: %s", got)
	}
	for range ThrottledChanges - 1 {
		b.record(ws, busy)
	}
	b.record(ws, nil)
	b.record(ws, busy)
	if got := b.open(ws); got != "" {
		t.Errorf("workspace given up though a change was made in between: %s", got)
	}
	b.record(ws, busy)
	b.record(ws, busy)
	if got, want := b.open(ws), "the workspace is throttling (HTTP 429 ×3): nothing more was tried there; retry later"; got != want {
		t.Errorf("workspace: %q, want %q", got, want)
	}
}
