package views

import (
	"fmt"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/sync"
)

const day = 24 * time.Hour

// Age is a duration in its largest whole unit: "120d", "5h", "3m", "now";
// a negative one is "-5h", but under a minute either way is "now" (two
// clocks a few seconds apart).
func Age(d time.Duration) string {
	switch {
	case d >= day:
		return fmt.Sprintf("%dd", int(d/day))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d > -time.Minute:
		return "now"
	}
	return "-" + Age(-d)
}

// When is t relative to now: "5h ago", "in 10d"; zero when t is the zero
// time.
func When(t, now time.Time, zero string) string {
	switch {
	case t.IsZero():
		return zero
	case Age(now.Sub(t)) == "now" || Age(t.Sub(now)) == "now":
		return "just now"
	case t.After(now):
		return "in " + Age(t.Sub(now))
	}
	return Age(now.Sub(t)) + " ago"
}

// Expiry says when a credential expires: "no expiry", "expired", "in 10d"
// (or "in 3h" under a day).
func Expiry(expiry, now time.Time) string {
	switch {
	case expiry.IsZero():
		return "no expiry"
	case !expiry.After(now):
		return "expired"
	}
	return When(expiry, now, "")
}

// LastUsed says when a credential was last used: "never", "5h ago", "3d ago".
func LastUsed(last, now time.Time) string { return When(last, now, "never") }

// KindName is a credential kind in a few letters: pat, obo, secret (a
// service principal's OAuth secret), atl (an Atlassian API token).
func KindName(k sync.CredentialKind) string {
	switch k {
	case sync.CredentialOAuthSecret:
		return "secret"
	case sync.CredentialAtlassianToken:
		return "atl"
	}
	return string(k)
}

// OwnerName is how a credential owner is named, sanitised, and what an
// owner-wide confirmation asks to have typed: the name, or the SCIM id when
// the name is unresolved (or nothing printable); "" when there is neither.
func OwnerName(name, id string) (shown, typed string) {
	name, id = strings.TrimSpace(Sanitize(name)), strings.TrimSpace(Sanitize(id))
	switch {
	case name != "":
		return name, name
	case id != "":
		return "owner " + id + " (name unresolved)", id
	}
	return "an unknown owner", ""
}

// OwnerLabel is OwnerName's shown form.
func OwnerLabel(name, id string) string {
	shown, _ := OwnerName(name, id)
	return shown
}

// The words the text output and the console share: one formatter each, so
// the same thing reads the same everywhere.

// MemberNote is the planner's reason for where a member of a mapped group
// stands, sanitised: the reason alone where the plan changes it or it is in
// step, else the reason's code first (kept, not added, unresolved), such as
// "account_group_no_access: …".
func MemberNote(m sync.MemberStatus) string {
	switch m.State {
	case sync.MemberAdd, sync.MemberRemove, sync.MemberInSync:
		return Sanitize(m.Detail)
	}
	return Sanitize(string(m.Reason) + ": " + m.Detail)
}

// Held reports whether the text plan lists a member under its group: one
// that Bitbucket and Databricks disagree on but the plan leaves as it is
// (kept, not added). Members in step, the changes themselves, service
// principals and nested groups (never removed by a mapping) and unresolved
// accounts (listed as findings) are not.
func Held(m sync.MemberStatus) bool {
	switch m.State {
	case sync.MemberNotAdded:
		return true
	case sync.MemberKept:
		return m.Reason != sync.ReasonNotAUser
	}
	return false
}

// MemberGlyph marks a member's state, in the text plan and the console
// alike: + added, - removed, ✓ in step, ● kept (⚑ in an IdP-managed group),
// ! Bitbucket calls for it but these credentials cannot change the group,
// ? no usable Databricks identity.
func MemberGlyph(m sync.MemberStatus) string {
	switch m.State {
	case sync.MemberAdd:
		return sync.ActionAddMember.Glyph()
	case sync.MemberRemove:
		return sync.ActionRemoveMember.Glyph()
	case sync.MemberInSync:
		return "✓"
	case sync.MemberNotAdded:
		if m.Reason == sync.ReasonAccountGroupNoAccess {
			return "!"
		}
		return "?"
	case sync.MemberUnresolved:
		return "?"
	}
	if m.Reason == sync.ReasonIdPManaged {
		return "⚑"
	}
	return "●"
}

// MemberLabel is a held member's line label: its state in words and name.
func MemberLabel(m sync.MemberStatus) string {
	state := "kept"
	if m.State == sync.MemberNotAdded {
		state = "not added"
	}
	return state + " " + Sanitize(m.Principal)
}

// Count is n with its noun in the right number: "1 token", "2 tokens",
// "0 credentials". many is the plural; "" adds an s to one.
func Count(n int, one, many string) string {
	return fmt.Sprintf("%d %s", n, Plural(n, one, many))
}

// Plural is the noun for n of them: one for 1, else many ("" adds an s).
func Plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	if many == "" {
		return one + "s"
	}
	return many
}
