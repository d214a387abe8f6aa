package sync

import (
	"context"
	"errors"
	"slices"
	"strings"
	gosync "sync"
)

// Bitbucket and the Atlassian directory are the same for every workspace of
// a run: readParts reads each workspace through one sharedBitbucket and one
// sharedAtlassian made for that run, which ask each question once and hand
// every workspace its own copy of the answer. A question that failed is
// asked again by the next workspace that needs it; nothing outlives the run.

// memo runs each keyed call once; later callers wait for the first's answer.
type memo[T any] struct {
	mu    gosync.Mutex
	calls map[string]*memoCall[T]
}

type memoCall[T any] struct {
	done chan struct{}
	v    T
	err  error
}

func (m *memo[T]) do(ctx context.Context, key string, fn func() (T, error)) (T, error) {
	m.mu.Lock()
	if m.calls == nil {
		m.calls = map[string]*memoCall[T]{}
	}
	if c, ok := m.calls[key]; ok {
		m.mu.Unlock()
		select {
		case <-c.done:
			// A read cancelled with the workspace that started it (one
			// that failed) is asked again for the others.
			if c.err != nil && ctx.Err() == nil && (errors.Is(c.err, context.Canceled) || errors.Is(c.err, context.DeadlineExceeded)) {
				return m.do(ctx, key, fn)
			}
			return c.v, c.err
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
	c := &memoCall[T]{done: make(chan struct{})}
	m.calls[key] = c
	m.mu.Unlock()
	c.v, c.err = fn()
	if c.err != nil {
		m.mu.Lock()
		delete(m.calls, key) // asked again by the next that needs it
		m.mu.Unlock()
	}
	close(c.done)
	return c.v, c.err
}

// sharedBitbucket is one run's *Bitbucket, shared by its workspaces (what
// it does not override is the adapter's own).
type sharedBitbucket struct {
	*Bitbucket
	member  memo[bool]
	groups  memo[[]*BitbucketGroup]
	members memo[[]Account]
	caller  memo[callerAnswer]
	vars    memo[[]Variable]
	envVars memo[envVariables]
	wsUUID  memo[string]
	repos   memo[[2]string]
	envUUID memo[string]

	presence *round[map[string]bool]
}

type callerAnswer struct {
	a      Account
	person bool
}

type envVariables struct {
	vs   []Variable
	uuid string
}

// shareBitbucket wraps src for one run when it is the Bitbucket adapter
// (other sources, such as tests' fakes, are returned as they are).
func shareBitbucket(src BitbucketSource, parts int) BitbucketSource {
	b, ok := src.(*Bitbucket)
	if !ok {
		return src
	}
	s := &sharedBitbucket{Bitbucket: b}
	s.presence = newRound(parts, func(ctx context.Context, emails []string, known string) (map[string]bool, error) {
		return b.MembersByEmail(ctx, emails, known)
	})
	return s
}

// settle says that workspace part of the run has finished reading.
func (s *sharedBitbucket) settle(ctx context.Context, part int) { s.presence.settle(ctx, part) }

func cloneGroups(gs []*BitbucketGroup) []*BitbucketGroup {
	out := make([]*BitbucketGroup, len(gs))
	for i, g := range gs {
		c := *g
		c.Members = slices.Clone(g.Members)
		out[i] = &c
	}
	return out
}

func (s *sharedBitbucket) Groups(ctx context.Context) ([]*BitbucketGroup, error) {
	gs, err := s.groups.do(ctx, "", func() ([]*BitbucketGroup, error) { return s.Bitbucket.Groups(ctx) })
	return cloneGroups(gs), err
}

func (s *sharedBitbucket) Members(ctx context.Context) ([]Account, error) {
	ms, err := s.members.do(ctx, "", func() ([]Account, error) { return s.Bitbucket.Members(ctx) })
	return slices.Clone(ms), err
}

func (s *sharedBitbucket) Caller(ctx context.Context) (Account, bool, error) {
	c, err := s.caller.do(ctx, "", func() (callerAnswer, error) {
		a, person, err := s.Bitbucket.Caller(ctx)
		return callerAnswer{a, person}, err
	})
	return c.a, c.person, err
}

// MembersByEmail asks Bitbucket once for every workspace of the run: the
// union of their questions, each workspace given the answers to its own.
func (s *sharedBitbucket) MembersByEmail(ctx context.Context, emails []string, known string) (map[string]bool, error) {
	all, ok, err := s.presence.put(ctx, lowerAll(emails), strings.ToLower(strings.TrimSpace(known)))
	if !ok {
		return s.Bitbucket.MembersByEmail(ctx, emails, known)
	}
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, e := range lowerAll(emails) {
		if v, found := all[e]; found {
			out[e] = v
		} else if e == s.presence.arg {
			out[e] = true // the round's known member, whom every answer had to hold
		}
	}
	return out, nil
}

func lowerAll(xs []string) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, strings.ToLower(strings.TrimSpace(x)))
	}
	return out
}

func (s *sharedBitbucket) Variables(ctx context.Context, repository, environment string) ([]Variable, error) {
	vs, err := s.vars.do(ctx, repository+"\x00"+environment, func() ([]Variable, error) {
		return s.Bitbucket.Variables(ctx, repository, environment)
	})
	return slices.Clone(vs), err
}

func (s *sharedBitbucket) EnvironmentVariables(ctx context.Context, repo, env string) ([]Variable, string, error) {
	ev, err := s.envVars.do(ctx, repo+"\x00"+env, func() (envVariables, error) {
		vs, uuid, err := s.Bitbucket.EnvironmentVariables(ctx, repo, env)
		return envVariables{vs, uuid}, err
	})
	return slices.Clone(ev.vs), ev.uuid, err
}

// Membership asks about each account once.
func (s *sharedBitbucket) Membership(ctx context.Context, account string) (bool, error) {
	return s.member.do(ctx, account, func() (bool, error) { return s.Bitbucket.Membership(ctx, account) })
}

func (s *sharedBitbucket) WorkspaceUUID(ctx context.Context) (string, error) {
	return s.wsUUID.do(ctx, "", func() (string, error) { return s.Bitbucket.WorkspaceUUID(ctx) })
}

func (s *sharedBitbucket) Repository(ctx context.Context, repo string) (string, string, error) {
	r, err := s.repos.do(ctx, repo, func() ([2]string, error) {
		uuid, main, err := s.Bitbucket.Repository(ctx, repo)
		return [2]string{uuid, main}, err
	})
	return r[0], r[1], err
}

func (s *sharedBitbucket) EnvironmentUUID(ctx context.Context, repo, env string) (string, error) {
	return s.envUUID.do(ctx, repo+"\x00"+env, func() (string, error) { return s.Bitbucket.EnvironmentUUID(ctx, repo, env) })
}

// sharedAtlassian is one run's Atlassian directory, shared by its workspaces.
type sharedAtlassian struct {
	AtlassianSource
	groups   memo[[]*BitbucketGroup]
	tokens   memo[[]Credential]
	accounts *round[map[string][]string]

	mu     gosync.Mutex // one email question at a time, each id asked once
	asked  map[string]bool
	emails map[string]string
}

func shareAtlassian(src AtlassianSource, parts int) AtlassianSource {
	if src == nil {
		return nil
	}
	return &sharedAtlassian{AtlassianSource: src, asked: map[string]bool{}, emails: map[string]string{},
		accounts: newRound(parts, func(ctx context.Context, emails []string, _ string) (map[string][]string, error) {
			return src.AccountsByEmail(ctx, emails)
		})}
}

// settle says that workspace part of the run has finished reading.
func (s *sharedAtlassian) settle(ctx context.Context, part int) { s.accounts.settle(ctx, part) }

// Emails asks the directory only about the accounts no workspace of the
// run has asked about yet.
func (s *sharedAtlassian) Emails(ctx context.Context, accountIDs []string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	var ask []string
	for _, id := range accountIDs {
		if !s.asked[id] {
			ask = append(ask, id)
		} else if e := s.emails[id]; e != "" {
			out[id] = e
		}
	}
	if len(ask) == 0 {
		return out, nil
	}
	got, err := s.AtlassianSource.Emails(ctx, ask)
	for id, e := range got {
		s.emails[id] = e
		out[id] = e
	}
	if err == nil {
		for _, id := range ask {
			s.asked[id] = true
		}
	}
	return out, err
}

func (s *sharedAtlassian) Groups(ctx context.Context, withMembers []string) ([]*BitbucketGroup, error) {
	key := slices.Clone(withMembers)
	slices.Sort(key)
	gs, err := s.groups.do(ctx, strings.Join(key, "\x00"), func() ([]*BitbucketGroup, error) { return s.AtlassianSource.Groups(ctx, withMembers) })
	return cloneGroups(gs), err
}

func (s *sharedAtlassian) APITokens(ctx context.Context) ([]Credential, error) {
	cs, err := s.tokens.do(ctx, "", func() ([]Credential, error) { return s.AtlassianSource.APITokens(ctx) })
	return slices.Clone(cs), err
}

// AccountsByEmail asks the directory once for every workspace of the run:
// the union of their questions, each workspace given its own answers.
func (s *sharedAtlassian) AccountsByEmail(ctx context.Context, emails []string) (map[string][]string, error) {
	all, ok, err := s.accounts.put(ctx, lowerAll(emails), "")
	if !ok {
		return s.AtlassianSource.AccountsByEmail(ctx, emails)
	}
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, e := range lowerAll(emails) {
		if v, found := all[e]; found {
			out[e] = slices.Clone(v)
		}
	}
	return out, nil
}

// partKey carries, in a run's context, which workspace of the run (by
// index) a read is for.
type partKey struct{}

// accountUsersKey carries, in a run's context, the run's one read of the
// Databricks account's users (a *memo[[]*User]): the account, and so its
// user list, is the same for every workspace of the run.
type accountUsersKey struct{}

// accountUserList is the account's users: read once for the run when ctx
// carries the run's memo, each workspace given its own copies.
func (r *reader) accountUserList(ctx context.Context) ([]*User, error) {
	read := func() ([]*User, error) {
		return r.src.Databricks.AccountUsers(r.pages(ctx, "Databricks account users", "pages"))
	}
	m, ok := ctx.Value(accountUsersKey{}).(*memo[[]*User])
	if !ok {
		return read()
	}
	us, err := m.do(ctx, "", read)
	out := make([]*User, len(us))
	for i, u := range us {
		c := *u
		out[i] = &c
	}
	return out, err
}

// round gathers one question of every workspace of a run into one: it is
// asked once each workspace has put its question or finished reading (so
// a question that only some workspaces ask waits for the others' reads).
// A workspace's second question, or one outside a run, is asked directly.
type round[V any] struct {
	mu      gosync.Mutex
	parts   int
	settled map[int]bool
	keys    []string
	seen    map[string]bool
	arg     string
	started bool
	done    chan struct{}
	answer  V
	err     error
	ask     func(ctx context.Context, keys []string, arg string) (V, error)
}

func newRound[V any](parts int, ask func(ctx context.Context, keys []string, arg string) (V, error)) *round[V] {
	return &round[V]{parts: parts, settled: map[int]bool{}, seen: map[string]bool{}, done: make(chan struct{}), ask: ask}
}

// put adds keys to the round and waits for its answer; ok is false when
// the question is not part of the round (ask it directly).
func (r *round[V]) put(ctx context.Context, keys []string, arg string) (v V, ok bool, err error) {
	part, inRun := ctx.Value(partKey{}).(int)
	r.mu.Lock()
	if !inRun || r.started || r.settled[part] {
		r.mu.Unlock()
		return v, false, nil
	}
	for _, k := range keys {
		if !r.seen[k] {
			r.seen[k] = true
			r.keys = append(r.keys, k)
		}
	}
	if r.arg == "" {
		r.arg = arg
	}
	r.settled[part] = true
	last := len(r.settled) == r.parts
	if last {
		r.started = true
	}
	r.mu.Unlock()
	if last {
		r.run(ctx)
	}
	select {
	case <-r.done:
		return r.answer, true, r.err
	case <-ctx.Done():
		return v, true, ctx.Err()
	}
}

// settle says that workspace part has finished reading: it asks nothing more.
func (r *round[V]) settle(ctx context.Context, part int) {
	r.mu.Lock()
	if r.settled[part] || r.started {
		r.mu.Unlock()
		return
	}
	r.settled[part] = true
	last := len(r.settled) == r.parts && len(r.keys) > 0
	if last {
		r.started = true
	}
	r.mu.Unlock()
	if last {
		r.run(ctx)
	}
}

func (r *round[V]) run(ctx context.Context) {
	r.answer, r.err = r.ask(ctx, r.keys, r.arg)
	close(r.done)
}
