package views

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bitbricks/bitbricks/sync"
)

// FuzzSanitize: whatever comes from Bitbucket or Databricks, what reaches
// the terminal has no control character (so no escape sequence) and no
// bidirectional control; sanitising twice changes nothing more; and text
// without controls comes back as it was.
func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"alice@acme.com", "\x1b]0;owned\a\x1b[2J", "evil\u202eexe.txt", "tab\there", "ünïcødé 名前", "\x9b31m\x9d0;t\x9c", "\x1bP+q\x1b\\", "a\x00b\x7fc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Sanitize(s)
		for _, r := range out {
			if isControl(r) || isBidi(r) {
				t.Fatalf("Sanitize(%q) = %q keeps %U", s, out, r)
			}
		}
		if again := Sanitize(out); again != out {
			t.Fatalf("Sanitize is not idempotent on %q: %q then %q", s, out, again)
		}
		if utf8.ValidString(s) && !hasControl(s) && out != s {
			t.Fatalf("Sanitize(%q) = %q changed text without controls", s, out)
		}
	})
}

// FuzzPlanJSONRoundTrip: a plan saved by `sync --out` reads back with the
// same changes, findings and digest; and arbitrary bytes never crash the
// reader.
func FuzzPlanJSONRoundTrip(f *testing.F) {
	f.Add(uint8(1), "add_member/de-team/alice@acme.com", "de-team", "alice@acme.com", "", "", "", "in Bitbucket group data-engineers", "unresolved_identity", "{b2c3}")
	f.Add(uint8(5), "revoke_token/0e9c", "", "hana@acme.com", "", "0e9c", "", "older than 90d (120d)", "stale_token", "0e9c")
	f.Add(uint8(7), "rotate_credential/etl-prod", "", "etl-deployer", "", "", "etl-prod", "due", "secret_limit", "\x1b[2J\u202e")
	f.Fuzz(func(t *testing.T, action uint8, id, group, principal, entitlement, tokenID, binding, reason, findingKind, subject string) {
		for _, s := range []string{id, group, principal, entitlement, tokenID, binding, reason, findingKind, subject} {
			if !utf8.ValidString(s) {
				t.Skip("JSON carries text as UTF-8")
			}
		}
		if id == "" {
			id = "x"
		}
		acts := sync.Actions()
		c := sync.Change{ID: id, Action: acts[int(action)%len(acts)], Group: group, Principal: principal,
			PrincipalType: sync.PrincipalUser, Entitlement: entitlement, TokenID: tokenID, Binding: binding, Reason: reason}
		if c.Action.GroupChange() {
			c.GroupKind = sync.KindAccount
		}
		c.Destructive = c.Action.Destructive()
		p := sync.Plan{GeneratedAt: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), Changes: []sync.Change{c},
			Findings: []sync.Finding{{Kind: sync.FindingKind(findingKind), Subject: subject, Detail: reason, Group: group}},
			Problems: []sync.Problem{{System: "bitbucket", What: subject, Status: 500}}}
		digest := "sha256:" + strings.Repeat("0", 64)
		var b bytes.Buffer
		if err := RenderSavedPlanJSON(&b, p, digest); err != nil {
			t.Fatal(err)
		}
		saved, err := sync.ParseSavedPlan(b.Bytes())
		if err != nil {
			t.Fatalf("a written plan does not read back: %v\n%s", err, b.Bytes())
		}
		want, _ := json.Marshal(p.Changes)
		got, _ := json.Marshal(saved.Plan.Changes)
		if !bytes.Equal(got, want) || saved.SnapshotDigest != digest || !saved.Plan.GeneratedAt.Equal(p.GeneratedAt) {
			t.Fatalf("round trip changed the plan:\n got %s\nwant %s", got, want)
		}
		if len(saved.Plan.Findings) != 1 || saved.Plan.Findings[0] != p.Findings[0] || len(saved.Plan.Problems) != 1 || saved.Plan.Problems[0].What != subject {
			t.Fatalf("round trip changed findings or problems: %+v %+v", saved.Plan.Findings, saved.Plan.Problems)
		}
		// The same bytes, cut anywhere, are refused or read: never a crash.
		for i := 0; i < b.Len(); i += 1 + b.Len()/16 {
			_, _ = sync.ParseSavedPlan(b.Bytes()[:i])
		}
	})
}
