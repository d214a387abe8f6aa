package emulator

import (
	"fmt"
	"slices"
	"strings"
)

// LargeConfig is a bitbricks config for the large organisation (or any
// organisation) served at host: every Bitbucket group whose Databricks twin
// (a group of the same name) exists is mapped to it, with pruning, and
// departures are acted on, as a scheduled sync of a large organisation
// would run. audit.file is left out for the caller to set.
func LargeConfig(o *Org, host string) []byte {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	host = strings.TrimSuffix(host, "/")
	db := map[string]bool{}
	for _, g := range o.DB.Groups {
		db[g.DisplayName] = true
	}
	var slugs []string
	for _, g := range o.BB.Groups {
		if db[g.Slug] {
			slugs = append(slugs, g.Slug)
		}
	}
	slices.Sort(slugs)
	var b strings.Builder
	fmt.Fprintf(&b, `# bitbricks configuration for the emulator's large organisation:
# %d Bitbucket groups mapped to their Databricks twins.
%sidentity:
  email_from: atlassian-admin
policy:
  token_max_age: 90d
  token_warn_age: 60d
  require_expiry: true
  revoke_departed: true
  max_changes: 100000
  protected: [admin@acme.com]
mappings:
`, len(slugs), endpointsYAML(o, host))
	for _, s := range slugs {
		fmt.Fprintf(&b, "  - bitbucket_group: %s\n    databricks_group: %s\n    prune: true\n", s, s)
	}
	return []byte(b.String())
}
