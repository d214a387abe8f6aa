package sync

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/config"
	bitbucket "github.com/ktrysmt/go-bitbucket"
)

// Env looks up an environment variable. Tests and `bitbricks demo` inject
// their own so the user's environment never leaks in; nil means the process
// environment.
type Env func(string) string

// MapEnv is an Env that reads only m.
func MapEnv(m map[string]string) Env { return func(k string) string { return m[k] } }

// get reads k with surrounding white space (a pasted newline) dropped, from
// the process environment or the injected one alike.
func (e Env) get(k string) string {
	if e == nil {
		return strings.TrimSpace(os.Getenv(k))
	}
	return strings.TrimSpace(e(k))
}

// DefaultBitbucketBaseURL is the Bitbucket Cloud /2.0 root.
const DefaultBitbucketBaseURL = "https://api.bitbucket.org/2.0"

// bitbucketTimeout bounds one Bitbucket or Atlassian HTTP exchange, retries
// included; go-bitbucket ignores contexts, so this is its only deadline.
const bitbucketTimeout = 30 * time.Second

// BitbucketSource reads the Bitbucket side. *Bitbucket implements it.
type BitbucketSource interface {
	// Groups returns every workspace group with its members.
	Groups(ctx context.Context) ([]*BitbucketGroup, error)
	// Members returns the workspace members.
	Members(ctx context.Context) ([]Account, error)
	// MembersByEmail tells, for each of emails (lower-cased), whether it is
	// a workspace member's; known is a member's email the answers must hold.
	MembersByEmail(ctx context.Context, emails []string, known string) (map[string]bool, error)
	// Membership asks about one account (account id or {uuid}) directly:
	// true for a member, false only on a clean 404, else an error.
	Membership(ctx context.Context, account string) (bool, error)
	// Variables returns the pipeline variables of a repository, of one of its
	// deployment environments (by name), or of the workspace when repository
	// is empty. Secured values are never returned.
	Variables(ctx context.Context, repository, environment string) ([]Variable, error)
}

// Variable is a Bitbucket pipeline variable; Value is empty when Secured.
type Variable struct {
	UUID    string
	Key     string
	Value   string
	Secured bool
}

// Bitbucket is the Bitbucket Cloud adapter: go-bitbucket for what it covers,
// raw HTTP for /1.0/groups and workspace variables.
type Bitbucket struct {
	workspace string
	v2, v1    string // the /2.0 and /1.0 roots, without trailing slash
	http      *http.Client
	bb        *bitbucket.Client
	auth      func(*http.Request)
	authCheck string // what to check when the credentials are refused
	person    bool   // the credentials are an Atlassian account's (email and API token)
}

// NewBitbucket builds the adapter from cfg and the credentials in env:
// BITBUCKET_USERNAME + BITBUCKET_API_TOKEN (Basic) or BITBUCKET_ACCESS_TOKEN
// (Bearer). The /2.0 root is BITBUCKET_API_BASE_URL, else
// cfg.Bitbucket.BaseURL, else Bitbucket Cloud's.
func NewBitbucket(cfg *config.Config, env Env) (*Bitbucket, error) {
	base := strings.TrimRight(firstNonEmpty(env.get("BITBUCKET_API_BASE_URL"), cfg.Bitbucket.BaseURL, DefaultBitbucketBaseURL), "/")
	if u, err := url.Parse(base); err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("bitbucket: base URL %q is not an absolute URL (check BITBUCKET_API_BASE_URL or bitbucket.base_url)", base)
	}
	b := &Bitbucket{
		workspace: cfg.Bitbucket.Workspace,
		v2:        base,
		v1:        strings.TrimSuffix(base, "/2.0") + "/1.0",
		http:      newHTTPClient(),
	}
	user, token, bearer := env.get("BITBUCKET_USERNAME"), env.get("BITBUCKET_API_TOKEN"), env.get("BITBUCKET_ACCESS_TOKEN")
	var err error
	switch {
	case user != "" && token != "":
		b.bb, err = bitbucket.NewAPITokenAuthWithBaseUrlStr(user, token, base)
		b.auth = func(r *http.Request) { r.SetBasicAuth(user, token) }
		b.authCheck = "BITBUCKET_USERNAME and BITBUCKET_API_TOKEN"
		b.person = true
	case bearer != "":
		b.bb, err = bitbucket.NewOAuthbearerTokenWithBaseUrlStr(bearer, base)
		b.auth = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+bearer) }
		b.authCheck = "BITBUCKET_ACCESS_TOKEN"
	default:
		return nil, errors.New("bitbucket: no credentials (set BITBUCKET_USERNAME and BITBUCKET_API_TOKEN, or BITBUCKET_ACCESS_TOKEN)")
	}
	if err != nil {
		return nil, fmt.Errorf("bitbucket: client for %s: %w", base, err)
	}
	b.bb.HttpClient = b.http
	b.bb.Pagelen = 100
	return b, nil
}

// BaseURL is the /2.0 root in use.
func (b *Bitbucket) BaseURL() string { return b.v2 }

// wrap names what failed, or turns a credential or connection failure
// (403 included) into the one-line SystemError that stops the run.
func (b *Bitbucket) wrap(what string, err error) error { return b.check(what, err, true) }

// check is wrap where a 403 may be a problem of one source only, such as
// one repository's variables, rather than of the whole run.
func (b *Bitbucket) check(what string, err error, forbiddenIsFatal bool) error {
	if err == nil {
		return nil
	}
	forbidden := httpStatus(err) == http.StatusForbidden
	check := b.authCheck
	if forbidden {
		check = "that " + b.authCheck + " belong to a workspace admin of " + b.workspace
	}
	if !forbidden || forbiddenIsFatal {
		if f := fatal(SystemBitbucket, b.v2, check, "BITBUCKET_API_BASE_URL and the network", err); f != nil {
			return f
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// v1Group is a /1.0 group with its embedded members.
type v1Group struct {
	Name    string `json:"name"`
	Slug    string `json:"slug"`
	Members []struct {
		DisplayName string `json:"display_name"`
		AccountID   string `json:"account_id"`
		UUID        string `json:"uuid"`
		Nickname    string `json:"nickname"`
	} `json:"members"`
}

// Groups reads every group and its members with ONE /1.0/groups call (the
// members are embedded), whatever the number of groups or users.
func (b *Bitbucket) Groups(ctx context.Context) ([]*BitbucketGroup, error) {
	var raw []v1Group
	u := b.v1 + "/groups/" + url.PathEscape(b.workspace)
	if err := getJSON(ctx, b.http, b.auth, u, &raw); err != nil {
		return nil, b.wrap("list Bitbucket groups", err)
	}
	out := make([]*BitbucketGroup, 0, len(raw))
	for _, g := range raw {
		bg := &BitbucketGroup{Slug: g.Slug, Name: g.Name, Known: true}
		for _, m := range g.Members {
			bg.Members = append(bg.Members, Account{AccountID: m.AccountID, UUID: m.UUID, Nickname: m.Nickname, DisplayName: m.DisplayName})
		}
		out = append(out, bg)
	}
	return out, nil
}

// Members reads the workspace members, every page. It is raw HTTP: the list
// decides who has left the workspace, and go-bitbucket's pager ends quietly
// on a page it cannot decode (a short list) and never ends on a next link
// that does not advance.
func (b *Bitbucket) Members(ctx context.Context) ([]Account, error) {
	first := b.v2 + "/workspaces/" + url.PathEscape(b.workspace) + "/members?pagelen=100"
	out, err := allPages(func(_ int, next string) ([]Account, string, error) {
		var page struct {
			Next   string `json:"next"`
			Values []struct {
				User struct {
					AccountID   string `json:"account_id"`
					UUID        string `json:"uuid"`
					Nickname    string `json:"nickname"`
					DisplayName string `json:"display_name"`
				} `json:"user"`
			} `json:"values"`
		}
		if err := getJSON(ctx, b.http, b.auth, cmp.Or(next, first), &page); err != nil {
			return nil, "", err
		}
		ms := make([]Account, 0, len(page.Values))
		for _, m := range page.Values {
			u := m.User
			ms = append(ms, Account{AccountID: u.AccountID, UUID: u.UUID, Nickname: u.Nickname, DisplayName: u.DisplayName})
		}
		return ms, page.Next, nil
	})
	if err != nil {
		return nil, b.wrap("list Bitbucket workspace members", err)
	}
	return out, nil
}

// Variables reads pipeline variables at the level the arguments name.
func (b *Bitbucket) Variables(ctx context.Context, repository, environment string) ([]Variable, error) {
	switch {
	case repository == "":
		vs, err := b.workspaceVariables(ctx)
		return vs, b.check("list workspace variables of "+b.workspace, err, false)
	case environment == "":
		vs, err := b.repositoryVariables(ctx, repository)
		return vs, b.check("list pipeline variables of "+repository, err, false)
	}
	vs, err := b.deploymentVariables(ctx, repository, environment)
	return vs, b.check(fmt.Sprintf("list deployment variables of %s environment %s", repository, environment), err, false)
}

func (b *Bitbucket) repositoryVariables(ctx context.Context, repo string) ([]Variable, error) {
	return allPages(func(page int, _ string) ([]Variable, string, error) {
		res, err := withContext(ctx, func() (*bitbucket.PipelineVariables, error) {
			return b.bb.Repositories.Repository.ListPipelineVariables(&bitbucket.RepositoryPipelineVariablesOptions{
				Owner: b.workspace, RepoSlug: repo, PageNum: page, Pagelen: 100})
		})
		if err != nil {
			return nil, "", err
		}
		vs := make([]Variable, 0, len(res.Variables))
		for _, v := range res.Variables {
			vs = append(vs, variable(v.Uuid, v.Key, v.Value, v.Secured))
		}
		return vs, res.Next, nil
	})
}

// environment finds a repository's deployment environment by name, ignoring
// case; nil, nil when it has none of that name.
func (b *Bitbucket) environment(ctx context.Context, repo, name string) (*bitbucket.Environment, error) {
	envs, err := b.environments(ctx, repo)
	if err != nil {
		return nil, err
	}
	for i := range envs {
		if strings.EqualFold(envs[i].Name, name) {
			return &envs[i], nil
		}
	}
	return nil, nil
}

// environments lists a repository's deployment environments, every page. It
// is raw HTTP: go-bitbucket's ListEnvironments reads the first page only, so
// an environment further down would look missing.
func (b *Bitbucket) environments(ctx context.Context, repo string) ([]bitbucket.Environment, error) {
	first := b.v2 + "/repositories/" + url.PathEscape(b.workspace) + "/" + url.PathEscape(repo) + "/environments?pagelen=100"
	return allPages(func(_ int, next string) ([]bitbucket.Environment, string, error) {
		var page struct {
			Next   string `json:"next"`
			Values []struct {
				UUID            string `json:"uuid"`
				Name            string `json:"name"`
				Rank            int    `json:"rank"`
				Type            string `json:"type"`
				EnvironmentType struct {
					Name string `json:"name"`
					Rank int    `json:"rank"`
					Type string `json:"type"`
				} `json:"environment_type"`
			} `json:"values"`
		}
		if err := getJSON(ctx, b.http, b.auth, cmp.Or(next, first), &page); err != nil {
			return nil, "", err
		}
		envs := make([]bitbucket.Environment, 0, len(page.Values))
		for _, v := range page.Values {
			et := v.EnvironmentType
			envs = append(envs, bitbucket.Environment{Uuid: v.UUID, Name: v.Name, Rank: v.Rank, Type: v.Type,
				EnvironmentType: bitbucket.EnvironmentType{Name: et.Name, Rank: et.Rank, Type: et.Type}})
		}
		return envs, page.Next, nil
	})
}

func (b *Bitbucket) deploymentVariables(ctx context.Context, repo, envName string) ([]Variable, error) {
	env, err := b.environment(ctx, repo, envName)
	if err != nil {
		return nil, err
	}
	if env == nil {
		return nil, fmt.Errorf("repository %s has no deployment environment %q", repo, envName)
	}
	return b.environmentVariables(ctx, repo, env)
}

// environmentVariables reads the variables of an environment already found,
// so that a caller holding one lists the environments only once.
func (b *Bitbucket) environmentVariables(ctx context.Context, repo string, env *bitbucket.Environment) ([]Variable, error) {
	return allPages(func(page int, _ string) ([]Variable, string, error) {
		res, err := withContext(ctx, func() (*bitbucket.DeploymentVariables, error) {
			return b.bb.Repositories.Repository.ListDeploymentVariables(&bitbucket.RepositoryDeploymentVariablesOptions{
				Owner: b.workspace, RepoSlug: repo, Environment: env, PageNum: page, Pagelen: 100})
		})
		if err != nil {
			return nil, "", err
		}
		vs := make([]Variable, 0, len(res.Variables))
		for _, v := range res.Variables {
			vs = append(vs, variable(v.Uuid, v.Key, v.Value, v.Secured))
		}
		return vs, res.Next, nil
	})
}

// workspaceVariables is raw HTTP: go-bitbucket has no workspace variables.
func (b *Bitbucket) workspaceVariables(ctx context.Context) ([]Variable, error) {
	first := b.v2 + "/workspaces/" + url.PathEscape(b.workspace) + "/pipelines-config/variables?pagelen=100"
	return allPages(func(_ int, next string) ([]Variable, string, error) {
		var page struct {
			Next   string `json:"next"`
			Values []struct {
				UUID    string `json:"uuid"`
				Key     string `json:"key"`
				Value   string `json:"value"`
				Secured bool   `json:"secured"`
			} `json:"values"`
		}
		if err := getJSON(ctx, b.http, b.auth, cmp.Or(next, first), &page); err != nil {
			return nil, "", err
		}
		vs := make([]Variable, 0, len(page.Values))
		for _, v := range page.Values {
			vs = append(vs, variable(v.UUID, v.Key, v.Value, v.Secured))
		}
		return vs, page.Next, nil
	})
}

// allPages reads a listing page by page until one comes without a next link
// or without items. read gets the page number (from 1) and the previous
// page's next link ("" for the first). A next link seen before is an error:
// a listing that does not move on would otherwise never end.
func allPages[T any](read func(page int, next string) (items []T, nextLink string, err error)) ([]T, error) {
	var out []T
	seen := map[string]bool{}
	next := ""
	for page := 1; ; page++ {
		items, link, err := read(page, next)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if link == "" || len(items) == 0 {
			return out, nil
		}
		if seen[link] {
			return nil, fmt.Errorf("page %d links back to an earlier page: the listing does not advance", page)
		}
		seen[link], next = true, link
	}
}

// variable drops the value of a secured variable, whatever the API returned.
func variable(uuid, key, value string, secured bool) Variable {
	if secured {
		value = ""
	}
	return Variable{UUID: uuid, Key: key, Value: value, Secured: secured}
}

// withContext runs a go-bitbucket call (which ignores contexts) so that the
// caller returns when ctx ends; the call itself ends by the client timeout.
// A panic in the library's decoding becomes an error.
func withContext[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- result{err: fmt.Errorf("unexpected response: %v", p)}
			}
		}()
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// ---- the small HTTP client shared by the Bitbucket and Atlassian adapters ----

// checkBody buffers a successful JSON body and rejects it when incomplete.
func checkBody(resp *http.Response) (*http.Response, error) {
	if resp.StatusCode >= 300 || !strings.Contains(resp.Header.Get("Content-Type"), "json") {
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", resp.Request.URL.Redacted(), err)
	}
	if len(bytes.TrimSpace(body)) > 0 && !json.Valid(body) {
		return nil, fmt.Errorf("read %s: %w (%d bytes)", resp.Request.URL.Redacted(), errIncompleteBody, len(body))
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// getJSON GETs u and decodes the JSON answer into v.
func getJSON(ctx context.Context, c *http.Client, auth func(*http.Request), u string, v any) error {
	return doJSON(ctx, c, auth, http.MethodGet, u, nil, v)
}

// doJSON sends body (JSON, if not nil) and decodes a 2xx answer into v; any
// other status is a *statusError.
func doJSON(ctx context.Context, c *http.Client, auth func(*http.Request), method, u string, body, v any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	auth(req)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return &statusError{StatusCode: resp.StatusCode, URL: req.URL.Redacted(), Body: string(msg)}
	}
	if v == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", req.URL.Redacted(), err)
	}
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
