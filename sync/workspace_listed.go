package sync

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/bitbricks/bitbricks/config"
	sdkconfig "github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/provisioning"
)

// listedIdentities is, for the workspaces a config lists without a
// workspace_id, what the account says each is: the account's workspace
// whose deployment host (https://{deployment_name}{DNS zone}) is the
// entry's host, or its profile's. The account is asked only when
// databricks.account_id is set and an entry's host is in a cloud's DNS zone
// (AWS, GCP), with the credential `workspaces: all` uses; when it cannot be
// asked, nothing is checked. Two entries that are one workspace (by their
// workspace_id or the account's) are refused: it would be planned and
// written twice.
func listedIdentities(cfg *config.Config, opts SourceOptions) (map[string]workspaceIdentity, error) {
	env := opts.Databricks.Env
	if env == nil {
		env = opts.Env
	}
	list := cfg.Databricks.Workspaces.List
	hosts := make([]string, len(list))
	inZone := false
	for i, w := range list {
		if per, ok := opts.Databricks.Workspaces[w.Name]; ok && per.Host != "" {
			continue // its own host and token (isolated)
		}
		hosts[i] = firstNonEmpty(w.Host, profileHost(env.get("DATABRICKS_CONFIG_FILE"), w.Profile))
		inZone = inZone || cloudZoneHost(hosts[i])
	}
	accountID := firstNonEmpty(cfg.Databricks.AccountID, env.get("DATABRICKS_ACCOUNT_ID"))
	var all []provisioning.Workspace
	var acc *sdkconfig.Config
	if accountID != "" && inZone {
		if a, err := accountClientFor(cfg, opts, env, accountID); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), cmpDuration(opts.Databricks.ProbeTimeout, ProbeTimeout))
			all, err = a.Workspaces.List(ctx)
			cancel()
			if err != nil {
				all = nil // not an account admin: nothing to check against
			}
			acc = a.Config
		}
	}
	return matchListed(list, hosts, all, acc)
}

// matchListed gives each entry of list without a workspace_id whose host
// (hosts[i]) is the deployment host of a workspace of all that workspace's
// id; an id (given or matched) of two entries is an error.
func matchListed(list []config.Workspace, hosts []string, all []provisioning.Workspace, acc *sdkconfig.Config) (map[string]workspaceIdentity, error) {
	out := map[string]workspaceIdentity{}
	byID := map[int64]int{}
	for i, w := range list {
		var id int64
		if w.WorkspaceID != "" {
			fmt.Sscan(w.WorkspaceID, &id)
		} else if hosts[i] != "" && acc != nil {
			for _, ws := range all {
				if dh := deploymentHost(acc, ws.DeploymentName); dh != "" && normalHost(dh) == normalHost(hosts[i]) {
					id = ws.WorkspaceId
					from := fmt.Sprintf("databricks.workspaces[%d].host", i)
					if w.Host == "" {
						from = fmt.Sprintf("the profile %q of databricks.workspaces[%d]", w.Profile, i)
					}
					out[w.Name] = workspaceIdentity{ID: id, Name: w.Name, From: from,
						Claim: fmt.Sprintf("the account (its workspace %q at %s)", ws.WorkspaceName, dh)}
					break
				}
			}
		}
		if id == 0 {
			continue
		}
		if j, dup := byID[id]; dup {
			return nil, fmt.Errorf("databricks.workspaces[%d] (%s) and databricks.workspaces[%d] (%s) are one workspace (id %d): list it once",
				j, list[j].Name, i, w.Name, id)
		}
		byID[id] = i
	}
	return out, nil
}

// cloudZoneHost reports whether host is in the DNS zone of a cloud whose
// account API lists its workspaces' deployments (AWS, GCP).
func cloudZoneHost(host string) bool {
	u, err := url.Parse(host)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return strings.HasSuffix(h, ".cloud.databricks.com") || strings.HasSuffix(h, ".gcp.databricks.com")
}

// profileHost is the host of the named profile of the Databricks config
// file; "" when there is none.
func profileHost(path, profile string) string {
	if profile == "" {
		return ""
	}
	f, err := sdkconfig.LoadFile(path)
	if err != nil {
		return ""
	}
	sec, err := f.GetSection(profile)
	if err != nil {
		return ""
	}
	return sec.Key("host").String()
}
