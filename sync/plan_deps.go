package sync

import (
	"fmt"
	"slices"
	"strings"
)

// Dependencies between the changes of one plan:
//
//   - a change to a group the plan creates needs its create_group;
//   - an unassign_workspace needs the removals it exists for (Change.
//     RemovedFrom): the user's remove_member from each of those groups, in
//     the same workspace, or, for an account group (whose membership is
//     planned once for every workspace), in whichever workspace planned it.
//
// WithDependencies brings them along when a few changes are applied on
// their own; Apply skips a change whose dependency did not apply, saying
// which and why.

// removalFor reports whether d is the removal from group that unassign u
// exists for.
func removalFor(u, d Change, group string) bool {
	if d.Action != ActionRemoveMember || d.Group != group || d.PrincipalType != PrincipalUser {
		return false
	}
	same := (u.PrincipalID != "" && d.PrincipalID == u.PrincipalID) || strings.EqualFold(d.Principal, u.Principal)
	return same && (d.Workspace == u.Workspace || d.GroupKind == KindAccount)
}

// WithDependencies returns the changes of p with the given ids together with
// every change they depend on, in plan order: a change to a group the plan
// creates needs its create_group first, an unassign_workspace the removals
// it exists for. It is what applying a few changes of a plan on their own
// means. An id not in the plan, a change whose group neither exists nor is
// created by the plan, or an unassign whose removal the plan does not hold,
// is an error that says why.
func (p Plan) WithDependencies(ids ...string) ([]Change, error) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	creates := map[string]string{} // group -> the id of its create_group
	for _, c := range p.Changes {
		if c.Action == ActionCreateGroup {
			creates[c.Group] = c.ID
		}
	}
	found := 0
	for _, c := range p.Changes {
		if !want[c.ID] {
			continue
		}
		found++
		if c.Action == ActionUnassignWorkspace {
			for _, g := range c.RemovedFrom {
				i := slices.IndexFunc(p.Changes, func(d Change) bool { return removalFor(c, d, g) })
				if i < 0 {
					return nil, fmt.Errorf("%s cannot be applied: it exists for the removal of %s from %s, which the plan no longer holds; refresh and try again", c.ID, c.Principal, g)
				}
				want[p.Changes[i].ID] = true
			}
			continue
		}
		if !c.Action.Info().GroupChange || c.Action == ActionCreateGroup || c.GroupID != "" {
			continue
		}
		dep, ok := creates[c.Group]
		if !ok {
			return nil, fmt.Errorf("%s cannot be applied: group %s does not exist and the plan does not create it", c.ID, c.Group)
		}
		want[dep] = true
	}
	if found < len(ids) {
		var missing []string
		for _, id := range ids {
			if !slices.ContainsFunc(p.Changes, func(c Change) bool { return c.ID == id }) {
				missing = append(missing, id)
			}
		}
		return nil, fmt.Errorf("not in the plan: %v; refresh and try again", missing)
	}
	var out []Change
	for _, c := range p.Changes {
		if want[c.ID] {
			out = append(out, c)
		}
	}
	return out, nil
}

// Outcome is a change an Apply made or tried, with its result.
type Outcome struct {
	Change Change
	Status string // ResultApplied, ResultFailed or ResultSkipped
}

// outcomes are the removals of a run so far, by user and group.
type outcomes map[string][]Outcome

func removalKey(principal, group string) string {
	return strings.ToLower(principal) + "\x00" + group
}

func newOutcomes(earlier []Outcome) outcomes {
	o := outcomes{}
	for _, e := range earlier {
		o.add(e)
	}
	return o
}

// add records the outcome of a change (only removals are depended on).
func (o outcomes) add(e Outcome) {
	if e.Change.Action == ActionRemoveMember {
		k := removalKey(e.Change.Principal, e.Change.Group)
		o[k] = append(o[k], e)
	}
}

// unmet says why change c may not be applied yet, given the outcomes of
// this run so far: "" when every change it depends on was applied (or it
// depends on none). A create_group's members are Apply's own check.
func (o outcomes) unmet(c Change) string {
	if c.Action != ActionUnassignWorkspace {
		return ""
	}
	for _, g := range c.RemovedFrom {
		rs := o[removalKey(c.Principal, g)]
		i := slices.IndexFunc(rs, func(e Outcome) bool { return removalFor(c, e.Change, g) })
		switch {
		case i < 0:
			return fmt.Sprintf("its removal from %s is not part of this apply, so %s stays assigned", g, c.Principal)
		case rs[i].Status == ResultFailed:
			return fmt.Sprintf("its removal from %s failed, so %s stays assigned", g, c.Principal)
		case rs[i].Status != ResultApplied:
			return fmt.Sprintf("its removal from %s was not made, so %s stays assigned", g, c.Principal)
		}
	}
	return ""
}
