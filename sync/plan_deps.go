package sync

import (
	"fmt"
	"slices"
)

// WithDependencies returns the changes of p with the given ids together with
// every change they depend on, in plan order: a change to a group the plan
// creates needs its create_group first. It is what applying a few changes of a
// plan on their own means. An id not in the plan, or a change whose group
// neither exists nor is created by the plan, is an error that says why.
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
