package sync

import (
	"slices"
	"strings"
	"testing"
)

func TestPlanWithDependencies(t *testing.T) {
	p := Plan{Changes: []Change{
		{ID: "create_group/ml-team", Action: ActionCreateGroup, Group: "ml-team"},
		{ID: "add_member/ml-team/mia", Action: ActionAddMember, Group: "ml-team"},
		{ID: "add_member/de-team/bob", Action: ActionAddMember, Group: "de-team", GroupID: "g1"},
		{ID: "add_entitlement/ml-team/workspace-access", Action: ActionAddEntitlement, Group: "ml-team"},
		{ID: "rotate_credential/etl", Action: ActionRotateCredential, Binding: "etl"},
		{ID: "remove_member/ghost-team/eve", Action: ActionRemoveMember, Group: "ghost-team"},
	}}
	ids := func(cs []Change) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		pick []string
		want []string
		err  string
	}{
		{"a member of a group the plan creates brings its create_group", []string{"add_member/ml-team/mia"},
			[]string{"create_group/ml-team", "add_member/ml-team/mia"}, ""},
		{"in plan order, each dependency once", []string{"add_entitlement/ml-team/workspace-access", "add_member/ml-team/mia"},
			[]string{"create_group/ml-team", "add_member/ml-team/mia", "add_entitlement/ml-team/workspace-access"}, ""},
		{"a group that exists needs nothing", []string{"add_member/de-team/bob"}, []string{"add_member/de-team/bob"}, ""},
		{"a rotation needs nothing", []string{"rotate_credential/etl"}, []string{"rotate_credential/etl"}, ""},
		{"a group neither there nor created", []string{"remove_member/ghost-team/eve"}, nil,
			"group ghost-team does not exist and the plan does not create it"},
		{"not in the plan", []string{"add_member/x/y"}, nil, "not in the plan"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.WithDependencies(tc.pick...)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(ids(got), tc.want) {
				t.Errorf("got %q, %v; want %q", ids(got), err, tc.want)
			}
		})
	}
}
