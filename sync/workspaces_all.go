package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/databricks/databricks-sdk-go"
	sdkconfig "github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/provisioning"
)

// `databricks.workspaces: all`: the account's workspaces, discovered.
//
// The account's workspaces are listed through the account API (GET
// /api/2.0/accounts/{account_id}/workspaces) with the account credential:
// the isolated token of DatabricksOptions (tests, demo), or the SDK's
// unified auth at databricks.account_host (default
// https://accounts.cloud.databricks.com): DATABRICKS_CLIENT_ID and
// DATABRICKS_CLIENT_SECRET, or the profile DATABRICKS_CONFIG_PROFILE names.
// Only RUNNING workspaces are served; the others are reported as
// unknown_source findings. Each is named by its own workspace_name, or by
// its workspace_id when that name is not valid or is shared by several
// (placeWorkspaces); the config can name only the former.
//
// A workspace's host is, in order: DatabricksOptions.Workspaces[name].Host
// (with its token), the BITBRICKS_WORKSPACE_HOSTS entry for the name
// ("prod=https://...,dev=https://..."), else what the SDK derives from the
// account host: https://{deployment_name}{DNS zone of the account host}
// (AWS: .cloud.databricks.com, GCP: .gcp.databricks.com), only from a
// deployment_name of DNS labels. The account API does not list Azure
// workspaces: there `all` is refused. Before anything is read or written
// there, the host must answer as the workspace_id the account lists
// (workspace_identity.go).
//
// A workspace's credential: the profile of the Databricks config file
// (DATABRICKS_CONFIG_FILE, else ~/.databrickscfg) whose host is the
// workspace's host, else the account-wide OAuth credential
// (DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET of a service
// principal assigned to the workspaces). With neither, the run stops with
// one line that says what to add.

// WorkspaceHostsEnv maps discovered workspaces to hosts by name.
const WorkspaceHostsEnv = "BITBRICKS_WORKSPACE_HOSTS"

// discoverTimeout bounds listing the account's workspaces.
const discoverTimeout = 30 * time.Second

// discovered is what `workspaces: all` found.
type discovered struct {
	list    []config.Workspace
	skipped []Finding // the workspaces not read: not RUNNING, no usable name or host
	// ids are what the account says each listed workspace is (by name):
	// its host must answer as that workspace (workspace_identity.go).
	ids map[string]workspaceIdentity
	// refuse are the names a mapping or pipeline must not use, each with
	// why ("names workspace ..."): names not a workspace's own.
	refuse map[string]string
}

var discoveredNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// discoverWorkspaces lists the account's running workspaces with the host
// and credential of each.
func discoverWorkspaces(cfg *config.Config, opts SourceOptions) (discovered, error) {
	env := opts.Databricks.Env
	if env == nil {
		env = opts.Env
	}
	accountID := firstNonEmpty(cfg.Databricks.AccountID, env.get("DATABRICKS_ACCOUNT_ID"))
	if accountID == "" {
		return discovered{}, errors.New("databricks.workspaces: all discovers the account's workspaces: set databricks.account_id")
	}
	a, err := accountClientFor(cfg, opts, env, accountID)
	if err != nil {
		return discovered{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), discoverTimeout)
	defer cancel()
	all, err := a.Workspaces.List(ctx)
	if err != nil {
		return discovered{}, accountListError(a.Config, err)
	}
	return placeWorkspaces(all, a.Config, env, opts.Databricks)
}

// accountClientFor is the account client that lists the account's
// workspaces, at databricks.account_host with an account credential
// (accountCredential: the isolated service principal of DatabricksOptions,
// databricks.account_profile, DATABRICKS_CLIENT_ID and
// DATABRICKS_CLIENT_SECRET, else unified auth).
func accountClientFor(cfg *config.Config, opts SourceOptions, env Env, accountID string) (*databricks.AccountClient, error) {
	host := firstNonEmpty(cfg.Databricks.AccountHost, "https://accounts.cloud.databricks.com")
	if opts.Databricks.Token != "" {
		host = firstNonEmpty(cfg.Databricks.AccountHost, opts.Databricks.Host)
	}
	dbo := opts.Databricks
	dbo.Env = env
	acfg, err := accountCredential(host, accountID, cfg.Databricks, dbo, nil)
	if err != nil {
		return nil, err
	}
	acfg.AccountID = accountID
	acfg.RetryTimeoutSeconds = max(int(cmpDuration(opts.Databricks.RetryTimeout, DefaultDatabricksRetryTimeout)/time.Second), 1)
	acfg.HTTPTimeoutSeconds = max(int(cmpDuration(opts.Databricks.HTTPTimeout, DefaultDatabricksHTTPTimeout)/time.Second), 1)
	acfg.RateLimitPerSecond = rateLimit(cfg, opts.Databricks)
	if isAzureHost(acfg.Host) {
		return nil, fmt.Errorf("databricks.workspaces: all: the account API does not list Azure workspaces (account host %s): list them by name with a host or profile", acfg.Host)
	}
	a, err := databricks.NewAccountClient(acfg)
	if err != nil {
		return nil, accountListError((*sdkconfig.Config)(acfg), err)
	}
	return a, nil
}

func accountListError(acfg *sdkconfig.Config, err error) error {
	return fmt.Errorf("databricks.workspaces: all: cannot list the workspaces of account %s at %s (%s): give an account admin's credential (DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET, or DATABRICKS_CONFIG_PROFILE naming an account profile), or list the workspaces by name",
		acfg.AccountID, acfg.Host, oneLine(err))
}

// placeWorkspaces names, hosts and authenticates the running workspaces of
// all; acc is the account client's config (its host decides the cloud).
//
// A workspace is named by its own workspace_name, when that is a valid
// name that no other workspace of the account has. Otherwise (invalid, or
// shared by several) it is named by its workspace_id, and only when no
// workspace of the account has that id as its workspace_name; a config
// cannot refer to it by either (checkDiscovered): a name the config uses
// always stands for the one workspace whose own workspace_name it is, so a
// workspace created later never takes over a name.
func placeWorkspaces(all []provisioning.Workspace, acc *sdkconfig.Config, env Env, opts DatabricksOptions) (discovered, error) {
	out := discovered{ids: map[string]workspaceIdentity{}, refuse: map[string]string{}}
	overrides, err := parseWorkspaceHosts(env.get(WorkspaceHostsEnv))
	if err != nil {
		return out, err
	}
	if len(all) == 0 {
		return out, fmt.Errorf("databricks.workspaces: all: account %s lists no workspace: list the workspaces by name with a host or profile", acc.AccountID)
	}
	slices.SortStableFunc(all, func(a, b provisioning.Workspace) int {
		return cmp.Or(cmp.Compare(a.WorkspaceName, b.WorkspaceName), cmp.Compare(a.WorkspaceId, b.WorkspaceId))
	})
	named := map[string][]int64{} // workspace_name -> the ids of the workspaces so named
	for _, ws := range all {
		named[ws.WorkspaceName] = append(named[ws.WorkspaceName], ws.WorkspaceId)
	}
	byName := "list it in databricks.workspaces by name with its host or profile"
	for _, ws := range all {
		name := ws.WorkspaceName
		if !discoveredNameRE.MatchString(name) || len(named[name]) > 1 {
			why := fmt.Sprintf("its workspace_name %q is not usable as a name", name)
			if discoveredNameRE.MatchString(name) {
				why = fmt.Sprintf("the account gives the workspace_name %q to %d workspaces (ids %s)", name, len(named[name]), joinIDs(named[name]))
				out.refuse[name] = fmt.Sprintf("names workspace %q, which the account gives to %d workspaces (ids %s): list them in databricks.workspaces by name with their hosts", name, len(named[name]), joinIDs(named[name]))
			}
			if d := ws.DeploymentName; d != "" && len(named[d]) == 0 {
				out.refuse[d] = fmt.Sprintf("names workspace %q, the deployment name of workspace id %d, which is not its name (%s): %s", d, ws.WorkspaceId, why, byName)
			}
			name = fmt.Sprintf("%d", ws.WorkspaceId)
			if len(named[name]) > 0 {
				// Its id is another workspace's name: it has no name of its own.
				out.skipped = append(out.skipped, Finding{Kind: FindingUnknownSource, Subject: name, Workspace: name,
					Detail: fmt.Sprintf("workspace id %d is not read or planned: %s, and its id is another workspace's name; %s", ws.WorkspaceId, why, byName)})
				continue
			}
			out.refuse[name] = fmt.Sprintf("names workspace %q, which is workspace id %d named by its id (%s): %s", name, ws.WorkspaceId, why, byName)
		}
		if ws.WorkspaceStatus != provisioning.WorkspaceStatusRunning {
			out.skipped = append(out.skipped, Finding{Kind: FindingUnknownSource, Subject: name, Workspace: name,
				Detail: fmt.Sprintf("workspace %s (id %d) is %s, not RUNNING: not read or planned%s", name, ws.WorkspaceId,
					cmp.Or(string(ws.WorkspaceStatus), "of unknown status"), statusMessage(ws.WorkspaceStatusMessage))})
			continue
		}
		if ws.Cloud == "azure" || ws.AzureWorkspaceInfo != nil {
			return out, fmt.Errorf("databricks.workspaces: all: workspace %s is an Azure workspace, whose host the account API does not give: list it by name with a host or profile", name)
		}
		entry := config.Workspace{Name: name}
		if per, ok := opts.Workspaces[name]; ok && per.Host != "" {
			entry.Host = per.Host // with its own token (isolated)
			out.ids[name] = workspaceIdentity{ID: ws.WorkspaceId, Name: name, From: "the host given for it"}
			out.list = append(out.list, entry)
			continue
		}
		host, from := overrides[name], fmt.Sprintf("%s entry %s=%s", WorkspaceHostsEnv, name, overrides[name])
		if host == "" {
			from = fmt.Sprintf("its deployment_name %q", ws.DeploymentName)
			if !deploymentNameRE.MatchString(ws.DeploymentName) && ws.DeploymentName != "" {
				// A garbled deployment name must not make a foreign host,
				// where the account-wide credential would be presented.
				out.skipped = append(out.skipped, Finding{Kind: FindingUnknownSource, Subject: name, Workspace: name,
					Detail: fmt.Sprintf("workspace %s (id %d) is not read or planned: its deployment_name %q is not a DNS label, so no host is derived from it; give its host in %s (%s=https://...)",
						name, ws.WorkspaceId, oneLine(errors.New(ws.DeploymentName)), WorkspaceHostsEnv, name)})
				out.refuse[name] = fmt.Sprintf("names workspace %q, whose deployment_name %q is not a DNS label: give its host in %s (%s=https://...)",
					name, oneLine(errors.New(ws.DeploymentName)), WorkspaceHostsEnv, name)
				continue
			}
			host = deploymentHost(acc, ws.DeploymentName)
		}
		if host == "" {
			return out, fmt.Errorf("databricks.workspaces: all: cannot derive the host of workspace %s from the account host %s: give it in %s (%s=https://...) or list the workspaces by name",
				name, acc.Host, WorkspaceHostsEnv, name)
		}
		entry.Host = host
		out.ids[name] = workspaceIdentity{ID: ws.WorkspaceId, Name: name, From: from}
		if opts.Token == "" {
			profile, err := profileForHost(env.get("DATABRICKS_CONFIG_FILE"), host)
			if err != nil {
				return out, err
			}
			switch {
			case profile != "":
				entry.Host, entry.Profile = "", profile
			case env.get("DATABRICKS_CLIENT_ID") != "" && env.get("DATABRICKS_CLIENT_SECRET") != "":
				// The account-wide OAuth credential, through unified auth.
			default:
				return out, fmt.Errorf("databricks.workspaces: all: no credential for workspace %s (%s): add a profile with host = %s to the Databricks config file, or set DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET of a service principal assigned to it",
					name, host, host)
			}
		}
		out.list = append(out.list, entry)
	}
	if len(out.list) == 0 {
		return out, fmt.Errorf("databricks.workspaces: all: account %s has no RUNNING workspace (%d listed)", acc.AccountID, len(all))
	}
	return out, nil
}

// deploymentNameRE is a deployment name: DNS labels (AWS: dbc-1a2b3c4d-5e6f;
// GCP: 1234567890123456.7).
var deploymentNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprintf("%d", id)
	}
	return strings.Join(s, ", ")
}

func statusMessage(m string) string {
	if m = oneLine(errors.New(m)); m == "" {
		return ""
	}
	return " (" + m + ")"
}

// deploymentHost is the workspace host the SDK derives from a deployment
// name (AccountClient.GetWorkspaceClient): https://{name}{DNS zone}, when
// the account host is in a known cloud's DNS zone; "" otherwise.
func deploymentHost(acc *sdkconfig.Config, deployment string) string {
	env := acc.Environment()
	u, err := url.Parse(acc.Host)
	if !deploymentNameRE.MatchString(deployment) || env.DnsZone == "" || err != nil || !strings.HasSuffix(u.Hostname(), env.DnsZone) {
		return ""
	}
	host := env.DeploymentURL(deployment)
	// The derived host is the deployment in the cloud's DNS zone, nothing else.
	if d, err := url.Parse(host); err != nil || d.Scheme != "https" || d.User != nil || d.Port() != "" ||
		strings.Trim(d.Path, "/") != "" || d.RawQuery != "" || d.Host != deployment+env.DnsZone {
		return ""
	}
	return host
}

func isAzureHost(host string) bool {
	u, err := url.Parse(host)
	return err == nil && (strings.HasSuffix(u.Hostname(), ".azuredatabricks.net") || strings.HasSuffix(u.Hostname(), ".databricks.azure.cn") ||
		strings.HasSuffix(u.Hostname(), ".databricks.azure.us"))
}

// parseWorkspaceHosts reads BITBRICKS_WORKSPACE_HOSTS: name=URL pairs
// separated by commas.
func parseWorkspaceHosts(s string) (map[string]string, error) {
	out := map[string]string{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, host, ok := strings.Cut(item, "=")
		name, host = strings.TrimSpace(name), strings.TrimSpace(host)
		u, err := url.Parse(host)
		if !ok || name == "" || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, fmt.Errorf("%s: %q is not name=https://host", WorkspaceHostsEnv, oneLine(errors.New(item)))
		}
		out[name] = strings.TrimRight(host, "/")
	}
	return out, nil
}

// profileForHost is the profile of the Databricks config file whose host is
// host ("" when none; a missing file has none). Two profiles of one host
// are ambiguous: an error.
func profileForHost(path, host string) (string, error) {
	f, err := sdkconfig.LoadFile(path)
	if err != nil {
		return "", nil // no config file: no profile
	}
	want := normalHost(host)
	var found []string
	for _, sec := range f.Sections() {
		if h := sec.Key("host").String(); h != "" && normalHost(h) == want && sec.Key("account_id").String() == "" {
			found = append(found, sec.Name())
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("databricks.workspaces: all: profiles %s of %s all have host %s: keep one, or list the workspaces by name with a profile",
		strings.Join(found, ", "), f.Path(), host)
}

func normalHost(h string) string {
	if !strings.Contains(h, "://") {
		h = "https://" + h
	}
	u, err := url.Parse(h)
	if err != nil {
		return strings.ToLower(strings.TrimRight(h, "/"))
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// checkDiscovered refuses mappings and pipelines that name a workspace the
// account does not list (one it lists but does not serve, not RUNNING, is
// reported by its finding).
func checkDiscovered(cfg *config.Config, found discovered) error {
	known := map[string]bool{}
	var names []string
	for _, w := range found.list {
		known[w.Name] = true
		names = append(names, w.Name)
	}
	for _, f := range found.skipped {
		known[f.Subject] = true
	}
	check := func(line int, at, name string) error {
		where := cfg.Path
		if line > 0 {
			where = fmt.Sprintf("%s:%d", cfg.Path, line)
		}
		if why, ok := found.refuse[name]; ok && name != "" {
			return fmt.Errorf("%s: %s %s", where, at, why)
		}
		if name == "" || known[name] {
			return nil
		}
		return fmt.Errorf("%s: %s names workspace %q, which the account does not list (running: %s)", where, at, name, strings.Join(names, ", "))
	}
	for i, m := range cfg.Mappings {
		for _, name := range m.Workspaces {
			if err := check(m.Line, fmt.Sprintf("mappings[%d].workspaces", i), name); err != nil {
				return err
			}
		}
	}
	for i, b := range cfg.Pipelines {
		if err := check(0, fmt.Sprintf("pipelines[%d].workspace", i), b.Workspace); err != nil {
			return err
		}
	}
	return nil
}
