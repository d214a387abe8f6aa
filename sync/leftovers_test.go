package sync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
)

// rotateLocked rotates b holding the write lock (its own state directory),
// as the service does for every command.
func (e *credEnv) rotateLocked(t *testing.T, ctx context.Context, b config.Binding) (res RotationResult, err error) {
	t.Helper()
	werr := e.src.Writing(ctx, WriteLockOptions{StateDir: t.TempDir(), Command: "rotate " + b.Name, Now: e.org.Now,
		Operator: e.creds.Operator, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, func(ctx context.Context) error {
		res, err = e.creds.RotateBinding(ctx, b)
		return nil
	})
	if werr != nil {
		t.Fatalf("write lock: %v", werr)
	}
	return res, err
}

// held marks ctx as a run holding the write lock, for runs that are killed
// mid-way in these tests (a real lock would stay held by the dead goroutine;
// the lock itself is tested in writelock_test.go).
func held(ctx context.Context) context.Context { return context.WithValue(ctx, writeLockKey{}, true) }

// The interleaving of the issue, without any lock: rotation B has created
// and verified its credential and is about to write it (its first write
// then gets a 503 and is retried); rotation A starts meanwhile, creates,
// writes, records and cleans up; then B writes and records. B's credential
// is what the variable holds, so it must be alive, for both kinds; the next
// run (under the lock) converges. With the lock, A is refused instead.
func TestRotationRaceKeepsTheRecordedCredential(t *testing.T) {
	for _, name := range []string{"etl-prod", "ml-prod"} {
		t.Run(name, func(t *testing.T) {
			e := newCredEnv(t)
			b := e.binding(t, name)
			ctx := context.Background()
			bAtWrite, resumeB := make(chan struct{}), make(chan struct{})
			credsB := *e.creds
			credsB.beforeStep = func(_ context.Context, s RotationStep) {
				if s == StepWrite {
					close(bAtWrite)
					<-resumeB
				}
			}
			var resB RotationResult
			var errB error
			doneB := make(chan struct{})
			go func() {
				defer close(doneB)
				resB, errB = credsB.RotateBinding(ctx, b)
			}()
			<-bAtWrite

			resA, errA := e.creds.RotateBinding(ctx, b)
			if errA != nil || resA.Done != StepRevoke {
				t.Fatalf("rotation A: %+v, %v", resA, errA)
			}
			if slices.Contains(resA.Revoked, resB.NewID) {
				t.Fatalf("A revoked B's new credential %s, created before A began and not yet written", resB.NewID)
			}
			route := faultRoutes[name][StepWrite].Route
			if err := e.srv.SetFaults([]emulator.FaultRule{{Route: route, Sequence: []emulator.FaultKind{emulator.Fault503}}}); err != nil {
				t.Fatal(err)
			}
			close(resumeB)
			<-doneB
			e.srv.SetFaults(nil)
			if errB != nil {
				t.Fatalf("rotation B: %v", errB)
			}
			value, recorded := e.bound(b)
			if recorded != resB.NewID {
				t.Fatalf("%s_ID records %s, want B's %s (B recorded last)", b.Variable, recorded, resB.NewID)
			}
			if _, ok := e.live(b)[recorded]; !ok {
				t.Fatalf("the recorded credential %s was revoked: the pipeline holds a dead credential", recorded)
			}
			e.mustWork(t, b)

			res, err := e.rotateLocked(t, ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			e.mustConverge(t, b, res)
			e.mustNotShow(t, []string{value}, fmt.Sprintf("%+v %+v %+v", resA, resB, res))
		})
	}

	t.Run("with the lock", func(t *testing.T) {
		e := newCredEnv(t)
		b := e.binding(t, "etl-prod")
		ctx := context.Background()
		inB, resumeB := make(chan struct{}), make(chan struct{})
		credsB := *e.creds
		credsB.beforeStep = func(_ context.Context, s RotationStep) {
			if s == StepWrite {
				close(inB)
				<-resumeB
			}
		}
		opts := func() WriteLockOptions {
			return WriteLockOptions{StateDir: t.TempDir(), Now: e.org.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		}
		errB := make(chan error, 1)
		go func() {
			errB <- e.src.Writing(ctx, opts(), func(ctx context.Context) error {
				_, err := credsB.RotateBinding(ctx, b)
				return err
			})
		}()
		<-inB
		before := e.state()
		err := e.src.Writing(ctx, opts(), func(ctx context.Context) error {
			_, err := e.creds.RotateBinding(ctx, b)
			return err
		})
		var heldErr *LockHeldError
		if !errors.As(err, &heldErr) || ExitCode(err) != 3 {
			t.Fatalf("second rotation while the first holds the lock: %v, want a refusal (exit 3)", err)
		}
		if after := e.state(); after != before {
			t.Errorf("the refused rotation changed something")
		}
		close(resumeB)
		if err := <-errB; err != nil {
			t.Fatal(err)
		}
		e.mustWork(t, b)
	})
}

// killPoint is where a run dies: just before a step, or just after a
// step's calls returned and before their outcome reached the audit log.
type killPoint struct {
	step  RotationStep
	after bool
}

func (k killPoint) String() string {
	if k.after {
		return "after " + k.step.String()
	}
	return "before " + k.step.String()
}

// Runs killed at each point of a rotation, three times in a row, for both
// kinds: the pipeline always holds a working credential; the binding never
// has more than three live credentials (the recorded one, one the variable
// may hold, the new one), so the service principal never nears its five
// secrets; and one later run leaves exactly one live credential of the
// binding, the recorded one (no leftovers).
func TestKilledRotationsLeaveNoLeftovers(t *testing.T) {
	var points []killPoint
	for step := StepCreate; step <= StepRevoke; step++ {
		points = append(points, killPoint{step, false})
	}
	// The new credential exists but its id never reached the log.
	points = append(points, killPoint{StepCreate, true})
	for _, name := range []string{"etl-prod", "ml-prod"} {
		for _, k := range points {
			t.Run(name+"/"+k.String(), func(t *testing.T) {
				e := newCredEnv(t)
				b := e.binding(t, name)
				sp := e.sp(b.ServicePrincipal)
				most, mostLive := len(e.secrets(sp.ID)), len(e.live(b))
				for range 3 {
					kill := func(_ context.Context, s RotationStep) {
						if s == k.step {
							runtime.Goexit() // no compensation, no last audit line: a kill
						}
					}
					e.creds.beforeStep, e.creds.afterStep = nil, nil
					if k.after {
						e.creds.afterStep = kill
					} else {
						e.creds.beforeStep = kill
					}
					done := make(chan struct{})
					go func() {
						defer close(done)
						e.creds.RotateBinding(held(context.Background()), b)
						t.Errorf("the run was not killed at %s", k)
					}()
					<-done
					most, mostLive = max(most, len(e.secrets(sp.ID))), max(mostLive, len(e.live(b)))
					e.mustWork(t, b)
				}
				if most >= SecretLimit {
					t.Errorf("%s held %d secrets after the killed runs, want fewer than %d", sp.DisplayName, most, SecretLimit)
				}
				e.creds.beforeStep, e.creds.afterStep = nil, nil
				res, err := e.rotateLocked(t, context.Background(), b)
				if err != nil {
					t.Fatal(err)
				}
				most = max(most, len(e.secrets(sp.ID)))
				if most >= SecretLimit {
					t.Errorf("%s reached %d secrets, want fewer than %d", sp.DisplayName, most, SecretLimit)
				}
				if mostLive > 3 {
					t.Errorf("binding %s had %d live credentials at once, want at most 3", b.Name, mostLive)
				}
				e.mustConverge(t, b, res)
				if err := VerifyAudit(e.creds.AuditFile); err != nil {
					t.Error(err)
				}
				t.Logf("most live credentials of %s: %d; most secrets of %s: %d", b.Name, mostLive, sp.DisplayName, most)
			})
		}
	}
}

// After killed rotations, the plan (sync) cleans up: a leftover the
// variable cannot hold is revoked ("left by an interrupted rotation"),
// OAuth secrets included; one it may hold makes the binding rotate first.
// Applying that plan leaves exactly the recorded credential, and the next
// plan is empty of both.
func TestPlanCleansLeftovers(t *testing.T) {
	for _, tc := range []struct {
		binding string
		kill    killPoint
		rotate  bool
	}{
		{"ml-prod", killPoint{StepVerify, false}, false},
		{"ml-prod", killPoint{StepCreate, true}, false},
		{"etl-prod", killPoint{StepVerify, false}, false},
		{"ml-prod", killPoint{StepWrite, true}, true},
		{"etl-prod", killPoint{StepRecord, false}, true},
	} {
		t.Run(tc.binding+"/"+tc.kill.String(), func(t *testing.T) {
			e := newCredEnv(t)
			for i := range e.cfg.Pipelines {
				e.cfg.Pipelines[i].RotateEvery = config.Duration(365 * 24 * time.Hour) // none is due
			}
			e.creds.AuditFile = e.cfg.Audit.File
			b := e.binding(t, tc.binding)
			_, recorded := e.bound(b)
			kill := func(_ context.Context, s RotationStep) {
				if s == tc.kill.step {
					runtime.Goexit()
				}
			}
			if tc.kill.after {
				e.creds.afterStep = kill
			} else {
				e.creds.beforeStep = kill
			}
			done := make(chan struct{})
			go func() { defer close(done); e.creds.RotateBinding(held(context.Background()), b) }()
			<-done

			svc := NewService(e.src, e.cfg, ServiceOptions{Now: e.org.Now, StateDir: t.TempDir()})
			ctx := context.Background()
			_, plan, err := svc.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var mine []Change
			for _, c := range plan.Changes {
				if c.Binding == b.Name {
					mine = append(mine, c)
				}
			}
			kind := ActionRevokeToken
			if b.Credential == config.CredentialOAuthSecret {
				kind = ActionRevokeSecret
			}
			switch {
			case tc.rotate:
				if len(mine) != 1 || mine[0].Action != ActionRotateCredential || !strings.Contains(mine[0].Reason, LeftoverReason) {
					t.Fatalf("changes for %s: %+v; want one rotation because the variable may hold a leftover", b.Name, mine)
				}
			default:
				if len(mine) != 1 || mine[0].Action != kind || mine[0].TokenID == recorded || !strings.Contains(mine[0].Reason, LeftoverReason) || !mine[0].Destructive {
					t.Fatalf("changes for %s: %+v; want one %s of the leftover, %q", b.Name, mine, kind, LeftoverReason)
				}
			}
			results, err := svc.Apply(ctx, Plan{Changes: mine}, nil)
			if err != nil || len(results) != 1 || results[0].Status != ResultApplied {
				t.Fatalf("apply: %+v, %v", results, err)
			}
			live := e.live(b)
			value, rec := e.bound(b)
			if len(live) != 1 || live[rec] != value {
				t.Errorf("after the apply %d live credentials of %s, want only the recorded one", len(live), b.Name)
			}
			e.mustWork(t, b)
			_, again, err := svc.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range again.Changes {
				if c.Binding == b.Name {
					t.Errorf("the next plan still has %s", c.ID)
				}
			}
		})
	}
}

// A leftover revocation planned while another rotation was under way is
// checked again when applied: if its binding records the credential by
// now, it is not revoked.
func TestLeftoverRevocationRecheckedAtApply(t *testing.T) {
	e := newCredEnv(t)
	e.creds.AuditFile = e.cfg.Audit.File
	b := e.binding(t, "ml-prod")
	e.creds.beforeStep = func(_ context.Context, s RotationStep) {
		if s == StepVerify {
			runtime.Goexit()
		}
	}
	done := make(chan struct{})
	go func() { defer close(done); e.creds.RotateBinding(held(context.Background()), b) }()
	<-done
	svc := NewService(e.src, e.cfg, ServiceOptions{Now: e.org.Now, StateDir: t.TempDir()})
	ctx := context.Background()
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ch *Change
	for i, c := range plan.Changes {
		if c.Action == ActionRevokeSecret && c.Binding == b.Name {
			ch = &plan.Changes[i]
		}
	}
	if ch == nil {
		t.Fatalf("no leftover revocation planned: %+v", plan.Changes)
	}
	// The binding records it by now (as if that rotation had gone on).
	e.org.Mu.Lock()
	for _, r := range e.org.BB.Repos {
		for _, en := range r.Environments {
			for _, v := range en.Variables {
				if r.Slug == b.Repository && en.Name == b.Environment && v.Key == b.Variable+"_ID" {
					v.Value = ch.TokenID
				}
			}
		}
	}
	e.org.Mu.Unlock()
	results, err := svc.Apply(ctx, Plan{Changes: []Change{*ch}}, nil)
	if err != nil || len(results) != 1 || results[0].Status != ResultFailed || !strings.Contains(results[0].Error, "records "+ch.TokenID+" by now") {
		t.Fatalf("apply: %+v, %v; want the revocation refused", results, err)
	}
	if _, ok := e.live(b)[ch.TokenID]; !ok {
		t.Errorf("secret %s was revoked although its binding records it", ch.TokenID)
	}
}
