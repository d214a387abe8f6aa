package sync

import (
	"github.com/bitbricks/bitbricks/config"
	"strings"
	"testing"
)

// TestApplyInScope: an apply chosen in all workspaces keeps the problem of
// a workspace not read (the apply is refused, as `sync --apply` is); one
// chosen in a read workspace's scope leaves it out, as `--workspace prod`
// does, and says so, naming its account-wide changes.
func TestApplyInScope(t *testing.T) {
	unread := Problem{System: SystemDatabricks, What: WhatWorkspace, Workspace: "dev", Detail: "workspace dev is unreachable (EOF): an outage there, not a credential problem"}
	other := Problem{System: SystemBitbucket, What: "workspace membership", Status: 500}
	load := Plan{Problems: []Problem{other, unread}}
	changes := []Change{
		{ID: "prod:remove_member/platform-eng/gus", Workspace: "prod", Action: ActionRemoveMember, GroupKind: KindAccount},
		{ID: "prod:add_member/de-team/eve", Workspace: "prod", Action: ActionAddMember, GroupKind: KindWorkspace},
	}
	all := ApplyInScope(load, "", changes)
	if len(all.Left) != 0 || len(all.Plan.Problems) != 2 || all.Note() != "" {
		t.Errorf("all workspaces: left %v, problems %v, note %q", all.Left, all.Plan.Problems, all.Note())
	}
	svc := &Service{cfg: &config.Config{Policy: config.Policy{MaxChanges: -1}}, parts: []workspacePart{{name: "prod"}, {name: "dev"}}}
	err := svc.CheckPlanSize(all.Plan)
	un, ok := err.(*UnreadWorkspacesError)
	if !ok {
		t.Fatalf("all workspaces with dev unread: %v", err)
	}
	if got := un.UnreadNames(); len(got) != 1 || got[0] != "dev" || len(un.Others) != 1 || un.Others[0] != "prod" {
		t.Errorf("refusal: %s", got)
	}
	if got := err.Error(); !strings.HasSuffix(got, "; to apply the others only: --workspace prod; or retry once it answers") {
		t.Errorf("the CLI's refusal changed: %s", got)
	}

	prod := ApplyInScope(load, "prod", changes)
	if err := svc.CheckPlanSize(prod.Plan); err != nil {
		t.Errorf("prod's scope is refused: %v", err)
	}
	if len(prod.Left) != 1 || prod.AccountWide != 1 || len(prod.Plan.Problems) != 1 || prod.Plan.Problems[0] != other {
		t.Errorf("prod's scope: left %v, account-wide %d, problems %v", prod.Left, prod.AccountWide, prod.Plan.Problems)
	}
	want := "workspace dev was not read: its changes are not included, and this applies in workspace prod alone, as `sync --apply --workspace prod` does; " +
		"the 1 account-wide change (an account group's membership, shared by workspace dev too) is made without it: they are planned from every mapping of the config, so none takes away what a mapping of workspace dev wants."
	if got := prod.Note(); got != want {
		t.Errorf("prod's note:\n%s\nwant\n%s", got, want)
	}
	if got := ApplyInScope(load, "prod", changes[1:]).Note(); !strings.HasSuffix(got, "; none of these changes is account-wide.") {
		t.Errorf("with no account-wide change: %s", got)
	}
	// The unread workspace's own scope keeps its problem: nothing is applied there.
	if err := svc.CheckPlanSize(ApplyInScope(load, "dev", nil).Plan); err == nil {
		t.Error("dev's own scope is not refused")
	}
}
