package sync

import (
	"slices"
	"strings"
)

// AuditWorkspaces names the Databricks workspaces an audit line of a run
// over several workspaces wrote to, as its target says them
// ("workspace:dev", "workspaces:prod,dev" for a mapping edit) or, failing
// that, its change id ("dev:add_member/…"), in the order written; nil for
// a line that names none (one workspace, or a line written before there
// were several). It also returns the target without those words, for a
// list that shows the workspaces in a column of their own.
func AuditWorkspaces(ev AuditEvent) (workspaces []string, target string) {
	var rest []string
	for _, f := range strings.Fields(ev.Target) {
		if ws, ok := strings.CutPrefix(f, "workspace:"); ok && ws != "" {
			if !slices.Contains(workspaces, ws) {
				workspaces = append(workspaces, ws)
			}
			continue
		}
		if list, ok := strings.CutPrefix(f, "workspaces:"); ok && list != "" {
			for _, ws := range strings.Split(list, ",") {
				if ws != "" && !slices.Contains(workspaces, ws) {
					workspaces = append(workspaces, ws)
				}
			}
			continue
		}
		rest = append(rest, f)
	}
	if len(workspaces) == 0 {
		if ws, _, ok := strings.Cut(ev.ChangeID, ":"); ok && ws != "" && !strings.Contains(ws, "/") {
			workspaces = []string{ws}
		}
	}
	if len(workspaces) == 0 {
		return nil, ev.Target
	}
	return workspaces, strings.Join(rest, " ")
}

// AuditAccountWide reports whether audit line ev changed an account
// group's membership (add_member or remove_member of a group that
// isAccount says is the account's): one write for every workspace,
// whichever workspace's part made it and the line names.
func AuditAccountWide(ev AuditEvent, isAccount func(group string) bool) bool {
	if ev.Action != ActionAddMember.String() && ev.Action != ActionRemoveMember.String() {
		return false
	}
	group, _ := memberTargetParts(ev.Target)
	return group != "" && isAccount != nil && isAccount(group)
}
