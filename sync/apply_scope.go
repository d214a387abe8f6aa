package sync

import (
	"fmt"
	"strings"
)

// An apply chosen in a scope of a load over several workspaces (the
// console shows all of them, or one). All of them is a run over every
// workspace, as `sync --apply` is: one not read refuses it whole
// (*UnreadWorkspacesError), since an account group's membership is shared
// by all of them. One workspace's scope is a run of that workspace alone,
// as `sync --apply --workspace NAME` is, which another workspace not read
// does not stop: its account-wide changes are planned from every mapping
// of the config (plan_account.go), so none takes away what a mapping of
// the unread workspace wants.

// ScopedApply is an apply of changes chosen in one scope of a load.
type ScopedApply struct {
	// Plan is what Service.CheckPlanSize and Service.Apply are given: the
	// changes, with the load's problems that bear on the scope.
	Plan  Plan
	Scope string // the workspace; "" for all of them
	// Left are the workspaces not read that an apply in one workspace's
	// scope leaves out.
	Left []Problem
	// AccountWide counts the changes to an account group's membership
	// (one write for every workspace of the account).
	AccountWide int
}

// ApplyInScope is an apply of changes chosen in scope ("" for all
// workspaces) of a load whose merged plan is load.
func ApplyInScope(load Plan, scope string, changes []Change) ScopedApply {
	out := ScopedApply{Scope: scope, Plan: Plan{GeneratedAt: load.GeneratedAt, Changes: changes}}
	for _, p := range load.Problems {
		if scope != "" && p.System == SystemDatabricks && p.What == WhatWorkspace && p.Workspace != "" && p.Workspace != scope {
			out.Left = append(out.Left, p)
			continue
		}
		out.Plan.Problems = append(out.Plan.Problems, p)
	}
	for _, c := range changes {
		if c.GroupKind == KindAccount && (c.Action == ActionAddMember || c.Action == ActionRemoveMember) {
			out.AccountWide++
		}
	}
	return out
}

// Note says what an apply in one workspace's scope leaves out when other
// workspaces were not read, and whether its account-wide changes are made
// without them; "" when nothing is left out.
func (a ScopedApply) Note() string {
	if len(a.Left) == 0 {
		return ""
	}
	var names []string
	for _, p := range a.Left {
		names = append(names, p.Workspace)
	}
	who, its, was := "workspace "+names[0], "its", "was"
	if len(names) > 1 {
		who, its, was = "workspaces "+strings.Join(names[:len(names)-1], ", ")+" and "+names[len(names)-1], "their", "were"
	}
	msg := fmt.Sprintf("%s %s not read: %s changes are not included, and this applies in workspace %s alone, as `sync --apply --workspace %s` does", who, was, its, a.Scope, a.Scope)
	switch a.AccountWide {
	case 0:
		return msg + "; none of these changes is account-wide."
	case 1:
		msg += "; the 1 account-wide change (an account group's membership, shared by " + who + " too) is made without it"
	default:
		msg += fmt.Sprintf("; the %d account-wide changes (an account group's membership, shared by %s too) are made without it", a.AccountWide, who)
	}
	return msg + ": they are planned from every mapping of the config, so none takes away what a mapping of " + who + " wants."
}
