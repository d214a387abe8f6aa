package emulator

import (
	"fmt"
	"strings"
	"time"
)

// The demo account's second workspace.
const (
	DemoWorkspace    = "prod" // the demo's first workspace (Org.DB)
	DemoDevWorkspace = "dev"
	demoDevID        = 2222222222222222
)

// demoDev adds the demo account's second workspace, dev, with drift of its
// own: the account group platform-eng is assigned with workspace-access but
// only some of its members are (the rest cannot reach dev); a
// workspace-local de-team that lacks most data engineers; and a year-old
// token without expiry. principals maps the demo's nicknames ("sp:NAME",
// "group:NAME") to SCIM ids.
func demoDev(o *Org, principals map[string]string, now time.Time) {
	ago := func(days int) time.Time { return now.Add(-time.Duration(days) * seedDay) }
	o.AddWorkspace(DemoWorkspace, DemoDevWorkspace, demoDevID)
	var adminToken *DBToken
	o.InWorkspace(DemoDevWorkspace, func(st *DatabricksState) {
		o.Mu.Lock()
		st.Conf["maxTokenLifetimeDays"] = "30"
		for _, nick := range []string{"admin", "alice", "dan", "paul", "quinn", "tess"} {
			u := st.Users[principals[nick]]
			u.Assigned = true
			u.Admin = nick == "admin"
		}
		st.Users[principals["admin"]].Entitlements = []string{demoWS, demoSQL, demoClusters}
		st.ServicePrincipals[principals["sp:etl-deployer"]].Assigned = true
		g := st.Groups[principals["group:platform-eng"]]
		g.Assigned, g.Entitlements = true, []string{demoWS}
		o.Mu.Unlock()
		o.AddDBGroup(DBGroup{DisplayName: "de-team", Kind: WorkspaceGroup, Entitlements: []string{demoWS},
			Members: []DBMember{{Value: principals["alice"], Type: "User"}}})
		adminToken = o.AddToken(DBToken{OwnerID: principals["admin"], Comment: "bitbricks", Created: ago(5),
			Expiry: ago(5).Add(30 * seedDay), LastUsed: now.Truncate(seedDay)})
		o.AddToken(DBToken{OwnerID: principals["dan"], Comment: "notebook", Created: ago(380),
			LastUsed: ago(200).Truncate(seedDay)})
		o.AddToken(DBToken{OwnerID: principals["alice"], Comment: "routine", Created: ago(4),
			Expiry: ago(4).Add(30 * seedDay), LastUsed: ago(1).Truncate(seedDay)})
	})
	o.Creds.WorkspaceTokens = map[string]string{DemoWorkspace: o.Creds.DatabricksToken, DemoDevWorkspace: adminToken.Value}
}

// DemoWorkspacesConfig is the demo's configuration over both of its
// workspaces: databricks.workspaces names prod and dev by profile (profiles
// in DemoProfiles), the pipelines run in prod, and everything else is
// DemoConfigFiles' (with the identity map).
func DemoWorkspacesConfig(o *Org, prodHost string) []byte {
	cfg, _ := DemoConfigFiles(o, prodHost)
	o.Mu.Lock()
	host := fmt.Sprintf("  host: %q\n", strings.TrimSuffix(prodHost, "/"))
	o.Mu.Unlock()
	out := strings.Replace(string(cfg), host, "  workspaces:                       # account groups shared; tokens, local groups, entitlements, assignment per workspace\n"+
		"    - {name: "+DemoWorkspace+", profile: bitbricks-demo-"+DemoWorkspace+"}\n"+
		"    - {name: "+DemoDevWorkspace+", profile: bitbricks-demo-"+DemoDevWorkspace+"}\n", 1)
	out = strings.ReplaceAll(out, "    variable: DATABRICKS_", "    workspace: "+DemoWorkspace+"\n    variable: DATABRICKS_")
	// The account API takes OAuth only: the account admin service
	// principal's profile (DemoProfiles), not a workspace's token.
	out = strings.Replace(out, "  account_host: ", "  account_profile: "+DemoAccountProfile+"   # OAuth M2M: the account API takes no personal access token\n  account_host: ", 1)
	// Two workspaces' first plan is about twice one's: the limit follows,
	// so the demo's first `sync --apply` is not refused by its own config.
	out = strings.Replace(out, "  max_changes: 40\n", "  max_changes: 100               # two workspaces: the demo's first plan has about 75 changes\n", 1)
	return []byte(out)
}

// DemoAccountProfile is the profile of the demo account in DemoProfiles.
const DemoAccountProfile = "bitbricks-demo-account"

// DemoProfiles is a Databricks config file (~/.databrickscfg format) with
// a profile per demo workspace, hosts by workspace name: each with the
// admin's token of that workspace; and an account profile
// (DemoAccountProfile, as `databricks auth login --host ... --account-id`
// would write one) with the account admin service principal's OAuth
// secret, at the first workspace's host, which also serves the account API.
func DemoProfiles(o *Org, hosts map[string]string) []byte {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "[%s]\nhost = %s\naccount_id = %s\nclient_id = %s\nclient_secret = %s\n\n", DemoAccountProfile,
		hosts[DemoWorkspace], o.DB.AccountID, o.Creds.AccountClientID, o.Creds.AccountClientSecret)
	for _, name := range []string{DemoWorkspace, DemoDevWorkspace} {
		fmt.Fprintf(&b, "[bitbricks-demo-%s]\nhost = %s\ntoken = %s\n\n", name, hosts[name], o.Creds.WorkspaceTokens[name])
	}
	return []byte(b.String())
}
