package emulator

import (
	"fmt"
	"strings"
)

// Builders for the Bitbucket and Atlassian Admin side, for seeds and tests.
// They take Org.Mu themselves; callers must not hold it. Empty identifiers
// are generated (deterministically, from the org's counter).

func (o *Org) bracedUUID() string { return "{" + o.newUUID() + "}" }

// slugify lowercases s and turns every run of other characters into "-".
func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	return b.String()
}

// AddBBUser adds an Atlassian account. UUID and AccountID ("557058:...") are
// generated when empty; Nickname defaults to the email's local part,
// AccountStatus to "active", CreatedOn to now and, for workspace members,
// Permission to "member". Set InWorkspace for members of the workspace.
// A user with no Email is outside the Atlassian organisation's directory:
// the Admin API never returns it, so its email cannot be resolved.
func (o *Org) AddBBUser(u BBUser) *BBUser {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	if u.UUID == "" {
		u.UUID = o.bracedUUID()
	}
	if u.AccountID == "" {
		u.AccountID = "557058:" + strings.Trim(u.UUID, "{}")
	}
	if u.Nickname == "" {
		u.Nickname, _, _ = strings.Cut(u.Email, "@")
	}
	if u.AccountStatus == "" {
		u.AccountStatus = "active"
	}
	if u.CreatedOn.IsZero() {
		u.CreatedOn = o.Now()
	}
	if u.InWorkspace && u.Permission == "" {
		u.Permission = "member"
	}
	p := &u
	o.BB.Users = append(o.BB.Users, p)
	return p
}

// BBUserByAccountID finds a user by account id (or UUID); nil if none.
func (o *Org) BBUserByAccountID(id string) *BBUser {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	return o.bbUser(id)
}

// AddBBGroup adds a /1.0 workspace group; Slug defaults to the slugified Name.
// Members are account ids.
func (o *Org) AddBBGroup(g BBGroup) *BBGroup {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	if g.Slug == "" {
		g.Slug = slugify(g.Name)
	}
	if g.Name == "" {
		g.Name = g.Slug
	}
	p := &g
	o.BB.Groups = append(o.BB.Groups, p)
	return p
}

// AddRepo adds a repository. Slug defaults to the slugified Name (and Name to
// Slug); its variables and environments get UUIDs where they lack one.
func (o *Org) AddRepo(r BBRepo) *BBRepo {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	if r.UUID == "" {
		r.UUID = o.bracedUUID()
	}
	if r.Slug == "" {
		r.Slug = slugify(r.Name)
	}
	if r.Name == "" {
		r.Name = r.Slug
	}
	if r.CreatedOn.IsZero() {
		r.CreatedOn = o.Now()
	}
	for _, v := range r.Variables {
		o.fillVariable(v)
	}
	for _, e := range r.Environments {
		o.fillEnvironment(e)
	}
	p := &r
	o.BB.Repos = append(o.BB.Repos, p)
	return p
}

func (o *Org) fillVariable(v *BBVariable) {
	if v.UUID == "" {
		v.UUID = o.bracedUUID()
	}
}

func (o *Org) fillEnvironment(e *BBEnvironment) {
	if e.UUID == "" {
		e.UUID = o.bracedUUID()
	}
	if e.Type == "" {
		e.Type = "Test"
	}
	if e.Rank == 0 {
		e.Rank = envTypeRank(e.Type)
	}
	for _, v := range e.Variables {
		o.fillVariable(v)
	}
}

func (o *Org) mustRepo(slug string) *BBRepo {
	r := o.repo(slug)
	if r == nil {
		panic(fmt.Sprintf("emulator: no repository %q", slug))
	}
	return r
}

// AddEnvironment adds a deployment environment to the repository with that
// slug (it panics if there is none). Type defaults to "Test", Rank to the
// type's rank (Test 0, Staging 1, Production 2).
func (o *Org) AddEnvironment(repo string, e BBEnvironment) *BBEnvironment {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	r := o.mustRepo(repo)
	p := &e
	o.fillEnvironment(p)
	r.Environments = append(r.Environments, p)
	return p
}

// AddVariable adds a pipeline variable: a workspace variable when repo is
// empty, a repository variable when env is empty, else a deployment variable
// of the environment with that name or UUID. It panics if the repository or
// environment does not exist.
func (o *Org) AddVariable(repo, env string, v BBVariable) *BBVariable {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	p := &v
	o.fillVariable(p)
	switch {
	case repo == "":
		o.BB.Variables = append(o.BB.Variables, p)
	case env == "":
		r := o.mustRepo(repo)
		r.Variables = append(r.Variables, p)
	default:
		r := o.mustRepo(repo)
		for _, e := range r.Environments {
			if e.Name == env || sameUUID(e.UUID, env) {
				e.Variables = append(e.Variables, p)
				return p
			}
		}
		panic(fmt.Sprintf("emulator: no environment %q in repository %q", env, repo))
	}
	return p
}

// AddAdminGroup adds an organisation directory group (groups_source
// atlassian-admin); ID defaults to a UUID. Members are account ids. These are
// separate from the /1.0 BBGroups; a seed may mirror one into the other.
func (o *Org) AddAdminGroup(g AdminGroup) *AdminGroup {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	if g.ID == "" {
		g.ID = o.newUUID()
	}
	p := &g
	o.Admin.Groups = append(o.Admin.Groups, p)
	return p
}

// AddAdminAPIToken records a managed user's Atlassian API token (metadata
// only). ID defaults to a UUID, Status to "active", CreatedAt to now.
func (o *Org) AddAdminAPIToken(t AdminAPIToken) *AdminAPIToken {
	o.Mu.Lock()
	defer o.Mu.Unlock()
	if t.ID == "" {
		t.ID = o.newUUID()
	}
	if t.Status == "" {
		t.Status = "active"
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = o.Now()
	}
	p := &t
	o.Admin.Tokens = append(o.Admin.Tokens, p)
	return p
}
