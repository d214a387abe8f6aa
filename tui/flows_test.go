package tui

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/sync"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
)

// The console's flows, each on the real engine (sync.Service over the real SDK
// clients) against the emulator's demo organisation.

// patience is how long a wait for the console may last: until shortly
// before the test binary's own deadline (go test -timeout), not a fixed
// time that a loaded machine can miss. A console that hangs still fails,
// in the wait that hung and with what it drew, before the binary is killed.
func patience(t *testing.T) time.Duration {
	deadline, ok := t.Deadline()
	if !ok {
		return 24 * time.Hour
	}
	left := time.Until(deadline)
	return max(left-30*time.Second, left/2)
}

// waitOpts are the options of every wait for the console's output.
func waitOpts(t *testing.T) []teatest.WaitForOption {
	return []teatest.WaitForOption{teatest.WithDuration(patience(t)), teatest.WithCheckInterval(5 * time.Millisecond)}
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
	}, waitOpts(t)...)
}

// settled is waitFor that also waits until the console has drawn a header that
// is not loading: the reload after an operation has finished, so a golden does
// not catch it midway. The operation's own words go in want, as its status and
// the reload may come in one frame.
func settled(t *testing.T, tm *teatest.TestModel, want ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(out []byte) bool {
		for _, w := range want {
			if !bytes.Contains(out, []byte(w)) {
				return false
			}
		}
		// The header is redrawn only when it changes: no header since the last
		// wait means the reload began and ended between two frames.
		i := bytes.LastIndex(out, []byte("drift "))
		return i < 0 || !bytes.HasSuffix(out[:i], []byte("loading · "))
	}, waitOpts(t)...)
}

func press(tm *teatest.TestModel, ks ...string) {
	for _, k := range ks {
		tm.Send(keyMsg(k))
	}
}

// loopback is the emulator's address, which changes from run to run.
var loopback = regexp.MustCompile(`127\.0\.0\.1:\d+`)

// finish quits and compares the last screen with the golden file. mask pairs
// replace what changes from run to run (new credential ids) with placeholders.
func finish(t *testing.T, tm *teatest.TestModel, mask ...string) Model {
	t.Helper()
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC}) // q would be typed into an open answer
	m := tm.FinalModel(t, teatest.WithFinalTimeout(patience(t))).(Model)
	view := strings.NewReplacer(mask...).Replace(m.View())
	golden.RequireEqual(t, loopback.ReplaceAll([]byte(view), []byte("127.0.0.1:port")))
	return m
}

func TestApplyOneAddMember(t *testing.T) {
	tm, e := engineConsole(t, 80, 24, false)
	press(tm, "tab") // the principals of de-team; + bob is first
	waitFor(t, tm, "a apply change")
	press(tm, "a")
	waitFor(t, tm, "Apply 1 change?", "add_member de-team bob@acme.com")
	press(tm, "y")
	waitFor(t, tm, "applied 1 change", e.drift(1))
	m := finish(t, tm)
	if !e.member("de-team", "bob@acme.com") {
		t.Error("bob was not added to de-team")
	}
	if got := e.audit(t); len(got) != 1 || !strings.HasPrefix(got[0], "add_member") || !strings.Contains(got[0], "bob@acme.com applied") {
		t.Errorf("audit log: %q", got)
	}
	if got := len(m.d.changes["de-team"]); got != 5 {
		t.Errorf("de-team has %d pending changes after the apply, want 5 (+carol, -eve, -fay and the two entitlements)", got)
	}
}

func TestRevokeToken(t *testing.T) {
	tm, e := engineConsole(t, 80, 24, false)
	old := e.tokens("hana@acme.com")[0] // 120 days old
	press(tm, "3", "/")
	tm.Type(old.ID)
	press(tm, "enter")
	waitFor(t, tm, "Credentials · 1/1")
	press(tm, "x")
	waitFor(t, tm, "Revoke pat of hana@acme.com?")
	press(tm, "y")
	waitFor(t, tm, "revoked 1 credential of hana@acme.com", e.drift(1))
	m := finish(t, tm)
	for _, tok := range e.tokens("hana@acme.com") {
		if tok.ID == old.ID {
			t.Error("the emulator still holds the revoked token")
		}
	}
	for _, c := range viewOf[*credentialsView](t, m).table.Items() {
		if c.ID == old.ID {
			t.Error("the revoked token is still listed")
		}
	}
	if got := e.audit(t); len(got) != 1 || !strings.HasPrefix(got[0], "revoke_token") {
		t.Errorf("audit log: %q", got)
	}
}

func TestCancelledConfirmationChangesNothing(t *testing.T) {
	tm, e := engineConsole(t, 80, 24, false)
	before := len(e.org.DB.Tokens)
	press(tm, "3", "x")
	waitFor(t, tm, "Revoke ", "[ No ]")
	press(tm, "enter") // the default answer is No
	waitFor(t, tm, "cancelled; nothing changed")
	finish(t, tm)
	e.org.Mu.Lock()
	after := len(e.org.DB.Tokens)
	e.org.Mu.Unlock()
	if after != before || len(e.audit(t)) != 0 {
		t.Errorf("the emulator holds %d tokens after a cancelled revoke, want %d", after, before)
	}
}

func TestOwnerWideRevokeNeedsTheName(t *testing.T) {
	tm, e := engineConsole(t, 80, 24, false)
	n := len(e.tokens("reporting-bot"))
	press(tm, "3", "/")
	tm.Type("reporting-bot")
	press(tm, "enter", "X")
	waitFor(t, tm, "credentials of reporting-bot?", "Type reporting-bot to confirm")
	press(tm, "y", "enter")
	waitFor(t, tm, "type reporting-bot exactly")
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlU}) // clear the wrong answer
	tm.Type("reporting-bot")
	press(tm, "enter")
	waitFor(t, tm, "revoked 6 credentials of reporting-bot", e.drift(2))
	finish(t, tm)
	if left := e.tokens("reporting-bot"); n == 0 || len(left) != 0 {
		t.Errorf("reporting-bot had %d tokens, still holds %d", n, len(left))
	}
}

func TestRemapRewritesConfig(t *testing.T) {
	tm, e := engineConsole(t, 80, 24, false)
	press(tm, "m")
	waitFor(t, tm, "Re-map data-engineers (now de-team)")
	tm.Type("platf")
	press(tm, "enter")
	waitFor(t, tm, "Re-map data-engineers from de-team to platform-eng?")
	press(tm, "y")
	waitFor(t, tm, "data-engineers now maps to platform-eng", "data-engineers → platform-eng")
	m := finish(t, tm)
	src, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"    databricks_group: platform-eng\n",
		"  - bitbucket_group: data-engineers   # workspace group: +bob +carol -fay -eve, entitlements\n",
		"# bitbricks configuration for the emulator's demo organisation.\n",
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
	if got := e.audit(t); len(got) != 1 || !strings.HasPrefix(got[0], "remap mapping data-engineers: de-team -> platform-eng") {
		t.Errorf("audit log: %q", got)
	}
}

func TestReadOnlyRefusesMutatingKeys(t *testing.T) {
	tm, e := engineConsole(t, 80, 24, true)
	press(tm, "3")
	waitFor(t, tm, "Credentials · 1/")
	press(tm, "x")
	waitFor(t, tm, "read-only: revoke (x) is disabled")
	m := finish(t, tm)
	if m.modal != modalNone || len(e.audit(t)) != 0 {
		t.Error("read-only mode opened a dialog or changed something")
	}
	if strings.Contains(m.footerView(), "revoke") {
		t.Errorf("the help footer offers a disabled key: %q", m.footerView())
	}
}

func TestLeakedTokenFlow(t *testing.T) {
	tm, e := engineConsole(t, 80, 24, false)
	leaked := e.tokens("hana@acme.com")[0]
	held := len(e.tokens("hana@acme.com"))
	press(tm, "!")
	waitFor(t, tm, "Revoke a leaked token")
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(leaked.Value), Paste: true})
	waitFor(t, tm, "(36 characters)")
	press(tm, "enter")
	waitFor(t, tm, "Revoke the leaked token of hana@acme.com", "120d ago", "Type hana@acme.com to confirm")
	tm.Type("hana@acme.com")
	press(tm, "enter")
	// The leaked token is found first; the rest is a choice of its own.
	waitFor(t, tm, "Revoke the rest of hana@acme.com's credentials too?", "[ Only that token ]", "The rest too")
	press(tm, "y")
	waitFor(t, tm, "Revoke the other", "of hana@acme.com?", "Type hana@acme.com to confirm")
	tm.Type("hana@acme.com")
	press(tm, "enter")
	waitFor(t, tm, "revoked the leaked token and", "of hana@acme.com; audited", e.drift(1))
	m := finish(t, tm)
	if left := e.tokens("hana@acme.com"); len(left) != 0 {
		t.Errorf("hana held %d tokens, %d are left after the leak was contained", held, len(left))
	}
	if strings.Contains(m.View(), leaked.Value) || m.input.Value() != "" {
		t.Error("the token value is still held or shown")
	}
	for _, line := range e.audit(t) {
		if strings.Contains(line, leaked.Value) {
			t.Error("the audit log holds the token value")
		}
	}
}

func TestRotateBinding(t *testing.T) {
	tm, e := engineConsole(t, 100, 30, false)
	before := e.tokens("etl-deployer")
	press(tm, "4")
	waitFor(t, tm, "Pipeline bindings · 1/2")
	press(tm, "r")
	waitFor(t, tm, "Rotate etl-prod now?")
	press(tm, "y")
	waitFor(t, tm, "etl-prod rotated", e.drift(1))
	after := e.tokens("etl-deployer")
	if len(after) == 0 || after[len(after)-1].Created.Before(testNow) {
		t.Fatalf("no new token for etl-deployer: before %d, after %d", len(before), len(after))
	}
	newID := after[len(after)-1].ID
	mask := []string{shortID(newID), "new-token"}
	for i, tok := range before {
		mask = append(mask, shortID(tok.ID), fmt.Sprintf("old-tok-%d", i))
	}
	m := finish(t, tm, mask...)
	want := fmt.Sprintf("etl-prod rotated: new token %s for etl-deployer, recorded; revoked 2 older: ", shortID(newID))
	if !strings.Contains(m.status, want) {
		t.Errorf("status %q, want it to say %q", m.status, want)
	}
}

func TestApplyPlanWithProgress(t *testing.T) {
	e := newEngineEnv(t, true) // Databricks writes wait for the test
	tm, _ := startConsole(t, e, 100, 30, false)
	press(tm, "5", "a")
	n := e.changes
	waitFor(t, tm, fmt.Sprintf("Apply %d changes?", n), "Type acme to confirm")
	tm.Type("acme")
	press(tm, "enter")
	waitFor(t, tm, fmt.Sprintf("applying %d changes 0/%d", n, n), "… queued")
	e.gate <- struct{}{} // create_group ml-team
	waitFor(t, tm, fmt.Sprintf("applying %d changes 1/%d", n, n), "✓ applied")
	press(tm, "a") // mutating keys wait while an apply runs
	waitFor(t, tm, fmt.Sprintf("wait: applying %d changes is still running", n))
	close(e.gate)
	waitFor(t, tm, fmt.Sprintf("applied %d changes", n), "drift 0 ")
	finish(t, tm)
	if got := len(e.audit(t)); got < n {
		t.Errorf("the audit log has %d lines after applying %d changes", got, n)
	}
}

func TestConsoleLoads(t *testing.T) {
	for _, size := range []struct {
		name string
		w, h int
	}{{"80x24", 80, 24}, {"200x60", 200, 60}, {"60x20", 60, 20}} {
		t.Run(size.name, func(t *testing.T) {
			tm, _ := engineConsole(t, size.w, size.h, false)
			finish(t, tm)
		})
	}
}

func TestMoveToGroupWithDrift(t *testing.T) {
	tm, _ := engineConsole(t, 80, 24, false)
	press(tm, "j", "j", "j") // ml → ml-team: a new group, three to add, two unresolved
	waitFor(t, tm, "ml-team · Databricks", "does not exist yet")
	finish(t, tm)
}

// The bulk confirmation lists what takes access away first, and scrolls to the rest.
func TestBulkConfirmationListsDestructiveFirst(t *testing.T) {
	tm, e := engineConsole(t, 100, 30, false)
	press(tm, "5", "a")
	waitFor(t, tm, fmt.Sprintf("Apply %d changes?", e.changes), "Take access or a credential away", "↑↓ lines 1-")
	press(tm, "pgdown", "pgdown", "pgdown")
	waitFor(t, tm, "Add or rotate", "create_group ml-team")
	m := finish(t, tm)
	body := m.confirm.Body()
	if d, a := strings.Index(body, "Take access or a credential away"), strings.Index(body, "Add or rotate"); d < 0 || a < d {
		t.Errorf("destructive changes are not listed first:\n%s", body)
	}
	if len(e.audit(t)) != 0 {
		t.Error("quitting at the confirmation changed something")
	}
}

// max_changes refuses before anyone types a confirmation Apply would refuse.
func TestMaxChangesIsCheckedBeforeTheConfirmation(t *testing.T) {
	e := newEngineEnv(t, false, "max_changes: 40", "max_changes: 5")
	tm, _ := startConsole(t, e, 100, 30, false)
	press(tm, "5", "a")
	waitFor(t, tm, fmt.Sprintf("refused: the plan has %d changes, more than max_changes 5", e.changes))
	m := finish(t, tm)
	if m.modal != modalNone {
		t.Error("a confirmation opened for a plan max_changes refuses")
	}
}

// Applying one member of a group the plan creates applies the create_group too.
func TestApplyOneChangeWithItsDependency(t *testing.T) {
	tm, e := engineConsole(t, 100, 30, false)
	press(tm, "j", "j", "j", "tab") // ml → ml-team, which does not exist; + mia first
	waitFor(t, tm, "a apply change")
	press(tm, "a")
	waitFor(t, tm, "Apply 2 changes?", "Includes what it depends on: create_group ml-team", "add_member ml-team mia@acme.com")
	press(tm, "y")
	waitFor(t, tm, "applied 2 changes", e.drift(2))
	finish(t, tm)
	if !e.group("ml-team") || !e.member("ml-team", "mia@acme.com") {
		t.Error("ml-team was not created with mia in it")
	}
}

// hasChange reports whether the console's plan holds the change with that id.
func hasChange(m Model, id string) bool {
	return slices.ContainsFunc(m.d.plan.Changes, func(c sync.Change) bool { return c.ID == id })
}

// Re-map to a name no Databricks group has: the plan then creates it.
func TestRemapToANewGroup(t *testing.T) {
	tm, e := engineConsole(t, 100, 30, false)
	press(tm, "m")
	waitFor(t, tm, "Re-map data-engineers (now de-team)")
	tm.Type("data-platform")
	waitFor(t, tm, "new group, the plan creates it: data-platform")
	press(tm, "enter")
	waitFor(t, tm, "Re-map data-engineers from de-team to data-platform?", "does not exist in Databricks yet")
	press(tm, "y")
	waitFor(t, tm, "data-engineers now maps to data-platform", "data-engineers → data-platform")
	m := finish(t, tm)
	if !hasChange(m, "create_group/data-platform") {
		t.Error("the plan does not create data-platform")
	}
	src, _ := os.ReadFile(e.path)
	if !strings.Contains(string(src), "    databricks_group: data-platform\n") {
		t.Errorf("the config was not rewritten:\n%s", src)
	}
}

// A system group is offered only with a warning, and taken only with its name typed.
func TestRemapToASystemGroupWarns(t *testing.T) {
	tm, e := engineConsole(t, 100, 30, false)
	press(tm, "m")
	waitFor(t, tm, "Re-map data-engineers (now de-team)")
	tm.Type("admins")
	waitFor(t, tm, "admins  ! system group")
	press(tm, "enter")
	waitFor(t, tm, "! admins is a Databricks system group.", "hands out admin rights", "Type admins to confirm")
	press(tm, "y", "enter")
	waitFor(t, tm, "type admins exactly")
	m := finish(t, tm)
	if m.modal != modalConfirm {
		t.Error("y answered the re-map to a system group")
	}
	if src, _ := os.ReadFile(e.path); !strings.Contains(string(src), "databricks_group: de-team\n") || len(e.audit(t)) != 0 {
		t.Error("the config changed without the name typed")
	}
}

// An unmapped Bitbucket group gets a mapping from the console.
func TestMapAnUnmappedGroup(t *testing.T) {
	tm, e := engineConsole(t, 100, 30, false)
	press(tm, "j", "j", "j", "j", "j") // interns, not mapped
	waitFor(t, tm, "m map")
	press(tm, "m")
	waitFor(t, tm, "Map interns to the Databricks group")
	tm.Type("interns-team")
	press(tm, "enter")
	waitFor(t, tm, "Map interns to interns-team?", "prune is off")
	press(tm, "y")
	waitFor(t, tm, "interns now maps to interns-team", "interns → interns-team")
	m := finish(t, tm)
	if !hasChange(m, "create_group/interns-team") {
		t.Error("the plan does not create interns-team")
	}
	src, _ := os.ReadFile(e.path)
	if !strings.Contains(string(src), "  - bitbucket_group: interns\n    databricks_group: interns-team\n") {
		t.Errorf("no mapping was added:\n%s", src)
	}
	if got := e.audit(t); len(got) != 1 || !strings.HasPrefix(got[0], "map mapping interns -> interns-team") {
		t.Errorf("audit log: %q", got)
	}
}
