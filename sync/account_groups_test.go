package sync

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"testing"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
)

// Issue 6: account groups of identity-federated workspaces, against the
// emulator over loopback with the real SDK. The demo's platform-eng is an
// account group; Bitbucket group platform (mapped to it, prune) wants +tess
// and -gus.

// Emulator routes the account-group changes may take.
const (
	routeWSPatch    = "databricks PATCH /api/2.0/preview/scim/v2/Groups/{id}"
	routeAcctPatch  = "databricks PATCH /api/2.0/accounts/{account_id}/scim/v2/Groups/{id}"
	routeProxyPatch = "databricks PATCH /api/2.0/account/scim/v2/Groups/{id}"
	routeProxyGet   = "databricks GET /api/2.0/account/scim/v2/Groups/{id}"
	routeProxyList  = "databricks GET /api/2.0/account/scim/v2/Groups"
	routeWSGroupGet = "databricks GET /api/2.0/preview/scim/v2/Groups/{id}"
)

// scimPatch is one workspace SCIM PATCH of a group, as the emulator saw it.
type scimPatch struct {
	groupID, body string
	status        int
}

// patchLog records the workspace SCIM group PATCHes (body and status), which
// the emulator's stats count only by route.
type patchLog struct {
	mu      gosync.Mutex
	patches []scimPatch
}

func (l *patchLog) wrap(h http.Handler) http.Handler {
	const prefix = "/api/2.0/preview/scim/v2/Groups/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := strings.CutPrefix(r.URL.Path, prefix)
		if r.Method != http.MethodPatch || !ok {
			h.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		l.mu.Lock()
		l.patches = append(l.patches, scimPatch{groupID: id, body: string(body), status: sw.status})
		l.mu.Unlock()
	})
}

func (l *patchLog) all() []scimPatch {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.patches)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// acctEnv is the demo organisation (changed by seed) with a config that maps
// only Bitbucket platform -> platform-eng (prune), no token rules and no
// pipelines, so a plan holds nothing but account-group changes.
type acctEnv struct {
	*demoEnv
	patches *patchLog
}

func newAcctEnv(t *testing.T, seed func(o *emulator.Org)) *acctEnv {
	t.Helper()
	org := emulator.Demo(demoNow)
	if seed != nil {
		seed(org)
	}
	srv := emulator.New(org, emulator.Options{})
	log := &patchLog{}
	hs := httptest.NewServer(log.wrap(srv.Handler()))
	t.Cleanup(hs.Close)
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "bitbricks.yaml"), emulator.DemoConfig(org, hs.URL))
	if err != nil {
		t.Fatalf("demo config: %v", err)
	}
	cfg.Mappings = slices.DeleteFunc(cfg.Mappings, func(m config.Mapping) bool { return m.DatabricksGroup != "platform-eng" })
	cfg.Pipelines = nil
	cfg.Policy.TokenMaxAge, cfg.Policy.RequireExpiry, cfg.Policy.RevokeDeparted = 0, false, false
	return &acctEnv{demoEnv: &demoEnv{org: org, srv: srv, http: hs, cfg: cfg}, patches: log}
}

// connect builds the real adapters with dbToken; call it after changing cfg.
func (e *acctEnv) connect(t *testing.T, dbToken string) {
	t.Helper()
	if dbToken == e.org.Creds.DatabricksToken {
		e.src = e.sources(t, dbToken)
	} else {
		// Another caller: its account credential is no account admin's either.
		id, secret := plainSPSecret(t, e.org)
		e.src = e.sourcesWith(t, DatabricksOptions{Host: e.http.URL, Token: dbToken, RateLimit: 1000,
			AccountClientID: id, AccountClientSecret: secret})
	}
	e.db = e.src.Databricks.(*Databricks)
}

// plainSPSecret adds a service principal that is no account admin, with an
// OAuth secret, and returns its client id and secret.
func plainSPSecret(t *testing.T, o *emulator.Org) (id, secret string) {
	t.Helper()
	sp := o.AddServicePrincipal(emulator.DBServicePrincipal{DisplayName: "no-account-admin", Active: true})
	return sp.ApplicationID, o.AddSecret(emulator.DBSecret{SPID: sp.ID}).Secret
}

// tokenOf makes a fresh PAT for userName (which must exist).
func tokenOf(t *testing.T, o *emulator.Org, userName string) string {
	t.Helper()
	u := o.DBUserByName(userName)
	if u == nil {
		t.Fatalf("no Databricks user %s", userName)
	}
	return o.AddToken(emulator.DBToken{OwnerID: u.ID, Comment: "issue 6 test"}).Value
}

// groupByName finds an emulator group (callers must not hold Mu).
func groupByName(o *emulator.Org, name string) *emulator.DBGroup {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	for _, g := range o.DB.Groups {
		if g.DisplayName == name {
			return g
		}
	}
	return nil
}

// applyAll applies p and fails the test on a run error or any failed or
// skipped change.
func (e *acctEnv) applyAll(t *testing.T, p Plan) []Result {
	t.Helper()
	results, err := Apply(context.Background(), p, e.db, nil, ApplyOptions{MaxChanges: -1})
	requireApplied(t, results, err)
	if len(results) != len(p.Changes) {
		t.Fatalf("%d results for %d changes", len(results), len(p.Changes))
	}
	return results
}

// checkNoRefusedPatch asserts that no workspace SCIM PATCH touched the
// members of an account group, and that none was refused.
func (e *acctEnv) checkNoRefusedPatch(t *testing.T) {
	t.Helper()
	for _, p := range e.patches.all() {
		e.org.Mu.Lock()
		g := e.org.DB.Groups[p.groupID]
		e.org.Mu.Unlock()
		if g != nil && g.Kind == emulator.AccountGroup && strings.Contains(strings.ToLower(p.body), "members") {
			t.Errorf("workspace SCIM PATCH on the members of account group %s: %s", g.DisplayName, p.body)
		}
		if p.status >= 300 {
			t.Errorf("workspace SCIM PATCH of group %s answered %d: %s", p.groupID, p.status, p.body)
		}
	}
}

// scimStats are the Databricks SCIM and assignment routes hit, for the log.
func scimStats(st emulator.Stats) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(st.Routes)) {
		if strings.Contains(k, "/scim/v2/") || strings.Contains(k, "permissionassignments") {
			parts = append(parts, fmt.Sprintf("%s=%d", strings.TrimPrefix(k, "databricks "), st.Routes[k]))
		}
	}
	return strings.Join(parts, ", ")
}

func changeIDs(p Plan) []string {
	var ids []string
	for _, c := range p.Changes {
		ids = append(ids, c.ID)
	}
	return ids
}

func findingOf(p Plan, kind FindingKind, subject string) (Finding, bool) {
	for _, f := range p.Findings {
		if f.Kind == kind && f.Subject == subject {
			return f, true
		}
	}
	return Finding{}, false
}

var platformChanges = []string{"add_member/platform-eng/tess@acme.com", "remove_member/platform-eng/gus@acme.com"}

// checkPlatformApplied re-reads and checks platform-eng holds tess and not
// gus, and that a second plan has nothing for it.
func (e *acctEnv) checkPlatformApplied(t *testing.T) *Snapshot {
	t.Helper()
	snap := e.read(t)
	names := e.memberNames(e.dbGroup(t, "platform-eng"))
	if !slices.Contains(names, "tess@acme.com") || slices.Contains(names, "gus@acme.com") {
		t.Errorf("platform-eng after apply = %v, want +tess -gus", names)
	}
	var read []string
	for _, m := range snap.DBGroups["platform-eng"].Members {
		read = append(read, m.Display)
	}
	if !slices.Contains(read, "tess@acme.com") || slices.Contains(read, "gus@acme.com") {
		t.Errorf("re-read platform-eng = %v, want +tess -gus", read)
	}
	if again := ComputePlan(snap, e.cfg, demoNow); len(again.Changes) > 0 {
		t.Errorf("second plan not empty: %q", changeIDs(again))
	}
	return snap
}

// TestAccountGroupMembershipRoutes: adding and removing a member of an
// account group succeeds through account SCIM and through the workspace
// proxy (as workspace admin and as the group's manager), is read back, is
// idempotent, and never goes to workspace SCIM.
func TestAccountGroupMembershipRoutes(t *testing.T) {
	tests := []struct {
		name      string
		seed      func(o *emulator.Org)
		noAccount bool   // drop databricks.account_id from the config
		caller    string // "" is the demo token (workspace and account admin)
		route     Route
		patch     string // the route every membership change must take
		// proxyOnly is an account group the caller may not change (its
		// changes must become account_group_no_access).
		proxyOnly string
	}{
		{name: "account SCIM (account admin, account_id)", route: RouteAccount, patch: routeAcctPatch},
		{name: "workspace proxy as workspace admin (no account_id)", noAccount: true, route: RouteProxy, patch: routeProxyPatch},
		{
			// account_id is set but the caller is no account admin: the
			// account probe fails and the workspace proxy takes over.
			name: "workspace proxy as workspace admin, account SCIM refused",
			seed: func(o *emulator.Org) {
				o.AddDBUser(emulator.DBUser{UserName: "wsadmin@acme.com", Active: true, Assigned: true, Admin: true})
			},
			caller: "wsadmin@acme.com", route: RouteProxy, patch: routeProxyPatch,
		},
		{
			// paul (no admin) manages platform-eng, not platform-ops.
			name: "workspace proxy as group manager",
			seed: func(o *emulator.Org) {
				paul := o.DBUserByName("paul@acme.com")
				pe := groupByName(o, "platform-eng")
				o.Mu.Lock()
				pe.Managers = append(pe.Managers, paul.ID)
				o.Mu.Unlock()
				o.AddDBGroup(emulator.DBGroup{DisplayName: "platform-ops", Kind: emulator.AccountGroup, Assigned: true})
			},
			noAccount: true, caller: "paul@acme.com", route: RouteProxy, patch: routeProxyPatch, proxyOnly: "platform-ops",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newAcctEnv(t, tc.seed)
			if tc.noAccount {
				e.cfg.Databricks.AccountID = ""
			}
			if tc.proxyOnly != "" {
				e.cfg.Mappings = append(e.cfg.Mappings, config.Mapping{BitbucketGroup: "platform", DatabricksGroup: tc.proxyOnly})
			}
			token := e.org.Creds.DatabricksToken
			if tc.caller != "" {
				token = tokenOf(t, e.org, tc.caller)
			}
			e.connect(t, token)

			e.srv.ResetStats()
			snap := e.read(t)
			t.Logf("read: %s", scimStats(e.srv.Stats()))
			if snap.AccountAccess != (tc.route == RouteAccount) {
				t.Errorf("AccountAccess = %v", snap.AccountAccess)
			}
			pe := snap.DBGroups["platform-eng"]
			if pe == nil || pe.Kind != KindAccount {
				t.Fatalf("platform-eng = %+v, want an account group", pe)
			}
			if got := pe.ProxyAccess; got != (tc.route == RouteProxy) {
				t.Errorf("platform-eng ProxyAccess = %v", got)
			}

			plan := ComputePlan(snap, e.cfg, demoNow)
			if ids := changeIDs(plan); !slices.Equal(ids, platformChanges) {
				t.Fatalf("changes = %q, want %q\nfindings %+v", ids, platformChanges, plan.Findings)
			}
			for _, c := range plan.Changes {
				if c.Route != tc.route || c.GroupKind != KindAccount || c.GroupID != pe.ID {
					t.Errorf("%s: route %q kind %q group id %q", c.ID, c.Route, c.GroupKind, c.GroupID)
				}
			}
			if _, ok := findingOf(plan, FindingAccountGroupNoAccess, "platform-eng"); ok {
				t.Error("account_group_no_access for platform-eng")
			}
			if tc.proxyOnly != "" {
				f, ok := findingOf(plan, FindingAccountGroupNoAccess, tc.proxyOnly)
				if !ok || !strings.Contains(f.Detail, "add finn@acme.com, greta@acme.com, paul@acme.com") {
					t.Errorf("%s: finding %+v (%v), want account_group_no_access", tc.proxyOnly, f, ok)
				}
				if snap.DBGroups[tc.proxyOnly].ProxyAccess {
					t.Errorf("%s: ProxyAccess for a group the caller does not manage", tc.proxyOnly)
				}
			}

			e.srv.ResetStats()
			e.applyAll(t, plan)
			st := e.srv.Stats()
			t.Logf("apply: %s", scimStats(st))
			if n := st.Routes[tc.patch]; n != 2 {
				t.Errorf("%s = %d, want 2", tc.patch, n)
			}
			for _, r := range []string{routeWSPatch, routeAcctPatch, routeProxyPatch} {
				if r != tc.patch && st.Routes[r] != 0 {
					t.Errorf("%s = %d, want 0", r, st.Routes[r])
				}
			}
			e.checkNoRefusedPatch(t)
			if len(e.patches.all()) != 0 {
				t.Errorf("workspace SCIM group PATCHes: %+v", e.patches.all())
			}

			snap = e.checkPlatformApplied(t)
			if tc.proxyOnly != "" {
				if g := e.dbGroup(t, tc.proxyOnly); len(g.Members) != 0 {
					t.Errorf("%s changed: %v", tc.proxyOnly, e.memberNames(g))
				}
				if _, ok := findingOf(ComputePlan(snap, e.cfg, demoNow), FindingAccountGroupNoAccess, tc.proxyOnly); !ok {
					t.Errorf("%s: finding gone on the second plan", tc.proxyOnly)
				}
			}
		})
	}
}

// TestAccountGroupNoAccess: a caller with no account access who is neither
// workspace admin nor manager of the group gets account_group_no_access for
// its changes, and Apply fails nothing.
func TestAccountGroupNoAccess(t *testing.T) {
	for _, withAccountID := range []bool{false, true} {
		t.Run(fmt.Sprintf("account_id=%v", withAccountID), func(t *testing.T) {
			e := newAcctEnv(t, nil)
			if !withAccountID {
				e.cfg.Databricks.AccountID = ""
			}
			e.connect(t, tokenOf(t, e.org, "alice@acme.com")) // no admin, manages nothing
			e.srv.ResetStats()
			snap := e.read(t)
			t.Logf("read: %s", scimStats(e.srv.Stats()))
			if snap.AccountAccess || snap.DBGroups["platform-eng"].ProxyAccess {
				t.Errorf("AccountAccess %v, platform-eng ProxyAccess %v; want neither", snap.AccountAccess, snap.DBGroups["platform-eng"].ProxyAccess)
			}
			if !snap.ProxyAccess {
				t.Error("the proxy answers any workspace user; ProxyAccess should say so")
			}
			plan := ComputePlan(snap, e.cfg, demoNow)
			if len(plan.Changes) != 0 {
				t.Errorf("changes = %q, want none", changeIDs(plan))
			}
			f, ok := findingOf(plan, FindingAccountGroupNoAccess, "platform-eng")
			if !ok || f.Group != "platform-eng" || !strings.Contains(f.Detail, "add tess@acme.com") || !strings.Contains(f.Detail, "remove gus@acme.com") {
				t.Errorf("finding = %+v (%v)\nall: %+v", f, ok, plan.Findings)
			}

			before := e.memberNames(e.dbGroup(t, "platform-eng"))
			e.srv.ResetStats()
			results, err := Apply(context.Background(), plan, e.db, nil, ApplyOptions{MaxChanges: -1})
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			failed := 0
			for _, r := range results {
				if r.Status != ResultApplied {
					failed++
				}
			}
			if failed != 0 || len(results) != len(plan.Changes) {
				t.Errorf("results %+v", results)
			}
			if w := writes(e.srv.Stats()); w != 0 {
				t.Errorf("%d writes: %s", w, scimStats(e.srv.Stats()))
			}
			if after := e.memberNames(e.dbGroup(t, "platform-eng")); !slices.Equal(before, after) {
				t.Errorf("platform-eng changed: %v -> %v", before, after)
			}
			e.checkNoRefusedPatch(t)
		})
	}
}

// TestNotAssignedUser: a desired user who is in the account but not
// assigned to the workspace is read with Assigned false (from the account
// users) and becomes not_assigned, not an add.
func TestNotAssignedUser(t *testing.T) {
	seed := func(o *emulator.Org) {
		o.AddDBUser(emulator.DBUser{UserName: "una@acme.com", DisplayName: "Una Unassigned", Active: true})
		una := o.AddBBUser(emulator.BBUser{Email: "una@acme.com", DisplayName: "Una Unassigned", InWorkspace: true})
		o.Mu.Lock()
		defer o.Mu.Unlock()
		for _, g := range o.BB.Groups {
			if g.Slug == "platform" {
				g.Members = append(g.Members, una.AccountID)
			}
		}
	}
	e := newAcctEnv(t, seed)
	e.connect(t, e.org.Creds.DatabricksToken)
	snap := e.read(t)
	var una *User
	for _, u := range snap.Users {
		if u.UserName == "una@acme.com" {
			una = u
		}
	}
	if una == nil || una.Assigned || !una.Active {
		t.Fatalf("una = %+v, want an active account user not assigned", una)
	}
	if u := snap.Users[e.userID(t, "tess@acme.com")]; u == nil || !u.Assigned {
		t.Errorf("tess = %+v, want assigned", u)
	}
	plan := ComputePlan(snap, e.cfg, demoNow)
	if ids := changeIDs(plan); !slices.Equal(ids, platformChanges) {
		t.Errorf("changes = %q, want %q", ids, platformChanges)
	}
	f, ok := findingOf(plan, FindingNotAssigned, "una@acme.com")
	if !ok || f.Group != "platform-eng" || !strings.Contains(f.Detail, "not assigned to this workspace") {
		t.Errorf("finding = %+v (%v)\nall: %+v", f, ok, plan.Findings)
	}
	e.applyAll(t, plan)
	if names := e.memberNames(e.dbGroup(t, "platform-eng")); slices.Contains(names, "una@acme.com") {
		t.Errorf("una was added: %v", names)
	}
	again := ComputePlan(e.read(t), e.cfg, demoNow)
	if len(again.Changes) != 0 {
		t.Errorf("second plan = %q", changeIDs(again))
	}
	if _, ok := findingOf(again, FindingNotAssigned, "una@acme.com"); !ok {
		t.Error("not_assigned gone on the second plan")
	}

	// Without account access the account's users cannot be read: una is
	// then unknown to Databricks as far as bitbricks can tell.
	e.cfg.Databricks.AccountID = ""
	e.connect(t, e.org.Creds.DatabricksToken)
	p := ComputePlan(e.read(t), e.cfg, demoNow)
	if _, ok := findingOf(p, FindingMissingUser, "una@acme.com"); !ok {
		t.Errorf("without account access: findings %+v, want missing_user una", p.Findings)
	}
}

// TestAccountGroupEntitlements: entitlements of an account group are set
// through workspace SCIM (the one PATCH it allows on account groups) and
// read back, whichever route its membership takes.
func TestAccountGroupEntitlements(t *testing.T) {
	for _, tc := range []struct {
		name      string
		noAccount bool
		route     Route
	}{
		{"with account SCIM", false, RouteAccount},
		{"with the workspace proxy", true, RouteProxy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newAcctEnv(t, nil)
			if tc.noAccount {
				e.cfg.Databricks.AccountID = ""
			}
			// platform-eng holds workspace-access.
			e.cfg.Mappings[0].Entitlements = []string{"databricks-sql-access", "allow-cluster-create"}
			e.connect(t, e.org.Creds.DatabricksToken)
			snap := e.read(t)
			plan := ComputePlan(snap, e.cfg, demoNow)
			want := []string{"add_member/platform-eng/tess@acme.com",
				"add_entitlement/platform-eng/allow-cluster-create", "add_entitlement/platform-eng/databricks-sql-access",
				"remove_entitlement/platform-eng/workspace-access", "remove_member/platform-eng/gus@acme.com"}
			if ids := changeIDs(plan); !sameSet(ids, want) {
				t.Fatalf("changes = %q, want %q", ids, want)
			}
			for _, c := range plan.Changes {
				wantRoute := tc.route
				if c.Entitlement != "" {
					wantRoute = RouteWorkspace
				}
				if c.Route != wantRoute || c.GroupKind != KindAccount || c.GroupID == "" {
					t.Errorf("%s: route %q kind %q group id %q", c.ID, c.Route, c.GroupKind, c.GroupID)
				}
			}

			e.srv.ResetStats()
			e.applyAll(t, plan)
			st := e.srv.Stats()
			t.Logf("apply: %s", scimStats(st))
			if st.Routes[routeWSPatch] != 3 || st.Routes[routeWSGroupGet] != 3 {
				t.Errorf("workspace PATCH %d, read-backs %d; want 3 and 3", st.Routes[routeWSPatch], st.Routes[routeWSGroupGet])
			}
			e.checkNoRefusedPatch(t)
			for _, p := range e.patches.all() {
				if !strings.Contains(p.body, "entitlements") {
					t.Errorf("workspace PATCH without entitlements: %s", p.body)
				}
			}

			if ents := e.dbGroup(t, "platform-eng").Entitlements; !sameSet(ents, []string{"databricks-sql-access", "allow-cluster-create"}) {
				t.Errorf("emulator platform-eng entitlements = %v", ents)
			}
			snap = e.checkPlatformApplied(t)
			if ents := snap.DBGroups["platform-eng"].Entitlements; !sameSet(ents, []string{"databricks-sql-access", "allow-cluster-create"}) {
				t.Errorf("re-read platform-eng entitlements = %v", ents)
			}
		})
	}
}
