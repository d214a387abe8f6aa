package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/bitbricks/bitbricks/config"
)

// DefaultAtlassianBaseURL is the Atlassian Admin API root.
const DefaultAtlassianBaseURL = "https://api.atlassian.com"

// atlassianBatch is how many account ids one users/search request asks for.
const atlassianBatch = 100

// AtlassianSource reads the Atlassian organisation through the Admin API.
// *Atlassian implements it.
type AtlassianSource interface {
	// Emails returns the email of each account id the directory knows,
	// in batches (never a request per user).
	Emails(ctx context.Context, accountIDs []string) (map[string]string, error)
	// Groups returns the directory groups; members are read for the groups
	// named (by name or id) in withMembers, the others are returned unknown.
	Groups(ctx context.Context, withMembers []string) ([]*BitbucketGroup, error)
	// APITokens returns the managed users' active Atlassian API tokens (metadata only).
	APITokens(ctx context.Context) ([]Credential, error)
	// AccountsByEmail returns, by lower-case email, the account ids the
	// directory holds for each of emails (none: absent from the map).
	AccountsByEmail(ctx context.Context, emails []string) (map[string][]string, error)
}

// Atlassian is the Atlassian Admin API adapter (raw HTTP, Bearer org API key).
type Atlassian struct {
	base, org, dir string
	key            string
	http           *http.Client

	mu     gosync.Mutex
	emails map[string]string // account id -> email, seen in any users/search answer
}

// NewAtlassian builds the adapter for cfg.AtlassianAdmin (nil when it is not
// configured). The key is ATLASSIAN_ADMIN_API_KEY; the root is
// ATLASSIAN_API_BASE_URL, else atlassian_admin.base_url, else Atlassian's.
func NewAtlassian(cfg *config.Config, env Env) *Atlassian {
	a := cfg.AtlassianAdmin
	if a == nil {
		return nil
	}
	return &Atlassian{
		base:   strings.TrimRight(firstNonEmpty(env.get("ATLASSIAN_API_BASE_URL"), a.BaseURL, DefaultAtlassianBaseURL), "/"),
		org:    a.OrgID,
		dir:    firstNonEmpty(a.DirectoryID, "-"),
		key:    env.get("ATLASSIAN_ADMIN_API_KEY"),
		http:   newHTTPClient(),
		emails: map[string]string{},
	}
}

func (a *Atlassian) auth(r *http.Request) { r.Header.Set("Authorization", "Bearer "+a.key) }

func (a *Atlassian) check(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case isAuth(err):
		return fmt.Errorf("%s: the Admin API refused the key at %s (check ATLASSIAN_ADMIN_API_KEY and atlassian_admin.org_id): %w", what, a.base, err)
	case isUnreachable(err):
		return fmt.Errorf("%s: cannot reach %s (check ATLASSIAN_API_BASE_URL and the network): %w", what, a.base, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

var errNoAdminKey = errors.New("ATLASSIAN_ADMIN_API_KEY is not set")

func (a *Atlassian) directory() string {
	return a.base + "/admin/v2/orgs/" + url.PathEscape(a.org) + "/directories/" + url.PathEscape(a.dir)
}

type adminUser struct {
	AccountID string `json:"accountId"`
	Name      string `json:"name"`
	Nickname  string `json:"nickname"`
	Email     string `json:"email"`
}

type adminLinks struct {
	Next string `json:"next"`
}

// searchUsers runs users/search with body (accountIds or groupIds) through
// every cursor page, remembering the emails it sees.
func (a *Atlassian) searchUsers(ctx context.Context, body map[string]any) ([]adminUser, error) {
	if a.key == "" {
		return nil, errNoAdminKey
	}
	body["limit"] = atlassianBatch
	return allPages(func(_ int, cursor string) ([]adminUser, string, error) {
		if cursor != "" {
			body["cursor"] = cursor
		}
		var page struct {
			Data  []adminUser `json:"data"`
			Links adminLinks  `json:"links"`
		}
		if err := doJSON(ctx, a.http, a.auth, http.MethodPost, a.directory()+"/users/search", body, &page); err != nil {
			return nil, "", err
		}
		a.mu.Lock()
		for _, u := range page.Data {
			if u.Email != "" {
				a.emails[u.AccountID] = u.Email
			}
		}
		a.mu.Unlock()
		return page.Data, nextCursor(page.Links.Next), nil
	})
}

// nextCursor accepts links.next as a bare cursor or as a URL carrying one.
func nextCursor(next string) string {
	if strings.HasPrefix(next, "http://") || strings.HasPrefix(next, "https://") {
		if u, err := url.Parse(next); err == nil {
			return u.Query().Get("cursor")
		}
	}
	return next
}

// atlassianConcurrency is how many users/search batches run at once.
const atlassianConcurrency = 4

// Emails resolves account ids in batches of 100, a few batches at a time;
// ids already seen in a group search cost nothing. Progress, if the context
// carries one, counts emails resolved of those asked for.
func (a *Atlassian) Emails(ctx context.Context, accountIDs []string) (map[string]string, error) {
	out := map[string]string{}
	var todo []string
	queued := map[string]bool{}
	a.mu.Lock()
	for _, id := range accountIDs {
		if e, ok := a.emails[id]; ok {
			out[id] = e
		} else if id != "" && !queued[id] {
			queued[id] = true
			todo = append(todo, id)
		}
	}
	a.mu.Unlock()
	progress := pageProgress(ctx)
	total, done := len(todo), 0
	progress(done, total)
	var (
		mu    gosync.Mutex
		first error
	)
	g := newGroup(ctx, atlassianConcurrency)
	for batch := range slices.Chunk(todo, atlassianBatch) {
		g.Go(func(ctx context.Context) error {
			users, err := a.searchUsers(ctx, map[string]any{"accountIds": batch})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				first = cmp.Or(first, err)
				return err
			}
			for _, u := range users {
				if u.Email != "" {
					out[u.AccountID] = u.Email
				}
			}
			done += len(batch)
			progress(done, total)
			return nil
		})
	}
	g.Wait()
	if first != nil {
		return out, a.check("look up emails in the Atlassian directory", first)
	}
	return out, ctx.Err()
}

// AccountsByEmail looks emails up in the directory (users/search by emails,
// 100 a request), each address asked as given and in lower case, since
// whether the search ignores case is not documented. The answer is keyed by
// lower-case email; an account whose email was not asked for is ignored.
func (a *Atlassian) AccountsByEmail(ctx context.Context, emails []string) (map[string][]string, error) {
	var ask []string
	seen := map[string]bool{}
	for _, e := range emails {
		e = strings.TrimSpace(e)
		for _, v := range []string{e, strings.ToLower(e)} {
			if v != "" && !seen[v] {
				seen[v] = true
				ask = append(ask, v)
			}
		}
	}
	out := map[string][]string{}
	for batch := range slices.Chunk(ask, atlassianBatch) {
		users, err := a.searchUsers(ctx, map[string]any{"emails": batch})
		if err != nil {
			return nil, a.check("look up accounts by email in the Atlassian directory", err)
		}
		for _, u := range users {
			k := strings.ToLower(strings.TrimSpace(u.Email))
			if k != "" && seen[k] && !slices.Contains(out[k], u.AccountID) {
				out[k] = append(out[k], u.AccountID)
			}
		}
	}
	return out, nil
}

// Groups lists the directory groups, then the members of the wanted ones
// (one users/search by groupIds per wanted group).
func (a *Atlassian) Groups(ctx context.Context, withMembers []string) ([]*BitbucketGroup, error) {
	if a.key == "" {
		return nil, a.check("list Atlassian directory groups", errNoAdminKey)
	}
	type adminGroup struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	body := map[string]any{"limit": atlassianBatch}
	groups, err := allPages(func(_ int, cursor string) ([]adminGroup, string, error) {
		if cursor != "" {
			body["cursor"] = cursor
		}
		var page struct {
			Data  []adminGroup `json:"data"`
			Links adminLinks   `json:"links"`
		}
		err := doJSON(ctx, a.http, a.auth, http.MethodPost, a.directory()+"/groups/search", body, &page)
		return page.Data, nextCursor(page.Links.Next), err
	})
	if err != nil {
		return nil, a.check("list Atlassian directory groups", err)
	}
	out := make([]*BitbucketGroup, 0, len(groups))
	for _, g := range groups {
		bg := &BitbucketGroup{Slug: g.ID, Name: g.Name}
		out = append(out, bg)
		if !slices.Contains(withMembers, g.Name) && !slices.Contains(withMembers, g.ID) {
			bg.Problem = "members not read: the group is not mapped"
			continue
		}
		users, err := a.searchUsers(ctx, map[string]any{"groupIds": []string{g.ID}})
		if err != nil {
			bg.Problem = oneLine(a.check("list members of "+g.Name, err))
			continue
		}
		bg.Known = true
		for _, u := range users {
			bg.Members = append(bg.Members, Account{AccountID: u.AccountID, Nickname: u.Nickname, DisplayName: u.Name})
		}
	}
	return out, nil
}

// APITokens lists the org's managed users' API tokens, every page.
func (a *Atlassian) APITokens(ctx context.Context) ([]Credential, error) {
	const what = "list Atlassian API tokens"
	if a.key == "" {
		return nil, a.check(what, errNoAdminKey)
	}
	base := a.base + "/admin/api-access/v1/orgs/" + url.PathEscape(a.org) + "/api-tokens"
	tokens, err := allPages(func(_ int, next string) ([]adminAPIToken, string, error) {
		u := base
		switch {
		case strings.HasPrefix(next, "http://") || strings.HasPrefix(next, "https://"):
			u = next
		case next != "":
			u = base + "?cursor=" + url.QueryEscape(next)
		}
		var page struct {
			Data  []adminAPIToken `json:"data"`
			Links adminLinks      `json:"links"`
		}
		err := getJSON(ctx, a.http, a.auth, u, &page)
		return page.Data, page.Links.Next, err
	})
	if err != nil {
		return nil, a.check(what, err)
	}
	var out []Credential
	for _, t := range tokens {
		// The Admin API calls a live token ALLOWED; skip revoked ones.
		if t.Status != "" && !strings.EqualFold(t.Status, "ALLOWED") && !strings.EqualFold(t.Status, "active") {
			continue
		}
		out = append(out, Credential{
			ID: t.ID, Kind: CredentialAtlassianToken, OwnerID: t.User.ID, Owner: firstNonEmpty(t.User.Email, t.User.Name),
			OwnerType: PrincipalUser, Comment: t.Label,
			Created: parseTime(t.CreatedAt), Expiry: parseTime(t.ExpiresAt), LastUsed: parseTime(t.LastActiveAt),
		})
	}
	return out, nil
}

// adminAPIToken is one managed user's API token in the Admin API.
type adminAPIToken struct {
	ID           string `json:"id"`
	Label        string `json:"label"`
	Status       string `json:"status"`
	CreatedAt    string `json:"createdAt"`
	ExpiresAt    string `json:"expiresAt"`
	LastActiveAt string `json:"lastActiveAt"`
	User         struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"user"`
}

// parseTime reads an RFC 3339 time; anything else is the zero time.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
