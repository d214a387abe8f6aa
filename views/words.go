package views

import "github.com/bitbricks/bitbricks/sync"

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
