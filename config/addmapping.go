package config

import (
	"fmt"
	"strings"
)

// AddMapping returns src with a mapping of bitbucketGroup to databricksGroup
// appended to the mappings list, every other byte (comments, layout) kept. The
// new item follows the indentation of the existing ones; prune is left at its
// default (off). A list written in flow style ([...]) or no mappings key at all
// is an error that says to edit the file by hand. The result is re-parsed and
// checked.
func AddMapping(src []byte, bitbucketGroup, databricksGroup string) ([]byte, error) {
	for _, v := range []string{bitbucketGroup, databricksGroup} {
		if strings.TrimSpace(v) == "" || strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("map: a group name must be one non-empty line")
		}
	}
	lines := strings.SplitAfter(string(src), "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "mappings:") {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("map: the config has no mappings list; add the mapping by hand")
	}
	if rest := strings.TrimSpace(strings.TrimPrefix(lines[start], "mappings:")); rest != "" && !strings.HasPrefix(rest, "#") {
		return nil, fmt.Errorf("map: the mappings list is written on one line; add the mapping by hand")
	}
	indent, last := "", -1
	for i := start + 1; i < len(lines); i++ {
		l := lines[i]
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if l[0] != ' ' && l[0] != '-' { // the next top-level key
			break
		}
		if last < 0 && strings.HasPrefix(t, "- ") {
			indent = l[:len(l)-len(strings.TrimLeft(l, " "))]
		}
		last = i
	}
	if last < 0 {
		return nil, fmt.Errorf("map: the mappings list is empty; add the mapping by hand")
	}
	for _, bb := range quoteLike("x", bitbucketGroup) {
		for _, db := range quoteLike("x", databricksGroup) {
			item := fmt.Sprintf("%s- bitbucket_group: %s\n%s  databricks_group: %s\n", indent, bb, indent, db)
			prev := lines[last]
			if !strings.HasSuffix(prev, "\n") {
				prev += "\n"
			}
			out := strings.Join(lines[:last], "") + prev + item + strings.Join(lines[last+1:], "")
			cfg, err := Parse("config", []byte(out))
			if err != nil {
				continue
			}
			if n := len(cfg.Mappings); n > 0 && cfg.Mappings[n-1].BitbucketGroup == bitbucketGroup && cfg.Mappings[n-1].DatabricksGroup == databricksGroup {
				return []byte(out), nil
			}
		}
	}
	return nil, fmt.Errorf("map: could not add the mapping safely; add it by hand")
}
