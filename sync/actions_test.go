package sync

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
)

// callLog is an Executor and Rotator that records which method ran.
type callLog struct{ calls []string }

func (l *callLog) add(m string) error { l.calls = append(l.calls, m); return nil }
func (l *callLog) CreateGroup(context.Context, Change) (string, error) {
	return "g-new", l.add("CreateGroup")
}
func (l *callLog) AddMember(context.Context, Change) error      { return l.add("AddMember") }
func (l *callLog) RemoveMember(context.Context, Change) error   { return l.add("RemoveMember") }
func (l *callLog) AddEntitlement(context.Context, Change) error { return l.add("AddEntitlement") }
func (l *callLog) RemoveEntitlement(context.Context, Change) error {
	return l.add("RemoveEntitlement")
}
func (l *callLog) RevokeToken(context.Context, Change) error  { return l.add("RevokeToken") }
func (l *callLog) RevokeSecret(context.Context, Change) error { return l.add("RevokeSecret") }
func (l *callLog) Rotate(context.Context, Change) error       { return l.add("Rotate") }
func (l *callLog) AssignWorkspace(context.Context, Change) error {
	return l.add("AssignWorkspace")
}
func (l *callLog) UnassignWorkspace(context.Context, Change) error {
	return l.add("UnassignWorkspace")
}

// schemaEnums reads the enums of the plan schema the action table must match:
// every action, the group changes (which carry group_kind) and the
// destructive ones.
func schemaEnums(t *testing.T) (all, group, destructive []string) {
	t.Helper()
	b, err := os.ReadFile("../schema/plan.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Defs struct {
			Action struct {
				Enum []string `json:"enum"`
			} `json:"action"`
			Change struct {
				AllOf []struct {
					If struct {
						Properties struct {
							Action struct {
								Enum []string `json:"enum"`
							} `json:"action"`
						} `json:"properties"`
					} `json:"if"`
					Then json.RawMessage `json:"then"`
				} `json:"allOf"`
			} `json:"change"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range doc.Defs.Change.AllOf {
		then := string(r.Then)
		switch {
		case strings.Contains(then, `"required": ["group_kind"]`):
			group = r.If.Properties.Action.Enum
		case strings.Contains(then, `"destructive": { "const": true }`):
			destructive = r.If.Properties.Action.Enum
		}
	}
	if len(doc.Defs.Action.Enum) == 0 || len(group) == 0 || len(destructive) == 0 {
		t.Fatalf("schema enums not found: all %v, group %v, destructive %v", doc.Defs.Action.Enum, group, destructive)
	}
	return doc.Defs.Action.Enum, group, destructive
}

// Every action's row of the action table is complete and agrees with the JSON
// schema, the plan order and the executor.
func TestActionTable(t *testing.T) {
	all, groupEnum, destructiveEnum := schemaEnums(t)
	acts := Actions()
	if len(acts) != len(all) {
		t.Errorf("the action table has %d actions, the schema enum %d: %v", len(acts), len(all), all)
	}
	glyphs := map[string]bool{} // glyph -> destructive
	names := map[string]bool{}
	lastAdditive, firstDestructive := -1, len(acts)
	for i, a := range acts {
		info := a.Info()
		t.Run(info.Name, func(t *testing.T) {
			if info.Name == "" || names[info.Name] || !slices.Contains(all, info.Name) {
				t.Errorf("name %q: empty, repeated or not in the schema's action enum %v", info.Name, all)
			}
			names[info.Name] = true
			var back Action
			if err := back.UnmarshalText([]byte(info.Name)); err != nil || back != a {
				t.Errorf("UnmarshalText(%q) = %v, %v", info.Name, back, err)
			}
			if slices.Contains(groupEnum, info.Name) != info.GroupChange {
				t.Errorf("group change %v, but the schema's group_kind rule says %v", info.GroupChange, !info.GroupChange)
			}
			if slices.Contains(destructiveEnum, info.Name) != info.Destructive {
				t.Errorf("destructive %v, but the schema says %v", info.Destructive, !info.Destructive)
			}
			// A glyph of its own: declared, never shared across the additive
			// and destructive sides, never a finding's glyph.
			if info.Glyph == "" || info.Label == "" || info.Describe == nil || info.AuditTarget == nil {
				t.Fatalf("incomplete row %+v", info)
			}
			if d, seen := glyphs[info.Glyph]; seen && d != info.Destructive {
				t.Errorf("glyph %q marks additive and destructive actions alike", info.Glyph)
			}
			glyphs[info.Glyph] = info.Destructive
			if info.Glyph == "?" || info.Glyph == "!" {
				t.Errorf("glyph %q is a finding's", info.Glyph)
			}
			if info.Rank != i {
				t.Errorf("rank %d at position %d of Actions()", info.Rank, i)
			}
			c := Change{ID: info.Name + "/x", Action: a, Group: "g", Principal: "p", PrincipalType: PrincipalUser,
				Entitlement: "e", TokenID: "t", Binding: "b"}
			if c.Describe() == "" || c.AuditTarget() == "" || c.AuditTarget() == c.ID {
				t.Errorf("describe %q, audit target %q", c.Describe(), c.AuditTarget())
			}
			// An executor case: run calls exactly one method for it.
			l := &callLog{}
			if err := run(context.Background(), l, l, c, map[string]string{}); err != nil || len(l.calls) != 1 {
				t.Errorf("run: %v, calls %v: no executor case", err, l.calls)
			}
			// The one JSON shape: group_kind on group changes only, and
			// destructive from the table.
			js, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(js), `"group_kind"`) != info.GroupChange ||
				!strings.Contains(string(js), `"destructive":`+map[bool]string{true: "true", false: "false"}[info.Destructive]) {
				t.Errorf("JSON %s", js)
			}
			var round Change
			if err := json.Unmarshal(js, &round); err != nil || round.Action != a || round.ID != c.ID {
				t.Errorf("JSON round trip: %+v %v", round, err)
			}
		})
		if info.Destructive {
			firstDestructive = min(firstDestructive, i)
		} else {
			lastAdditive = max(lastAdditive, i)
		}
	}
	if lastAdditive > firstDestructive {
		t.Errorf("an additive action ranks after a destructive one: %v", acts)
	}
	for _, n := range all {
		if !names[n] {
			t.Errorf("the schema's action %s is not in the action table", n)
		}
	}
	if got := Action(99).String(); got != "action(99)" {
		t.Errorf("an unknown action is %q", got)
	}
}

// ComputePlan orders changes by the table's rank: every additive change
// before every destructive one (the demo plan has every action).
func TestPlanOrderFollowsRank(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	p := ComputePlan(e.read(t), e.cfg, demoNow)
	seen := map[Action]bool{}
	for _, c := range p.Changes {
		seen[c.Action] = true
	}
	if len(seen) < 6 {
		t.Fatalf("the demo plan has only the actions %v", seen)
	}
	for i := 1; i < len(p.Changes); i++ {
		if p.Changes[i-1].Action.Info().Rank > p.Changes[i].Action.Info().Rank {
			t.Errorf("%s before %s", p.Changes[i-1].ID, p.Changes[i].ID)
		}
	}
}
