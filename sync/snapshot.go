package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/bitbricks/bitbricks/config"
)

// Sources are the adapters a snapshot is read from. Atlassian is nil when
// atlassian_admin is not configured.
type Sources struct {
	Bitbucket  BitbucketSource
	Atlassian  AtlassianSource
	Databricks DatabricksSource
	// Audit is the audit log of cfg.Audit.File, shared by every service of
	// one run (a volume log writes one file per run); nil writes none.
	Audit AuditSink
	// Workspaces are each workspace's sources when the config lists
	// several (Databricks is then the first's); empty with one.
	Workspaces []WorkspaceSources
	// SkippedWorkspaces report the workspaces `databricks.workspaces: all`
	// found but does not serve (not RUNNING), as findings of every plan.
	SkippedWorkspaces []Finding
}

// SourceOptions configure NewSources.
type SourceOptions struct {
	// Env supplies the Bitbucket and Atlassian endpoints and credentials;
	// nil is the process environment.
	Env        Env
	Databricks DatabricksOptions
	// RetryUnit is the first backoff step of the Bitbucket and Atlassian
	// transport; 0: its default. Tests shorten it; the bounds in attempts stay.
	RetryUnit time.Duration
}

// NewSources builds the real adapters for cfg. The Databricks adapter is
// also the Executor for Apply (see Sources.Executor).
func NewSources(cfg *config.Config, opts SourceOptions) (Sources, error) {
	if cfg.Databricks.Workspaces.Set() && cfg.Databricks.Workspace == "" {
		return newWorkspaceSources(cfg, opts)
	}
	bb, err := NewBitbucket(cfg, opts.Env)
	if err != nil {
		return Sources{}, err
	}
	if opts.Databricks.Env == nil {
		opts.Databricks.Env = opts.Env
	}
	db, err := NewDatabricks(cfg, opts.Databricks)
	if err != nil {
		return Sources{}, err
	}
	src := Sources{Bitbucket: bb, Databricks: db, Audit: NewAuditSink(cfg.Audit.File, db)}
	if a := NewAtlassian(cfg, opts.Env); a != nil {
		src.Atlassian = a
	}
	if opts.RetryUnit > 0 {
		bb.http.Transport.(*retryTransport).unit = opts.RetryUnit
		if src.Atlassian != nil {
			src.Atlassian.(*Atlassian).http.Transport.(*retryTransport).unit = opts.RetryUnit
		}
	}
	return src, nil
}

// Executor returns the Databricks source as an Executor, when it is one.
func (s Sources) Executor() (Executor, bool) {
	e, ok := s.Databricks.(Executor)
	return e, ok
}

// readConcurrency bounds the reads in flight at once (SCIM requests are
// bounded further, to 4, by the Databricks adapter).
const readConcurrency = 16

// Read takes a Snapshot of every source, concurrently and through every
// page. A source that fails becomes a SourceProblem and marks its part of the
// snapshot unknown; the snapshot is still returned. Bad credentials or an
// unreachable host for Bitbucket or Databricks stop the read with a one-line
// *SystemError naming the system and what to check. progress, if not nil,
// hears what is being read, with counts for the long parts (pages read of
// pages known, emails resolved of those asked for); it is called from one
// goroutine at a time.
//
// Each read starts as soon as what it needs is in (emails after the groups,
// secrets after the service principals), not stage by stage, so the run
// takes about as long as its longest chain: the SCIM lists, 4 requests at a
// time.
func Read(ctx context.Context, src Sources, cfg *config.Config, progress func(string)) (*Snapshot, error) {
	r := &reader{src: src, cfg: cfg, progress: progress, snap: &Snapshot{
		TakenAt: time.Now().UTC(), Workspace: cfg.Bitbucket.Workspace, Host: src.Databricks.Host(),
		Groups: map[string]*BitbucketGroup{}, Emails: map[string]string{}, Users: map[string]*User{},
		DBGroups: map[string]*Group{}, SPs: map[string]*ServicePrincipal{}, Bindings: map[string]*BindingState{},
	}}
	fromAdmin := cfg.Bitbucket.GroupsSource == config.GroupsSourceAtlassianAdmin
	if cfg.Policy.RevokeDeparted {
		r.snap.FormerMembers = formerMembers(cfg.Audit.File, cfg)
	}

	// One call per system first: bad credentials or a dead host end the run
	// there, before a storm of requests that would all fail the same way.
	// Each system's reads wait for its own probe only (SCIM Me, the
	// Bitbucket group list), not for the other system's.
	g := newGroup(ctx, readConcurrency)
	me := g.Go(r.me)
	var groups, bbProbe <-chan struct{}
	if fromAdmin {
		bbProbe = g.Go(r.members)
		groups = g.GoAfter(r.adminGroups, bbProbe)
	} else {
		bbProbe = g.Go(r.bitbucketGroups)
		groups = bbProbe
	}
	users := g.GoAfter(r.databricksUsers, me)
	dbGroups := g.GoAfter(r.databricksGroups, me)
	sps := g.GoAfter(r.servicePrincipals, me)
	account := g.GoAfter(r.account, me)
	proxy := g.GoAfter(r.proxy, me)
	accountUsers := g.GoAfter(r.accountUsers, account)
	assignments := g.GoAfter(r.assignments, account, users)
	tokens := g.GoAfter(r.tokens, me)
	ledger := g.GoAfter(func(context.Context) error { return nil }, me)
	if cfg.Policy.RevokeDeparted {
		ledger = g.GoAfter(r.departureLedger, me) // departure_ledger.go
	}
	g.GoAfter(r.maxTokenDays, me)
	if src.Atlassian != nil {
		g.GoAfter(r.atlassianTokens, bbProbe)
	}
	bindings := []<-chan struct{}{sps}
	for _, b := range cfg.Pipelines {
		bindings = append(bindings, g.GoAfter(func(ctx context.Context) error { return r.binding(ctx, b) }, bbProbe))
	}
	for _, b := range accountBindingsElsewhere(cfg) {
		g.GoAfter(func(ctx context.Context) error { return r.binding(ctx, b) }, bbProbe)
	}
	g.GoAfter(r.federation, bindings...) // UUIDs and policies of the bound service principals
	emails := g.GoAfter(r.emails, groups)
	g.GoAfter(r.spSecrets, sps, account)
	g.GoAfter(r.proxyGroups, dbGroups, account, proxy)
	if !fromAdmin {
		// Every user a mapped group holds, assigned or not: the account's
		// users are added to the same map.
		// ... and the tokens and own assignments a former member may still
		// hold (formerHolds).
		g.GoAfter(r.presence, emails, dbGroups, users, accountUsers, tokens, assignments, ledger)
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.finish()
	return r.snap, nil
}

// readMappings are the mappings whose Bitbucket groups a read needs: the
// config's, and with several workspaces those of the other workspaces too
// (an account group's membership is planned from every mapping to it).
func readMappings(cfg *config.Config) []config.Mapping {
	return append(slices.Clone(cfg.Mappings), mappingsElsewhere(cfg)...)
}

// mappingsElsewhere are the mappings of the other workspaces of a config
// narrowed to one (config.ForWorkspace); none otherwise.
func mappingsElsewhere(cfg *config.Config) []config.Mapping {
	var out []config.Mapping
	if cfg.Whole() == cfg {
		return nil
	}
	for _, m := range cfg.Whole().Mappings {
		if !m.AppliesTo(cfg.Databricks.Workspace) {
			out = append(out, m)
		}
	}
	return out
}

// accountBindingsElsewhere are the OAuth secret bindings of the other
// workspaces of a config narrowed to one (config.ForWorkspace). An OAuth
// secret is the account's, so what they record is read with this
// workspace's bindings (Snapshot.Bindings): a secret one of them records is
// bound, no leftover, and kept by a rotation here.
func accountBindingsElsewhere(cfg *config.Config) []config.Binding {
	var out []config.Binding
	for _, b := range cfg.Whole().Pipelines {
		if b.Credential == config.CredentialOAuthSecret && b.Workspace != cfg.Databricks.Workspace &&
			!slices.ContainsFunc(cfg.Pipelines, func(o config.Binding) bool { return o.Name == b.Name }) {
			out = append(out, b)
		}
	}
	return out
}

func closed() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// reader holds one Read's state; mu guards snap while the reads run.
type reader struct {
	src      Sources
	cfg      *config.Config
	progress func(string)

	mu         gosync.Mutex
	snap       *Snapshot
	bbGroups   []*BitbucketGroup
	usersKnown bool
	spsKnown   bool
	rawTokens  []Credential // owners not yet resolved
	secrets    []Credential
	atlTokens  []Credential
	// mappedIdentity holds the lower-case userNames the identity map gives.
	mappedIdentity map[string]bool
}

func (r *reader) say(format string, args ...any) {
	if r.progress == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress(fmt.Sprintf(format, args...))
}

// fail records a source problem; a SystemError is returned to stop the read.
func (r *reader) fail(system, source string, err error) error {
	var se *SystemError
	if errors.As(err, &se) {
		return se
	}
	r.record(system, source, err)
	return nil
}

// record records a source problem, whatever the error.
func (r *reader) record(system, source string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	status := httpStatus(err)
	var ie *ImplausibleError
	if status == 0 && errors.As(err, &ie) {
		status = http.StatusOK // an answer came; it cannot be true
	}
	r.snap.Problems = append(r.snap.Problems, SourceProblem{System: system, Source: source, Err: oneLine(err), Status: status})
}

func (r *reader) me(ctx context.Context) error {
	r.say("checking Databricks credentials at %s", r.src.Databricks.Host())
	caller, err := r.src.Databricks.Me(ctx)
	if err != nil {
		return r.fail(SystemDatabricks, "caller identity", err)
	}
	r.mu.Lock()
	r.snap.Caller = caller
	if d, ok := r.src.Databricks.(*Databricks); ok {
		r.snap.WorkspaceID = d.orgID.Load() // as Me's answer named it
	}
	r.mu.Unlock()
	return nil
}

func (r *reader) bitbucketGroups(ctx context.Context) error {
	r.say("reading Bitbucket groups of %s", r.cfg.Bitbucket.Workspace)
	gs, err := r.src.Bitbucket.Groups(ctx)
	if err == nil {
		err = checkGroups(gs)
	}
	if err != nil {
		return r.groupsFailed(SystemBitbucket, err)
	}
	r.mu.Lock()
	r.bbGroups = gs
	r.mu.Unlock()
	return nil
}

func (r *reader) adminGroups(ctx context.Context) error {
	r.say("reading Atlassian directory groups")
	if r.src.Atlassian == nil {
		return r.groupsFailed(SystemAtlassian, errors.New("groups_source is atlassian-admin but atlassian_admin is not configured"))
	}
	var mapped []string
	for _, m := range readMappings(r.cfg) {
		mapped = append(mapped, m.BitbucketGroup)
	}
	gs, err := r.src.Atlassian.Groups(ctx, mapped)
	if err == nil {
		err = checkGroups(gs)
	}
	if err != nil {
		return r.groupsFailed(SystemAtlassian, err)
	}
	r.mu.Lock()
	r.bbGroups = gs
	r.mu.Unlock()
	return nil
}

// groupsFailed records the problem and marks every mapped group unknown (so
// nothing is removed on the strength of a list that was never read).
func (r *reader) groupsFailed(system string, err error) error {
	if stop := r.fail(system, "groups", err); stop != nil {
		return stop
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range readMappings(r.cfg) {
		r.bbGroups = append(r.bbGroups, &BitbucketGroup{Slug: m.BitbucketGroup, Name: m.BitbucketGroup, Problem: "group list could not be read: " + oneLine(err)})
	}
	return nil
}

func (r *reader) members(ctx context.Context) error {
	r.say("reading Bitbucket workspace members")
	ms, err := r.src.Bitbucket.Members(ctx)
	if err == nil {
		// The list decides who has left: one that cannot be true (empty, or
		// without the caller) is treated exactly as one that failed.
		var caller Account
		person := false
		if bc, ok := r.src.Bitbucket.(bitbucketCaller); ok {
			caller, person, err = bc.Caller(ctx)
		}
		if err == nil {
			err = checkMembers(ms, caller, person)
		}
	}
	if err != nil {
		return r.fail(SystemBitbucket, "workspace members", err)
	}
	r.mu.Lock()
	r.snap.Members, r.snap.MembersKnown = ms, true
	r.mu.Unlock()
	return nil
}

func (r *reader) databricksUsers(ctx context.Context) error {
	r.say("reading Databricks users")
	us, err := r.src.Databricks.Users(r.pages(ctx, "Databricks users", "pages"))
	if err == nil {
		err = r.checkUsers(us)
	}
	if err != nil {
		return r.fail(SystemDatabricks, "users", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range us {
		r.snap.Users[u.ID] = u
	}
	r.usersKnown = true
	return nil
}

func (r *reader) databricksGroups(ctx context.Context) error {
	r.say("reading Databricks groups")
	gs, err := r.src.Databricks.Groups(r.pages(ctx, "Databricks groups", "pages"))
	if err != nil {
		if stop := r.fail(SystemDatabricks, "groups", err); stop != nil {
			return stop
		}
		// Mapped groups stay in DBGroups with unknown members, so the planner
		// neither creates them nor changes their members.
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, m := range r.cfg.Mappings {
			r.snap.DBGroups[m.DatabricksGroup] = &Group{Name: m.DatabricksGroup, Kind: KindWorkspace}
		}
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range gs {
		r.snap.DBGroups[g.Name] = g
	}
	return nil
}

// caller is who Me answered, when the source remembers it.
func (r *reader) caller() (Caller, bool) {
	cs, ok := r.src.Databricks.(callerSource)
	if !ok {
		return Caller{}, false
	}
	c := cs.Caller()
	return c, c.ID != ""
}

// checkUsers: a user caller is a workspace user, so a users list without it
// is a bad read (an empty one included).
func (r *reader) checkUsers(us []*User) error {
	c, ok := r.caller()
	if !ok || c.ServicePrincipal() {
		return nil
	}
	for _, u := range us {
		if u.ID == c.ID {
			return nil
		}
	}
	return &ImplausibleError{List: "users", Why: fmt.Sprintf("the list lacks the caller %s (SCIM Me), a user of this workspace", c.UserName)}
}

// checkTokens: credentials that are a personal access token are a token of
// the caller, so a token list without one of the caller's is a bad read.
func (r *reader) checkTokens(ts []Credential) error {
	c, ok := r.caller()
	if !ok || !c.PAT {
		return nil
	}
	for _, t := range ts {
		if t.OwnerID == c.ID {
			return nil
		}
	}
	return &ImplausibleError{List: "tokens", Why: fmt.Sprintf("the list holds no token of %s, whose personal access token bitbricks is using", c.UserName)}
}

func (r *reader) servicePrincipals(ctx context.Context) error {
	r.say("reading Databricks service principals")
	sps, err := r.src.Databricks.ServicePrincipals(r.pages(ctx, "Databricks service principals", "pages"))
	if err != nil {
		return r.fail(SystemDatabricks, "service principals", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, sp := range sps {
		r.snap.SPs[sp.ID] = sp
	}
	r.spsKnown = true
	return nil
}

func (r *reader) tokens(ctx context.Context) error {
	r.say("reading Databricks tokens")
	ts, err := r.src.Databricks.Tokens(ctx)
	if err == nil {
		err = r.checkTokens(ts)
	}
	if err != nil {
		return r.fail(SystemDatabricks, "tokens", err)
	}
	r.mu.Lock()
	r.rawTokens, r.snap.TokensKnown = ts, true
	r.mu.Unlock()
	return nil
}

func (r *reader) maxTokenDays(ctx context.Context) error {
	n, err := r.src.Databricks.MaxTokenLifetimeDays(ctx)
	if err != nil {
		return r.fail(SystemDatabricks, "workspace-conf maxTokenLifetimeDays", err)
	}
	r.mu.Lock()
	r.snap.MaxTokenDays = n
	r.mu.Unlock()
	return nil
}

// account checks account SCIM access.
func (r *reader) account(ctx context.Context) error {
	if err := r.src.Databricks.AccountAccess(ctx); err != nil {
		if isAccountUnavailable(err) {
			// Not asked: no credential the account API takes (only the
			// workspace's work runs; a plan refused before this read).
			r.mu.Lock()
			r.snap.Problems = append(r.snap.Problems, SourceProblem{System: SystemDatabricks,
				Source: "account API", Err: "OAuth secrets of service principals, account users and federation policies not read: " + oneLine(err), NotAsked: true})
			r.mu.Unlock()
			return nil
		}
		if r.cfg.Databricks.AccountID != "" {
			return r.fail(SystemDatabricks, "account SCIM", err)
		}
		return nil
	}
	r.mu.Lock()
	r.snap.AccountAccess = true
	r.mu.Unlock()
	return nil
}

// accountUsers reads the account's users (to tell users not assigned to the
// workspace), once account access is known.
func (r *reader) accountUsers(ctx context.Context) error {
	if !r.snap.AccountAccess {
		return nil
	}
	r.say("reading Databricks account users")
	us, err := r.accountUserList(ctx)
	if err != nil {
		return r.fail(SystemDatabricks, "account users", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range us {
		if _, ok := r.snap.Users[u.ID]; !ok {
			r.snap.Users[u.ID] = u // not assigned: stays Assigned=false unless the workspace list has it
		}
	}
	return nil
}

func (r *reader) proxy(ctx context.Context) error {
	if r.src.Databricks.ProxyAccess(ctx) == nil {
		r.mu.Lock()
		r.snap.ProxyAccess = true
		r.mu.Unlock()
	}
	return nil
}

// proxyGroups asks the workspace proxy, group by group, which mapped account
// groups the caller may change: a group manager may change their group and no
// other. Not needed (nor asked) with account access.
func (r *reader) proxyGroups(ctx context.Context) error {
	if r.snap.AccountAccess || !r.snap.ProxyAccess {
		return nil
	}
	var todo []*Group
	for _, m := range r.cfg.Mappings {
		if g := r.snap.DBGroups[m.DatabricksGroup]; g != nil && g.Kind == KindAccount && g.ID != "" && !slices.Contains(todo, g) {
			todo = append(todo, g)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	r.say("checking workspace-proxy access to %d account groups", len(todo))
	g := newGroup(ctx, SCIMConcurrency)
	for _, dg := range todo {
		g.Go(func(ctx context.Context) error {
			err := r.src.Databricks.ProxyGroupAccess(ctx, dg.ID)
			r.mu.Lock()
			dg.ProxyAccess = err == nil
			r.mu.Unlock()
			if err != nil && httpStatus(err) != http.StatusForbidden && httpStatus(err) != http.StatusNotFound {
				// Not a plain refusal: worth telling (the group's changes become findings).
				return r.fail(SystemDatabricks, "workspace-proxy access to group "+dg.Name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

func (r *reader) atlassianTokens(ctx context.Context) error {
	r.say("reading Atlassian API tokens")
	ts, err := r.src.Atlassian.APITokens(ctx)
	if err != nil {
		return r.fail(SystemAtlassian, "API tokens", err)
	}
	r.mu.Lock()
	r.atlTokens = ts
	r.mu.Unlock()
	return nil
}

// binding reads the variables of one pipeline binding: whether the secured
// variable exists and the credential id recorded in <VARIABLE>_ID.
func (r *reader) binding(ctx context.Context, b config.Binding) error {
	r.say("reading pipeline variables of %s", b.Name)
	st := &BindingState{Name: b.Name}
	var vs []Variable
	var err error
	if ev, ok := r.src.Bitbucket.(interface {
		EnvironmentVariables(ctx context.Context, repo, env string) ([]Variable, string, error)
	}); ok && b.Environment != "" {
		vs, st.EnvironmentUUID, err = ev.EnvironmentVariables(ctx, b.Repository, b.Environment) // the UUID serves federation
	} else {
		vs, err = r.src.Bitbucket.Variables(ctx, b.Repository, b.Environment)
	}
	if err != nil {
		if stop := r.fail(SystemBitbucket, "variables of binding "+b.Name, err); stop != nil {
			return stop
		}
		st.Problem = oneLine(err)
	} else {
		st.Known = true
		for _, v := range vs {
			switch v.Key {
			case b.Variable:
				st.VariableFound = true
			case b.Variable + "_ID":
				if v.Secured {
					st.Known, st.Problem = false, b.Variable+"_ID is secured, so the recorded credential id cannot be read; make it a plain variable"
				}
				st.RecordedID = strings.TrimSpace(v.Value)
			}
		}
	}
	r.mu.Lock()
	r.snap.Bindings[b.Name] = st
	r.mu.Unlock()
	return nil
}

// emails resolves Bitbucket accounts to Databricks userNames: the identity
// map first, then the Atlassian directory in batches.
func (r *reader) emails(ctx context.Context) error {
	var accounts []Account
	for _, g := range r.bbGroups {
		accounts = append(accounts, g.Members...)
	}
	accounts = append(accounts, r.snap.Members...)

	idmap := map[string]string{}
	if f := r.cfg.Identity.MapFile; f != "" {
		m, err := config.LoadIdentityMap(f)
		if err != nil {
			if stop := r.fail("identity", "identity map "+f, err); stop != nil {
				return stop
			}
		}
		for k, v := range m {
			idmap[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
		r.mu.Lock()
		r.mappedIdentity = map[string]bool{}
		for _, v := range m {
			r.mappedIdentity[strings.ToLower(strings.TrimSpace(v))] = true
		}
		r.mu.Unlock()
	}
	resolved := map[string]string{}
	var todo []string
	queued := map[string]bool{}
	for _, a := range accounts {
		if a.AccountID == "" || resolved[a.AccountID] != "" || queued[a.AccountID] {
			continue
		}
		queued[a.AccountID] = true
		if e := cmp.Or(idmap[strings.ToLower(a.AccountID)], idmap[strings.ToLower(a.UUID)]); e != "" {
			resolved[a.AccountID] = e
		} else {
			todo = append(todo, a.AccountID)
		}
	}
	useAdmin := r.src.Atlassian != nil && r.cfg.Identity.EmailFrom != config.EmailFromMap
	if len(todo) > 0 && useAdmin {
		r.say("resolving %d emails through the Atlassian directory", len(todo))
		found, err := r.src.Atlassian.Emails(r.pages(ctx, "Atlassian directory", "emails resolved"), todo)
		for id, e := range found {
			resolved[id] = e
		}
		if err != nil {
			if stop := r.fail(SystemAtlassian, "emails", err); stop != nil {
				return stop
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, e := range resolved {
		r.snap.Emails[id] = e
	}
	return nil
}

// secretsConcurrency is how many OAuth secret lists are read at once: they
// are not SCIM (no limit of 4), and there is one per service principal.
const secretsConcurrency = 16

// secrets reads every service principal's OAuth secrets when the account
// API is reachable; SecretsKnown is true only if all of them were read.
func (r *reader) spSecrets(ctx context.Context) error {
	if !r.snap.AccountAccess || !r.spsKnown {
		return nil
	}
	r.say("reading OAuth secrets of %d service principals", len(r.snap.SPs))
	progress := pageProgress(r.pages(ctx, "OAuth secrets", "service principals"))
	g := newGroup(ctx, secretsConcurrency)
	var failed []string
	var first error
	var done atomic.Int64
	total := len(r.snap.SPs)
	for _, sp := range r.snap.SPs {
		g.Go(func(ctx context.Context) error {
			ss, err := r.src.Databricks.Secrets(ctx, sp.ID)
			progress(int(done.Add(1)), total)
			r.mu.Lock()
			defer r.mu.Unlock()
			if err != nil {
				failed, first = append(failed, sp.DisplayName), cmp.Or(first, err)
				return nil
			}
			for _, s := range ss {
				s.Owner = sp.DisplayName
				r.secrets = append(r.secrets, s)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(failed) > 0 {
		slices.Sort(failed)
		return r.fail(SystemDatabricks, "OAuth secrets of "+strings.Join(failed, ", "), first)
	}
	r.snap.SecretsKnown = true
	return nil
}

// finish joins what the reads found: group keys, member names, credential
// owners, and the "came back empty" rule.
func (r *reader) finish() {
	s := r.snap
	for _, g := range r.bbGroups {
		s.Groups[g.Slug] = g
		if g.Name != "" {
			s.Groups[g.Name] = g
		}
	}
	groupNames := map[string]string{}
	for _, g := range s.DBGroups {
		groupNames[g.ID] = g.Name
		if !r.usersKnown {
			g.MembersKnown = false // members cannot be told apart by userName
		}
	}
	for _, g := range s.DBGroups {
		for i, m := range g.Members {
			if u := s.Users[m.ID]; u != nil {
				g.Members[i].Type, g.Members[i].Display = PrincipalUser, u.UserName
			} else if sp := s.SPs[m.ID]; sp != nil {
				g.Members[i].Type, g.Members[i].Display = PrincipalServicePrincipal, sp.DisplayName
			} else if n := groupNames[m.ID]; n != "" {
				g.Members[i].Type, g.Members[i].Display = PrincipalGroup, n
			}
		}
	}
	// An empty Bitbucket group facing a populated Databricks group is far
	// more likely a bad read than everybody leaving: unknown, not empty.
	for _, m := range r.cfg.Mappings {
		bg, dg := s.Groups[m.BitbucketGroup], s.DBGroups[m.DatabricksGroup]
		if bg != nil && bg.Known && len(bg.Members) == 0 && dg != nil && hasUsers(dg) {
			bg.Known = false
			bg.Problem = fmt.Sprintf("came back empty while %s has members", m.DatabricksGroup)
			s.Problems = append(s.Problems, SourceProblem{System: SystemBitbucket, Source: "group " + m.BitbucketGroup, Err: bg.Problem, Status: http.StatusOK})
		}
	}
	// Without every principal, a token's owner (and so whether it is an OBO
	// token of a bound service principal, or a protected person's) is a guess.
	if !r.usersKnown || !r.spsKnown {
		s.TokensKnown = false
	}
	for _, c := range r.rawTokens {
		if sp := s.SPs[c.OwnerID]; sp != nil {
			c.Kind, c.OwnerType, c.Owner = CredentialOBO, PrincipalServicePrincipal, sp.DisplayName
		} else if u := s.Users[c.OwnerID]; u != nil {
			c.Owner = u.UserName
		}
		s.Credentials = append(s.Credentials, c)
	}
	s.Credentials = append(s.Credentials, r.secrets...)
	for _, c := range r.atlTokens {
		if e := s.Emails[c.OwnerID]; e != "" && c.Owner == "" {
			c.Owner = e
		}
		s.Credentials = append(s.Credentials, c)
	}
	slices.SortStableFunc(s.Credentials, func(a, b Credential) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID))
	})
	for _, b := range r.cfg.Pipelines {
		if st := s.Bindings[b.Name]; st != nil {
			if sp := servicePrincipalNamed(s.SPs, b.ServicePrincipal); sp != nil {
				st.SPID = sp.ID
			}
		}
	}
	slices.SortFunc(s.Problems, func(a, b SourceProblem) int {
		return cmp.Or(cmp.Compare(a.System, b.System), cmp.Compare(a.Source, b.Source))
	})
}

// group runs functions concurrently, at most n at once; the first error
// cancels the others' context and is what Wait returns.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	sem    chan struct{}
	wg     gosync.WaitGroup
	once   gosync.Once
	err    error
}

func newGroup(ctx context.Context, n int) *group {
	ctx, cancel := context.WithCancel(ctx)
	return &group{ctx: ctx, cancel: cancel, sem: make(chan struct{}, n)}
}

// Go runs f; the channel it returns closes when f has returned.
func (g *group) Go(f func(context.Context) error) <-chan struct{} {
	return g.GoAfter(f)
}

// GoAfter runs f once every channel of after has closed (without holding one
// of the n places while it waits); the channel it returns closes when f has
// returned or was given up because the group ended.
func (g *group) GoAfter(f func(context.Context) error, after ...<-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	g.wg.Go(func() {
		defer close(done)
		for _, c := range after {
			select {
			case <-c:
			case <-g.ctx.Done():
				g.once.Do(func() { g.err = g.ctx.Err() })
				return
			}
		}
		select {
		case g.sem <- struct{}{}:
		case <-g.ctx.Done():
			g.once.Do(func() { g.err = g.ctx.Err() })
			return
		}
		defer func() { <-g.sem }()
		if err := f(g.ctx); err != nil {
			g.once.Do(func() { g.err = err; g.cancel() })
		}
	})
	return done
}

func (g *group) Wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}

// presence asks Bitbucket, by email, whether the people a departure could
// concern are still workspace members: the Databricks members of mapped
// groups whom no mapped Bitbucket group names. That is a request per 89 such
// people instead of the whole member list (a request per 100 members). The
// answers are checked against a known member; when there is none to check
// against, or Bitbucket refuses the filter, the whole member list is read as
// before.
func (r *reader) presence(ctx context.Context) error {
	if !r.cfg.Policy.RevokeDeparted {
		return nil
	}
	if r.src.Atlassian == nil || r.cfg.Identity.EmailFrom == config.EmailFromMap {
		// Emails come from the identity map, not the directory Bitbucket
		// filters on: only the whole list can tell.
		return r.members(ctx)
	}
	byKey := map[string]*BitbucketGroup{}
	for _, g := range r.bbGroups {
		byKey[g.Slug], byKey[g.Name] = g, g
	}
	mapped := map[string]bool{} // lower-case emails of mapped Bitbucket groups' members
	var known []string          // as the directory spells them
	for _, m := range r.cfg.Mappings {
		if bg := byKey[m.BitbucketGroup]; bg != nil && bg.Known {
			for _, a := range bg.Members {
				spelled := r.snap.Emails[a.AccountID]
				if e := strings.ToLower(spelled); e != "" && !mapped[e] {
					mapped[e] = true
					known = append(known, spelled)
				}
			}
		}
	}
	var ask []string
	asked := map[string]bool{}
	for _, m := range r.cfg.Mappings {
		g := r.snap.DBGroups[m.DatabricksGroup]
		if g == nil {
			continue
		}
		for _, mem := range g.Members {
			u := r.snap.Users[mem.ID]
			if u == nil {
				continue
			}
			// A userName the identity map names may differ from the
			// account's email in the directory: never asked, never departed.
			if e := strings.ToLower(u.UserName); strings.Contains(e, "@") && !mapped[e] && !asked[e] && !r.mappedIdentity[e] {
				asked[e] = true
				ask = append(ask, e)
			}
		}
	}
	// People bitbricks took out of a mapped group earlier are asked about
	// too: out of every mapped group, they may still hold tokens here.
	// Only while they hold something here a departure takes (a token, an
	// assignment of their own): else every person ever removed would be
	// asked about on every run, for ever.
	if len(r.snap.FormerMembers) > 0 {
		holds := r.formerHolds()
		var former []string
		for e := range r.snap.FormerMembers {
			if !mapped[e] && !asked[e] && !r.mappedIdentity[e] && (holds == nil || holds[e]) {
				asked[e] = true
				former = append(former, e)
			}
		}
		slices.Sort(former)
		ask = append(ask, former...)
	}
	if len(ask) == 0 {
		r.mu.Lock()
		r.snap.Presence, r.snap.PresenceKnown = map[string]bool{}, true
		r.mu.Unlock()
		return nil
	}
	if len(known) == 0 {
		return r.members(ctx)
	}
	r.say("%s", presenceLine(len(ask)))
	present, err := r.src.Bitbucket.MembersByEmail(ctx, ask, presenceCanary(known))
	if err != nil {
		if httpStatus(err) == http.StatusForbidden {
			return r.members(ctx)
		}
		return r.fail(SystemBitbucket, "workspace members by email", err)
	}
	c := r.confirmAbsent(ctx, present)
	r.mu.Lock()
	r.snap.Presence, r.snap.PresenceKnown, r.snap.PresenceUnknown = present, true, c.unknown
	r.snap.PresenceSearches, r.snap.PresenceLookups = c.searches, c.lookups
	r.mu.Unlock()
	return nil
}

// presenceLine is the progress line of the departure check of n people.
func presenceLine(n int) string {
	req := (n + emailFilterMax - 2) / (emailFilterMax - 1)
	people, requests := "people", "requests"
	if n == 1 {
		people = "person"
	}
	if req == 1 {
		requests = "request"
	}
	return fmt.Sprintf("checking %d %s for departure from the Bitbucket workspace (%d %s)", n, people, req, requests)
}

// pages reports a listing's progress as "what: done of total pages", at
// its first page, its last, and each quarter between, so a long read shows
// its count moving without a line per page.
func (r *reader) pages(ctx context.Context, what, unit string) context.Context {
	if r.progress == nil {
		return ctx
	}
	last := -1
	var mu gosync.Mutex
	return WithPageProgress(ctx, func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		step := done * 4 / max(total, 1)
		if done != total && done != 1 && step == last {
			return
		}
		if done == 0 { // the line that started the read said how many
			return
		}
		last = step
		r.say("%s: %d of %d %s", what, done, total, unit)
	})
}

// presenceCanary picks the known member every email query includes, to check
// the answers by. Addresses are asked in lower case; should Bitbucket's email
// filter ever match case-sensitively, a member whose address has capitals
// would be answered absent and taken for departed. A canary whose directory
// address has capitals is then answered absent too, which makes the whole
// answer implausible (departures unknown) instead of wrong: so one is
// preferred. Among equals, the first in order, for repeatable runs.
func presenceCanary(known []string) string {
	best := ""
	for _, e := range known {
		capital := e != strings.ToLower(e)
		bestCapital := best != "" && best != strings.ToLower(best)
		switch {
		case best == "", capital && !bestCapital, capital == bestCapital && strings.ToLower(e) < strings.ToLower(best):
			best = e
		}
	}
	return best
}
