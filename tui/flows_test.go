package tui

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/sync"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
)

// console starts the console on the fake in a w×h terminal and waits for the first load.
func console(t *testing.T, b *fakeBackend, w, h int, readOnly bool) *teatest.TestModel {
	t.Helper()
	tm := teatest.NewTestModel(t, NewModel(b, testOptions(readOnly)), teatest.WithInitialTermSize(w, h))
	waitFor(t, tm, "data-engineers")
	return tm
}

// waitFor waits until all of want have appeared in the output since the last wait.
func waitFor(t *testing.T, tm *teatest.TestModel, want ...string) {
	t.Helper()
	seen := make([]bool, len(want))
	teatest.WaitFor(t, tm.Output(), func(out []byte) bool {
		all := true
		for i, w := range want {
			seen[i] = seen[i] || bytes.Contains(out, []byte(w))
			all = all && seen[i]
		}
		return all
	}, teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
}

func press(tm *teatest.TestModel, ks ...string) {
	for _, k := range ks {
		tm.Send(keyMsg(k))
	}
}

// finish quits and compares the last screen with the golden file.
func finish(t *testing.T, tm *teatest.TestModel) Model {
	t.Helper()
	press(tm, "q")
	m := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
	golden.RequireEqual(t, []byte(m.View()))
	return m
}

func TestConsoleLoads(t *testing.T) {
	for _, size := range []struct {
		name string
		w, h int
	}{{"80x24", 80, 24}, {"200x60", 200, 60}, {"60x20", 60, 20}} {
		t.Run(size.name, func(t *testing.T) {
			tm := console(t, newFakeBackend(t), size.w, size.h, false)
			finish(t, tm)
		})
	}
}

func TestMoveToGroupWithDrift(t *testing.T) {
	tm := console(t, newFakeBackend(t), 80, 24, false)
	press(tm, "j", "j", "j") // ml → ml-team: new group, one to add, two unresolved
	waitFor(t, tm, "ml-team · Databricks", "{b2c3d4e5-0000}")
	finish(t, tm)
}

func TestApplyOneAddMember(t *testing.T) {
	b := newFakeBackend(t)
	tm := console(t, b, 80, 24, false)
	press(tm, "tab") // the principals of de-team; + bob is first
	waitFor(t, tm, "a apply change")
	press(tm, "a")
	waitFor(t, tm, "Apply 1 change?", "add_member de-team bob@acme.com")
	press(tm, "y")
	waitFor(t, tm, "applied 1 change", "drift 11")
	m := finish(t, tm)
	if !b.member("de-team", "u-bob") {
		t.Error("bob was not added to de-team")
	}
	if got := len(m.d.changes["de-team"]); got != 1 {
		t.Errorf("de-team has %d pending changes after the apply, want 1 (the removal)", got)
	}
}

func TestRevokeToken(t *testing.T) {
	b := newFakeBackend(t)
	tm := console(t, b, 80, 24, false)
	press(tm, "3", "/")
	tm.Type("tok-hal")
	press(tm, "enter")
	waitFor(t, tm, "Credentials · 1/1")
	press(tm, "x")
	waitFor(t, tm, "Revoke pat of hal@acme.com?")
	press(tm, "y")
	waitFor(t, tm, "revoked 1 credential of hal@acme.com", "drift 11")
	m := finish(t, tm)
	if b.credential("tok-hal-old") {
		t.Error("the fake still holds tok-hal-old")
	}
	for _, c := range viewOf[*credentialsView](t, m).table.Items() {
		if c.ID == "tok-hal-old" {
			t.Error("the revoked token is still listed")
		}
	}
}

func TestCancelledConfirmationChangesNothing(t *testing.T) {
	b := newFakeBackend(t)
	tm := console(t, b, 80, 24, false)
	press(tm, "3", "x")
	waitFor(t, tm, "Revoke pat of admin@acme.com?", "[ No ]")
	press(tm, "enter") // the default answer is No
	waitFor(t, tm, "cancelled; nothing changed")
	finish(t, tm)
	if got := b.credentials(); got != 20 {
		t.Errorf("the fake holds %d credentials after a cancelled revoke, want 20", got)
	}
}

func TestOwnerWideRevokeNeedsTheName(t *testing.T) {
	b := newFakeBackend(t)
	tm := console(t, b, 80, 24, false)
	press(tm, "3", "/")
	tm.Type("fay")
	press(tm, "enter", "X")
	waitFor(t, tm, "Revoke all 2 credentials of fay@acme.com?", "Type fay@acme.com to confirm")
	press(tm, "y", "enter")
	waitFor(t, tm, "type fay@acme.com exactly")
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlU}) // clear the wrong answer
	tm.Type("fay@acme.com")
	press(tm, "enter")
	waitFor(t, tm, "revoked 2 credentials of fay@acme.com", "drift 10")
	finish(t, tm)
	if b.credential("tok-fay-1") || b.credential("tok-fay-2") {
		t.Error("fay's tokens were not revoked")
	}
}

func TestRemapRewritesConfig(t *testing.T) {
	b := newFakeBackend(t)
	tm := console(t, b, 80, 24, false)
	press(tm, "m")
	waitFor(t, tm, "Re-map data-engineers (now de-team)")
	tm.Type("platf")
	press(tm, "enter")
	waitFor(t, tm, "Re-map data-engineers from de-team to platform-eng?")
	press(tm, "y")
	waitFor(t, tm, "data-engineers now maps to platform-eng", "data-engineers → platform-eng")
	m := finish(t, tm)
	src, err := os.ReadFile(b.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"    databricks_group: platform-eng      # workspace-local group\n",
		"  # The data team: pruned, so leavers are removed.\n",
		"# bitbricks console test organisation.\n",
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("the rewritten config lacks %q:\n%s", want, src)
		}
	}
	if got := m.d.cfg.Mappings[0].DatabricksGroup; got != "platform-eng" {
		t.Errorf("the console plans with mapping 0 → %s, want platform-eng", got)
	}
	if len(m.d.changes["de-team"]) != 0 {
		t.Errorf("de-team still has changes after the re-map: %v", m.d.changes["de-team"])
	}
}

func TestReadOnlyRefusesMutatingKeys(t *testing.T) {
	b := newFakeBackend(t)
	tm := console(t, b, 80, 24, true)
	press(tm, "3")
	waitFor(t, tm, "Credentials · 1/20")
	press(tm, "x")
	waitFor(t, tm, "read-only: revoke (x) is disabled")
	m := finish(t, tm)
	if m.modal != modalNone || b.credentials() != 20 {
		t.Error("read-only mode opened a dialog or revoked something")
	}
	if strings.Contains(m.footerView(), "revoke") {
		t.Errorf("the help footer offers a disabled key: %q", m.footerView())
	}
}

func TestLeakedTokenFlow(t *testing.T) {
	b := newFakeBackend(t)
	tm := console(t, b, 80, 24, false)
	press(tm, "!")
	waitFor(t, tm, "Revoke a leaked token")
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(leakedValue), Paste: true})
	waitFor(t, tm, "(36 characters)")
	press(tm, "enter")
	waitFor(t, tm, "Revoke every token of hal@acme.com?", "120d ago", "Type hal@acme.com to confirm")
	tm.Type("hal@acme.com")
	press(tm, "enter")
	waitFor(t, tm, "revoked 1 leaked token of hal@acme.com; audited", "drift 11")
	m := finish(t, tm)
	if b.credential("tok-hal-old") {
		t.Error("the leaked token was not revoked")
	}
	if strings.Contains(m.View(), leakedValue) || m.input.Value() != "" {
		t.Error("the token value is still held or shown")
	}
}

func TestApplyPlanWithProgress(t *testing.T) {
	b := newFakeBackend(t)
	b.fail["add_member/analysts/lee@acme.com"] = "SCIM 409: member already exists"
	b.step = make(chan struct{})
	tm := console(t, b, 100, 30, false)
	press(tm, "5", "a")
	waitFor(t, tm, "Apply 12 changes?", "Type acme to confirm")
	tm.Type("acme")
	press(tm, "enter")
	waitFor(t, tm, "applying 12 changes 0/12", "… queued")
	b.step <- struct{}{}
	waitFor(t, tm, "applying 12 changes 1/12", "✓ applied")
	press(tm, "a") // mutating keys wait while an apply runs
	waitFor(t, tm, "wait: applying 12 changes is still running")
	close(b.step)
	waitFor(t, tm, "applied 11, 1 failed", "drift 1 ")
	finish(t, tm)
}

// An owner-wide revocation always asks for a typed name: when the owner's name is
// unresolved, its id; y alone never answers it.
func TestOwnerWideRevokeOfUnresolvedOwnerNeedsTheID(t *testing.T) {
	b := newFakeBackend(t)
	b.snap.Credentials = append(b.snap.Credentials, sync.Credential{ID: "tok-ghost-1", Kind: sync.CredentialPAT, OwnerID: "u-ghost",
		OwnerType: sync.PrincipalUser, Comment: "orphan", Created: ago(30), Expiry: in(30)})
	m := loaded(t, b, 100, 30, false)
	m = keys(t, m, append(append([]string{"3", "/"}, strings.Split("tok-ghost", "")...), "enter", "X")...)
	if m.modal != modalConfirm {
		t.Fatalf("no confirmation; status %q", m.status)
	}
	if v := m.View(); !strings.Contains(v, "Type u-ghost to confirm") || !strings.Contains(v, "owner u-ghost (name unresolved)") {
		t.Fatalf("the owner-wide confirmation does not ask for the owner's id:\n%s", v)
	}
	m = keys(t, m, "y")
	if m.modal != modalConfirm || !b.credential("tok-ghost-1") {
		t.Fatal("y answered an owner-wide revocation")
	}
	m = send(t, m, tea.KeyMsg{Type: tea.KeyCtrlU}) // the y went into the answer
	m = keys(t, m, append(strings.Split("u-ghost", ""), "enter")...)
	if b.credential("tok-ghost-1") {
		t.Errorf("not revoked after typing the id; status %q", m.status)
	}
}

// An owner with neither a name nor an id: the owner-wide revocation is refused, and
// the status says why.
func TestOwnerWideRevokeWithoutNameOrIDIsRefused(t *testing.T) {
	b := newFakeBackend(t)
	m := loaded(t, b, 100, 30, false)
	m, _ = m.askRevoke(revokeIntent{ownerWide: true, creds: []sync.CredentialStatus{{Credential: sync.Credential{ID: "tok-x", Kind: sync.CredentialPAT, Owner: "\x1b[31m"}}}})
	if m.modal != modalNone || m.statusK != statusError || !strings.Contains(m.status, "neither a name nor an id") {
		t.Errorf("modal %v, status %q; want a refusal that says why", m.modal, m.status)
	}
	// A leaked token's owner without a name is typed by id, too.
	m, _ = m.askLeaked(Leak{Redacted: "dapi…cdef", OwnerID: "u-ghost", OwnerType: sync.PrincipalUser})
	if v := m.View(); m.modal != modalConfirm || !strings.Contains(v, "Type u-ghost to confirm") {
		t.Errorf("the leak confirmation does not ask for the owner's id:\n%s", v)
	}
}
