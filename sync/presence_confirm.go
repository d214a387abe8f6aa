package sync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	gosync "sync"
)

// confirmAbsent asks about each person the email filter answered absent
// once more, directly: their account ids from the Atlassian directory (by
// email), then GET /2.0/workspaces/{ws}/members/{account} for each. Whether
// Bitbucket's email filter ignores case is not documented, so its "absent"
// alone never makes anyone departed. A member answer makes the person
// present; a clean 404 for every account they hold confirms the departure;
// anything else leaves them unknown (returned, with why, by lower-case
// email) and nobody's tokens go on it.
func (r *reader) confirmAbsent(ctx context.Context, present map[string]bool) confirmation {
	var absent []string
	for e, ok := range present {
		if !ok {
			absent = append(absent, e)
		}
	}
	if len(absent) == 0 {
		return confirmation{}
	}
	slices.Sort(absent)
	unknown := map[string]string{}
	c := confirmation{unknown: unknown, searches: (len(absent) + atlassianBatch - 1) / atlassianBatch}
	accounts, err := r.src.Atlassian.AccountsByEmail(ctx, absent)
	if err != nil {
		for _, e := range absent {
			unknown[e] = "the Atlassian directory lookup of the account failed (" + oneLine(err) + ")"
		}
		// Departures went unconfirmed: the run is not green.
		r.record(SystemAtlassian, "accounts by email", fmt.Errorf("departures not confirmed (departed_unknown): %w", err))
		return c
	}
	var (
		mu        gosync.Mutex
		member    = map[string]bool{}
		failed    = map[string]string{}
		errs      = map[string]error{}
		workspace = r.cfg.Bitbucket.Workspace
	)
	var todo []string
	for _, e := range absent {
		if len(accounts[e]) == 0 {
			unknown[e] = "the Atlassian directory has no account with that address, so Bitbucket cannot be asked about the person directly"
		} else {
			todo = append(todo, e)
			c.lookups += len(accounts[e])
		}
	}
	if len(todo) > 0 {
		who := "people"
		if len(todo) == 1 {
			who = "person"
		}
		r.say("confirming %d absent %s by direct lookup in the Bitbucket workspace", len(todo), who)
	}
	g := newGroup(ctx, 4)
	for _, e := range todo {
		for _, id := range accounts[e] {
			g.Go(func(ctx context.Context) error {
				ok, err := r.src.Bitbucket.Membership(ctx, id)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					if _, seen := failed[e]; !seen {
						failed[e] = fmt.Sprintf("the direct lookup of account %s in %s answered %s", id, workspace, lookupAnswer(err))
						errs[e] = err
					}
				case ok:
					member[e] = true
				}
				return nil
			})
		}
	}
	g.Wait()
	var first error
	for _, e := range absent {
		switch {
		case member[e]:
			present[e] = true // the filter missed them: still a member
		case failed[e] != "":
			unknown[e] = failed[e]
			if first == nil {
				first = errs[e]
			}
		case ctx.Err() != nil && unknown[e] == "":
			unknown[e] = "the direct lookup was interrupted"
		}
	}
	if first != nil {
		// A departure left unconfirmed keeps the person's tokens: the run
		// says a source failed (exit 1) instead of staying green while
		// nobody who left is ever revoked.
		r.record(SystemBitbucket, "workspace membership", fmt.Errorf("direct lookup failed, departures not confirmed (departed_unknown): %w", first))
	}
	return c
}

// confirmation is what confirmAbsent found: the people left unknown, with
// why, and the requests it took.
type confirmation struct {
	unknown           map[string]string
	searches, lookups int
}

// lookupAnswer says in a few words what a failed direct lookup got.
func lookupAnswer(err error) string {
	var ie *ImplausibleError
	switch s := httpStatus(err); {
	case errors.As(err, &ie):
		return "about another account"
	case s == http.StatusNotFound:
		return "HTTP 404 without Bitbucket's error object (not a clean not-found)"
	case s != 0:
		return fmt.Sprintf("HTTP %d", s)
	}
	return "no HTTP answer (" + oneLine(err) + ")"
}

// departureUnknown reports a person who would be departed but whose absence
// from the Bitbucket workspace could not be confirmed: kept, with what to do
// next.
func (pl *planner) departureUnknown(workspace, who, why string) {
	if len(pl.removedFrom(who)) > 0 {
		return // prunedUnknownDepartures says it, with what the removal changes
	}
	pl.find(FindingNoDeparted, who, "",
		"absent from Bitbucket workspace %s by its email filter, but %s: not treated as departed, tokens kept; run bitbricks sync again, or if the person has left: bitbricks revoke --owner %s",
		workspace, why, who)
}

// prunedUnknownDepartures names the people this run removes from a mapped
// group (wanted by no mapping) while whether they left the Bitbucket
// workspace is unknown, and who hold tokens: once out of every mapped
// group, later runs no longer ask about them, so nothing would revoke their
// tokens should they have left. Nothing is revoked on unknown evidence; the
// finding says what to check and run.
func (pl *planner) prunedUnknownDepartures(desiredAnywhere map[string]bool) {
	people := map[string]bool{}
	for _, c := range pl.changes {
		if k := strings.ToLower(c.Principal); c.Action == ActionRemoveMember && c.PrincipalType == PrincipalUser && !desiredAnywhere[k] {
			people[k] = true
		}
	}
	tokens := map[string]int{}
	for _, cr := range pl.snap.Credentials {
		if !isTokenKind(cr.Kind) || cr.OwnerType != PrincipalUser {
			continue
		}
		k := strings.ToLower(cr.Owner)
		if u := pl.snap.Users[cr.OwnerID]; u != nil {
			k = strings.ToLower(u.UserName)
		}
		tokens[k]++
	}
	for k := range people {
		why, unsure := pl.snap.PresenceUnknown[k]
		switch {
		case unsure:
			why = "absent from Bitbucket's email filter, but " + why
		case pl.departuresUnknown != "" && tokens[k] > 0:
			why = pl.departuresUnknown
		default:
			continue
		}
		pl.find(FindingNoDeparted, k, "",
			"removed from %s in this run while it is unknown whether the person is still a Bitbucket workspace member (%s): later runs no longer check, so %s; check by hand, and if the person has left: bitbricks revoke --owner %s",
			strings.Join(pl.removedFrom(k), ", "), why, count(tokens[k], "token stays", "tokens stay"), k)
	}
}

// removedFrom lists the groups the plan removes user k (lower-case
// userName) from.
func (pl *planner) removedFrom(k string) []string {
	var gs []string
	for _, c := range pl.changes {
		if c.Action == ActionRemoveMember && c.PrincipalType == PrincipalUser && strings.EqualFold(c.Principal, k) && !slices.Contains(gs, c.Group) {
			gs = append(gs, c.Group)
		}
	}
	slices.Sort(gs)
	return gs
}
