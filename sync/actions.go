package sync

import (
	"encoding/json"
	"fmt"
)

// Action is what a Change does. Everything about an action lives in its row
// of the actions table below: the views, the console, the JSON schema and
// the audit log derive from it (TestActionTable holds them to it).
type Action int

// The actions. Their order here means nothing: plans sort by ActionInfo.Rank.
const (
	ActionCreateGroup Action = iota
	ActionAddMember
	ActionAddEntitlement
	ActionRotateCredential
	ActionRemoveEntitlement
	ActionRemoveMember
	ActionRevokeToken
	ActionRevokeSecret
	ActionAssignWorkspace
	ActionUnassignWorkspace
)

// ActionInfo is everything about one action.
type ActionInfo struct {
	// Name is the action's JSON name (the schema's $defs.action enum).
	Name string
	// Glyph marks the action in the text plan and the console, for
	// additive (+, *, ↻) and destructive (-) changes alike.
	Glyph string
	// Label is the action in words, for help and confirmations.
	Label string
	// Destructive actions take access or a credential away: they sort after
	// every additive action, are counted apart and confirmed apart.
	Destructive bool
	// GroupChange actions act on a Databricks group and carry group_kind.
	GroupChange bool
	// Rank orders a plan's changes: lower first. Additive actions rank below
	// destructive ones.
	Rank int
	// GroupOrder orders the changes under one group in the text plan:
	// the group's creation, then members, then entitlements.
	GroupOrder int
	// Describe is the short text of a change: the group, member,
	// entitlement, binding or token it is about (not sanitised).
	Describe func(Change) string
	// AuditTarget names what a change acts on in the audit log; never a
	// credential value (a Change holds none).
	AuditTarget func(Change) string
}

// actions is the action table. A new action is one constant above and one
// row here, then an Executor method and its case in run (apply.go), and its
// name in schema/plan.schema.json; see CONTRIBUTING.md.
var actions = map[Action]ActionInfo{
	ActionCreateGroup: {
		Name: "create_group", Glyph: "*", Label: "create group", GroupChange: true, Rank: 1, GroupOrder: 0,
		Describe:    func(c Change) string { return "create group " + c.Group },
		AuditTarget: func(c Change) string { return "group:" + c.Group },
	},
	ActionAddMember: {
		Name: "add_member", Glyph: "+", Label: "add member", GroupChange: true, Rank: 2, GroupOrder: 1,
		Describe:    func(c Change) string { return c.Principal },
		AuditTarget: memberTarget,
	},
	ActionAddEntitlement: {
		Name: "add_entitlement", Glyph: "+", Label: "add entitlement", GroupChange: true, Rank: 3, GroupOrder: 3,
		Describe:    func(c Change) string { return "entitlement " + c.Entitlement },
		AuditTarget: entitlementTarget,
	},
	ActionRotateCredential: {
		Name: "rotate_credential", Glyph: "↻", Label: "rotate credential", Rank: 4,
		Describe: func(c Change) string { return fmt.Sprintf("rotate %s (%s)", c.Binding, c.Principal) },
		AuditTarget: func(c Change) string {
			return "binding:" + c.Binding + " " + string(c.PrincipalType) + ":" + c.Principal
		},
	},
	ActionRemoveEntitlement: {
		Name: "remove_entitlement", Glyph: "-", Label: "remove entitlement", Destructive: true, GroupChange: true, Rank: 5, GroupOrder: 4,
		Describe:    func(c Change) string { return "entitlement " + c.Entitlement },
		AuditTarget: entitlementTarget,
	},
	ActionRemoveMember: {
		Name: "remove_member", Glyph: "-", Label: "remove member", Destructive: true, GroupChange: true, Rank: 6, GroupOrder: 2,
		Describe:    func(c Change) string { return c.Principal },
		AuditTarget: memberTarget,
	},
	ActionRevokeToken: {
		Name: "revoke_token", Glyph: "-", Label: "revoke token", Destructive: true, Rank: 8,
		Describe:    func(c Change) string { return fmt.Sprintf("revoke token %s of %s", c.TokenID, c.Principal) },
		AuditTarget: func(c Change) string { return "token:" + c.TokenID + " owner:" + c.Principal },
	},
	ActionRevokeSecret: {
		Name: "revoke_secret", Glyph: "-", Label: "revoke secret", Destructive: true, Rank: 9,
		Describe:    func(c Change) string { return fmt.Sprintf("revoke secret %s of %s", c.TokenID, c.Principal) },
		AuditTarget: func(c Change) string { return "secret:" + c.TokenID + " owner:" + c.Principal },
	},
	ActionAssignWorkspace: {
		Name: "assign_workspace", Glyph: "+", Label: "assign to workspace", Rank: 0,
		Describe:    func(c Change) string { return "assign " + c.Principal + " to " + c.Workspace },
		AuditTarget: assignTarget,
	},
	ActionUnassignWorkspace: {
		Name: "unassign_workspace", Glyph: "-", Label: "unassign from workspace", Destructive: true, Rank: 7,
		Describe:    func(c Change) string { return "unassign " + c.Principal + " from " + c.Workspace },
		AuditTarget: assignTarget,
	},
}

// assignTarget names a workspace assignment in the audit log.
func assignTarget(c Change) string {
	return "workspace:" + c.Workspace + " " + string(c.PrincipalType) + ":" + c.Principal
}

func memberTarget(c Change) string {
	return "group:" + c.Group + " " + string(c.PrincipalType) + ":" + c.Principal
}

func entitlementTarget(c Change) string { return "group:" + c.Group + " entitlement:" + c.Entitlement }

// Actions lists every action, in plan order (by Rank).
func Actions() []Action {
	out := make([]Action, len(actions))
	for a, info := range actions {
		out[info.Rank] = a
	}
	return out
}

// Info is the action's row of the action table; an unknown action has a
// row that names it as such and describes a change by its id.
func (a Action) Info() ActionInfo {
	if info, ok := actions[a]; ok {
		return info
	}
	name := fmt.Sprintf("action(%d)", int(a))
	return ActionInfo{Name: name, Glyph: "?", Label: name, Rank: len(actions) + int(a),
		Describe: func(c Change) string { return c.ID }, AuditTarget: func(c Change) string { return c.ID }}
}

// String is the action's JSON name.
func (a Action) String() string { return a.Info().Name }

// Destructive reports whether the action takes access or a credential away.
func (a Action) Destructive() bool { return a.Info().Destructive }

// GroupChange reports whether the action acts on a Databricks group.
func (a Action) GroupChange() bool { return a.Info().GroupChange }

// Glyph is the action's mark in the text plan and the console.
func (a Action) Glyph() string { return a.Info().Glyph }

// MarshalText makes an Action its JSON name.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses a JSON action name.
func (a *Action) UnmarshalText(b []byte) error {
	for act, info := range actions {
		if info.Name == string(b) {
			*a = act
			return nil
		}
	}
	return fmt.Errorf("unknown action %q", b)
}

// Describe is the short text of a change (not sanitised for a terminal).
func (c Change) Describe() string { return c.Action.Info().Describe(c) }

// AuditTarget names what the change acts on, for the audit log.
func (c Change) AuditTarget() string { return c.Action.Info().AuditTarget(c) }

// changeJSON is the one JSON shape of a Change, the contract of DESIGN.md
// and schema/plan.schema.json: every field present, empty where it does not
// apply; group_kind on group changes only; destructive from the action.
type changeJSON struct {
	ID            string `json:"id"`
	Action        string `json:"action"`
	Group         string `json:"group"`
	GroupKind     string `json:"group_kind,omitempty"`
	Principal     string `json:"principal"`
	PrincipalType string `json:"principal_type"`
	Entitlement   string `json:"entitlement"`
	TokenID       string `json:"token_id"` // token id, or SP secret id for revoke_secret
	Binding       string `json:"binding"`
	Destructive   bool   `json:"destructive"`
	Reason        string `json:"reason"`
	// Workspace is the workspace the change is made in (the one
	// workspace's name when there is one; an account group's membership,
	// shared by every workspace, the first that plans it).
	Workspace string `json:"workspace"`
}

// MarshalJSON writes the change in its one JSON shape (see changeJSON).
func (c Change) MarshalJSON() ([]byte, error) {
	j := changeJSON{
		ID: c.ID, Action: c.Action.String(), Group: c.Group, Principal: c.Principal,
		PrincipalType: string(c.PrincipalType), Entitlement: c.Entitlement, TokenID: c.TokenID,
		Binding: c.Binding, Destructive: c.Action.Destructive(), Reason: c.Reason, Workspace: c.Workspace,
	}
	if c.Action.GroupChange() {
		j.GroupKind = string(c.GroupKind)
		if j.GroupKind == "" {
			j.GroupKind = string(KindWorkspace)
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads a change written by MarshalJSON (the fields the
// engine needs to apply it, such as ids and routes, stay empty).
func (c *Change) UnmarshalJSON(b []byte) error {
	var j changeJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var a Action
	if err := a.UnmarshalText([]byte(j.Action)); err != nil {
		return err
	}
	*c = Change{ID: j.ID, Action: a, Group: j.Group, GroupKind: GroupKind(j.GroupKind), Principal: j.Principal,
		PrincipalType: PrincipalType(j.PrincipalType), Entitlement: j.Entitlement, TokenID: j.TokenID,
		Binding: j.Binding, Destructive: j.Destructive, Reason: j.Reason, Workspace: j.Workspace}
	return nil
}
