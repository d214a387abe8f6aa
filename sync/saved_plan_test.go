package sync

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/emulator"
)

func TestSavedPlanCheck(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	snap := e.read(t)
	plan := ComputePlan(snap, e.cfg, demoNow)
	digest := SnapshotDigest(snap)
	if again := SnapshotDigest(e.read(t)); again != digest {
		t.Fatalf("two reads of an unchanged organisation have digests %s and %s", digest, again)
	}
	saved := SavedPlan{Plan: plan, SnapshotDigest: digest}

	check, err := CheckSavedPlan(saved, plan, digest)
	if err != nil || !check.Unchanged || len(check.Plan.Changes) != len(plan.Changes) || check.NotInSaved != 0 {
		t.Fatalf("unchanged: %+v, %v", check, err)
	}

	// A change whose reason reads differently still holds; one whose target
	// moved does not; one no longer called for does not; a new one is not made.
	fresh := Plan{Changes: append([]Change{}, plan.Changes...)}
	fresh.Changes[0].Reason += " (and another group)"
	check, err = CheckSavedPlan(saved, fresh, "sha256:other")
	if err != nil || check.Unchanged || check.Plan.Changes[0].Reason != plan.Changes[0].Reason {
		t.Fatalf("reason reworded: %+v, %v", check, err)
	}
	fresh.Changes[1].Principal = "mallory@acme.com"
	fresh.Changes = append(fresh.Changes[:2], fresh.Changes[3:]...)
	fresh.Changes = append(fresh.Changes, Change{ID: "add_member/x/y", Action: ActionAddMember})
	check, err = CheckSavedPlan(saved, fresh, "sha256:other")
	var stale *StalePlanError
	if !errors.As(err, &stale) || ExitCode(err) != 3 || len(stale.Stale) != 2 || check.NotInSaved != 1 {
		t.Fatalf("changed: %+v, %v", check, err)
	}
	if stale.Stale[0].ID != plan.Changes[1].ID || stale.Stale[0].Why != "its target changed" ||
		stale.Stale[1].ID != plan.Changes[2].ID || stale.Stale[1].Why != "no longer called for" {
		t.Errorf("stale %+v", stale.Stale)
	}
}

func TestParseSavedPlanRefusesBadInput(t *testing.T) {
	good := `{"format_version":"1","generated_at":"2026-11-26T12:00:00Z","snapshot_digest":"sha256:` + strings.Repeat("a", 64) + `","changes":[],"findings":[]}`
	if p, err := ParseSavedPlan([]byte(good)); err != nil || !p.Plan.GeneratedAt.Equal(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("good plan: %+v, %v", p, err)
	}
	for name, doc := range map[string]string{
		"not JSON":       "plan",
		"two documents":  good + good,
		"version 2":      strings.Replace(good, `"1"`, `"2"`, 1),
		"no digest":      strings.Replace(good, `"snapshot_digest"`, `"x"`, 1),
		"bad time":       strings.Replace(good, "2026-11-26T12:00:00Z", "yesterday", 1),
		"unknown action": strings.Replace(good, `"changes":[]`, `"changes":[{"id":"a","action":"drop_database"}]`, 1),
		"repeated id":    strings.Replace(good, `"changes":[]`, `"changes":[{"id":"a","action":"add_member"},{"id":"a","action":"add_member"}]`, 1),
	} {
		if _, err := ParseSavedPlan([]byte(doc)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	var v any
	if json.Unmarshal([]byte(good), &v) != nil {
		t.Fatal("the good plan is not JSON")
	}
}
