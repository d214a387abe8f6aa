package sync

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	gosync "sync"
)

// emailFilterMax is how many addresses one workspace-members query may name
// (Bitbucket's documented limit for q=user.email IN (...)).
const emailFilterMax = 90

// MembersByEmail asks Bitbucket which of emails belong to workspace members,
// with GET /2.0/workspaces/{ws}/members?q=user.email IN (...) (workspace
// administrators only), 89 addresses and known per request. known is the
// email of someone known to be a member (of a mapped group): an answer
// without them, or with a user whose email was not asked for, is implausible
// and fails the whole call, so that nobody is taken for departed on the
// strength of a filter the service ignored or refused to apply. The result
// maps each asked lower-case email to whether it is a member; an address
// that cannot be quoted in the filter is left out (so never departed).
func (b *Bitbucket) MembersByEmail(ctx context.Context, emails []string, known string) (map[string]bool, error) {
	known = strings.ToLower(strings.TrimSpace(known))
	if known == "" || !quotable(known) {
		return nil, fmt.Errorf("list Bitbucket workspace members by email: no known member to check the answers against")
	}
	var ask []string
	seen := map[string]bool{known: true}
	for _, e := range emails {
		if e = strings.ToLower(strings.TrimSpace(e)); e != "" && quotable(e) && !seen[e] {
			seen[e] = true
			ask = append(ask, e)
		}
	}
	slices.Sort(ask)
	out := make(map[string]bool, len(ask))
	for _, e := range ask {
		out[e] = false
	}
	var (
		mu    gosync.Mutex
		first error
	)
	g := newGroup(ctx, 4)
	for batch := range slices.Chunk(ask, emailFilterMax-1) {
		g.Go(func(ctx context.Context) error {
			found, err := b.membersByEmail(ctx, append([]string{known}, batch...))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				first = cmp.Or(first, err)
				return err
			}
			for _, e := range batch {
				out[e] = found[e]
			}
			return nil
		})
	}
	g.Wait()
	if first != nil {
		return nil, b.check("list Bitbucket workspace members by email", first, false)
	}
	return out, ctx.Err()
}

// membersByEmail runs one filtered query (at most 90 addresses, known first).
func (b *Bitbucket) membersByEmail(ctx context.Context, batch []string) (map[string]bool, error) {
	quoted := make([]string, len(batch))
	asked := map[string]bool{}
	for i, e := range batch {
		quoted[i] = `"` + e + `"`
		asked[e] = true
	}
	q := url.Values{}
	q.Set("q", "user.email IN ("+strings.Join(quoted, ",")+")")
	q.Set("fields", "+values.user.email")
	q.Set("pagelen", "100")
	first := b.v2 + "/workspaces/" + url.PathEscape(b.workspace) + "/members?" + q.Encode()
	emails, err := allPages(func(_ int, next string) ([]string, string, error) {
		var page struct {
			Next   string `json:"next"`
			Values []struct {
				User struct {
					Email string `json:"email"`
				} `json:"user"`
			} `json:"values"`
		}
		if err := getJSON(ctx, b.http, b.auth, cmp.Or(next, first), &page); err != nil {
			return nil, "", err
		}
		out := make([]string, 0, len(page.Values))
		for _, v := range page.Values {
			out = append(out, strings.ToLower(strings.TrimSpace(v.User.Email)))
		}
		return out, page.Next, nil
	})
	if err != nil {
		return nil, err
	}
	found := map[string]bool{}
	for _, e := range emails {
		if !asked[e] {
			return nil, &ImplausibleError{List: "workspace members by email", Why: "a member whose email was not asked for came back (the email filter was not applied)"}
		}
		found[e] = true
	}
	if !found[batch[0]] {
		return nil, &ImplausibleError{List: "workspace members by email", Why: "a known workspace member is missing"}
	}
	return found, nil
}

// quotable reports whether an address can stand in a filter's quotes.
func quotable(e string) bool { return !strings.ContainsAny(e, "\"\\()") }

// Membership asks Bitbucket directly whether one account (an Atlassian
// account id or a {uuid}) is a workspace member, with
// GET /2.0/workspaces/{ws}/members/{member}. Only two answers count: 200
// with that very account (a member) and a clean 404, Bitbucket's own error
// object for a non-member (not a member). Anything else (a 5xx, a 401, a 404
// of a proxy or of a path with no API, an answer about someone else) is an
// error, so that the caller takes nobody for departed on it.
func (b *Bitbucket) Membership(ctx context.Context, account string) (bool, error) {
	u := b.v2 + "/workspaces/" + url.PathEscape(b.workspace) + "/members/" + url.PathEscape(account)
	var m struct {
		Type string `json:"type"`
		User struct {
			AccountID string `json:"account_id"`
			UUID      string `json:"uuid"`
		} `json:"user"`
	}
	err := getJSON(ctx, b.http, b.auth, u, &m)
	var se *statusError
	switch {
	case err == nil:
		if !strings.EqualFold(m.User.AccountID, account) && !strings.EqualFold(m.User.UUID, account) {
			return false, &ImplausibleError{List: "workspace membership of " + account, Why: "the answer is about another account"}
		}
		return true, nil
	case errors.As(err, &se) && se.StatusCode == http.StatusNotFound && cleanNotFound(se.Body):
		return false, nil
	}
	return false, err
}

// cleanNotFound reports whether a 404 body is Bitbucket's error object for a
// missing resource, rather than a proxy's page or "no API hosted at this URL".
func cleanNotFound(body string) bool {
	var e struct {
		Type  string `json:"type"`
		Error struct {
			Message string `json:"message"`
			Detail  string `json:"detail"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(body), &e) != nil || e.Type != "error" {
		return false
	}
	return !strings.Contains(strings.ToLower(e.Error.Detail), "no api hosted")
}
