package sync

import (
	"slices"
	"testing"

	"github.com/bitbricks/bitbricks/config"
)

// TestMappingReach: a mapping with no workspaces: reaches every workspace
// of the load, the unread one included; one naming dev reaches dev, and
// an account group it points at takes its members to prod too.
func TestMappingReach(t *testing.T) {
	snap := func() *Snapshot {
		return &Snapshot{DBGroups: map[string]*Group{
			"platform-eng": {Name: "platform-eng", Kind: KindAccount},
			"de-team":      {Name: "de-team", Kind: KindWorkspace},
		}}
	}
	load := &Snapshot{
		Workspaces: []WorkspaceSnapshot{{Name: "prod", Snap: snap()}, {Name: "dev", Snap: snap()}},
		Unread:     []Problem{{System: SystemDatabricks, What: WhatWorkspace, Workspace: "staging"}},
	}
	cfg := &config.Config{Mappings: []config.Mapping{
		{BitbucketGroup: "ml", DatabricksGroup: "ml-team"},
		{BitbucketGroup: "data", DatabricksGroup: "de-team", Workspaces: []string{"dev"}},
	}}
	r := MappingReachOf(load, cfg, 0, "platform-eng")
	if r.Path != "mappings[0]" || !r.Every || !slices.Equal(r.Workspaces, []string{"prod", "dev", "staging"}) ||
		!r.AccountGroup || !slices.Equal(r.SharedBy, []string{"prod", "dev"}) || len(r.Beyond) != 0 {
		t.Errorf("mappings[0] -> platform-eng: %+v", r)
	}
	r = MappingReachOf(load, cfg, 1, "platform-eng")
	if r.Every || !slices.Equal(r.Workspaces, []string{"dev"}) || !slices.Equal(r.Beyond, []string{"prod"}) {
		t.Errorf("mappings[1] -> platform-eng: %+v", r)
	}
	if r := MappingReachOf(load, cfg, 1, "de-team"); r.AccountGroup || len(r.SharedBy) != 0 {
		t.Errorf("mappings[1] -> de-team: %+v", r)
	}
	if r := MappingReachOf(load, cfg, -1, "x"); r.Path != "" || !r.Every || len(r.Workspaces) != 3 {
		t.Errorf("a new mapping: %+v", r)
	}
	if r := MappingReachOf(snap(), cfg, 0, "platform-eng"); r.Workspaces != nil || r.AccountGroup {
		t.Errorf("one workspace: %+v", r)
	}
}

// TestScopeUnreadWorkspace: a workspace of the config the load could not
// read is an empty scope saying why, with no change, finding or member of
// another workspace in it; a workspace the config does not list is none.
func TestScopeUnreadWorkspace(t *testing.T) {
	cfg := &config.Config{Databricks: config.DatabricksConfig{Workspaces: config.Workspaces{List: []config.Workspace{{Name: "prod"}, {Name: "dev"}}}}}
	load := &Snapshot{Workspace: "acme",
		Workspaces: []WorkspaceSnapshot{{Name: "dev", Snap: &Snapshot{Users: map[string]*User{"1": {ID: "1"}}}}},
		Unread:     []Problem{{System: SystemDatabricks, What: WhatWorkspace, Workspace: "prod", Detail: "workspace prod (h) answered HTTP 500"}},
	}
	plan := Plan{Changes: []Change{{ID: "dev:x", Workspace: "dev"}}, Findings: []Finding{{Workspace: "dev"}},
		Members: []MemberStatus{{Workspace: "dev"}}, Problems: load.Unread}
	wl, ok := ScopeWorkspace(load, plan, cfg, "prod")
	if !ok || wl.Unread != "workspace prod (h) answered HTTP 500" || wl.Snap.Workspace != "acme" || len(wl.Snap.Users) != 0 ||
		len(wl.Plan.Changes)+len(wl.Plan.Findings)+len(wl.Plan.Members) != 0 || len(wl.Plan.Problems) != 1 {
		t.Errorf("unread prod: ok %v, %+v", ok, wl)
	}
	if wl, ok := ScopeWorkspace(load, plan, cfg, "dev"); !ok || wl.Unread != "" || len(wl.Plan.Changes) != 1 {
		t.Errorf("dev: ok %v, %+v", ok, wl)
	}
	if _, ok := ScopeWorkspace(load, plan, cfg, "stage"); ok {
		t.Error("a workspace the config does not list is a scope")
	}
}

// TestAuditWorkspaces: the workspaces of an audit line, from its target or
// its change id, and the target without them.
func TestAuditWorkspaces(t *testing.T) {
	for _, tc := range []struct {
		ev     AuditEvent
		ws     []string
		target string
	}{
		{AuditEvent{Target: "group:ml-team workspace:prod", ChangeID: "prod:create_group/ml-team"}, []string{"prod"}, "group:ml-team"},
		{AuditEvent{Target: "mapping ml: ml-team -> platform-eng workspaces:prod,dev"}, []string{"prod", "dev"}, "mapping ml: ml-team -> platform-eng"},
		{AuditEvent{Target: "token:abc", ChangeID: "dev:revoke_token/abc"}, []string{"dev"}, "token:abc"},
		{AuditEvent{Target: "token:abc", ChangeID: "revoke_token/abc"}, nil, "token:abc"},
		{AuditEvent{Target: "group:x"}, nil, "group:x"},
	} {
		ws, target := AuditWorkspaces(tc.ev)
		if !slices.Equal(ws, tc.ws) || target != tc.target {
			t.Errorf("%+v: %q %q, want %q %q", tc.ev, ws, target, tc.ws, tc.target)
		}
	}
}

// TestRevokeOwnerCommand: a note left after a leak contained in one
// workspace names that workspace, so the command does not reach the
// owner's credentials in every workspace.
func TestRevokeOwnerCommand(t *testing.T) {
	for _, tc := range []struct {
		ws    string
		force bool
		want  string
	}{
		{"", false, "bitbricks revoke --owner a@x"},
		{"dev", false, "bitbricks revoke --owner a@x --workspace dev"},
		{"dev", true, "bitbricks revoke --owner a@x --workspace dev --force"},
	} {
		if got := RevokeOwnerCommand("a@x", tc.ws, tc.force); got != tc.want {
			t.Errorf("%q %v: %q, want %q", tc.ws, tc.force, got, tc.want)
		}
	}
}
