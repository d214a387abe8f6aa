package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/client"
	sdkconfig "github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/oauth2"
	"github.com/databricks/databricks-sdk-go/service/settings"
)

// SCIMConcurrency is how many SCIM requests run at once, workspace and
// account together: the service answers more with REQUEST_LIMIT_EXCEEDED.
const SCIMConcurrency = 4

// SDK timeouts. The first call of a run (Me) has ProbeTimeout, so wrong
// credentials or a dead host fail within seconds; later calls may retry rate
// limits for up to DefaultDatabricksRetryTimeout (the SDK's own default
// would retry for 5 minutes).
const (
	ProbeTimeout                  = 6 * time.Second
	DefaultDatabricksRetryTimeout = 30 * time.Second
	DefaultDatabricksHTTPTimeout  = 30 * time.Second
)

// DatabricksSource reads the Databricks side. *Databricks implements it.
type DatabricksSource interface {
	// Host is the workspace URL, for messages.
	Host() string
	// Me is who the credentials act as (userName, or a service principal's
	// application id); it fails with a *SystemError on bad credentials.
	Me(ctx context.Context) (string, error)
	Users(ctx context.Context) ([]*User, error)
	Groups(ctx context.Context) ([]*Group, error)
	ServicePrincipals(ctx context.Context) ([]*ServicePrincipal, error)
	// Tokens lists every token of the workspace; Kind is CredentialPAT and
	// Owner empty: the snapshot resolves owners (and OBO) from the principals.
	Tokens(ctx context.Context) ([]Credential, error)
	MaxTokenLifetimeDays(ctx context.Context) (int, error)
	// AccountAccess and ProxyAccess succeed when the account SCIM API, or its
	// workspace-proxied form, answers with the credentials in use.
	AccountAccess(ctx context.Context) error
	ProxyAccess(ctx context.Context) error
	// ProxyGroupAccess succeeds when the workspace proxy lets the caller at
	// account group groupID (a workspace admin, or a manager of that group):
	// the proxy answers any workspace user, so ProxyAccess alone proves little.
	ProxyGroupAccess(ctx context.Context, groupID string) error
	// AccountUsers lists the account's users (for users not assigned to the workspace).
	AccountUsers(ctx context.Context) ([]*User, error)
	// Secrets lists one service principal's OAuth secrets (account API).
	Secrets(ctx context.Context, spID string) ([]Credential, error)
}

// DatabricksOptions tune how the Databricks clients are configured.
type DatabricksOptions struct {
	// Token, when set, makes an isolated config with Host: PAT auth only, and
	// no environment variable, profile or ~/.databrickscfg read (tests, demo).
	// Otherwise the SDK's unified auth runs untouched, from cfg.Databricks and
	// the environment.
	Host, Token string
	// AccountClientID and AccountClientSecret are, with Token, the isolated
	// account credential: an OAuth secret of a service principal that is an
	// account admin (the account API takes no personal access token).
	AccountClientID, AccountClientSecret string
	// Workspaces give workspaces of several their own Host and Token (by
	// name), for isolated clients.
	Workspaces map[string]DatabricksOptions
	// Env overrides DATABRICKS_HOST and DATABRICKS_CONFIG_PROFILE lookups for
	// the non-isolated config; nil is the process environment.
	Env Env
	// RetryTimeout and HTTPTimeout default to 10 s each.
	RetryTimeout, HTTPTimeout time.Duration
	// RateLimit is the SDK's client-side requests per second; 0: the
	// config's databricks.rate_limit, else the SDK's default (15).
	RateLimit int
	// ProbeTimeout bounds the first call of a run (Me), so a dead host or a
	// wrong token fails fast; 0 is ProbeTimeout.
	ProbeTimeout time.Duration
	// identity, when its ID is set, is what the account says this
	// workspace is: its host must answer as that workspace
	// (workspace_identity.go).
	identity workspaceIdentity
}

// Databricks is the Databricks adapter, for reading (DatabricksSource) and
// for applying (Executor).
type Databricks struct {
	w         *databricks.WorkspaceClient
	raw       *client.DatabricksClient // the workspace's raw client, for the SCIM proxy and paged lists
	a         *databricks.AccountClient
	araw      *client.DatabricksClient // the account's raw client, for paged lists
	accountOK bool
	accErr    error // why there is no account client
	// accSetting names the account credential in use, for messages.
	accSetting string
	// accHost is the account client's host as built, for messages: the
	// SDK rewrites its Config.Host while requests run, so it is not read
	// there afterwards.
	accHost   string
	host      string
	authCheck string
	caller    callerCache // who Me answered
	reach     string
	probe     time.Duration // the first call's timeout (DatabricksOptions.ProbeTimeout)
	// breaker bounds the SDK's retries of a failing connection and counts
	// requests (connBreaker).
	breaker *connBreaker

	ident *identityGate // confirms the workspace's id, when known (workspace_identity.go)

	// orgID is the workspace's id as its answers to SCIM Me give it
	// (X-Databricks-Org-Id), once one was seen (workspace_same.go).
	orgID atomic.Int64
}

// NewDatabricks builds the workspace client and, when cfg.Databricks.AccountID
// is set, the account client.
func NewDatabricks(cfg *config.Config, opts DatabricksOptions) (*Databricks, error) {
	d := &Databricks{reach: "DATABRICKS_HOST or databricks.host, and the network", probe: cmpDuration(opts.ProbeTimeout, ProbeTimeout)}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 16
	d.breaker = &connBreaker{base: base}
	gate := &scimGate{base: d.breaker, sem: make(chan struct{}, SCIMConcurrency)}
	retry := int(cmpDuration(opts.RetryTimeout, DefaultDatabricksRetryTimeout) / time.Second)
	httpTimeout := int(cmpDuration(opts.HTTPTimeout, DefaultDatabricksHTTPTimeout) / time.Second)
	tune := func(c *databricks.Config) *databricks.Config {
		c.RetryTimeoutSeconds, c.HTTPTimeoutSeconds, c.RateLimitPerSecond = max(retry, 1), max(httpTimeout, 1), rateLimit(cfg, opts)
		c.HTTPTransport = gate
		return c
	}
	var wcfg *databricks.Config
	if opts.Token != "" {
		wcfg = isolated(opts.Host, opts.Token)
		d.authCheck = "the Databricks token given to bitbricks"
	} else {
		profile := firstNonEmpty(opts.Env.get("DATABRICKS_CONFIG_PROFILE"), cfg.Databricks.Profile)
		wcfg = &databricks.Config{Host: firstNonEmpty(opts.Env.get("DATABRICKS_HOST"), cfg.Databricks.Host), Profile: profile}
		if envTokenBesideClient(opts.Env) {
			wcfg.AuthType = "pat" // the OAuth secret is the account's
		}
		if cfg.Databricks.Workspace != "" {
			// One of several workspaces: its own host or profile, never the
			// environment's one workspace; a profile's values alone.
			wcfg.Host, wcfg.Profile = cfg.Databricks.Host, cfg.Databricks.Profile
			profile = wcfg.Profile
			if profile != "" {
				wcfg.ConfigFile = opts.Env.get("DATABRICKS_CONFIG_FILE")
				wcfg.Loaders = []sdkconfig.Loader{sdkconfig.ConfigFile}
				wcfg.AuthType = "" // the profile's own, not the environment's
			}
		}
		wcfg.HostMetadataResolver = quickMetadata((*sdkconfig.Config)(wcfg), d.probe)
		d.authCheck = "DATABRICKS_TOKEN, DATABRICKS_HOST or ~/.databrickscfg"
		if profile != "" {
			d.authCheck = fmt.Sprintf("DATABRICKS_TOKEN or the profile %q", profile)
		}
	}
	wcfg = tune(wcfg)
	if opts.identity.ID != 0 {
		d.ident = &identityGate{base: wcfg.HTTPTransport, want: opts.identity}
		wcfg.HTTPTransport = d.ident
	}
	wcfg.HTTPTransport = orgRecorder{base: wcfg.HTTPTransport, seen: &d.orgID}
	w, err := databricks.NewWorkspaceClient(wcfg)
	if err != nil {
		return nil, &SystemError{System: SystemDatabricks, Problem: "cannot configure the client (" + oneLine(err) + ")", Check: d.authCheck, Err: err}
	}
	d.w, d.host = w, strings.TrimRight(w.Config.CanonicalHostName(), "/")
	if d.raw, err = client.New(w.Config); err != nil {
		return nil, &SystemError{System: SystemDatabricks, Problem: "cannot configure the client (" + oneLine(err) + ")", Check: d.authCheck, Err: err}
	}
	if cfg.Databricks.AccountID == "" {
		d.accErr = errors.New("no databricks.account_id configured")
		return d, nil
	}
	acfg, err := accountConfig(w.Config, cfg.Databricks, opts)
	var ace *AccountCredentialError
	if errors.As(err, &ace) {
		// Only the account's work is unavailable: the workspace's (its
		// tokens, revoke, unlock) needs no account credential. Work that
		// needs the account refuses with ace (AccountUnavailable).
		if ace.Profile != "" && cfg.Path != "" {
			if line := cfg.Line("databricks.account_profile"); line > 0 {
				ace.At = fmt.Sprintf("%s:%d", cfg.Path, line)
			}
		}
		d.accErr = &AccountUnavailableError{Cause: ace}
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	d.accSetting = accountSetting(acfg, cfg.Databricks, opts)
	if d.a, err = databricks.NewAccountClient(tune(acfg)); err != nil {
		d.a, d.accErr = nil, fmt.Errorf("configure the account client: %w", err)
	} else if d.araw, err = client.New(d.a.Config); err != nil {
		d.a, d.accErr = nil, fmt.Errorf("configure the account client: %w", err)
	} else {
		d.accHost = d.a.Config.Host
	}
	return d, nil
}

// AccountUnavailable is the *AccountCredentialError that keeps the account
// client unbuilt (databricks.account_id set, no credential the account API
// takes), or nil.
func (d *Databricks) AccountUnavailable() error {
	var ace *AccountCredentialError
	if errors.As(d.accErr, &ace) {
		return ace
	}
	return nil
}

// noLoader keeps an isolated config from reading the environment or profiles.
type noLoader struct{}

func (noLoader) Name() string                      { return "bitbricks-isolated" }
func (noLoader) Configure(*sdkconfig.Config) error { return nil }

func isolated(host, token string) *databricks.Config {
	return isolate(&databricks.Config{Host: host, Token: token, AuthType: "pat"})
}

// isolate keeps c to the auth it holds: no environment variable, profile or
// host metadata is read.
func isolate(c *databricks.Config) *databricks.Config {
	c.Loaders = []sdkconfig.Loader{noLoader{}}
	c.HostMetadataResolver = func(context.Context, string) (*sdkconfig.HostMetadata, error) { return nil, nil }
	return c
}

// accountConfig is the account client's config: the account host (the
// isolated host, which the emulator serves both on, or the cloud's accounts
// host) with an account credential (accountCredential).
func accountConfig(w *sdkconfig.Config, dc config.DatabricksConfig, opts DatabricksOptions) (*databricks.Config, error) {
	host := firstNonEmpty(dc.AccountHost, w.Environment().DeploymentURL("accounts"))
	if opts.Token != "" {
		host = firstNonEmpty(dc.AccountHost, opts.Host)
	}
	return accountCredential(host, dc.AccountID, dc, opts, w)
}

// quickMetadata is the SDK's host metadata lookup (best effort) bounded to
// one second, or the probe timeout when that is shorter, so that it never
// eats the time a bad setup has to fail in.
func quickMetadata(c *sdkconfig.Config, probe time.Duration) sdkconfig.HostMetadataResolver {
	return func(ctx context.Context, host string) (*sdkconfig.HostMetadata, error) {
		ctx, cancel := context.WithTimeout(ctx, min(time.Second, probe))
		defer cancel()
		return c.DefaultHostMetadataResolver()(ctx, host)
	}
}

func cmpDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// RetryTimeout is the SDK retry budget in force.
func (d *Databricks) RetryTimeout() time.Duration {
	return time.Duration(d.w.Config.RetryTimeoutSeconds) * time.Second
}

// Host is the workspace URL.
func (d *Databricks) Host() string { return d.host }

// wrap names what failed, or makes bad credentials or a dead host the one
// SystemError that stops the run. A 403 is fatal only where noted (an
// admin-only API refused is a problem of that source).
func (d *Databricks) wrap(what string, err error, forbiddenIsFatal bool) error {
	if err == nil {
		return nil
	}
	if httpStatus(err) != http.StatusForbidden || forbiddenIsFatal {
		if f := fatal(SystemDatabricks, d.host, d.authCheck, d.reach, err); f != nil {
			return f
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Me reads the caller; any failure here (including credentials the SDK
// cannot even configure) stops the run.
func (d *Databricks) Me(ctx context.Context) (string, error) {
	// The first call of a run fails fast: a dead host or a wrong token is
	// reported within seconds, not after the whole retry budget.
	probe, cancel := context.WithTimeout(ctx, d.probe)
	defer cancel()
	me, err := d.w.CurrentUser.Me(probe)
	if err == nil {
		d.caller.set(Caller{ID: me.Id, UserName: me.UserName, PAT: d.w.Config.AuthType == "pat"})
		return me.UserName, nil
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return "", &SystemError{System: SystemDatabricks, Problem: fmt.Sprintf("no answer from %s within %s", d.host, d.probe), Check: d.reach, Err: err}
	}
	if f := d.wrap("", err, true); errors.As(f, new(*SystemError)) {
		return "", f
	}
	if httpStatus(err) == 0 && connectionLost(err) {
		// An outage (the connection dropped or reset), not a credential.
		return "", &SystemError{System: SystemDatabricks, Problem: "no usable answer from " + d.host + " (" + oneLine(err) + ")", Check: d.reach, Err: err}
	}
	if httpStatus(err) == 0 {
		return "", &SystemError{System: SystemDatabricks, Problem: "cannot authenticate to " + d.host + " (" + oneLine(err) + ")", Check: d.authCheck, Err: err}
	}
	return "", fmt.Errorf("read the Databricks caller: %w", err)
}

const userAttrs = "id,userName,displayName,active,externalId"

// Users lists the workspace's users, every page (pages after the first in
// parallel, see scimListAll).
func (d *Databricks) Users(ctx context.Context) ([]*User, error) {
	us, err := scimListAll[scimUser](ctx, d.raw, "/api/2.0/preview/scim/v2/Users", map[string]any{"attributes": userAttrs})
	if err != nil {
		return nil, d.wrap("list Databricks users", err, true)
	}
	out := make([]*User, 0, len(us))
	for _, u := range us {
		out = append(out, &User{ID: u.ID, UserName: u.UserName, DisplayName: u.DisplayName, Active: u.Active, ExternalID: u.ExternalID, Assigned: true})
	}
	return out, nil
}

// AccountUsers lists the account's users; Assigned is left false (the
// snapshot knows the assigned ones from the workspace list).
func (d *Databricks) AccountUsers(ctx context.Context) ([]*User, error) {
	if d.a == nil {
		return nil, d.accErr
	}
	path := "/api/2.0/accounts/" + url.PathEscape(d.a.Config.AccountID) + "/scim/v2/Users"
	us, err := scimListAll[scimUser](ctx, d.araw, path, map[string]any{"attributes": userAttrs})
	if err != nil {
		return nil, fmt.Errorf("list Databricks account users: %w", err)
	}
	out := make([]*User, 0, len(us))
	for _, u := range us {
		out = append(out, &User{ID: u.ID, UserName: u.UserName, DisplayName: u.DisplayName, Active: u.Active, ExternalID: u.ExternalID})
	}
	return out, nil
}

// Groups lists the workspace's groups with members, entitlements and kind.
// The workspace list carries members; should a service omit them from every
// group, each group is read on its own.
func (d *Databricks) Groups(ctx context.Context) ([]*Group, error) {
	gs, err := scimListAll[scimGroup](ctx, d.raw, "/api/2.0/preview/scim/v2/Groups", nil)
	if err != nil {
		return nil, d.wrap("list Databricks groups", err, true)
	}
	out := make([]*Group, 0, len(gs))
	for _, g := range gs {
		out = append(out, fromSCIMGroup(g))
	}
	if len(gs) > 0 && !slices.ContainsFunc(gs, func(g scimGroup) bool { return len(g.Members) > 0 }) {
		var wg gosync.WaitGroup
		for _, g := range out {
			wg.Go(func() {
				full, err := d.w.GroupsV2.Get(ctx, iam.GetGroupRequest{Id: g.ID})
				if err != nil {
					g.MembersKnown = false
					return
				}
				vs := make([]scimValue, 0, len(full.Members))
				for _, m := range full.Members {
					vs = append(vs, scimValue{Value: m.Value, Display: m.Display, Type: m.Type, Ref: m.Ref})
				}
				g.Members = members(vs)
			})
		}
		wg.Wait()
	}
	return out, nil
}

func fromSCIMGroup(g scimGroup) *Group {
	kind := KindWorkspace
	if g.Meta != nil && g.Meta.ResourceType == "Group" {
		kind = KindAccount
	}
	out := &Group{ID: g.ID, Name: g.DisplayName, Kind: kind, ExternalID: g.ExternalID, Members: members(g.Members), MembersKnown: true}
	for _, e := range g.Entitlements {
		out.Entitlements = append(out.Entitlements, e.Value)
	}
	return out
}

// members types each member by its $ref ("Users/1", "ServicePrincipals/2",
// "Groups/3"); Display is refined by the snapshot (userName for users).
func members(cv []scimValue) []Member {
	out := make([]Member, 0, len(cv))
	for _, m := range cv {
		t := PrincipalType("")
		switch {
		case strings.HasPrefix(m.Ref, "Users/") || strings.EqualFold(m.Type, "User"):
			t = PrincipalUser
		case strings.HasPrefix(m.Ref, "ServicePrincipals/") || strings.EqualFold(m.Type, "ServicePrincipal"):
			t = PrincipalServicePrincipal
		case strings.HasPrefix(m.Ref, "Groups/") || strings.EqualFold(m.Type, "Group"):
			t = PrincipalGroup
		}
		out = append(out, Member{ID: m.Value, Type: t, Display: m.Display})
	}
	return out
}

// ServicePrincipals lists the workspace's service principals, every page.
func (d *Databricks) ServicePrincipals(ctx context.Context) ([]*ServicePrincipal, error) {
	sps, err := scimListAll[scimSP](ctx, d.raw, "/api/2.0/preview/scim/v2/ServicePrincipals", map[string]any{"attributes": "id,applicationId,displayName,active"})
	if err != nil {
		return nil, d.wrap("list Databricks service principals", err, true)
	}
	out := make([]*ServicePrincipal, 0, len(sps))
	for _, sp := range sps {
		out = append(out, &ServicePrincipal{ID: sp.ID, ApplicationID: sp.ApplicationID, DisplayName: sp.DisplayName, Active: sp.Active})
	}
	return out, nil
}

// tokenInfo is one token of the token management list, decoded lean (the
// SDK's TokenInfo decodes every one of 30,000 items twice).
type tokenInfo struct {
	TokenID           string `json:"token_id"`
	OwnerID           int64  `json:"owner_id"`
	CreatedByID       int64  `json:"created_by_id"`
	CreatedByUsername string `json:"created_by_username"`
	Comment           string `json:"comment"`
	CreationTime      int64  `json:"creation_time"`
	ExpiryTime        int64  `json:"expiry_time"`
	LastUsedDay       int64  `json:"last_used_day"`
}

// Tokens lists every token through token management (one response).
func (d *Databricks) Tokens(ctx context.Context) ([]Credential, error) {
	var resp struct {
		TokenInfos []tokenInfo `json:"token_infos"`
	}
	err := d.raw.Do(ctx, http.MethodGet, "/api/2.0/token-management/tokens", map[string]string{"Accept": "application/json"}, nil, nil, &resp)
	if err != nil {
		return nil, d.wrap("list Databricks tokens", err, false)
	}
	out := make([]Credential, 0, len(resp.TokenInfos))
	for _, t := range resp.TokenInfos {
		c := Credential{
			ID: t.TokenID, Kind: CredentialPAT, OwnerID: strconv.FormatInt(t.OwnerID, 10), OwnerType: PrincipalUser,
			Owner: t.CreatedByUsername, Comment: t.Comment, Created: epochMillis(t.CreationTime),
			Expiry: epochMillis(t.ExpiryTime), LastUsed: epochMillis(t.LastUsedDay),
		}
		if t.OwnerID == 0 {
			c.OwnerID = strconv.FormatInt(t.CreatedByID, 10)
		}
		out = append(out, c)
	}
	return out, nil
}

// epochMillis reads Databricks' epoch milliseconds; 0 and -1 (never) are zero.
func epochMillis(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// MaxTokenLifetimeDays reads workspace-conf maxTokenLifetimeDays (0: no limit).
func (d *Databricks) MaxTokenLifetimeDays(ctx context.Context) (int, error) {
	conf, err := d.w.WorkspaceConf.GetStatus(ctx, settings.GetStatusRequest{Keys: "maxTokenLifetimeDays"})
	if err != nil {
		return 0, d.wrap("read workspace-conf maxTokenLifetimeDays", err, false)
	}
	v := strings.TrimSpace((*conf)["maxTokenLifetimeDays"])
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("workspace-conf maxTokenLifetimeDays %q is not a number", v)
	}
	return n, nil
}

// AccountAccess asks the account SCIM API for one group.
func (d *Databricks) AccountAccess(ctx context.Context) error {
	if d.a == nil {
		return d.accErr
	}
	it := d.a.GroupsV2.List(ctx, iam.ListAccountGroupsRequest{Count: 1, Attributes: "id"})
	if it.HasNext(ctx) { // on an error HasNext is true and Next returns it
		if _, err := it.Next(ctx); err != nil {
			return fmt.Errorf("account SCIM at %s: %w", d.accHost, accountTokenRefused(err, d.accSetting))
		}
	}
	d.accountOK = true
	return nil
}

const proxyGroups = "/api/2.0/account/scim/v2/Groups"

// ProxyAccess asks the workspace-proxied account SCIM API for one group.
func (d *Databricks) ProxyAccess(ctx context.Context) error {
	var resp map[string]any
	q := map[string]any{"count": 1, "attributes": "id"}
	if err := d.raw.Do(ctx, http.MethodGet, proxyGroups, map[string]string{"Accept": "application/json"}, q, nil, &resp); err != nil {
		return fmt.Errorf("workspace-proxied account SCIM: %w", err)
	}
	return nil
}

// ProxyGroupAccess reads account group groupID through the workspace proxy;
// the proxy refuses (403) callers who are neither workspace admins nor
// managers of the group, the same rule as for changing it.
func (d *Databricks) ProxyGroupAccess(ctx context.Context, groupID string) error {
	var resp map[string]any
	q := map[string]any{"attributes": "id"}
	if err := d.raw.Do(ctx, http.MethodGet, proxyGroups+"/"+url.PathEscape(groupID), map[string]string{"Accept": "application/json"}, q, nil, &resp); err != nil {
		return fmt.Errorf("workspace-proxied account SCIM, group %s: %w", groupID, err)
	}
	return nil
}

// Secrets lists one service principal's OAuth secrets through the account API.
func (d *Databricks) Secrets(ctx context.Context, spID string) ([]Credential, error) {
	if d.a == nil {
		return nil, d.accErr
	}
	ss, err := d.a.ServicePrincipalSecrets.ListAll(ctx, oauth2.ListServicePrincipalSecretsRequest{ServicePrincipalId: spID})
	if err != nil {
		return nil, fmt.Errorf("list OAuth secrets of service principal %s: %w", spID, err)
	}
	out := make([]Credential, 0, len(ss))
	for _, s := range ss {
		out = append(out, Credential{
			ID: s.Id, Kind: CredentialOAuthSecret, OwnerID: spID, OwnerType: PrincipalServicePrincipal,
			Created: parseTime(s.CreateTime), Expiry: parseTime(s.ExpireTime),
		})
	}
	return out, nil
}

// ---- Executor ----

var patchSchemas = []iam.PatchSchema{iam.PatchSchemaUrnIetfParamsScimApiMessages20PatchOp}

// CreateGroup creates a workspace-local group (or an account group when the
// change routes through the account API) and returns its id.
func (d *Databricks) CreateGroup(ctx context.Context, c Change) (string, error) {
	if c.Route == RouteAccount {
		if d.a == nil {
			return "", d.accErr
		}
		g, err := d.a.GroupsV2.Create(ctx, iam.CreateAccountGroupRequest{DisplayName: c.Group})
		if err != nil {
			return "", fmt.Errorf("create account group %s: %w", c.Group, err)
		}
		return g.Id, nil
	}
	g, err := d.w.GroupsV2.Create(ctx, iam.CreateGroupRequest{DisplayName: c.Group})
	if err != nil {
		return "", fmt.Errorf("create group %s: %w", c.Group, err)
	}
	return g.Id, nil
}

// AddMember adds c.PrincipalID to group c.GroupID through c.Route.
func (d *Databricks) AddMember(ctx context.Context, c Change) error {
	op := iam.Patch{Op: iam.PatchOpAdd, Value: map[string]any{"members": []map[string]string{{"value": c.PrincipalID}}}}
	return d.patch(ctx, c, fmt.Sprintf("add %s to %s", c.Principal, c.Group), op)
}

// RemoveMember removes c.PrincipalID from group c.GroupID through c.Route.
func (d *Databricks) RemoveMember(ctx context.Context, c Change) error {
	op := iam.Patch{Op: iam.PatchOpRemove, Path: fmt.Sprintf("members[value eq %q]", c.PrincipalID)}
	return d.patch(ctx, c, fmt.Sprintf("remove %s from %s", c.Principal, c.Group), op)
}

// AddEntitlement grants c.Entitlement to the group (workspace SCIM, for
// account groups too) and reads the group back to confirm it applied.
func (d *Databricks) AddEntitlement(ctx context.Context, c Change) error {
	op := iam.Patch{Op: iam.PatchOpAdd, Path: "entitlements", Value: []map[string]string{{"value": c.Entitlement}}}
	return d.entitlement(ctx, c, op, true)
}

// RemoveEntitlement takes c.Entitlement away and confirms by reading back.
func (d *Databricks) RemoveEntitlement(ctx context.Context, c Change) error {
	op := iam.Patch{Op: iam.PatchOpRemove, Path: fmt.Sprintf("entitlements[value eq %q]", c.Entitlement)}
	return d.entitlement(ctx, c, op, false)
}

func (d *Databricks) entitlement(ctx context.Context, c Change, op iam.Patch, want bool) error {
	what := fmt.Sprintf("%s %s on %s", c.Action, c.Entitlement, c.Group)
	wc := c
	wc.Route = RouteWorkspace
	if err := d.patch(ctx, wc, what, op); err != nil {
		return err
	}
	g, err := d.w.GroupsV2.Get(ctx, iam.GetGroupRequest{Id: c.GroupID})
	if err != nil {
		return fmt.Errorf("%s: read back: %w", what, err)
	}
	has := slices.ContainsFunc(g.Entitlements, func(e iam.ComplexValue) bool { return e.Value == c.Entitlement })
	if has != want {
		return fmt.Errorf("%s: accepted, but reading %s back shows it did not apply", what, c.Group)
	}
	return nil
}

func (d *Databricks) patch(ctx context.Context, c Change, what string, op iam.Patch) error {
	if c.GroupID == "" {
		return fmt.Errorf("%s: no group id", what)
	}
	ops := []iam.Patch{op}
	var err error
	switch c.Route {
	case RouteAccount:
		if d.a == nil {
			return fmt.Errorf("%s: %w", what, d.accErr)
		}
		err = d.a.GroupsV2.Patch(ctx, iam.PatchAccountGroupRequest{Id: c.GroupID, Operations: ops, Schemas: patchSchemas})
	case RouteProxy:
		body := iam.PatchGroupRequest{Operations: ops, Schemas: patchSchemas}
		err = d.raw.Do(ctx, http.MethodPatch, proxyGroups+"/"+c.GroupID, map[string]string{"Content-Type": "application/json"}, nil, body, nil)
	default:
		err = d.w.GroupsV2.Patch(ctx, iam.PatchGroupRequest{Id: c.GroupID, Operations: ops, Schemas: patchSchemas})
	}
	if err != nil {
		return fmt.Errorf("%s (%s SCIM): %w", what, cmpRoute(c.Route), err)
	}
	return nil
}

func cmpRoute(r Route) Route {
	if r == "" {
		return RouteWorkspace
	}
	return r
}

// RevokeToken deletes a token through token management; a token already
// gone counts as revoked.
func (d *Databricks) RevokeToken(ctx context.Context, c Change) error {
	err := d.w.TokenManagement.Delete(ctx, settings.DeleteTokenManagementRequest{TokenId: c.TokenID})
	if err != nil && !apierr.IsMissing(err) {
		return fmt.Errorf("revoke token %s of %s: %w", c.TokenID, c.Principal, err)
	}
	return nil
}

// RevokeSecret deletes a service principal OAuth secret (account API); a
// secret already gone counts as revoked.
func (d *Databricks) RevokeSecret(ctx context.Context, c Change) error {
	if d.a == nil {
		return fmt.Errorf("revoke secret %s of %s: %w", c.TokenID, c.Principal, d.accErr)
	}
	err := d.a.ServicePrincipalSecrets.Delete(ctx, oauth2.DeleteServicePrincipalSecretRequest{ServicePrincipalId: c.PrincipalID, SecretId: c.TokenID})
	if err != nil && !apierr.IsMissing(err) {
		return fmt.Errorf("revoke secret %s of %s: %w", c.TokenID, c.Principal, err)
	}
	return nil
}

// scimGate lets at most cap(sem) SCIM requests run at once, across the
// workspace and account clients; a slot is held until the body is closed.
type scimGate struct {
	base http.RoundTripper
	sem  chan struct{}
}

func (g *scimGate) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.Contains(req.URL.Path, "/scim/v2/") {
		return g.base.RoundTrip(req)
	}
	select {
	case g.sem <- struct{}{}:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	release := gosync.OnceFunc(func() { <-g.sem })
	resp, err := g.base.RoundTrip(req)
	if err != nil {
		release()
		return nil, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

type releasingBody struct {
	io.ReadCloser
	release func()
}

func (b *releasingBody) Close() error {
	defer b.release()
	return b.ReadCloser.Close()
}

// rateLimit is the SDK's client-side limit for a client: the options' (a
// test's or the demo's), else databricks.rate_limit, else 0 (the SDK's
// default, or its own DATABRICKS_RATE_LIMIT).
func rateLimit(cfg *config.Config, opts DatabricksOptions) int {
	return cmp.Or(opts.RateLimit, cfg.Databricks.RateLimit)
}
