package emulator

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/settings"
)

func TestDatabricksTokenManagement(t *testing.T) {
	f := newTestOrg(t)
	w := f.workspace(t, f.adminTok)
	ctx := context.Background()

	all, err := w.TokenManagement.ListAll(ctx, settings.ListTokenManagementRequest{})
	if err != nil || len(all) != 4 {
		t.Fatalf("list = %d tokens, %v; want 4", len(all), err)
	}
	mine, err := w.TokenManagement.ListAll(ctx, settings.ListTokenManagementRequest{CreatedByUsername: "ALICE@acme.com"})
	if err != nil || len(mine) != 1 {
		t.Fatalf("list by user name = %v, %v", mine, err)
	}
	ti := mine[0]
	if ti.Comment != "laptop" || ti.OwnerId != numericID(f.alice.ID) || ti.CreatedById != ti.OwnerId || ti.ExpiryTime != -1 ||
		ti.CreationTime != testNow.Add(-40*24*time.Hour).UnixMilli() || ti.WorkspaceId != f.org.DB.WorkspaceID || ti.LastUsedDay != 0 {
		t.Errorf("token info = %+v", ti)
	}
	byID, err := w.TokenManagement.ListAll(ctx, settings.ListTokenManagementRequest{CreatedById: numericID(f.bob.ID)})
	if err != nil || len(byID) != 1 {
		t.Errorf("list by creator id = %v, %v", byID, err)
	}

	// On-behalf-of token for a service principal: it authenticates as the SP.
	obo, err := w.TokenManagement.CreateOboToken(ctx, settings.CreateOboTokenRequest{ApplicationId: f.etl.ApplicationID, Comment: "bitbricks:etl:1", LifetimeSeconds: 3600})
	if err != nil || obo.TokenValue == "" || obo.TokenInfo.OwnerId != numericID(f.etl.ID) || obo.TokenInfo.CreatedByUsername != "admin@acme.com" ||
		obo.TokenInfo.ExpiryTime != testNow.Add(time.Hour).UnixMilli() {
		t.Fatalf("obo = %+v, %v", obo, err)
	}
	me, err := f.workspace(t, obo.TokenValue).CurrentUser.Me(ctx)
	if err != nil || me.UserName != f.etl.ApplicationID || me.Id != f.etl.ID || me.DisplayName != "etl-deployer" {
		t.Fatalf("Me with OBO token = %+v, %v", me, err)
	}
	got, err := w.TokenManagement.Get(ctx, settings.GetTokenManagementRequest{TokenId: obo.TokenInfo.TokenId})
	if err != nil || got.TokenInfo.Comment != "bitbricks:etl:1" || got.TokenInfo.LastUsedDay != day(testNow).UnixMilli() {
		t.Errorf("get = %+v, %v", got.TokenInfo, err)
	}
	_, err = w.TokenManagement.CreateOboToken(ctx, settings.CreateOboTokenRequest{ApplicationId: f.loose.ApplicationID})
	wantErr(t, err, apierr.ErrNotFound) // not in this workspace

	// Revoked: refused at once.
	if err := w.TokenManagement.Delete(ctx, settings.DeleteTokenManagementRequest{TokenId: obo.TokenInfo.TokenId}); err != nil {
		t.Fatal(err)
	}
	_, err = f.workspace(t, obo.TokenValue).CurrentUser.Me(ctx)
	wantErr(t, err, apierr.ErrPermissionDenied) // 403 "Invalid access token."
	_, err = w.TokenManagement.Get(ctx, settings.GetTokenManagementRequest{TokenId: obo.TokenInfo.TokenId})
	wantErr(t, err, apierr.ErrResourceDoesNotExist)
	wantErr(t, w.TokenManagement.Delete(ctx, settings.DeleteTokenManagementRequest{TokenId: obo.TokenInfo.TokenId}), apierr.ErrNotFound)

	// Admins only.
	_, err = f.workspace(t, f.aliceTok).TokenManagement.ListAll(ctx, settings.ListTokenManagementRequest{})
	wantErr(t, err, apierr.ErrPermissionDenied)
}

func TestDatabricksTokenLimits(t *testing.T) {
	f := newTestOrg(t)
	w := f.workspace(t, f.adminTok)
	ctx := context.Background()

	if err := w.WorkspaceConf.SetStatus(ctx, settings.WorkspaceConf{"maxTokenLifetimeDays": "90"}); err != nil {
		t.Fatal(err)
	}
	_, err := w.TokenManagement.CreateOboToken(ctx, settings.CreateOboTokenRequest{ApplicationId: f.etl.ApplicationID, LifetimeSeconds: 91 * 24 * 3600})
	wantErr(t, err, apierr.ErrInvalidParameterValue)
	tok, err := w.Tokens.Create(ctx, settings.CreateTokenRequest{Comment: "no lifetime given"})
	if err != nil || tok.TokenInfo.ExpiryTime != testNow.Add(90*24*time.Hour).UnixMilli() {
		t.Errorf("token without lifetime under a 90-day limit: %+v, %v", tok, err)
	}

	for range maxUserTokens - 1 {
		f.org.AddToken(DBToken{OwnerID: f.alice.ID})
	}
	_, err = f.workspace(t, f.aliceTok).Tokens.Create(ctx, settings.CreateTokenRequest{LifetimeSeconds: 3600})
	wantErr(t, err, apierr.ErrBadRequest)
	var apiErr *apierr.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != "QUOTA_EXCEEDED" {
		t.Errorf("quota error = %v", err)
	}
}

func TestDatabricksOwnTokens(t *testing.T) {
	f := newTestOrg(t)
	alice := f.workspace(t, f.aliceTok)
	ctx := context.Background()

	created, err := alice.Tokens.Create(ctx, settings.CreateTokenRequest{Comment: "ci", LifetimeSeconds: 86400})
	if err != nil || created.TokenValue == "" || created.TokenInfo.Comment != "ci" || created.TokenInfo.ExpiryTime != testNow.Add(24*time.Hour).UnixMilli() {
		t.Fatalf("create = %+v, %v", created, err)
	}
	if me, err := f.workspace(t, created.TokenValue).CurrentUser.Me(ctx); err != nil || me.Id != f.alice.ID {
		t.Fatalf("Me with the new token = %v, %v", me, err)
	}
	list, err := alice.Tokens.ListAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	listed := ids(list, func(ti settings.PublicTokenInfo) string { return ti.TokenId })
	if len(listed) != 2 || !slices.Contains(listed, created.TokenInfo.TokenId) {
		t.Errorf("own tokens = %v", list)
	}

	// Someone else's token is not yours to delete.
	bobs, _ := f.workspace(t, f.bobTok).Tokens.ListAll(ctx)
	wantErr(t, alice.Tokens.Delete(ctx, settings.RevokeTokenRequest{TokenId: bobs[0].TokenId}), apierr.ErrNotFound)

	if err := alice.Tokens.Delete(ctx, settings.RevokeTokenRequest{TokenId: created.TokenInfo.TokenId}); err != nil {
		t.Fatal(err)
	}
	_, err = f.workspace(t, created.TokenValue).CurrentUser.Me(ctx)
	wantErr(t, err, apierr.ErrPermissionDenied) // 403 "Invalid access token."
}

func TestDatabricksWorkspaceConf(t *testing.T) {
	f := newTestOrg(t)
	w := f.workspace(t, f.adminTok)
	ctx := context.Background()
	if err := w.WorkspaceConf.SetStatus(ctx, settings.WorkspaceConf{"maxTokenLifetimeDays": "30"}); err != nil {
		t.Fatal(err)
	}
	conf, err := w.WorkspaceConf.GetStatus(ctx, settings.GetStatusRequest{Keys: "maxTokenLifetimeDays,enableTokensConfig"})
	if err != nil || (*conf)["maxTokenLifetimeDays"] != "30" || (*conf)["enableTokensConfig"] != "true" || len(*conf) != 2 {
		t.Errorf("conf = %v, %v", conf, err)
	}
	wantErr(t, w.WorkspaceConf.SetStatus(ctx, settings.WorkspaceConf{"maxTokenLifetimeDays": "-1"}), apierr.ErrBadRequest)
	wantErr(t, f.workspace(t, f.aliceTok).WorkspaceConf.SetStatus(ctx, settings.WorkspaceConf{"maxTokenLifetimeDays": "0"}), apierr.ErrPermissionDenied)
	if conf, err := f.workspace(t, f.aliceTok).WorkspaceConf.GetStatus(ctx, settings.GetStatusRequest{Keys: "maxTokenLifetimeDays"}); err != nil || (*conf)["maxTokenLifetimeDays"] != strconv.Itoa(30) {
		t.Errorf("non-admin read = %v, %v", conf, err)
	}
}

// With no workspace limit (maxTokenLifetimeDays "0") new tokens still expire:
// the platform caps them at 730 days, and a token asked for without a
// lifetime (0, or the -1 that once meant "never") gets the cap.
func TestDatabricksTokenPlatformLifetime(t *testing.T) {
	f := newTestOrg(t)
	ctx := context.Background()
	alice, admin := f.workspace(t, f.aliceTok), f.workspace(t, f.adminTok)
	maxExpiry := testNow.Add(730 * 24 * time.Hour).UnixMilli()

	own, err := alice.Tokens.Create(ctx, settings.CreateTokenRequest{Comment: "no lifetime"})
	if err != nil || own.TokenInfo.ExpiryTime != maxExpiry {
		t.Errorf("token without a lifetime: %+v, %v; want expiry in 730 days", own, err)
	}
	obo, err := admin.TokenManagement.CreateOboToken(ctx, settings.CreateOboTokenRequest{ApplicationId: f.etl.ApplicationID, LifetimeSeconds: -1})
	if err != nil || obo.TokenInfo.ExpiryTime != maxExpiry {
		t.Errorf("OBO token with lifetime -1: %+v, %v; want expiry in 730 days", obo, err)
	}
	_, err = alice.Tokens.Create(ctx, settings.CreateTokenRequest{LifetimeSeconds: 731 * 24 * 3600})
	wantErr(t, err, apierr.ErrBadRequest)
}
