package sync

import (
	"context"
	"fmt"
	"strconv"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/iam"
)

// workspaceID is the workspace's numeric id (the X-Databricks-Org-Id of its
// answer to SCIM Me): the one an earlier answer gave, else asked (a failure
// is not kept: the next call asks again).
func (d *Databricks) workspaceID(ctx context.Context) (int64, error) {
	if id := d.orgID.Load(); id > 0 {
		return id, nil
	}
	id, err := d.w.CurrentWorkspaceID(ctx)
	if err == nil && id > 0 {
		d.orgID.Store(id)
	}
	return id, err
}

// AssignWorkspace assigns c's principal to this workspace with the USER
// permission, through the account's permission assignments.
func (d *Databricks) AssignWorkspace(ctx context.Context, c Change) error {
	return d.assignment(ctx, c, true)
}

// UnassignWorkspace removes c's principal's assignment to this workspace.
func (d *Databricks) UnassignWorkspace(ctx context.Context, c Change) error {
	return d.assignment(ctx, c, false)
}

func (d *Databricks) assignment(ctx context.Context, c Change, assign bool) error {
	verb := "assign"
	if !assign {
		verb = "unassign"
	}
	if d.a == nil {
		return fmt.Errorf("%s %s: %w", verb, c.Principal, d.accErr)
	}
	id, err := d.workspaceID(ctx)
	if err != nil {
		return fmt.Errorf("%s %s: the workspace's id: %w", verb, c.Principal, err)
	}
	pid, err := strconv.ParseInt(c.PrincipalID, 10, 64)
	if err != nil {
		return fmt.Errorf("%s %s: principal id %q is not numeric", verb, c.Principal, c.PrincipalID)
	}
	if assign {
		_, err = d.a.WorkspaceAssignment.Update(ctx, iam.UpdateWorkspaceAssignments{WorkspaceId: id, PrincipalId: pid,
			Permissions: []iam.WorkspacePermission{iam.WorkspacePermissionUser}})
	} else {
		err = d.a.WorkspaceAssignment.Delete(ctx, iam.DeleteWorkspaceAssignmentRequest{WorkspaceId: id, PrincipalId: pid})
		if apierr.IsMissing(err) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", verb, c.Principal, err)
	}
	return nil
}

// WorkspaceAssignments lists the user names assigned to this workspace,
// through the account API.
func (d *Databricks) WorkspaceAssignments(ctx context.Context) ([]string, error) {
	if d.a == nil {
		return nil, d.accErr
	}
	id, err := d.workspaceID(ctx)
	if err != nil {
		return nil, err
	}
	all, err := d.a.WorkspaceAssignment.ListAll(ctx, iam.ListWorkspaceAssignmentRequest{WorkspaceId: id})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, pa := range all {
		if pa.Principal != nil && pa.Principal.UserName != "" {
			names = append(names, pa.Principal.UserName)
		}
	}
	return names, nil
}
