package emulator

import (
	"fmt"
	"strings"
)

// DemoWorkspacesHostsConfig is DemoWorkspacesConfig with each workspace
// given by its host (hosts by workspace name) instead of a profile, for a
// run that reads no Databricks config file, such as `bitbricks demo
// --workspaces`.
func DemoWorkspacesHostsConfig(o *Org, hosts map[string]string) []byte {
	out := string(DemoWorkspacesConfig(o, hosts[DemoWorkspace]))
	// No profile: the account credential is given to the run itself.
	if i := strings.Index(out, "  account_profile: "); i >= 0 {
		out = out[:i] + out[i+strings.Index(out[i:], "\n")+1:]
	}
	for _, name := range []string{DemoWorkspace, DemoDevWorkspace} {
		out = strings.Replace(out, "profile: bitbricks-demo-"+name+"}", fmt.Sprintf("host: %q}", strings.TrimSuffix(hosts[name], "/")), 1)
	}
	return []byte(out)
}
