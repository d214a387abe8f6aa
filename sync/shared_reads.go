package sync

import (
	"context"
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

// sharedBitbucket is one run's *Bitbucket, shared by its workspaces.
type sharedBitbucket struct {
	b       *Bitbucket
	groups  memo[[]*BitbucketGroup]
	members memo[[]Account]
	caller  memo[callerAnswer]
	vars    memo[[]Variable]
	envVars memo[envVariables]
	wsUUID  memo[string]
	repos   memo[[2]string]
	envUUID memo[string]

	mu       gosync.Mutex // one presence question at a time, each email asked once
	presence map[string]bool
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
func shareBitbucket(src BitbucketSource) BitbucketSource {
	b, ok := src.(*Bitbucket)
	if !ok {
		return src
	}
	return &sharedBitbucket{b: b, presence: map[string]bool{}}
}

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
	gs, err := s.groups.do(ctx, "", func() ([]*BitbucketGroup, error) { return s.b.Groups(ctx) })
	return cloneGroups(gs), err
}

func (s *sharedBitbucket) Members(ctx context.Context) ([]Account, error) {
	ms, err := s.members.do(ctx, "", func() ([]Account, error) { return s.b.Members(ctx) })
	return slices.Clone(ms), err
}

func (s *sharedBitbucket) Caller(ctx context.Context) (Account, bool, error) {
	c, err := s.caller.do(ctx, "", func() (callerAnswer, error) {
		a, person, err := s.b.Caller(ctx)
		return callerAnswer{a, person}, err
	})
	return c.a, c.person, err
}

// MembersByEmail asks Bitbucket only about the emails no workspace of the
// run has asked about yet.
func (s *sharedBitbucket) MembersByEmail(ctx context.Context, emails []string, known string) (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	var ask []string
	for _, e := range emails {
		k := strings.ToLower(strings.TrimSpace(e))
		if v, ok := s.presence[k]; ok {
			out[k] = v
		} else {
			ask = append(ask, e)
		}
	}
	if len(ask) == 0 && len(emails) > 0 {
		return out, nil
	}
	got, err := s.b.MembersByEmail(ctx, ask, known)
	if err != nil {
		return nil, err
	}
	for k, v := range got {
		s.presence[k] = v
		out[k] = v
	}
	return out, nil
}

func (s *sharedBitbucket) Variables(ctx context.Context, repository, environment string) ([]Variable, error) {
	vs, err := s.vars.do(ctx, repository+"\x00"+environment, func() ([]Variable, error) {
		return s.b.Variables(ctx, repository, environment)
	})
	return slices.Clone(vs), err
}

func (s *sharedBitbucket) EnvironmentVariables(ctx context.Context, repo, env string) ([]Variable, string, error) {
	ev, err := s.envVars.do(ctx, repo+"\x00"+env, func() (envVariables, error) {
		vs, uuid, err := s.b.EnvironmentVariables(ctx, repo, env)
		return envVariables{vs, uuid}, err
	})
	return slices.Clone(ev.vs), ev.uuid, err
}

func (s *sharedBitbucket) Issuer() string { return s.b.Issuer() }

func (s *sharedBitbucket) WorkspaceUUID(ctx context.Context) (string, error) {
	return s.wsUUID.do(ctx, "", func() (string, error) { return s.b.WorkspaceUUID(ctx) })
}

func (s *sharedBitbucket) Repository(ctx context.Context, repo string) (string, string, error) {
	r, err := s.repos.do(ctx, repo, func() ([2]string, error) {
		uuid, main, err := s.b.Repository(ctx, repo)
		return [2]string{uuid, main}, err
	})
	return r[0], r[1], err
}

func (s *sharedBitbucket) EnvironmentUUID(ctx context.Context, repo, env string) (string, error) {
	return s.envUUID.do(ctx, repo+"\x00"+env, func() (string, error) { return s.b.EnvironmentUUID(ctx, repo, env) })
}

// sharedAtlassian is one run's Atlassian directory, shared by its workspaces.
type sharedAtlassian struct {
	a      AtlassianSource
	groups memo[[]*BitbucketGroup]
	tokens memo[[]Credential]

	mu     gosync.Mutex // one email question at a time, each id asked once
	asked  map[string]bool
	emails map[string]string
}

func shareAtlassian(src AtlassianSource) AtlassianSource {
	if src == nil {
		return nil
	}
	return &sharedAtlassian{a: src, asked: map[string]bool{}, emails: map[string]string{}}
}

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
	got, err := s.a.Emails(ctx, ask)
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
	gs, err := s.groups.do(ctx, strings.Join(key, "\x00"), func() ([]*BitbucketGroup, error) { return s.a.Groups(ctx, withMembers) })
	return cloneGroups(gs), err
}

func (s *sharedAtlassian) APITokens(ctx context.Context) ([]Credential, error) {
	cs, err := s.tokens.do(ctx, "", func() ([]Credential, error) { return s.a.APITokens(ctx) })
	return slices.Clone(cs), err
}
