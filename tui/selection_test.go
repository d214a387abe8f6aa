package tui

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
	"github.com/bitbricks/bitbricks/sync"
)

// selectedIDs is the plan view's selection over the whole load.
func selectedIDs(t testing.TB, m Model) []string {
	t.Helper()
	var out []string
	for id, on := range viewOf[*planView](t, m).s.selected {
		if on {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// filterPlan filters the plan's changes with q ("" clears the filter).
func filterPlan(t testing.TB, m Model, q string) Model {
	t.Helper()
	if q == "" {
		return keys(t, m, "esc")
	}
	m = keys(t, m, "/")
	m = keys(t, m, strings.Split(q, "")...)
	return keys(t, m, "enter")
}

// TestSelectionSurvivesAScopeSwitch: one change chosen in all workspaces
// stays the one selected change whichever workspace is shown; a switch
// never selects anything by itself, and a scope that hides the selected
// change says so and applies nothing of it.
func TestSelectionSurvivesAScopeSwitch(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	m := keys(t, loaded(t, e.b, 120, 34, false), "5", "t")
	if got := selectedIDs(t, m); len(got) != 0 {
		t.Fatalf("t in all workspaces left %d selected", len(got))
	}
	m = filterPlan(t, m, "rita")
	c, ok := viewOf[*planView](t, m).changes.Selected()
	if !ok || c.Workspace != emulator.DemoDevWorkspace {
		t.Fatalf("the first change matching rita is %q, want dev's", c.ID)
	}
	m = keys(t, m, " ")
	m = filterPlan(t, m, "")
	want := []string{c.ID}
	if got := selectedIDs(t, m); !slices.Equal(got, want) {
		t.Fatalf("selected %q, want %q", got, want)
	}
	for _, step := range []struct {
		scope   string
		title   string
		outside int
	}{
		{emulator.DemoDevWorkspace, "· 1 selected", 0},
		{allScope, "· 1 selected", 0},
		{emulator.DemoWorkspace, "· 0 selected (1 selected outside workspace prod)", 1},
		{allScope, "· 1 selected", 0},
		{emulator.DemoWorkspace, "· 0 selected (1 selected outside workspace prod)", 1},
	} {
		m = keys(t, m, "w")
		m = keys(t, m, strings.Split(step.scope, "")...)
		m = keys(t, m, "enter")
		if got := selectedIDs(t, m); !slices.Equal(got, want) {
			t.Fatalf("after switching to %s the selection is %d changes %q, want only %q", step.scope, len(got), got, want)
		}
		v := m.View()
		if !strings.Contains(v, step.title) {
			t.Errorf("after switching to %s the plan's title does not say %q:\n%s", step.scope, step.title, v)
		}
		if step.outside > 0 && !strings.Contains(m.status, "1 selected change outside it, kept selected and not applied from here") {
			t.Errorf("after switching to %s the status does not say a selected change is outside it: %q", step.scope, m.status)
		}
	}
	// prod shown: a applies nothing (the selected change is dev's).
	m = keys(t, m, "a")
	if m.modal == modalConfirm {
		t.Fatalf("a in prod, with only dev's change selected, asks:\n%s", m.View())
	}
}

// TestApplyInAScopeAppliesOnlyWhatItShows: with every change selected (the
// default), a in workspace dev offers dev's changes only, and says how many
// selected changes of other workspaces are left out.
func TestApplyInAScopeAppliesOnlyWhatItShows(t *testing.T) {
	e := newTwoWorkspaceEnv(t)
	m := keys(t, loaded(t, e.b, 120, 34, false), "5")
	all := len(selectedIDs(t, m))
	m = filterPlan(t, m, "revoke_token")
	revokes := viewOf[*planView](t, m).changes.Len()
	m = filterPlan(t, m, "")
	// Only the revocations stay selected, over both workspaces: t
	// deselects all, then selects what the filter shows.
	m = keys(t, m, "t")
	m = filterPlan(t, m, "revoke_token")
	m = keys(t, m, "t")
	m = filterPlan(t, m, "")
	if got := len(selectedIDs(t, m)); got != revokes || revokes == 0 || revokes == all {
		t.Fatalf("selected %d of %d, want the %d revocations", got, all, revokes)
	}
	m = keys(t, m, "w")
	m = keys(t, m, strings.Split(emulator.DemoDevWorkspace, "")...)
	m = keys(t, m, "enter")
	inDev := 0
	for _, c := range m.d.plan.Changes {
		if c.Action == sync.ActionRevokeToken {
			inDev++
		}
	}
	if inDev == 0 || inDev == revokes {
		t.Fatalf("dev has %d of the %d revocations; the test needs some in each workspace", inDev, revokes)
	}
	m = keys(t, m, "a")
	v := m.View()
	if m.modal != modalConfirm {
		t.Fatalf("a asks nothing:\n%s", v)
	}
	for _, s := range []string{
		"Apply " + strconv.Itoa(inDev) + " " + plural(inDev, "change") + " in workspace dev?",
		"Only the selected changes shown are applied: " + strconv.Itoa(revokes-inDev) + " more changes selected (" + strconv.Itoa(revokes-inDev) + " in other workspaces) are not included.",
	} {
		if !strings.Contains(flat(v), s) {
			t.Errorf("the confirmation does not say %q:\n%s", s, v)
		}
	}
}

// flat is a screen's text without box borders, its words joined by one
// space, so a sentence wrapped in a dialog reads whole.
func flat(v string) string {
	return strings.Join(strings.Fields(strings.NewReplacer("┃", " ", "│", " ").Replace(v)), " ")
}

// TestToggleAllUnderAFilterTogglesWhatItShows: t toggles the changes the
// filter shows and no other, a applies those, and the confirmation counts
// only them, saying how many selected changes the filter hides.
func TestToggleAllUnderAFilterTogglesWhatItShows(t *testing.T) {
	m := keys(t, loaded(t, newFixture(t), 120, 34, false), "5")
	total := len(m.d.plan.Changes)
	m = filterPlan(t, m, "revoke")
	shown := viewOf[*planView](t, m).changes.Len()
	if shown == 0 || shown == total {
		t.Fatalf("the filter shows %d of %d changes; the test needs some hidden", shown, total)
	}
	// Everything is selected at first: a under the filter applies what it
	// shows, and says the rest is left out.
	m = keys(t, m, "a")
	want := "Apply " + strconv.Itoa(shown) + " " + plural(shown, "change") + "?"
	note := "Only the selected changes shown are applied: " + strconv.Itoa(total-shown) + " more changes selected (" + strconv.Itoa(total-shown) + " hidden by the filter) are not included."
	if v := flat(m.View()); m.modal != modalConfirm || !strings.Contains(v, want) || !strings.Contains(v, note) {
		t.Fatalf("a under the filter does not ask %q, saying %q:\n%s", want, note, m.View())
	}
	m = keys(t, m, "esc")
	// t: the shown changes are deselected, the hidden ones keep their choice.
	m = keys(t, m, "t")
	if got := len(selectedIDs(t, m)); got != total-shown {
		t.Fatalf("t under the filter left %d selected, want the %d it hides", got, total-shown)
	}
	if v := m.View(); !strings.Contains(v, "· 0 selected ("+strconv.Itoa(total-shown)+" selected hidden by the filter)") {
		t.Errorf("the title does not count the selected changes the filter hides:\n%s", v)
	}
	// From nothing selected, t selects only what is shown.
	m = filterPlan(t, m, "")
	m = keys(t, m, "t", "t")
	if got := len(selectedIDs(t, m)); got != 0 {
		t.Fatalf("t t without a filter left %d selected", got)
	}
	m = filterPlan(t, m, "revoke")
	m = keys(t, m, "t")
	if got := len(selectedIDs(t, m)); got != shown {
		t.Fatalf("t under the filter selected %d, want the %d shown", got, shown)
	}
	m = filterPlan(t, m, "")
	m = keys(t, m, "a")
	if v := flat(m.View()); m.modal != modalConfirm || !strings.Contains(v, want) || strings.Contains(v, "Only the selected") {
		t.Fatalf("a without the filter does not ask %q alone:\n%s", want, m.View())
	}
}

// TestFilterMatchingNothingIsNotInStep: a filter no change matches says
// so, with the number pending, not that Databricks is in step.
func TestFilterMatchingNothingIsNotInStep(t *testing.T) {
	m := keys(t, loaded(t, newFixture(t), 120, 34, false), "5")
	total := len(m.d.plan.Changes)
	m = filterPlan(t, m, "zzzz")
	v := m.View()
	want := "no change matches the filter /zzzz (" + strconv.Itoa(total) + " changes pending; esc clears it)"
	if !strings.Contains(v, want) || strings.Contains(v, "in step") {
		t.Errorf("a filter matching nothing does not say %q:\n%s", want, v)
	}
}
