package tui

import (
	"strings"
	"testing"
)

// f on a binding that can federate shows the policy, asks, and after a yes
// the view shows it federating; the fake's audit records the policy.
func TestFederateFlow(t *testing.T) {
	b := newFixture(t)
	b.snap.Bindings["ml-train"].RepositoryUUID = "{repo-ml}" // now it can federate
	tm := console(t, b, 100, 24, false)
	press(tm, "4", "j")
	waitFor(t, tm, "○ stored +")
	press(tm, "f")
	waitFor(t, tm, "Federate ml-train? (phase 1)", "repositoryUuid = {repo-ml}")
	press(tm, "y")
	waitFor(t, tm, "ml-train is federating")
	finish(t, tm)
	if len(b.audit) == 0 || b.audit[len(b.audit)-1].Action != "create_federation_policy" {
		t.Errorf("audit: %+v", b.audit)
	}
	if st := b.snap.Bindings["ml-train"]; len(st.Policies) != 1 || st.Policies[0].Subject != "{repo-ml}" {
		t.Errorf("policies: %+v", st.Policies)
	}
}

// f on a binding that cannot federate says why and asks nothing; on one
// already federating it points at --finish; read-only refuses the key.
func TestFederateRefusals(t *testing.T) {
	b := newFixture(t)
	m := loaded(t, b, 100, 24, false)
	m = send(t, m, keyMsg("4"))
	m = send(t, m, keyMsg("f")) // etl-prod: federating already
	if v := m.View(); !strings.Contains(v, "--finish") || m.modal != modalNone {
		t.Errorf("f on a federating binding:\n%s", v)
	}
	m = send(t, m, keyMsg("j"))
	m = send(t, m, keyMsg("f")) // ml-train: repository UUID unread
	if v := m.View(); !strings.Contains(v, "cannot federate") || m.modal != modalNone {
		t.Errorf("f on a binding that cannot federate:\n%s", v)
	}
	ro := send(t, send(t, loaded(t, b, 100, 24, true), keyMsg("4")), keyMsg("f"))
	if ro.modal != modalNone || len(b.audit) != 0 {
		t.Errorf("read-only: modal %v, audit %+v", ro.modal, b.audit)
	}
}
