package config

import (
	"fmt"
	"regexp"
)

var workspaceIDRE = regexp.MustCompile(`^[1-9][0-9]{0,18}$`)

// checkWorkspaceIDs validates the workspace_id of listed workspaces: digits,
// and no two entries with one id (one workspace under two names would be
// planned and written twice).
func (d *decoder) checkWorkspaceIDs(c *Config) error {
	seen := map[string]int{}
	for i, w := range c.Databricks.Workspaces.List {
		if w.WorkspaceID == "" {
			continue
		}
		path := fmt.Sprintf("databricks.workspaces[%d].workspace_id", i)
		if !workspaceIDRE.MatchString(w.WorkspaceID) {
			return d.errAt(d.where(path), "%s (%s): %q is not a workspace id (its digits, as in the ?o= of the workspace's URLs)", path, w.Name, w.WorkspaceID)
		}
		if j, dup := seen[w.WorkspaceID]; dup {
			return d.errAt(d.where(path), "%s (%s) is the workspace_id of databricks.workspaces[%d] (%s): one workspace under two names; list it once",
				path, w.Name, j, c.Databricks.Workspaces.List[j].Name)
		}
		seen[w.WorkspaceID] = i
	}
	return nil
}
