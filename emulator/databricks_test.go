package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/client"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/iam"
)

// dbFixture is a small organisation served over loopback, with handles on
// the objects the tests use.
type dbFixture struct {
	org *Org
	srv *httptest.Server

	admin, alice, bob, carol *DBUser // admin: workspace+account admin; carol: not assigned
	adminTok, aliceTok       string
	bobTok, carolTok         string
	etl, loose               *DBServicePrincipal // loose: in the account, not assigned
	deTeam                   *DBGroup            // workspace-local
	dataEng                  *DBGroup            // account group assigned to the workspace, managed by bob
	finance                  *DBGroup            // account group not assigned
}

var testNow = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func newTestOrg(t *testing.T) *dbFixture {
	t.Helper()
	org := NewOrg(func() time.Time { return testNow })
	org.DB.AccountID = "4f1c2a9e-0b7d-4c3e-9a51-6d2f8e0b1c7a"
	org.DB.WorkspaceID = 1234567890123456
	f := &dbFixture{org: org}
	f.admin = org.AddDBUser(DBUser{UserName: "admin@acme.com", DisplayName: "Ada Admin", Active: true, Assigned: true, Admin: true, AccountAdmin: true})
	f.alice = org.AddDBUser(DBUser{UserName: "alice@acme.com", DisplayName: "Alice", GivenName: "Alice", FamilyName: "Liddell", Active: true, Assigned: true, Entitlements: []string{"workspace-access"}})
	f.bob = org.AddDBUser(DBUser{UserName: "bob@acme.com", DisplayName: "Bob", Active: true, Assigned: true})
	f.carol = org.AddDBUser(DBUser{UserName: "carol@acme.com", DisplayName: "Carol", Active: true})
	f.etl = org.AddServicePrincipal(DBServicePrincipal{DisplayName: "etl-deployer", Active: true, Assigned: true})
	f.loose = org.AddServicePrincipal(DBServicePrincipal{DisplayName: "elsewhere", Active: true})
	f.deTeam = org.AddDBGroup(DBGroup{DisplayName: "de-team", Members: []DBMember{{Value: f.alice.ID, Type: "User"}}})
	f.dataEng = org.AddDBGroup(DBGroup{DisplayName: "data-eng", Kind: AccountGroup, Assigned: true, ExternalID: "okta-17",
		Members: []DBMember{{Value: f.alice.ID, Type: "User"}}, Managers: []string{f.bob.ID}})
	f.finance = org.AddDBGroup(DBGroup{DisplayName: "finance", Kind: AccountGroup, Members: []DBMember{{Value: f.carol.ID, Type: "User"}}})
	f.adminTok = org.AddToken(DBToken{OwnerID: f.admin.ID, Comment: "admin"}).Value
	f.aliceTok = org.AddToken(DBToken{OwnerID: f.alice.ID, Comment: "laptop", Created: testNow.Add(-40 * 24 * time.Hour)}).Value
	f.bobTok = org.AddToken(DBToken{OwnerID: f.bob.ID}).Value
	f.carolTok = org.AddToken(DBToken{OwnerID: f.carol.ID}).Value

	f.srv = httptest.NewServer(New(org, Options{SCIMConcurrency: -1}).Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// noEnv is a config loader that loads nothing, so neither the environment
// nor ~/.databrickscfg reach the test clients.
type noEnv struct{}

func (noEnv) Name() string                   { return "none" }
func (noEnv) Configure(*config.Config) error { return nil }

func (f *dbFixture) config(token string) *databricks.Config {
	return &databricks.Config{
		Host: f.srv.URL, Token: token, AuthType: "pat",
		RetryTimeoutSeconds: 5, HTTPTimeoutSeconds: 5, RateLimitPerSecond: 1000,
		Loaders:              []config.Loader{noEnv{}},
		HostMetadataResolver: func(context.Context, string) (*config.HostMetadata, error) { return nil, nil },
	}
}

func (f *dbFixture) workspace(t *testing.T, token string) *databricks.WorkspaceClient {
	t.Helper()
	w, err := databricks.NewWorkspaceClient(f.config(token))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// account is an account client acting as the owner of the workspace token
// given. The account API takes account OAuth only, so the client carries
// the account access token that owner's sign-in would get (a user's U2M
// login, a service principal's M2M), not the token itself.
func (f *dbFixture) account(t *testing.T, token string) *databricks.AccountClient {
	t.Helper()
	cfg := f.config(accountLogin(f.org, token))
	cfg.AccountID = f.org.DB.AccountID
	a, err := databricks.NewAccountClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// raw is the SDK's own API client, for endpoints SDK v0.130.0 has no service for.
func (f *dbFixture) raw(t *testing.T, token string) *client.DatabricksClient {
	t.Helper()
	c, err := client.New((*config.Config)(f.config(token)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantErr(t *testing.T, err error, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func TestDatabricksSCIMListPaginatesToTheEnd(t *testing.T) {
	f := newTestOrg(t)
	for i := range 257 {
		f.org.AddDBUser(DBUser{UserName: fmt.Sprintf("user%03d@acme.com", i), Active: true, Assigned: true})
		f.org.AddDBGroup(DBGroup{DisplayName: fmt.Sprintf("group-%03d", i)})
		f.org.AddServicePrincipal(DBServicePrincipal{DisplayName: fmt.Sprintf("sp-%03d", i), Active: true, Assigned: true})
	}
	w := f.workspace(t, f.adminTok)
	ctx := context.Background()

	users, err := w.UsersV2.ListAll(ctx, iam.ListUsersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	groups, err := w.GroupsV2.ListAll(ctx, iam.ListGroupsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	sps, err := w.ServicePrincipalsV2.ListAll(ctx, iam.ListServicePrincipalsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		ids  []string
		want int
	}{
		{"users", ids(users, func(u iam.User) string { return u.Id }), 257 + 3},                        // carol is not assigned
		{"groups", ids(groups, func(g iam.Group) string { return g.Id }), 257 + 2},                     // finance is not assigned
		{"service principals", ids(sps, func(s iam.ServicePrincipal) string { return s.Id }), 257 + 1}, // loose is not assigned
	} {
		if len(c.ids) != c.want {
			t.Errorf("%s: %d listed, want %d", c.name, len(c.ids), c.want)
		}
		if !slices.IsSortedFunc(c.ids, cmpID) || len(slices.Compact(slices.Clone(c.ids))) != len(c.ids) {
			t.Errorf("%s: not in strict id order (duplicates?)", c.name)
		}
	}

	// One page is at most 100 even when the SDK asks for 10,000, and past
	// the end the page is empty.
	resp := struct {
		TotalResults, StartIndex, ItemsPerPage int
		Resources                              []map[string]any
	}{}
	if err := f.raw(t, f.adminTok).Do(ctx, "GET", "/api/2.0/preview/scim/v2/Users", nil, map[string]any{"startIndex": 101, "count": 10000}, nil, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.ItemsPerPage != 100 || len(resp.Resources) != 100 || resp.StartIndex != 101 || resp.TotalResults != 260 {
		t.Errorf("page = start %d, %d items (%d), total %d", resp.StartIndex, resp.ItemsPerPage, len(resp.Resources), resp.TotalResults)
	}
	if err := f.raw(t, f.adminTok).Do(ctx, "GET", "/api/2.0/preview/scim/v2/Users", nil, map[string]any{"startIndex": 261}, nil, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Resources) != 0 || resp.TotalResults != 260 {
		t.Errorf("past the end: %d resources, total %d", len(resp.Resources), resp.TotalResults)
	}
}

func TestDatabricksSCIMFilters(t *testing.T) {
	f := newTestOrg(t)
	w := f.workspace(t, f.adminTok)
	ctx := context.Background()
	userNames := func(filter string) ([]string, error) {
		users, err := w.UsersV2.ListAll(ctx, iam.ListUsersRequest{Filter: filter})
		return ids(users, func(u iam.User) string { return u.UserName }), err
	}
	for _, c := range []struct{ filter, want string }{
		{`userName eq "ALICE@acme.com"`, "alice@acme.com"},
		{`username eq "alice@acme.com"`, "alice@acme.com"},
		{`userName co "acme"`, "admin@acme.com alice@acme.com bob@acme.com"},
		{`userName sw "a"`, "admin@acme.com alice@acme.com"},
		{`displayName ne "Alice"`, "admin@acme.com bob@acme.com"},
		{`userName eq "alice@acme.com" or userName eq "bob@acme.com"`, "alice@acme.com bob@acme.com"},
		{`active eq true and userName sw "b"`, "bob@acme.com"},
		{`(userName sw "a" or userName sw "b") and displayName co "li"`, "alice@acme.com"},
		{`emails.value eq "bob@acme.com"`, "bob@acme.com"},
		{`name.familyName eq "liddell"`, "alice@acme.com"},
		{`id eq "` + f.bob.ID + `"`, "bob@acme.com"},
		{`userName eq "carol@acme.com"`, ""}, // not assigned to the workspace
	} {
		got, err := userNames(c.filter)
		if err != nil {
			t.Fatalf("%s: %v", c.filter, err)
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s: got %q, want %q", c.filter, got, c.want)
		}
	}

	groups, err := w.GroupsV2.ListAll(ctx, iam.ListGroupsRequest{Filter: `displayName eq "DE-TEAM"`})
	if err != nil || len(groups) != 1 || groups[0].Id != f.deTeam.ID {
		t.Errorf("group filter: %v, %v", groups, err)
	}
	sps, err := w.ServicePrincipalsV2.ListAll(ctx, iam.ListServicePrincipalsRequest{Filter: `applicationId eq "` + f.etl.ApplicationID + `"`})
	if err != nil || len(sps) != 1 || sps[0].DisplayName != "etl-deployer" {
		t.Errorf("service principal filter: %v, %v", sps, err)
	}

	var long []string
	for i := range 101 {
		long = append(long, fmt.Sprintf(`userName eq "u%d@acme.com"`, i))
	}
	_, err = userNames(strings.Join(long, " or ")) // 101 comparisons + 100 or = 201 nodes
	wantErr(t, err, apierr.ErrBadRequest)
	var apiErr *apierr.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != "SCIM_400" {
		t.Errorf("long filter: %v, want a SCIM_400", err)
	}
	_, err = userNames(`userName gt "a"`)
	wantErr(t, err, apierr.ErrBadRequest)
	// A bare word is no filter; the service's message (databricks-sdk-py#440).
	_, err = userNames("qwertyuiopas")
	if wantErr(t, err, apierr.ErrBadRequest); err == nil || !strings.Contains(err.Error(), "Given filter operator is not supported") {
		t.Errorf("bare word filter: %v", err)
	}
}

func TestDatabricksSCIMAttributes(t *testing.T) {
	f := newTestOrg(t)
	w := f.workspace(t, f.adminTok)
	ctx := context.Background()
	groups, err := w.GroupsV2.ListAll(ctx, iam.ListGroupsRequest{ExcludedAttributes: "members", Filter: `displayName eq "de-team"`})
	if err != nil || len(groups) != 1 || groups[0].Members != nil || groups[0].DisplayName != "de-team" {
		t.Errorf("excludedAttributes=members: %+v, %v", groups, err)
	}
	groups, err = w.GroupsV2.ListAll(ctx, iam.ListGroupsRequest{Attributes: "id,members", Filter: `displayName eq "de-team"`})
	if err != nil || len(groups) != 1 || len(groups[0].Members) != 1 || groups[0].DisplayName != "" {
		t.Errorf("attributes=id,members: %+v, %v", groups, err)
	}
}

func TestDatabricksSCIMShapes(t *testing.T) {
	f := newTestOrg(t)
	w := f.workspace(t, f.adminTok)
	ctx := context.Background()
	u, err := w.UsersV2.Get(ctx, iam.GetUserRequest{Id: f.alice.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Emails) != 1 || u.Emails[0].Value != "alice@acme.com" || !u.Emails[0].Primary || u.Emails[0].Type != "work" ||
		u.Name == nil || u.Name.GivenName != "Alice" || !u.Active {
		t.Errorf("user = %+v", u)
	}
	groupIDs := ids(u.Groups, func(c iam.ComplexValue) string { return c.Value })
	slices.SortFunc(groupIDs, cmpID)
	if !slices.Equal(groupIDs, []string{f.deTeam.ID, f.dataEng.ID}) {
		t.Errorf("alice's groups = %v, want de-team and data-eng", u.Groups)
	}
	if len(u.Entitlements) != 1 || u.Entitlements[0].Value != "workspace-access" {
		t.Errorf("entitlements = %v", u.Entitlements)
	}

	groups, err := w.GroupsV2.ListAll(ctx, iam.ListGroupsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, g := range groups {
		kinds[g.DisplayName] = g.Meta.ResourceType
	}
	if kinds["de-team"] != "WorkspaceGroup" || kinds["data-eng"] != "Group" || kinds["finance"] != "" {
		t.Errorf("resource types = %v", kinds)
	}
	g, err := w.GroupsV2.Get(ctx, iam.GetGroupRequest{Id: f.deTeam.ID})
	if err != nil || len(g.Members) != 1 || g.Members[0].Value != f.alice.ID || g.Members[0].Display != "Alice" || g.Members[0].Ref != "Users/"+f.alice.ID {
		t.Errorf("group = %+v, %v", g, err)
	}
	_, err = w.GroupsV2.Get(ctx, iam.GetGroupRequest{Id: f.finance.ID})
	wantErr(t, err, apierr.ErrNotFound)
}

func TestDatabricksSCIMWrites(t *testing.T) {
	f := newTestOrg(t)
	w := f.workspace(t, f.adminTok)
	ctx := context.Background()

	g, err := w.GroupsV2.Create(ctx, iam.CreateGroupRequest{DisplayName: "ml-team", Entitlements: []iam.ComplexValue{{Value: "workspace-access"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.GroupsV2.Create(ctx, iam.CreateGroupRequest{DisplayName: "ML-team"})
	wantErr(t, err, apierr.ErrResourceConflict)
	// The detail alone, no scimType: Terraform's force-create matches it exactly.
	if err == nil || err.Error() != "Group with name ML-team already exists." {
		t.Errorf("conflict message = %v", err)
	}

	err = w.GroupsV2.Patch(ctx, iam.PatchGroupRequest{Id: g.Id,
		Schemas: []iam.PatchSchema{iam.PatchSchemaUrnIetfParamsScimApiMessages20PatchOp},
		Operations: []iam.Patch{
			{Op: iam.PatchOpAdd, Value: map[string]any{"members": []map[string]string{{"value": f.alice.ID}, {"value": f.bob.ID}, {"value": f.etl.ID}}}},
			{Op: iam.PatchOpAdd, Path: "entitlements", Value: []map[string]string{{"value": "databricks-sql-access"}}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	err = w.GroupsV2.Patch(ctx, iam.PatchGroupRequest{Id: g.Id, Operations: []iam.Patch{
		{Op: iam.PatchOpRemove, Path: fmt.Sprintf(`members[value eq "%s"]`, f.bob.ID)},
		{Op: iam.PatchOpRemove, Path: `entitlements[value eq "workspace-access"]`},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.GroupsV2.Get(ctx, iam.GetGroupRequest{Id: g.Id})
	if err != nil {
		t.Fatal(err)
	}
	members := ids(got.Members, func(c iam.ComplexValue) string { return c.Value })
	ents := ids(got.Entitlements, func(c iam.ComplexValue) string { return c.Value })
	if !slices.Equal(members, []string{f.alice.ID, f.etl.ID}) || !slices.Equal(ents, []string{"databricks-sql-access"}) {
		t.Errorf("after patch: members %v, entitlements %v", members, ents)
	}

	// An unknown member or entitlement fails the whole patch.
	err = w.GroupsV2.Patch(ctx, iam.PatchGroupRequest{Id: g.Id, Operations: []iam.Patch{
		{Op: iam.PatchOpAdd, Path: "members", Value: []map[string]string{{"value": f.bob.ID}}},
		{Op: iam.PatchOpAdd, Path: "members", Value: []map[string]string{{"value": "999999"}}},
	}})
	wantErr(t, err, apierr.ErrBadRequest)
	err = w.GroupsV2.Patch(ctx, iam.PatchGroupRequest{Id: g.Id, Operations: []iam.Patch{
		{Op: iam.PatchOpAdd, Path: "entitlements", Value: []map[string]string{{"value": "workspace_access"}}}}})
	wantErr(t, err, apierr.ErrBadRequest)
	if got, _ := w.GroupsV2.Get(ctx, iam.GetGroupRequest{Id: g.Id}); len(got.Members) != 2 {
		t.Errorf("a failed patch changed members: %v", got.Members)
	}

	// PUT replaces.
	if err := w.GroupsV2.Update(ctx, iam.UpdateGroupRequest{Id: g.Id, DisplayName: "ml-team", Members: []iam.ComplexValue{{Value: f.bob.ID}}}); err != nil {
		t.Fatal(err)
	}
	got, _ = w.GroupsV2.Get(ctx, iam.GetGroupRequest{Id: g.Id})
	if len(got.Members) != 1 || got.Members[0].Value != f.bob.ID || len(got.Entitlements) != 0 {
		t.Errorf("after put: %+v", got)
	}

	if err := w.GroupsV2.Delete(ctx, iam.DeleteGroupRequest{Id: g.Id}); err != nil {
		t.Fatal(err)
	}
	_, err = w.GroupsV2.Get(ctx, iam.GetGroupRequest{Id: g.Id})
	if !apierr.IsMissing(err) {
		t.Errorf("get after delete: %v", err)
	}

	// Users: create, entitlement patch, deactivate, remove from the workspace.
	u, err := w.UsersV2.Create(ctx, iam.CreateUserRequest{UserName: "dee@partner.com", DisplayName: "Dee"})
	if err != nil || !u.Active || u.Id == "" {
		t.Fatalf("create user: %+v, %v", u, err)
	}
	err = w.UsersV2.Patch(ctx, iam.PatchUserRequest{Id: u.Id, Operations: []iam.Patch{
		{Op: iam.PatchOpAdd, Path: "entitlements", Value: []map[string]string{{"value": "allow-cluster-create"}}},
		{Op: iam.PatchOpReplace, Path: "active", Value: false},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got2, _ := w.UsersV2.Get(ctx, iam.GetUserRequest{Id: u.Id})
	if got2.Active || len(got2.Entitlements) != 1 || got2.Entitlements[0].Value != "allow-cluster-create" {
		t.Errorf("after user patch: %+v", got2)
	}
	if err := w.UsersV2.Delete(ctx, iam.DeleteUserRequest{Id: u.Id}); err != nil {
		t.Fatal(err)
	}
	_, err = w.UsersV2.Get(ctx, iam.GetUserRequest{Id: u.Id})
	wantErr(t, err, apierr.ErrNotFound)

	sp, err := w.ServicePrincipalsV2.Create(ctx, iam.CreateServicePrincipalRequest{DisplayName: "new-sp"})
	if err != nil || sp.ApplicationId == "" || !sp.Active {
		t.Fatalf("create service principal: %+v, %v", sp, err)
	}

	// Non-admins read but do not write.
	alice := f.workspace(t, f.aliceTok)
	if _, err := alice.GroupsV2.Get(ctx, iam.GetGroupRequest{Id: f.deTeam.ID}); err != nil {
		t.Errorf("non-admin read: %v", err)
	}
	_, err = alice.GroupsV2.Create(ctx, iam.CreateGroupRequest{DisplayName: "mine"})
	wantErr(t, err, apierr.ErrPermissionDenied)
}

func TestDatabricksAccountGroupsThroughWorkspaceSCIM(t *testing.T) {
	f := newTestOrg(t)
	w := f.workspace(t, f.adminTok)
	ctx := context.Background()

	err := w.GroupsV2.Patch(ctx, iam.PatchGroupRequest{Id: f.dataEng.ID, Operations: []iam.Patch{
		{Op: iam.PatchOpAdd, Value: map[string]any{"members": []map[string]string{{"value": f.bob.ID}}}}}})
	wantErr(t, err, apierr.ErrBadRequest)
	if !strings.Contains(err.Error(), "account group") {
		t.Errorf("error should say why: %v", err)
	}
	err = w.GroupsV2.Patch(ctx, iam.PatchGroupRequest{Id: f.dataEng.ID, Operations: []iam.Patch{
		{Op: iam.PatchOpRemove, Path: fmt.Sprintf(`members[value eq "%s"]`, f.alice.ID)},
		{Op: iam.PatchOpAdd, Path: "entitlements", Value: []map[string]string{{"value": "workspace-access"}}}}})
	wantErr(t, err, apierr.ErrBadRequest)
	wantErr(t, w.GroupsV2.Delete(ctx, iam.DeleteGroupRequest{Id: f.dataEng.ID}), apierr.ErrBadRequest)
	wantErr(t, w.GroupsV2.Update(ctx, iam.UpdateGroupRequest{Id: f.dataEng.ID, DisplayName: "x"}), apierr.ErrBadRequest)

	// Entitlements are per workspace, so those change.
	err = w.GroupsV2.Patch(ctx, iam.PatchGroupRequest{Id: f.dataEng.ID, Operations: []iam.Patch{
		{Op: iam.PatchOpAdd, Path: "entitlements", Value: []map[string]string{{"value": "databricks-sql-access"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := w.GroupsV2.Get(ctx, iam.GetGroupRequest{Id: f.dataEng.ID})
	if err != nil || len(g.Entitlements) != 1 || g.Entitlements[0].Value != "databricks-sql-access" || len(g.Members) != 1 {
		t.Errorf("after entitlement patch: %+v, %v", g, err)
	}
}

func TestDatabricksMe(t *testing.T) {
	f := newTestOrg(t)
	ctx := context.Background()
	me, err := f.workspace(t, f.aliceTok).CurrentUser.Me(ctx)
	if err != nil || me.UserName != "alice@acme.com" || me.Id != f.alice.ID {
		t.Fatalf("Me = %+v, %v", me, err)
	}
	f.org.Mu.Lock()
	lastUsed := f.org.DB.TokensByValue[f.aliceTok].LastUsed
	f.org.Mu.Unlock()
	if !lastUsed.Equal(day(testNow)) {
		t.Errorf("last used = %v, want the day of use", lastUsed)
	}

	_, err = f.workspace(t, f.carolTok).CurrentUser.Me(ctx)
	wantErr(t, err, apierr.ErrPermissionDenied) // carol is not assigned to the workspace
	_, err = f.workspace(t, "dapi"+strings.Repeat("0", 32)).CurrentUser.Me(ctx)
	wantErr(t, err, apierr.ErrPermissionDenied) // 403 "Invalid access token."

	expired := f.org.AddToken(DBToken{OwnerID: f.alice.ID, Created: testNow.Add(-48 * time.Hour), Expiry: testNow.Add(-time.Hour)})
	_, err = f.workspace(t, expired.Value).CurrentUser.Me(ctx)
	wantErr(t, err, apierr.ErrPermissionDenied) // 403 "Invalid access token."
}

// The authentication layer's answers, as the service gives them: no
// credential is 401, a token that does not resolve (unknown, revoked,
// expired) is 403 "Invalid access token.", both with a numeric error_code,
// on every API including SCIM.
func TestDatabricksAuthErrorBodies(t *testing.T) {
	f := newTestOrg(t)
	expired := f.org.AddToken(DBToken{OwnerID: f.alice.ID, Created: testNow.Add(-48 * time.Hour), Expiry: testNow.Add(-time.Hour)})
	for _, tc := range []struct {
		name, auth string
		status     int
		message    string
	}{
		{"none", "", 401, "Credential was not sent or was of an unsupported type for this API."},
		{"basic", "Basic dXNlcjpwYXNz", 401, "Credential was not sent or was of an unsupported type for this API."},
		{"unknown", "Bearer dapi" + strings.Repeat("0", 32), 403, "Invalid access token."},
		{"expired", "Bearer " + expired.Value, 403, "Invalid access token."},
	} {
		for _, path := range []string{"/api/2.0/token-management/tokens", "/api/2.0/preview/scim/v2/Users"} {
			req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || body["error_code"] != float64(tc.status) || body["message"] != tc.message ||
				resp.Header.Get("X-Databricks-Reason-Phrase") != tc.message {
				t.Errorf("%s %s: %d %v (reason %q), want %d with error_code %d and %q",
					tc.name, path, resp.StatusCode, body, resp.Header.Get("X-Databricks-Reason-Phrase"), tc.status, tc.status, tc.message)
			}
		}
	}
}

// accountLogin is an account OAuth access token for the owner of the
// workspace token pat, as that principal's account sign-in gets one (users
// sign in by U2M, which the emulator has no browser for); any other value
// is returned as it is.
func accountLogin(o *Org, pat string) string {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	tok := o.DB.TokensByValue[pat]
	if tok == nil {
		return pat
	}
	if o.DB.OAuthTokens == nil {
		o.DB.OAuthTokens = map[string]*DBOAuthToken{}
	}
	value := "dbat" + randomHex(64)
	o.DB.OAuthTokens[value] = &DBOAuthToken{SPID: tok.OwnerID, Expiry: o.Now().Add(oauthTokenTTL), Account: o.DB.AccountID}
	return value
}
