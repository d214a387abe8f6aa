package tui

import (
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
)

// An account group the credentials cannot change: the members pane shows the
// planner's reason, account_group_no_access, for the member it keeps and for
// the member the plan would add, and never a reason of its own.
func TestAccountGroupWithoutAccessShowsThePlannersReason(t *testing.T) {
	b := newFixture(t)
	b.snap.AccountAccess, b.snap.ProxyAccess = false, false
	pe := b.snap.DBGroups["platform-eng"]
	pe.Kind = sync.KindAccount
	pe.Members = append(pe.Members, sync.Member{ID: "u-fay", Type: sync.PrincipalUser, Display: "fay@acme.com"})

	tm := console(t, b, 120, 34, false)
	press(tm, "j") // platform → platform-eng
	waitFor(t, tm, "platform-eng", "dan@acme.com", "fay@acme.com")
	press(tm, "tab") // dan, the member the plan would add, and its detail
	waitFor(t, tm, "the plan cannot add them")
	m := finish(t, tm)

	view := m.View()
	for _, want := range []string{"dan@acme.com", "fay@acme.com", "account_group_no_access"} {
		if !strings.Contains(view, want) {
			t.Errorf("the members pane lacks %q", want)
		}
	}
	if strings.Contains(view, "sources incomplete") {
		t.Error("the members pane gives a reason the planner did not")
	}
	rows := m.d.membersOf(m.d.groups[1])
	got := map[string]string{}
	for _, r := range rows {
		got[r.Status.Principal] = string(r.Status.State) + " " + string(r.Status.Reason)
	}
	if got["dan@acme.com"] != "not_added account_group_no_access" || got["fay@acme.com"] != "kept account_group_no_access" ||
		got["carol@acme.com"] != "in_sync in_bitbucket_group" {
		t.Errorf("member states %v", got)
	}
}

// The members pane marks each member with the glyph the text plan uses for
// the same state (views.MemberGlyph).
func TestMemberMarksMatchTheTextPlan(t *testing.T) {
	m := loaded(t, newFixture(t), 120, 34, false)
	n := 0
	for _, g := range m.d.groups {
		for _, r := range m.d.membersOf(g) {
			n++
			if got, want := m.th.marks[r.Mark], views.MemberGlyph(r.Status); got != want {
				t.Errorf("%s in %s: mark %q, the text plan's glyph %q", r.Name, g.Target, got, want)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d members checked", n)
	}
}
