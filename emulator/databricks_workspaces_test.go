package emulator

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/settings"
)

// TestDemoTwoWorkspaces drives the demo account's two workspaces, each on a
// host of its own, through the SDK: tokens, local groups, entitlements and
// assignment are per workspace; account groups and users are shared.
func TestDemoTwoWorkspaces(t *testing.T) {
	ctx := context.Background()
	org := Demo(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	srv := New(org, Options{SCIMConcurrency: -1})
	prod := httptest.NewServer(srv.WorkspaceHandler(DemoWorkspace))
	dev := httptest.NewServer(srv.WorkspaceHandler(DemoDevWorkspace))
	t.Cleanup(prod.Close)
	t.Cleanup(dev.Close)
	cfg := func(host, token string) *databricks.Config {
		return &databricks.Config{Host: host, Token: token, AuthType: "pat", AccountID: org.DB.AccountID,
			RetryTimeoutSeconds: 5, HTTPTimeoutSeconds: 5, RateLimitPerSecond: 1000,
			Loaders:              []config.Loader{noEnv{}},
			HostMetadataResolver: func(context.Context, string) (*config.HostMetadata, error) { return nil, nil }}
	}
	ws := func(host, token string) *databricks.WorkspaceClient {
		w, err := databricks.NewWorkspaceClient(cfg(host, token))
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	prodTok, devTok := org.Creds.WorkspaceTokens[DemoWorkspace], org.Creds.WorkspaceTokens[DemoDevWorkspace]
	if prodTok == "" || devTok == "" || prodTok == devTok {
		t.Fatalf("want a token per workspace")
	}
	wp, wd := ws(prod.URL, prodTok), ws(dev.URL, devTok)

	// Each token authenticates only at its own workspace.
	if me, err := wd.CurrentUser.Me(ctx); err != nil || me.UserName != "admin@acme.com" {
		t.Fatalf("dev Me = %v, %v", me, err)
	}
	_, err := ws(prod.URL, devTok).CurrentUser.Me(ctx)
	wantErr(t, err, apierr.ErrPermissionDenied)

	// Tokens are per workspace.
	devTokens, err := wd.TokenManagement.ListAll(ctx, settings.ListTokenManagementRequest{})
	if err != nil {
		t.Fatal(err)
	}
	prodTokens, err := wp.TokenManagement.ListAll(ctx, settings.ListTokenManagementRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(devTokens) != 3 || len(prodTokens) < 50 {
		t.Errorf("tokens: dev %d, prod %d", len(devTokens), len(prodTokens))
	}

	// A workspace-local de-team in each, with its own members.
	group := func(w *databricks.WorkspaceClient, name string) iam.Group {
		t.Helper()
		gs, err := w.Groups.ListAll(ctx, iam.ListGroupsRequest{Filter: `displayName eq "` + name + `"`})
		if err != nil || len(gs) != 1 {
			t.Fatalf("%s: %v, %v", name, gs, err)
		}
		return gs[0]
	}
	pd, dd := group(wp, "de-team"), group(wd, "de-team")
	if pd.Id == dd.Id || len(dd.Members) != 1 || len(pd.Members) < 5 {
		t.Errorf("de-team: prod %s (%d members), dev %s (%d members)", pd.Id, len(pd.Members), dd.Id, len(dd.Members))
	}

	// The account group platform-eng: shared members, entitlements per workspace.
	// The account API takes OAuth only: the seed's account admin service
	// principal, by its OAuth secret (M2M at the account's token endpoint).
	acfg := cfg(prod.URL, "")
	acfg.AuthType, acfg.ClientID, acfg.ClientSecret = "oauth-m2m", org.Creds.AccountClientID, org.Creds.AccountClientSecret
	acfg.DiscoveryURL = prod.URL + "/oidc/accounts/" + org.DB.AccountID + "/.well-known/oauth-authorization-server"
	a, err := databricks.NewAccountClient(acfg)
	if err != nil {
		t.Fatal(err)
	}
	pe := group(wd, "platform-eng")
	rita := org.DBUserByName("rita@acme.com")
	if err := a.Groups.Patch(ctx, iam.PartialUpdate{Id: pe.Id, Operations: []iam.Patch{{Op: iam.PatchOpRemove, Path: `members[value eq "` + rita.ID + `"]`}},
		Schemas: []iam.PatchSchema{iam.PatchSchemaUrnIetfParamsScimApiMessages20PatchOp}}); err != nil {
		t.Fatal(err)
	}
	for name, w := range map[string]*databricks.WorkspaceClient{"prod": wp, "dev": wd} {
		g := group(w, "platform-eng")
		if slices.ContainsFunc(g.Members, func(m iam.ComplexValue) bool { return m.Value == rita.ID }) {
			t.Errorf("%s: rita still in platform-eng", name)
		}
	}

	// Assignment is per workspace: rita reaches prod, not dev, until assigned there.
	list := func(id int64) []string {
		t.Helper()
		got, err := a.WorkspaceAssignment.ListAll(ctx, iam.ListWorkspaceAssignmentRequest{WorkspaceId: id})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, pa := range got {
			names = append(names, pa.Principal.UserName)
		}
		return names
	}
	if !slices.Contains(list(1234567890123456), "rita@acme.com") || slices.Contains(list(demoDevID), "rita@acme.com") {
		t.Fatalf("rita assigned: prod %v, dev %v", list(1234567890123456), list(demoDevID))
	}
	srv.ResetStats()
	if _, err := a.WorkspaceAssignment.Update(ctx, iam.UpdateWorkspaceAssignments{WorkspaceId: demoDevID,
		PrincipalId: numericID(rita.ID), Permissions: []iam.WorkspacePermission{iam.WorkspacePermissionUser}}); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(list(demoDevID), "rita@acme.com") {
		t.Errorf("rita not assigned to dev after the update")
	}
	if st := srv.Stats(); st.WorkspaceWrites[DemoDevWorkspace] != 1 || st.WorkspaceWrites[DemoWorkspace] != 0 {
		t.Errorf("writes per workspace = %v", st.WorkspaceWrites)
	}

	// The account lists both workspaces.
	all, err := a.Workspaces.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, w := range all {
		names = append(names, w.WorkspaceName)
	}
	if !slices.Equal(names, []string{"prod", "dev"}) {
		t.Errorf("workspaces = %v", names)
	}
}
