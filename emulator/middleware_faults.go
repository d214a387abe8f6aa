package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// FaultKind is what an injected fault does to a request.
type FaultKind string

const (
	// FaultNone lets the request through (a step in a Sequence).
	FaultNone FaultKind = "none"
	// Fault429 answers 429 in the family's error shape (Databricks:
	// error_code TOO_MANY_REQUESTS). The Databricks SDK retries it.
	Fault429 FaultKind = "429"
	// Fault500Limit answers 500 with error_code REQUEST_LIMIT_EXCEEDED, as
	// Databricks SCIM does under load. The Databricks SDK retries it.
	Fault500Limit FaultKind = "500_limit"
	// Fault500 answers a plain 500 INTERNAL_ERROR, which nobody retries.
	Fault500 FaultKind = "500"
	// Fault503 answers 503 TEMPORARILY_UNAVAILABLE.
	Fault503 FaultKind = "503"
	// FaultReset closes the connection with a TCP RST, without a response.
	FaultReset FaultKind = "reset"
	// FaultTruncated runs the handler, then sends the full Content-Length
	// but only half the body, and closes the connection.
	FaultTruncated FaultKind = "truncated"
	// FaultEmptyMembers runs the handler and empties the member lists in its
	// answer: /1.0 groups (each group's members, or a group's member list),
	// SCIM groups (members omitted), SCIM users (no Resources), token
	// management's token list (token_infos omitted, as Databricks omits an
	// empty list), Admin users/search (data) and Bitbucket workspace
	// members/permissions (values).
	FaultEmptyMembers FaultKind = "empty_members"
	// Fault401 answers 401: plain text for Bitbucket, JSON elsewhere.
	Fault401 FaultKind = "401"
	// Fault404Endpoint answers 404 ENDPOINT_NOT_FOUND, as Databricks does
	// for a path no API serves (a misrouted request): it says nothing of
	// the resource asked for.
	Fault404Endpoint FaultKind = "404_endpoint"
	// Fault404Bare answers 404 with a code-less JSON body, {"message":"Not
	// Found"}, as a gateway or private-link proxy in front of a workspace
	// does.
	Fault404Bare FaultKind = "404_bare"
	// Fault404Missing answers 404 RESOURCE_DOES_NOT_EXIST, what Databricks
	// answers for a path that does not exist, whether or not it does here
	// (a read that does not see a file yet).
	Fault404Missing FaultKind = "404_missing"
)

var faultKinds = []FaultKind{FaultNone, Fault429, Fault500Limit, Fault500, Fault503,
	FaultReset, FaultTruncated, FaultEmptyMembers, Fault401, Fault404Endpoint, Fault404Bare, Fault404Missing}

// FaultRule injects faults into the requests it matches. Rules are tried in
// order; the first rule that injects a fault wins, and later rules do not
// see that request.
//
// A rule is either scripted or random:
//   - scripted (Sequence set): the n-th request the rule matches (from 0)
//     gets Sequence[n]; FaultNone passes it through; once the sequence is
//     used up, every request passes.
//   - random: each matching request gets Kind with Probability (0 means
//     always); Count, when positive, stops the rule after that many faults.
type FaultRule struct {
	// Route is a path glob or a mux pattern. In a glob "*" matches within
	// one path segment and "**" matches anything, slashes included, so
	// "/api/2.0/preview/scim/v2/Groups/*" is any one group and
	// "/1.0/groups/**" everything under /1.0/groups. A route also matches
	// requests routed to the mux pattern with that path, such as
	// "/2.0/workspaces/{workspace}/members". A leading method ("GET /x")
	// moves into Method.
	Route string `json:"route"`
	// Method restricts the rule to one HTTP method; empty matches any.
	Method      string      `json:"method,omitempty"`
	Kind        FaultKind   `json:"kind,omitempty"`
	Probability float64     `json:"probability,omitempty"`
	Sequence    []FaultKind `json:"sequence,omitempty"`
	Count       int         `json:"count,omitempty"`
	// Workspace restricts the rule to the requests of one workspace of an
	// account with several (by name: the workspace whose listener got the
	// request); empty matches every workspace and every other service.
	Workspace string `json:"workspace,omitempty"`
}

// FaultsHelp describes the fault syntax, for `bitbricks emulate --help`.
const FaultsHelp = `Faults are rules separated by ";" (or new lines), tried in order:

  [METHOD] ROUTE=KIND[@PROBABILITY][#COUNT]   random: KIND with PROBABILITY (default 1),
                                              at most COUNT times (default unlimited)
  [METHOD] ROUTE=KIND,KIND,...                scripted: the n-th matching request gets the
                                              n-th KIND, then requests pass; KIND*N repeats,
                                              a trailing "," makes a sequence of one
  @WORKSPACE [METHOD] ROUTE=...               only the requests of that workspace (by name)

ROUTE is a path glob ("*" within a segment, "**" across segments) or a route
pattern path such as /2.0/workspaces/{workspace}/members, optionally with
"?NAME=GLOB&..." that the request's query parameters must match.
KIND is one of: 429, 500_limit (500 REQUEST_LIMIT_EXCEEDED), 500, 503, reset,
truncated, empty_members, 401, 404_endpoint (404 ENDPOINT_NOT_FOUND), 404_bare
(404 {"message":"Not Found"}, as a gateway answers), 404_missing (404
RESOURCE_DOES_NOT_EXIST), none (pass; also "ok").

Examples:
  GET /api/2.0/preview/scim/v2/Groups*=429@0.2     a fifth of group lists get 429
  /1.0/groups/**=empty_members#1                   the first /1.0 groups call comes back empty
  /api/2.0/token-management/**=503*2,ok,reset      503, 503, pass, reset, then pass
  GET /api/2.0/workspace/export?path=**departures*=404_endpoint
                                                   the departures ledger's read answers
                                                   404 ENDPOINT_NOT_FOUND
  @dev PATCH /api/2.0/preview/scim/v2/Groups/*=429  every group change in workspace dev gets 429`

// ParseFaults parses rules in the FaultsHelp syntax.
func ParseFaults(s string) ([]FaultRule, error) {
	var rules []FaultRule
	for _, text := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '\n' }) {
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		r, err := parseFault(text)
		if err != nil {
			return nil, fmt.Errorf("fault %q: %w", text, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func parseFault(text string) (FaultRule, error) {
	var r FaultRule
	if rest, ok := strings.CutPrefix(text, "@"); ok {
		ws, after, _ := strings.Cut(rest, " ")
		if ws == "" {
			return r, fmt.Errorf(`want a workspace name after "@", e.g. "@dev PATCH /x=429"`)
		}
		r.Workspace, text = ws, strings.TrimSpace(after)
	}
	left, spec, ok := cutLast(text, "=")
	if !ok {
		return r, fmt.Errorf(`want ROUTE=KIND, e.g. "/1.0/groups/**=429"`)
	}
	r.Route = strings.TrimSpace(left)
	spec = strings.TrimSpace(spec)
	if strings.Contains(spec, ",") {
		for item := range strings.SplitSeq(spec, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue // "429," is a sequence of one
			}
			name, times, rep := strings.Cut(item, "*")
			k, err := parseKind(name)
			if err != nil {
				return r, err
			}
			n := 1
			if rep {
				if n, err = strconv.Atoi(times); err != nil || n < 1 {
					return r, fmt.Errorf("repeat %q: want a positive count after *", times)
				}
			}
			for range n {
				r.Sequence = append(r.Sequence, k)
			}
		}
	} else {
		var count, prob string
		spec, count, _ = strings.Cut(spec, "#")
		spec, prob, _ = strings.Cut(spec, "@")
		var err error
		if r.Kind, err = parseKind(spec); err != nil {
			return r, err
		}
		if prob != "" {
			if r.Probability, err = strconv.ParseFloat(prob, 64); err != nil || r.Probability <= 0 {
				return r, fmt.Errorf("probability %q: want a number in (0, 1]", prob)
			}
		}
		if count != "" {
			if r.Count, err = strconv.Atoi(count); err != nil || r.Count < 1 {
				return r, fmt.Errorf("count %q: want a positive integer", count)
			}
		}
	}
	return r.normalize()
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

func parseKind(s string) (FaultKind, error) {
	k := FaultKind(strings.ToLower(strings.TrimSpace(s)))
	if k == "ok" {
		return FaultNone, nil
	}
	if !slices.Contains(faultKinds, k) {
		names := make([]string, len(faultKinds))
		for i, k := range faultKinds {
			names[i] = string(k)
		}
		return "", fmt.Errorf("unknown fault kind %q (want one of %s)", s, strings.Join(names, ", "))
	}
	return k, nil
}

// normalize checks a rule and moves a method prefix of Route into Method.
func (r FaultRule) normalize() (FaultRule, error) {
	if method, route, ok := strings.Cut(strings.TrimSpace(r.Route), " "); ok {
		if r.Method != "" && !strings.EqualFold(r.Method, method) {
			return r, fmt.Errorf("route %q: method %s conflicts with Method %s", r.Route, method, r.Method)
		}
		r.Method, r.Route = method, strings.TrimSpace(route)
	}
	r.Method = strings.ToUpper(r.Method)
	switch {
	case !strings.HasPrefix(r.Route, "/"):
		return r, fmt.Errorf("route %q: want a path starting with /", r.Route)
	case strings.ContainsFunc(r.Method, func(c rune) bool { return c < 'A' || c > 'Z' }):
		return r, fmt.Errorf("method %q: want an HTTP method such as GET", r.Method)
	case len(r.Sequence) > 0 && (r.Kind != "" || r.Probability != 0 || r.Count != 0):
		return r, fmt.Errorf("a scripted rule (sequence) takes no kind, probability or count")
	case len(r.Sequence) == 0 && (r.Kind == "" || r.Kind == FaultNone):
		return r, fmt.Errorf("want a fault kind or a sequence")
	case r.Probability < 0 || r.Probability > 1:
		return r, fmt.Errorf("probability %v: want a number in (0, 1]", r.Probability)
	case r.Count < 0:
		return r, fmt.Errorf("count %d: want zero (unlimited) or more", r.Count)
	}
	for _, k := range append([]FaultKind{r.Kind}, r.Sequence...) {
		if k != "" && !slices.Contains(faultKinds, k) {
			return r, fmt.Errorf("unknown fault kind %q", k)
		}
	}
	return r, nil
}

// String writes the rule in the ParseFaults syntax.
func (r FaultRule) String() string {
	var b strings.Builder
	if r.Workspace != "" {
		b.WriteString("@" + r.Workspace + " ")
	}
	if r.Method != "" {
		b.WriteString(r.Method + " ")
	}
	b.WriteString(r.Route + "=")
	if len(r.Sequence) > 0 {
		for i, k := range r.Sequence {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(string(k))
		}
		if len(r.Sequence) == 1 {
			b.WriteByte(',') // keep it a sequence when parsed back
		}
		return b.String()
	}
	b.WriteString(string(r.Kind))
	if r.Probability != 0 {
		b.WriteString("@" + strconv.FormatFloat(r.Probability, 'g', -1, 64))
	}
	if r.Count != 0 {
		b.WriteString("#" + strconv.Itoa(r.Count))
	}
	return b.String()
}

// inWorkspace reports whether the rule applies to a request of workspace
// ws ("" with one, or outside any): a rule naming none applies to every one.
func (r FaultRule) inWorkspace(ws string) bool {
	return r.Workspace == "" || r.Workspace == ws
}

// matches reports whether the rule applies to a request with this method,
// path and mux pattern.
func (r FaultRule) matches(method, path, pattern string) bool {
	return r.matchesQuery(method, path, pattern, nil)
}

// matchesQuery is matches for a request with query q: a rule whose route
// ends in "?name=glob&..." applies only when each named parameter matches
// its glob ("/api/2.0/workspace/export?path=*departures*").
func (r FaultRule) matchesQuery(method, path, pattern string, q url.Values) bool {
	route, query, ok := strings.Cut(r.Route, "?")
	if ok {
		want, err := url.ParseQuery(query)
		if err != nil {
			return false
		}
		for k := range want {
			if !globMatch(want.Get(k), q.Get(k)) {
				return false
			}
		}
		r.Route = route
	}
	if r.Method != "" && r.Method != method {
		return false
	}
	if _, p, ok := strings.Cut(pattern, " "); ok { // "GET /x" -> "/x"
		pattern = p
	}
	return r.Route == pattern || globMatch(r.Route, path) ||
		strings.HasSuffix(r.Route, "/**") && path == strings.TrimSuffix(r.Route, "/**")
}

// globMatch matches s against a pattern where "*" matches any run of
// characters but "/" and "**" any run at all.
func globMatch(pattern, s string) bool {
	for pattern != "" {
		if pattern[0] != '*' {
			if s == "" || s[0] != pattern[0] {
				return false
			}
			pattern, s = pattern[1:], s[1:]
			continue
		}
		deep := strings.HasPrefix(pattern, "**")
		pattern = strings.TrimLeft(pattern, "*")
		for i := 0; i <= len(s); i++ {
			if globMatch(pattern, s[i:]) {
				return true
			}
			if i < len(s) && s[i] == '/' && !deep {
				return false
			}
		}
		return false
	}
	return s == ""
}

// emptyMembers rewrites a JSON answer so its member lists are empty; it
// reports false for answers that carry none.
func emptyMembers(path string, body []byte) ([]byte, bool) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return body, false
	}
	obj, _ := v.(map[string]any)
	trimmed := strings.TrimSuffix(path, "/")
	switch {
	case strings.HasPrefix(path, "/1.0/groups/") && strings.HasSuffix(trimmed, "/members"):
		v = []any{}
	case strings.HasPrefix(path, "/1.0/groups/"):
		groups, ok := v.([]any)
		if !ok {
			groups = []any{v}
		}
		for _, g := range groups {
			if g, ok := g.(map[string]any); ok {
				g["members"] = []any{}
			}
		}
	case strings.Contains(path, "/scim/v2/Groups") && obj != nil:
		groups := []any{obj}
		if res, ok := obj["Resources"].([]any); ok {
			groups = res
		}
		for _, g := range groups {
			if g, ok := g.(map[string]any); ok {
				delete(g, "members") // Databricks omits an empty member list
			}
		}
	case strings.HasSuffix(trimmed, "/scim/v2/Users") && obj != nil:
		obj["Resources"] = []any{}
		obj["totalResults"] = 0
		obj["itemsPerPage"] = 0
	case strings.HasSuffix(trimmed, "/token-management/tokens") && obj != nil:
		delete(obj, "token_infos")
	case strings.HasSuffix(trimmed, "/users/search") && obj != nil:
		obj["data"] = []any{}
		if links, ok := obj["links"].(map[string]any); ok {
			delete(links, "next")
		}
	case strings.HasPrefix(path, "/2.0/workspaces/") && obj != nil &&
		(strings.HasSuffix(trimmed, "/members") || strings.HasSuffix(trimmed, "/permissions")):
		obj["values"] = []any{}
		obj["size"] = 0
		delete(obj, "next")
	default:
		return body, false
	}
	out, err := json.Marshal(v)
	if err != nil {
		return body, false
	}
	return append(out, '\n'), true
}
