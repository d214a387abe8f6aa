package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Defaults, as documented in DESIGN.md.
const (
	DefaultTokenMaxAge  = Duration(90 * day)
	DefaultTokenWarnAge = Duration(60 * day)
	DefaultMaxChanges   = 25
	DefaultRotateEvery  = Duration(30 * day)
	DefaultLifetime     = Duration(45 * day)
	DefaultAuditFile    = "~/.local/state/bitbricks/audit.jsonl"
	DefaultDirectoryID  = "-"
)

var variableNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// finish applies defaults, resolves file names and validates c. The first problem found,
// in the order of the file's sections, is returned.
func (d *decoder) finish(c *Config) error {
	for _, check := range []func(*Config) error{
		d.checkBitbucket,
		d.checkAtlassianAdmin,
		d.checkDatabricks,
		d.checkIdentity,
		d.checkMappings,
		d.checkPolicy,
		d.checkPipelines,
		d.checkWorkspaces,
		d.checkWorkspaceIDs,
		d.checkAudit,
	} {
		if err := check(c); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) env(name string) string {
	v, _ := d.lookupEnv(name)
	return v
}

func (d *decoder) checkBitbucket(c *Config) error {
	b := &c.Bitbucket
	if b.Workspace == "" {
		return d.errAt(d.where("bitbucket.workspace"), "bitbucket.workspace is required: set it to your Bitbucket workspace slug (bitbucket: {workspace: acme})")
	}
	if b.GroupsSource == "" {
		b.GroupsSource = GroupsSourceWorkspace
	}
	switch b.GroupsSource {
	case GroupsSourceWorkspace:
	case GroupsSourceAtlassianAdmin:
		if c.AtlassianAdmin == nil || c.AtlassianAdmin.OrgID == "" {
			return d.errAt(d.where("bitbucket.groups_source"), "bitbucket.groups_source is atlassian-admin but atlassian_admin.org_id is not set: add atlassian_admin: {org_id: ...} or use groups_source: workspace")
		}
	default:
		return d.errAt(d.where("bitbucket.groups_source"), "bitbucket.groups_source must be %q or %q, not %q",
			GroupsSourceWorkspace, GroupsSourceAtlassianAdmin, b.GroupsSource)
	}
	return d.checkURL("bitbucket.base_url", b.BaseURL)
}

func (d *decoder) checkAtlassianAdmin(c *Config) error {
	a := c.AtlassianAdmin
	if a == nil {
		return nil
	}
	if a.DirectoryID == "" {
		a.DirectoryID = DefaultDirectoryID
	}
	return d.checkURL("atlassian_admin.base_url", a.BaseURL)
}

func (d *decoder) checkURL(path, s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return d.errAt(d.where(path), "%s must be an http(s) URL such as https://api.example.com, not %q", path, s)
	}
	return nil
}

func (d *decoder) checkDatabricks(c *Config) error {
	db := c.Databricks
	if d.has("databricks.rate_limit") && (db.RateLimit < 1 || db.RateLimit > MaxRateLimit) {
		return d.errAt(d.where("databricks.rate_limit"), "databricks.rate_limit must be a whole number of requests per second from 1 to %d, not %d; leave it out for the Databricks SDK's default (%d)",
			MaxRateLimit, db.RateLimit, DefaultRateLimit)
	}
	if db.Workspaces.Set() {
		return d.checkURL("databricks.account_host", db.AccountHost)
	}
	if db.Profile == "" && db.Host == "" && d.env("DATABRICKS_HOST") == "" && d.env("DATABRICKS_CONFIG_PROFILE") == "" {
		return d.errAt(d.where("databricks.profile"), "databricks needs a profile or a host: set databricks.profile (a ~/.databrickscfg profile) or databricks.host, or export DATABRICKS_HOST")
	}
	return d.checkURL("databricks.account_host", db.AccountHost)
}

func (d *decoder) checkIdentity(c *Config) error {
	id := &c.Identity
	if id.EmailFrom == "" {
		id.EmailFrom = EmailFromMap
		if c.AtlassianAdmin != nil {
			id.EmailFrom = EmailFromAtlassianAdmin
		}
	}
	switch id.EmailFrom {
	case EmailFromMap:
	case EmailFromAtlassianAdmin:
		if c.AtlassianAdmin == nil || c.AtlassianAdmin.OrgID == "" {
			p := d.where("identity.email_from")
			if !d.has("identity.email_from") {
				p = d.where("atlassian_admin.org_id")
			}
			return d.errAt(p, "identity.email_from is atlassian-admin but atlassian_admin.org_id is not set: add org_id under atlassian_admin, or set identity.email_from: map")
		}
	default:
		return d.errAt(d.where("identity.email_from"), "identity.email_from must be %q or %q, not %q",
			EmailFromAtlassianAdmin, EmailFromMap, id.EmailFrom)
	}
	if id.MapFile != "" {
		f, err := d.localPath(c.Path, "identity.map_file", id.MapFile)
		if err != nil {
			return err
		}
		id.MapFile = f
		if d.checkFiles {
			if err := checkReadable(f, "identity map"); err != nil {
				return d.errAt(d.where("identity.map_file"), "identity.map_file: %v; create it, or fix identity.map_file", err)
			}
		}
	}
	return nil
}

func (d *decoder) checkMappings(c *Config) error {
	entitlements := AllowedEntitlements()
	allowed := map[string]bool{}
	for _, e := range entitlements {
		allowed[e] = true
	}
	seen := map[[2]string]int{}
	for i := range c.Mappings {
		m := &c.Mappings[i]
		path := fmt.Sprintf("mappings[%d]", i)
		m.Line = d.where(path).line
		if m.BitbucketGroup == "" {
			return d.errAt(d.where(path+".bitbucket_group"), "%s has no bitbucket_group: add the Bitbucket group to sync from", path)
		}
		if m.DatabricksGroup == "" {
			return d.errAt(d.where(path+".databricks_group"), "%s has no databricks_group: add the Databricks group to sync %s into", path, m.BitbucketGroup)
		}
		if _, written := d.at[path+".workspaces"]; written && len(m.Workspaces) == 0 {
			// An empty list reads as "no workspace" to most people, yet a
			// mapping without workspaces acts in every one (prune included).
			return d.errAt(d.where(path+".workspaces"), "%s.workspaces is empty: omit workspaces: for every workspace, or name at least one", path)
		}
		pair := [2]string{strings.ToLower(m.BitbucketGroup), strings.ToLower(m.DatabricksGroup)}
		if j, dup := seen[pair]; dup && overlaps(m.Workspaces, c.Mappings[j].Workspaces) {
			return d.errAt(d.where(path), "%s duplicates mappings[%d] (%s -> %s, line %d): remove one of them",
				path, j, m.BitbucketGroup, m.DatabricksGroup, c.Mappings[j].Line)
		}
		seen[pair] = i
		for k, e := range m.Entitlements {
			if allowed[e] {
				continue
			}
			epath := fmt.Sprintf("%s.entitlements[%d]", path, k)
			hint := "allowed: " + strings.Join(entitlements, ", ")
			if s := suggest(e, entitlements); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			return d.errAt(d.where(epath), "unknown entitlement %q in %s.entitlements: %s", e, path, hint)
		}
	}
	return nil
}

func (d *decoder) checkPolicy(c *Config) error {
	p := &c.Policy
	if !d.has("policy.token_max_age") {
		p.TokenMaxAge = DefaultTokenMaxAge
	}
	if !d.has("policy.token_warn_age") {
		p.TokenWarnAge = DefaultTokenWarnAge
		if p.TokenWarnAge >= p.TokenMaxAge {
			// A short max age with no warn age: warn at two thirds of it.
			p.TokenWarnAge = Duration((p.TokenMaxAge.Std() * 2 / 3).Truncate(time.Minute))
		}
	}
	if p.TokenWarnAge >= p.TokenMaxAge {
		at := "policy.token_warn_age"
		if !d.has(at) {
			at = "policy.token_max_age"
		}
		return d.errAt(d.where(at), "policy.token_warn_age (%s) must be shorter than policy.token_max_age (%s)", p.TokenWarnAge, p.TokenMaxAge)
	}
	if !d.has("policy.max_changes") {
		p.MaxChanges = DefaultMaxChanges
	}
	if p.MaxChanges < 0 {
		return d.errAt(d.where("policy.max_changes"), "policy.max_changes must be 0 or more, not %d", p.MaxChanges)
	}
	for i, name := range p.Protected {
		if strings.TrimSpace(name) == "" {
			return d.errAt(d.where(fmt.Sprintf("policy.protected[%d]", i)), "policy.protected[%d] is empty: write an email, userName, service principal name or application id, or remove the entry", i)
		}
	}
	return nil
}

func (d *decoder) checkPipelines(c *Config) error {
	names := map[string]int{}
	for i := range c.Pipelines {
		b := &c.Pipelines[i]
		path := fmt.Sprintf("pipelines[%d]", i)
		for _, req := range []struct{ key, value, what string }{
			{"name", b.Name, "a unique name for this binding"},
			{"repository", b.Repository, "the Bitbucket repository slug"},
			{"variable", b.Variable, "the secured pipeline variable to write, e.g. DATABRICKS_TOKEN"},
			{"service_principal", b.ServicePrincipal, "the Databricks service principal whose credential is rotated"},
		} {
			if req.value == "" {
				return d.errAt(d.where(path+"."+req.key), "%s has no %s: add %s", path, req.key, req.what)
			}
		}
		if strings.ContainsAny(b.Name, ": \t") {
			// The name is part of the marker in the comments of the credentials
			// made for the binding, "bitbricks:NAME:TIME"; with a colon in it,
			// one binding's marker could be read as another's (and its
			// credentials revoked by the other's rotation).
			return d.errAt(d.where(path+".name"), "%s.name %q may not contain a colon or white space: use letters, digits, - or _", path, b.Name)
		}
		if j, dup := names[b.Name]; dup {
			return d.errAt(d.where(path+".name"), "%s.name %q is already used by pipelines[%d] (line %d): binding names must be unique",
				path, b.Name, j, d.where(fmt.Sprintf("pipelines[%d]", j)).line)
		}
		names[b.Name] = i
		if !variableNameRE.MatchString(b.Variable) {
			return d.errAt(d.where(path+".variable"), "%s.variable %q is not a valid variable name: use letters, digits and _, not starting with a digit", path, b.Variable)
		}
		if err := d.checkVariableShared(c, i); err != nil {
			return err
		}
		if b.Credential == "" {
			b.Credential = CredentialPAT
		}
		switch b.Credential {
		case CredentialPAT:
		case CredentialOAuthSecret:
			if c.Databricks.AccountID == "" && d.env("DATABRICKS_ACCOUNT_ID") == "" {
				return d.errAt(d.where(path+".credential"), "%s.credential oauth-secret needs the Databricks account: set databricks.account_id", path)
			}
		default:
			return d.errAt(d.where(path+".credential"), "%s.credential must be %q or %q, not %q", path, CredentialPAT, CredentialOAuthSecret, b.Credential)
		}
		if !d.has(path + ".rotate_every") {
			b.RotateEvery = DefaultRotateEvery
		}
		if !d.has(path + ".lifetime") {
			b.Lifetime = DefaultLifetime
		}
		if b.Lifetime < b.RotateEvery {
			at := path + ".lifetime"
			if !d.has(at) {
				at = path + ".rotate_every"
			}
			return d.errAt(d.where(at), "%s.lifetime (%s) is shorter than rotate_every (%s): a rotated credential would expire before the next rotation; make lifetime at least %s",
				path, b.Lifetime, b.RotateEvery, b.RotateEvery)
		}
	}
	return nil
}

func (d *decoder) checkAudit(c *Config) error {
	if c.Audit.File == "" {
		c.Audit.File = DefaultAuditFile
	}
	f, err := d.localPath(c.Path, "audit.file", c.Audit.File)
	if err != nil {
		return err
	}
	c.Audit.File = f
	return nil
}

// localPath expands a leading ~ to the home directory and makes a relative name relative
// to the config file's directory, so the config means the same from any working directory.
func (d *decoder) localPath(configPath, path, name string) (string, error) {
	if name == "~" || strings.HasPrefix(name, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", d.errAt(d.where(path), "%s: cannot expand ~ (%v): write an absolute path", path, err)
		}
		return filepath.Join(home, name[1:]), nil
	}
	if filepath.IsAbs(name) {
		return name, nil
	}
	return filepath.Join(filepath.Dir(configPath), name), nil
}

// checkVariableShared refuses pipelines[i] when an earlier binding writes
// one of the same pipeline variables: the same repository and deployment
// environment (or both none), and the same variable or its _ID record. Each
// rotation of one would overwrite the credential the other's pipeline runs
// on (in another workspace, a credential that does not even work there),
// and each binding would read the other's recorded id as its own.
func (d *decoder) checkVariableShared(c *Config, i int) error {
	b := c.Pipelines[i]
	path := fmt.Sprintf("pipelines[%d]", i)
	for j, o := range c.Pipelines[:i] {
		if !strings.EqualFold(o.Repository, b.Repository) || !strings.EqualFold(o.Environment, b.Environment) {
			continue
		}
		var clash string
		switch {
		case o.Variable == b.Variable:
			clash = "the same variable " + b.Variable
		case o.Variable+"_ID" == b.Variable:
			clash = b.Variable + ", where " + o.Name + " records its credential's id"
		case b.Variable+"_ID" == o.Variable:
			clash = o.Variable + ", where this binding would record its credential's id"
		default:
			continue
		}
		scope := "repository " + b.Repository
		if b.Environment != "" {
			scope += ", deployment environment " + b.Environment
		}
		self, other := b.Name, fmt.Sprintf("%s, line %d", o.Name, d.where(fmt.Sprintf("pipelines[%d]", j)).line)
		if o.Workspace != b.Workspace {
			self, other = self+", workspace "+b.Workspace, other+", workspace "+o.Workspace
		}
		return d.errAt(d.where(path+".variable"), "%s (%s) writes %s of %s, as pipelines[%d] (%s) does: each rotation of one would overwrite the credential the other's pipeline runs on; give each binding its own variable or deployment environment",
			path, self, clash, scope, j, other)
	}
	return nil
}
