package tui

import (
	"strings"
	"testing"
	"unicode"

	"github.com/bitbricks/bitbricks/sync"
)

// hostileBackend is the fake with names, comments and reasons that carry escape
// sequences, as anyone may set a Bitbucket display name or a token comment.
func hostileBackend(t *testing.T) *fixtureBackend {
	b := newFixture(t)
	s := b.snap
	s.Users["u-fay"].DisplayName = "\x1b[31mFay"
	for i, a := range s.Groups["ml"].Members {
		if a.Nickname == "ghost" {
			s.Groups["ml"].Members[i].DisplayName = "Ghost\x1b[31m Writer"
		}
	}
	s.SPs["sp-evil"] = &sync.ServicePrincipal{ID: "sp-evil", ApplicationID: "app-evil", DisplayName: "\x1b[31mevil-sp\u009b2J", Active: true}
	s.Credentials = append(s.Credentials, sync.Credential{ID: "tok-evil\x07", Kind: sync.CredentialPAT, OwnerID: "sp-evil",
		Owner: "\x1b[31mevil-sp\u009b2J", OwnerType: sync.PrincipalServicePrincipal, Comment: "\x1b]0;title\x07",
		Created: ago(400), LastUsed: ago(1)})
	s.Groups["x\x1b[2Jinterns"] = &sync.BitbucketGroup{Slug: "x\x1b[2Jinterns", Name: "x\x1b[2Jinterns", Known: true}
	s.DBGroups["evil\x1b]0;t\x07grp"] = &sync.Group{ID: "g-evil", Name: "evil\x1b]0;t\x07grp", Kind: sync.KindWorkspace, MembersKnown: true}
	b.event("revoke_token", "token:tok-evil owner:\x1b[31mevil-sp", nil)
	b.event("add_member", "add_member/de-team/x", errFake("SCIM 400: bad \x1b]0;title\x07 name"))
	return b
}

type errFake string

func (e errFake) Error() string { return string(e) }

// controlIn returns the line of a rendered screen holding a control character
// (newlines apart); the Ascii renderer of the tests emits no escape sequence of
// its own.
func controlIn(view string) (string, bool) {
	for _, line := range strings.Split(view, "\n") {
		if strings.ContainsFunc(line, unicode.IsControl) {
			return line, true
		}
	}
	return "", false
}

func TestConsoleStripsControlCharactersFromData(t *testing.T) {
	b := hostileBackend(t)
	m := loaded(t, b, 200, 60, false)
	check := func(where string) {
		t.Helper()
		if line, ok := controlIn(m.View()); ok {
			t.Errorf("%s: a control character from the data reached the screen: %q", where, line)
		}
	}
	check("mappings")
	for range len(m.d.groups) {
		m = keys(t, m, "j")
		check("mappings, group detail")
	}
	m = keys(t, m, "g", "j", "j", "j", "tab") // ml → ml-team: the unresolved account
	for range 4 {
		m = keys(t, m, "j")
		check("mappings, member detail")
	}
	m = keys(t, m, "tab", "m")
	check("re-map picker")
	m = keys(t, m, "esc", "2")
	check("principals")
	m = keys(t, m, "3")
	check("credentials")
	if c, ok := viewOf[*credentialsView](t, m).table.Selected(); !ok || c.OwnerID != "sp-evil" {
		t.Fatalf("the oldest credential is %+v, want the hostile one", c)
	}
	m = keys(t, m, "x")
	check("confirm revoke")
	if !strings.Contains(m.View(), "evil-sp") {
		t.Errorf("the confirmation does not name the owner:\n%s", m.View())
	}
	m = keys(t, m, "esc", "X")
	check("confirm owner-wide revoke")
	m = keys(t, m, "esc", "4")
	check("pipelines")
	m = keys(t, m, "5")
	check("plan")
	m = keys(t, m, "tab")
	check("plan findings")
	m = keys(t, m, "6")
	check("audit")
	b.mu.Lock()
	b.loadErr = errFake("HTTP 502: \x1b]0;title\x07 bad gateway")
	b.mu.Unlock()
	m = keys(t, m, "R")
	if !strings.Contains(m.status, "could not load") {
		t.Fatalf("status %q, want the load error", m.status)
	}
	check("status line")
}
