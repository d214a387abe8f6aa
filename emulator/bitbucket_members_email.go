package emulator

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// maxEmailFilter is how many addresses one workspace-members query may name
// (Bitbucket's documented limit).
const maxEmailFilter = 90

var (
	bbEmailIn = regexp.MustCompile(`^\s*user\.email\s+(?i:in)\s*\((.*)\)\s*$`)
	bbEmailEq = regexp.MustCompile(`^\s*user\.email\s*=\s*"([^"]*)"\s*$`)
	bbQuoted  = regexp.MustCompile(`"([^"]*)"`)
)

// emailFilter reads GET /2.0/workspaces/{ws}/members?q=user.email IN ("a","b"),
// the one filter that endpoint supports: ok is false when q names no email
// filter. Addresses keep their case; bbMembersByEmail decides how they compare.
func emailFilter(q string) (emails map[string]bool, ok bool, err error) {
	if !strings.Contains(q, "user.email") {
		return nil, false, nil
	}
	var list []string
	if m := bbEmailIn.FindStringSubmatch(q); m != nil {
		for _, v := range bbQuoted.FindAllStringSubmatch(m[1], -1) {
			list = append(list, v[1])
		}
	} else if m := bbEmailEq.FindStringSubmatch(q); m != nil {
		list = []string{m[1]}
	} else {
		return nil, true, fmt.Errorf("cannot parse %q: want user.email IN (\"a@x.com\",\"b@x.com\")", q)
	}
	if len(list) > maxEmailFilter {
		return nil, true, fmt.Errorf("at most %d email addresses may be queried at a time, not %d", maxEmailFilter, len(list))
	}
	emails = map[string]bool{}
	for _, e := range list {
		emails[strings.TrimSpace(e)] = true
	}
	return emails, true, nil
}

// bbMembersByEmail answers the email-filtered member list: only workspace
// administrators (and access tokens acting as one) may filter by email, and
// fields=+values.user.email adds the address, for the filtered users only.
func (s *Server) bbMembersByEmail(w http.ResponseWriter, r *http.Request, caller *BBUser, emails map[string]bool) {
	o := s.Org
	if caller.Permission != "owner" {
		bbError(w, http.StatusForbidden, "Filtering by email is restricted to workspace administrators", "")
		return
	}
	withEmail := strings.Contains(r.URL.Query().Get("fields"), "values.user.email")
	asked := emails
	if !o.BB.EmailFilterMatchesCase {
		asked = map[string]bool{}
		for e := range emails {
			asked[strings.ToLower(e)] = true
		}
	}
	var ms []*BBUser
	for _, m := range o.members() {
		e := m.Email
		if !o.BB.EmailFilterMatchesCase {
			e = strings.ToLower(e)
		}
		if asked[e] {
			ms = append(ms, m)
		}
	}
	bbPaged(w, r, ms, func(m *BBUser) any {
		j := o.bbMembershipJSON(r, m, false)
		if withEmail {
			j["user"].(map[string]any)["email"] = m.Email
		}
		return j
	})
}
