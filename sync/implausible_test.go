package sync

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
)

// TestImplausibleListsAreUnknown: each list that cannot truly be empty, when
// the emulator answers it empty, is a source problem exactly like a failed
// read, and nothing destructive is planned from it.
func TestImplausibleListsAreUnknown(t *testing.T) {
	membersChecked := func(t *testing.T, snap *Snapshot, plan Plan) {
		if snap.MembersKnown || snap.PresenceKnown {
			t.Error("an empty workspace member answer counts as known")
		}
		if !slices.ContainsFunc(plan.Findings, func(f Finding) bool {
			return f.Kind == FindingNoDeparted && strings.Contains(f.Detail, "implausible answer")
		}) {
			t.Errorf("no departed_unknown finding that says why: %+v", plan.Findings)
		}
		for _, c := range plan.Changes {
			if strings.Contains(c.Reason, "left the Bitbucket workspace") {
				t.Errorf("revoked as departed on an empty member list: %s (%s)", c.ID, c.Reason)
			}
		}
	}
	for _, tc := range []struct {
		name, route, source string
		fullList            bool // read the whole member list rather than ask by email
		check               func(t *testing.T, snap *Snapshot, plan Plan)
	}{
		{"workspace members by email", "GET /2.0/workspaces/{workspace}/members", "workspace members", false, membersChecked},
		{"workspace members, whole list", "GET /2.0/workspaces/{workspace}/members", "workspace members", true, membersChecked},
		{"users", "GET /api/2.0/preview/scim/v2/Users", "users", false, func(t *testing.T, snap *Snapshot, plan Plan) {
			if snap.TokensKnown {
				t.Error("tokens count as known without the users list")
			}
			for _, c := range plan.Changes {
				if c.Action.Destructive() {
					t.Errorf("destructive change planned without the users list: %s", c.ID)
				}
			}
		}},
		{"tokens", "GET /api/2.0/token-management/tokens", "tokens", false, func(t *testing.T, snap *Snapshot, plan Plan) {
			if snap.TokensKnown {
				t.Error("an empty token list counts as known")
			}
			for _, c := range plan.Changes {
				if c.Action == ActionRevokeToken {
					t.Errorf("token revoked on an empty token list: %s", c.ID)
				}
			}
		}},
		{"groups with members", "GET /1.0/groups/{workspace}", "groups", false, func(t *testing.T, snap *Snapshot, plan Plan) {
			for _, name := range []string{"data-engineers", "platform", "analytics"} {
				if g := snap.Groups[name]; g == nil || g.Known {
					t.Errorf("group %s = %+v, want unknown", name, g)
				}
			}
			for _, c := range plan.Changes {
				// Entitlements follow the config alone; members follow the groups.
				if c.Action == ActionRemoveMember {
					t.Errorf("member removal planned on memberless groups: %s", c.ID)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newDemo(t, emulator.Options{Faults: []emulator.FaultRule{{Route: tc.route, Kind: emulator.FaultEmptyMembers}}})
			if tc.fullList {
				// Groups from the Atlassian directory: the whole member list is read.
				e.cfg.Bitbucket.GroupsSource = config.GroupsSourceAtlassianAdmin
			}
			snap := e.read(t)
			if st := e.srv.Stats(); st.Faults[string(emulator.FaultEmptyMembers)] == 0 {
				t.Fatalf("the fault on %s never fired: %+v", tc.route, st.Faults)
			}
			i := slices.IndexFunc(snap.Problems, func(p SourceProblem) bool {
				return strings.HasPrefix(p.Source, tc.source) && strings.Contains(p.Err, "implausible answer")
			})
			if i < 0 {
				t.Fatalf("no implausible-answer problem for %s: %+v", tc.source, snap.Problems)
			}
			t.Logf("problem: %s: %s", snap.Problems[i].Source, snap.Problems[i].Err)
			tc.check(t, snap, ComputePlan(snap, e.cfg, demoNow))
		})
	}
}

// TestImplausibleCallerless: a list that has entries but lacks the caller is
// as implausible as an empty one; a list that holds the caller passes.
func TestImplausibleCallerless(t *testing.T) {
	admin := Account{AccountID: "557058:admin", UUID: "{a}", DisplayName: "Alex Admin"}
	other := Account{AccountID: "557058:eve", UUID: "{e}"}
	for _, tc := range []struct {
		name   string
		ms     []Account
		person bool
		bad    bool
	}{
		{"empty", nil, true, true},
		{"empty, access token", nil, false, true},
		{"without the caller", []Account{other}, true, true},
		{"with the caller", []Account{other, {UUID: "{A}"}}, true, false},
		{"access token: no caller to look for", []Account{other}, false, false},
	} {
		err := checkMembers(tc.ms, admin, tc.person)
		if (err != nil) != tc.bad {
			t.Errorf("%s: checkMembers = %v, want implausible %v", tc.name, err, tc.bad)
		}
		if err != nil && !errors.As(err, new(*ImplausibleError)) {
			t.Errorf("%s: %T, want *ImplausibleError", tc.name, err)
		}
	}

	me := Caller{ID: "7", UserName: "admin@acme.com", PAT: true}
	r := &reader{src: Sources{Databricks: stubCaller{me}}}
	if err := r.checkUsers([]*User{{ID: "8", UserName: "eve@acme.com"}}); err == nil || !strings.Contains(err.Error(), "admin@acme.com") {
		t.Errorf("users without the caller: %v", err)
	}
	if err := r.checkUsers([]*User{{ID: "7"}}); err != nil {
		t.Errorf("users with the caller: %v", err)
	}
	if err := r.checkTokens([]Credential{{ID: "t", OwnerID: "8"}}); err == nil {
		t.Error("a token list without a token of the PAT caller passed")
	}
	if err := r.checkTokens([]Credential{{ID: "t", OwnerID: "7"}}); err != nil {
		t.Errorf("tokens with the caller's: %v", err)
	}
	// A service principal on OAuth is in no users list and may hold no token.
	r = &reader{src: Sources{Databricks: stubCaller{Caller{ID: "9", UserName: "3f1e2d4c-0000-4000-8000-000000000001"}}}}
	if err := r.checkUsers(nil); err != nil {
		t.Errorf("service principal caller: %v", err)
	}
	if err := r.checkTokens(nil); err != nil {
		t.Errorf("OAuth caller: %v", err)
	}
	if err := checkGroups([]*BitbucketGroup{{Slug: "a"}, {Slug: "b", Members: []Account{other}}}); err != nil {
		t.Errorf("one empty group of two: %v", err)
	}
}

type stubCaller struct{ c Caller }

func (s stubCaller) Caller() Caller { return s.c }

// The rest of DatabricksSource is never called by the checks.
func (stubCaller) Host() string                             { return "" }
func (stubCaller) Me(context.Context) (string, error)       { return "", nil }
func (stubCaller) Users(context.Context) ([]*User, error)   { return nil, nil }
func (stubCaller) Groups(context.Context) ([]*Group, error) { return nil, nil }
func (stubCaller) ServicePrincipals(context.Context) ([]*ServicePrincipal, error) {
	return nil, nil
}
func (stubCaller) Tokens(context.Context) ([]Credential, error)          { return nil, nil }
func (stubCaller) MaxTokenLifetimeDays(context.Context) (int, error)     { return 0, nil }
func (stubCaller) AccountAccess(context.Context) error                   { return nil }
func (stubCaller) ProxyAccess(context.Context) error                     { return nil }
func (stubCaller) ProxyGroupAccess(context.Context, string) error        { return nil }
func (stubCaller) AccountUsers(context.Context) ([]*User, error)         { return nil, nil }
func (stubCaller) Secrets(context.Context, string) ([]Credential, error) { return nil, nil }
