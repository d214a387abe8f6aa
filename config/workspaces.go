package config

import (
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// Workspaces is databricks.workspaces: a list of workspaces of one account,
// or `all` (discover the account's workspaces).
type Workspaces struct {
	All  bool
	List []Workspace
}

// Workspace is one Databricks workspace of the account, by host or profile.
type Workspace struct {
	Name    string `yaml:"name"`
	Host    string `yaml:"host"`
	Profile string `yaml:"profile"`
	// WorkspaceID, when given, is the account's id of the workspace: its
	// host must answer as that workspace before anything is read or
	// written there (digits; the ?o= of its URLs).
	WorkspaceID string `yaml:"workspace_id"`
}

// Set reports whether databricks.workspaces is in the config.
func (w Workspaces) Set() bool { return w.All || len(w.List) > 0 }

// Names are the listed workspaces' names (none with `all`).
func (w Workspaces) Names() []string {
	out := make([]string, len(w.List))
	for i, ws := range w.List {
		out[i] = ws.Name
	}
	return out
}

// SingleWorkspaceName names the one workspace of a config without
// databricks.workspaces after its host (host[:port]), else its profile.
func SingleWorkspaceName(host, profile string) string {
	if host != "" {
		if u, err := url.Parse(host); err == nil && u.Host != "" {
			return u.Host
		}
		return strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://"), "/")
	}
	if profile != "" {
		return profile
	}
	return "workspace"
}

// ForWorkspace is c narrowed to one of its several workspaces: that
// workspace's host or profile, the mappings that apply to it and the
// pipelines in it. False when c lists no workspace called name.
func (c *Config) ForWorkspace(name string) (*Config, bool) {
	i := slices.IndexFunc(c.Databricks.Workspaces.List, func(w Workspace) bool { return w.Name == name })
	if i < 0 {
		return nil, false
	}
	w := c.Databricks.Workspaces.List[i]
	n := *c
	n.whole = c.Whole()
	n.Databricks.Host, n.Databricks.Profile, n.Databricks.Workspace = w.Host, w.Profile, name
	n.Mappings, n.Pipelines = nil, nil
	for _, m := range c.Mappings {
		if m.AppliesTo(name) {
			n.Mappings = append(n.Mappings, m)
		}
	}
	for _, b := range c.Pipelines {
		if b.Workspace == name {
			n.Pipelines = append(n.Pipelines, b)
		}
	}
	return &n, true
}

// Whole is the config c was narrowed from by ForWorkspace (every
// workspace's mappings and pipelines), or c itself. What the account shares
// by every workspace is decided over the whole config: an account group's
// membership by every mapping to it, a service principal's OAuth secrets by
// every binding of it.
func (c *Config) Whole() *Config {
	if c.whole != nil {
		return c.whole
	}
	return c
}

// NormalHost is a workspace host as one workspace is told from another:
// scheme and host in lower case, without a default port, a path or a
// trailing slash. A host that is no URL is returned trimmed.
func NormalHost(host string) string {
	u, err := url.Parse(strings.TrimSpace(host))
	if err != nil || u.Host == "" {
		return strings.TrimRight(strings.ToLower(strings.TrimSpace(host)), "/")
	}
	scheme, h := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	if port := u.Port(); port != "" && !(scheme == "https" && port == "443") && !(scheme == "http" && port == "80") {
		h += ":" + port
	}
	return scheme + "://" + h
}

// SameHost reports whether two workspace hosts are one (NormalHost).
func SameHost(a, b string) bool { return NormalHost(a) == NormalHost(b) }

// ErrorAt is an error at the position of path in the file c was read from
// (file:line:col, as a validation error), or, for a config not read from a
// file, the message alone.
func (c *Config) ErrorAt(path, format string, args ...any) error {
	if c.at == nil {
		return fmt.Errorf(format, args...)
	}
	d := &decoder{file: c.Path, at: c.at}
	return d.errAt(d.where(path), format, args...)
}

// Line is the line of path in the file c was read from; 0 when unknown.
func (c *Config) Line(path string) int {
	if c.at == nil {
		return 0
	}
	return (&decoder{at: c.at}).where(path).line
}

// AppliesTo reports whether the mapping applies to the named workspace (a
// mapping that names no workspaces applies to all).
func (m Mapping) AppliesTo(workspace string) bool {
	return len(m.Workspaces) == 0 || slices.Contains(m.Workspaces, workspace)
}

var (
	workspacesType  = reflect.TypeOf(Workspaces{})
	workspaceNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// decodeWorkspaces decodes `all` or a list of workspaces.
func (d *decoder) decodeWorkspaces(path string, n ast.Node, v reflect.Value) error {
	if isNull(n) {
		return nil
	}
	if s, ok := scalarText(n); ok {
		if s != "all" {
			return d.errAt(nodePos(n), "%s must be `all` or a list of {name, host or profile}, not %q", path, s)
		}
		v.Set(reflect.ValueOf(Workspaces{All: true}))
		return nil
	}
	var w Workspaces
	if err := d.decode(path, n, reflect.ValueOf(&w.List).Elem()); err != nil {
		return err
	}
	v.Set(reflect.ValueOf(w))
	return nil
}

// checkWorkspaces validates databricks.workspaces and the workspaces that
// mappings and pipelines name.
func (d *decoder) checkWorkspaces(c *Config) error {
	db := c.Databricks
	ws := db.Workspaces
	if !ws.Set() {
		for i, m := range c.Mappings {
			if len(m.Workspaces) > 0 {
				at := fmt.Sprintf("mappings[%d].workspaces", i)
				return d.errAt(d.where(at), "%s needs several workspaces: list them in databricks.workspaces", at)
			}
		}
		for i, b := range c.Pipelines {
			if b.Workspace != "" {
				at := fmt.Sprintf("pipelines[%d].workspace", i)
				return d.errAt(d.where(at), "%s needs several workspaces: list them in databricks.workspaces", at)
			}
		}
		return nil
	}
	if db.Host != "" || db.Profile != "" {
		at := "databricks.host"
		if db.Host == "" {
			at = "databricks.profile"
		}
		return d.errAt(d.where(at), "%s and databricks.workspaces are exclusive: move it into a workspace entry ({name: prod, %s: ...})", at, lastKey(at))
	}
	if ws.All && db.AccountID == "" && d.env("DATABRICKS_ACCOUNT_ID") == "" {
		return d.errAt(d.where("databricks.workspaces"), "databricks.workspaces: all discovers the account's workspaces: set databricks.account_id")
	}
	seen := map[string]int{}
	for i := range ws.List {
		w := &ws.List[i]
		path := fmt.Sprintf("databricks.workspaces[%d]", i)
		switch {
		case w.Name == "":
			return d.errAt(d.where(path), "%s has no name: add one (such as prod or dev)", path)
		case !workspaceNameRE.MatchString(w.Name):
			return d.errAt(d.where(path+".name"), "%s.name %q: use letters, digits, -, _ and .", path, w.Name)
		case w.Host == "" && w.Profile == "":
			return d.errAt(d.where(path), "%s (%s) needs a host or a profile", path, w.Name)
		case w.Host != "" && w.Profile != "":
			return d.errAt(d.where(path+".profile"), "%s (%s) has both a host and a profile: keep one", path, w.Name)
		}
		if j, dup := seen[w.Name]; dup {
			return d.errAt(d.where(path+".name"), "%s.name %q is already used by databricks.workspaces[%d]", path, w.Name, j)
		}
		for other, j := range seen {
			if strings.EqualFold(other, w.Name) {
				// Names equal but for case are one name to a person, and
				// one lock directory on a case-insensitive file system.
				return d.errAt(d.where(path+".name"), "%s.name %q differs only in case from databricks.workspaces[%d] (%q): use names that differ in letters", path, w.Name, j, other)
			}
		}
		seen[w.Name] = i
		if err := d.checkURL(path+".host", w.Host); err != nil {
			return err
		}
		// One workspace listed twice would be planned and written twice.
		for j, o := range ws.List[:i] {
			other := fmt.Sprintf("databricks.workspaces[%d]", j)
			switch {
			case w.Host != "" && o.Host != "" && SameHost(w.Host, o.Host):
				return d.errAt(d.where(path+".host"), "%s (%s) has the host of %s (%s, line %d): %s is one workspace; list it once",
					path, w.Name, other, o.Name, d.where(other).line, NormalHost(w.Host))
			case w.Profile != "" && w.Profile == o.Profile:
				return d.errAt(d.where(path+".profile"), "%s (%s) has the profile of %s (%s, line %d): profile %q is one workspace; list it once",
					path, w.Name, other, o.Name, d.where(other).line, w.Profile)
			}
		}
	}
	known := func(at, name string) error {
		if ws.All || name == "" {
			return nil
		}
		if _, ok := seen[name]; ok {
			return nil
		}
		hint := "known: " + strings.Join(ws.Names(), ", ")
		if s := suggest(name, ws.Names()); s != "" {
			hint = fmt.Sprintf("did you mean %q?", s)
		}
		return d.errAt(d.where(at), "%s: no workspace %q in databricks.workspaces (%s)", at, name, hint)
	}
	for i, m := range c.Mappings {
		for k, name := range m.Workspaces {
			if err := known(fmt.Sprintf("mappings[%d].workspaces[%d]", i, k), name); err != nil {
				return err
			}
		}
	}
	for i, b := range c.Pipelines {
		at := fmt.Sprintf("pipelines[%d].workspace", i)
		if b.Workspace == "" && (ws.All || len(ws.List) > 1) {
			return d.errAt(d.where(fmt.Sprintf("pipelines[%d]", i)), "pipelines[%d] (%s) has no workspace: with several workspaces, name the one its service principal's credential is for", i, b.Name)
		}
		if err := known(at, b.Workspace); err != nil {
			return err
		}
	}
	return nil
}

// overlaps reports whether two mappings' workspace lists share a workspace
// (an empty list is every workspace).
func overlaps(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
