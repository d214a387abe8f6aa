package sync

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
)

// Departures are decided only where Bitbucket's answer proves them: an
// answer to the email filter that lacks the known member (here: every
// member list comes back empty) makes departures unknown for the run, and
// nobody's tokens go for having left.
func TestPresenceImplausibleAnswerDepartsNobody(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	rules, err := emulator.ParseFaults("/2.0/workspaces/{workspace}/members=empty_members")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetFaults(rules); err != nil {
		t.Fatal(err)
	}
	snap := e.read(t)
	if snap.PresenceKnown || snap.MembersKnown {
		t.Fatalf("presence known %v, members known %v: want unknown after an implausible answer", snap.PresenceKnown, snap.MembersKnown)
	}
	found := false
	for _, p := range snap.Problems {
		found = found || (p.System == SystemBitbucket && strings.Contains(p.Source, "by email") && strings.Contains(p.Err, "implausible"))
	}
	if !found {
		t.Errorf("problems %+v, want the implausible email check", snap.Problems)
	}
	// An answer came: the problem line must not say that none did.
	for _, p := range snap.ProblemList() {
		if strings.Contains(p.What, "by email") {
			if line := p.String(); p.Status != 200 || !strings.Contains(line, "HTTP 200, implausible") {
				t.Errorf("problem line %q (status %d), want HTTP 200, implausible", line, p.Status)
			}
		}
	}
	plan := ComputePlan(snap, e.cfg, demoNow)
	for _, c := range plan.Changes {
		if strings.Contains(c.Reason, "left the Bitbucket workspace") {
			t.Errorf("%s: %s, on an answer that proves nothing", c.ID, c.Reason)
		}
	}
	noDeparted := false
	for _, f := range plan.Findings {
		noDeparted = noDeparted || f.Kind == FindingNoDeparted
	}
	if !noDeparted {
		t.Error("no finding says that nobody is treated as departed")
	}
}

// SCIM lists of several pages are read completely, one request per page
// (no trailing empty page), the pages after the first side by side.
func TestSCIMPagesInParallel(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	for i := range 250 {
		e.org.AddDBUser(emulator.DBUser{UserName: fmt.Sprintf("extra%03d@acme.com", i), Active: true, Assigned: true})
	}
	e.org.Mu.Lock()
	want := 0
	for _, u := range e.org.DB.Users {
		if u.Assigned {
			want++
		}
	}
	e.org.Mu.Unlock()
	e.srv.ResetStats()
	us, err := e.db.Users(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, u := range us {
		seen[u.ID] = true
	}
	if len(us) != want || len(seen) != want {
		t.Errorf("%d users (%d distinct), want %d", len(us), len(seen), want)
	}
	pages := (want + 99) / 100
	if n := e.srv.Stats().Routes["databricks GET /api/2.0/preview/scim/v2/Users"]; n != int64(pages) {
		t.Errorf("%d user list requests, want %d (one per page)", n, pages)
	}
}

// The departure check's progress line counts people and requests in words an
// operator reads without stumbling ("1 request", not "1 requests").
func TestPresenceLineGrammar(t *testing.T) {
	for n, want := range map[int]string{
		1:   "checking 1 person for departure from the Bitbucket workspace (1 request)",
		6:   "checking 6 people for departure from the Bitbucket workspace (1 request)",
		89:  "checking 89 people for departure from the Bitbucket workspace (1 request)",
		90:  "checking 90 people for departure from the Bitbucket workspace (2 requests)",
		200: "checking 200 people for departure from the Bitbucket workspace (3 requests)",
	} {
		if got := presenceLine(n); got != want {
			t.Errorf("presenceLine(%d) = %q, want %q", n, got, want)
		}
	}
}
