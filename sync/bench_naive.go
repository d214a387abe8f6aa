package sync

import (
	"cmp"
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/oauth2"
	"github.com/databricks/databricks-sdk-go/service/settings"
)

// ReadNaive reads the same snapshot the way a straightforward client would,
// as the baseline `bitbricks bench` compares Read against: one request at a
// time, every list through the SDK's own pager, the whole Bitbucket
// workspace member list, and group members fetched group by group (each
// mapped Bitbucket group's /1.0 member list, each mapped Databricks group on
// its own). It needs the real adapters.
func ReadNaive(ctx context.Context, src Sources, cfg *config.Config) (*Snapshot, error) {
	bb, ok1 := src.Bitbucket.(*Bitbucket)
	d, ok2 := src.Databricks.(*Databricks)
	if !ok1 || !ok2 {
		return nil, errors.New("the naive read needs the Bitbucket and Databricks adapters")
	}
	r := &reader{src: src, cfg: cfg, snap: &Snapshot{
		TakenAt: time.Now().UTC(), Workspace: cfg.Bitbucket.Workspace, Host: d.Host(),
		Groups: map[string]*BitbucketGroup{}, Emails: map[string]string{}, Users: map[string]*User{},
		DBGroups: map[string]*Group{}, SPs: map[string]*ServicePrincipal{}, Bindings: map[string]*BindingState{},
	}}
	var err error
	if r.snap.Caller, err = d.Me(ctx); err != nil {
		return nil, err
	}
	if cfg.Policy.RevokeDeparted {
		if err := r.departureLedger(ctx); err != nil { // the same input as Read's
			return nil, err
		}
	}
	// Bitbucket: the group list, then each mapped group's members.
	var raw []v1Group
	if err := getJSON(ctx, bb.http, bb.auth, bb.v1+"/groups/"+url.PathEscape(bb.workspace), &raw); err != nil {
		return nil, bb.wrap("list Bitbucket groups", err)
	}
	mapped := map[string]bool{}
	for _, m := range cfg.Mappings {
		mapped[m.BitbucketGroup] = true
	}
	for _, g := range raw {
		bg := &BitbucketGroup{Slug: g.Slug, Name: g.Name}
		r.bbGroups = append(r.bbGroups, bg)
		if !mapped[g.Slug] && !mapped[g.Name] {
			continue
		}
		var ms []struct {
			DisplayName string `json:"display_name"`
			AccountID   string `json:"account_id"`
			UUID        string `json:"uuid"`
			Nickname    string `json:"nickname"`
		}
		u := bb.v1 + "/groups/" + url.PathEscape(bb.workspace) + "/" + url.PathEscape(g.Slug) + "/members"
		if err := getJSON(ctx, bb.http, bb.auth, u, &ms); err != nil {
			return nil, bb.wrap("list members of Bitbucket group "+g.Slug, err)
		}
		bg.Known = true
		for _, m := range ms {
			bg.Members = append(bg.Members, Account{AccountID: m.AccountID, UUID: m.UUID, Nickname: m.Nickname, DisplayName: m.DisplayName})
		}
	}
	if r.snap.Members, err = bb.Members(ctx); err != nil {
		return nil, err
	}
	r.snap.MembersKnown = true
	// Emails, one batch after another.
	if a, ok := src.Atlassian.(*Atlassian); ok {
		var ids []string
		seen := map[string]bool{}
		for _, g := range r.bbGroups {
			for _, m := range g.Members {
				if !seen[m.AccountID] {
					seen[m.AccountID] = true
					ids = append(ids, m.AccountID)
				}
			}
		}
		for _, m := range r.snap.Members {
			if !seen[m.AccountID] {
				seen[m.AccountID] = true
				ids = append(ids, m.AccountID)
			}
		}
		for batch := range slices.Chunk(ids, atlassianBatch) {
			users, err := a.searchUsers(ctx, map[string]any{"accountIds": batch})
			if err != nil {
				return nil, err
			}
			for _, u := range users {
				if u.Email != "" {
					r.snap.Emails[u.AccountID] = u.Email
				}
			}
		}
	}
	// Databricks, through the SDK's pagers, one request at a time.
	us, err := d.w.UsersV2.ListAll(ctx, iam.ListUsersRequest{Attributes: userAttrs})
	if err != nil {
		return nil, d.wrap("list Databricks users", err, true)
	}
	for _, u := range us {
		r.snap.Users[u.Id] = &User{ID: u.Id, UserName: u.UserName, DisplayName: u.DisplayName, Active: u.Active, ExternalID: u.ExternalId, Assigned: true}
	}
	r.usersKnown = true
	if d.a != nil {
		r.snap.AccountAccess = true
		aus, err := d.a.UsersV2.ListAll(ctx, iam.ListAccountUsersRequest{Attributes: userAttrs})
		if err != nil {
			return nil, err
		}
		for _, u := range aus {
			if _, ok := r.snap.Users[u.Id]; !ok {
				r.snap.Users[u.Id] = &User{ID: u.Id, UserName: u.UserName, DisplayName: u.DisplayName, Active: u.Active, ExternalID: u.ExternalId}
			}
		}
	}
	gs, err := d.w.GroupsV2.ListAll(ctx, iam.ListGroupsRequest{Attributes: "id,displayName,externalId,entitlements,meta"})
	if err != nil {
		return nil, d.wrap("list Databricks groups", err, true)
	}
	dbMapped := map[string]bool{}
	for _, m := range cfg.Mappings {
		dbMapped[m.DatabricksGroup] = true
	}
	for _, g := range gs {
		if dbMapped[g.DisplayName] {
			full, err := d.w.GroupsV2.Get(ctx, iam.GetGroupRequest{Id: g.Id})
			if err != nil {
				return nil, err
			}
			g = *full
		}
		sg := scimGroup{ID: g.Id, DisplayName: g.DisplayName, ExternalID: g.ExternalId}
		for _, m := range g.Members {
			sg.Members = append(sg.Members, scimValue{Value: m.Value, Display: m.Display, Type: m.Type, Ref: m.Ref})
		}
		for _, e := range g.Entitlements {
			sg.Entitlements = append(sg.Entitlements, scimValue{Value: e.Value})
		}
		if g.Meta != nil {
			sg.Meta = &struct {
				ResourceType string `json:"resourceType"`
			}{g.Meta.ResourceType}
		}
		r.snap.DBGroups[g.DisplayName] = fromSCIMGroup(sg)
	}
	sps, err := d.w.ServicePrincipalsV2.ListAll(ctx, iam.ListServicePrincipalsRequest{Attributes: "id,applicationId,displayName,active"})
	if err != nil {
		return nil, err
	}
	for _, sp := range sps {
		r.snap.SPs[sp.Id] = &ServicePrincipal{ID: sp.Id, ApplicationID: sp.ApplicationId, DisplayName: sp.DisplayName, Active: sp.Active}
	}
	r.spsKnown = true
	ts, err := d.w.TokenManagement.ListAll(ctx, settings.ListTokenManagementRequest{})
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		r.rawTokens = append(r.rawTokens, Credential{ID: t.TokenId, Kind: CredentialPAT, OwnerID: strconv.FormatInt(cmp.Or(t.OwnerId, t.CreatedById), 10), OwnerType: PrincipalUser,
			Owner: t.CreatedByUsername, Comment: t.Comment, Created: epochMillis(t.CreationTime), Expiry: epochMillis(t.ExpiryTime), LastUsed: epochMillis(t.LastUsedDay)})
	}
	r.snap.TokensKnown = true
	if r.snap.MaxTokenDays, err = d.MaxTokenLifetimeDays(ctx); err != nil {
		return nil, err
	}
	if d.a != nil {
		for _, sp := range sps {
			ss, err := d.a.ServicePrincipalSecrets.ListAll(ctx, oauth2.ListServicePrincipalSecretsRequest{ServicePrincipalId: sp.Id})
			if err != nil {
				return nil, err
			}
			for _, s := range ss {
				r.secrets = append(r.secrets, Credential{ID: s.Id, Kind: CredentialOAuthSecret, OwnerID: sp.Id, OwnerType: PrincipalServicePrincipal,
					Owner: sp.DisplayName, Created: parseTime(s.CreateTime), Expiry: parseTime(s.ExpireTime)})
			}
		}
		r.snap.SecretsKnown = true
	}
	for _, b := range cfg.Pipelines {
		if err := r.binding(ctx, b); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.finish()
	return r.snap, nil
}
