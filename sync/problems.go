package sync

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Problem is a source that failed or was implausible, as a plan, a listing
// and the console report it. Any problem makes a run exit 1: what was printed
// covers only what could be read.
type Problem struct {
	System string `json:"system"` // "bitbucket", "atlassian", "databricks", "identity"
	What   string `json:"what"`   // what was being read: "groups", "group data-engineers", "tokens"
	Status int    `json:"status"` // the HTTP status of the failed answer; 0 when there was none
	// Workspace is the Databricks workspace, of several, whose read failed;
	// empty (and left out of the JSON) for a read of the account, of
	// Bitbucket or of the Atlassian directory, and with one workspace.
	Workspace string `json:"workspace,omitempty"`
	// Detail is the error, one line, for people (not in the JSON contract).
	Detail string `json:"-"`
	// NotAsked: the source was not asked (no credential it takes), so
	// there was no answer to have.
	NotAsked bool `json:"-"`
	// NoCredential: a workspace not read because bitbricks has no
	// credential for it at all (a setting to fix, not an outage).
	NoCredential bool `json:"-"`
}

// Source names where the problem is: its system, and the workspace of
// several it is in ("databricks (dev)").
func (p Problem) Source() string {
	if p.Workspace == "" {
		return p.System
	}
	return p.System + " (" + p.Workspace + ")"
}

// inWorkspace is p, found in the snapshot of workspace name (of several),
// naming that workspace when it is a read of the workspace: a Databricks
// read other than of the account (its users, federation policies, service
// principals' OAuth secrets).
func (p Problem) inWorkspace(name string) Problem {
	if p.System == SystemDatabricks && !strings.HasPrefix(p.What, "account ") && !strings.HasPrefix(p.What, "OAuth secrets of ") {
		p.Workspace = name
	}
	return p
}

// mergeProblems adds to out the problems of workspace name's snapshot, each
// naming that workspace when it is the workspace's own (inWorkspace); a
// problem already listed (one read shared by every workspace) is not
// listed again.
func mergeProblems(out []Problem, name string, ps []Problem) []Problem {
	for _, p := range ps {
		p = p.inWorkspace(name)
		if !slices.ContainsFunc(out, func(q Problem) bool {
			return q.System == p.System && q.What == p.What && q.Workspace == p.Workspace
		}) {
			out = append(out, p)
		}
	}
	return out
}

// String is the problem as one line: system, what, status, detail.
func (p Problem) String() string {
	st := "no HTTP answer"
	switch {
	case p.Status == http.StatusOK:
		st = "HTTP 200, implausible"
	case p.Status != 0:
		st = fmt.Sprintf("HTTP %d", p.Status)
	}
	if p.NotAsked {
		// Not asked for want of a credential: the detail is bitbricks' own
		// line, what was not read and what to set, whole.
		return fmt.Sprintf("%s: %s not asked: %s", p.Source(), p.What, cutLine(p.Detail, 2*maxDetail))
	}
	line := fmt.Sprintf("%s: %s failed (%s)", p.Source(), p.What, st)
	if d := dropSubject(p.Detail, p.What); d != "" {
		line += ": " + cutLine(d, maxDetail)
	}
	return line
}

// dropSubject takes off the front of an error the clauses that only repeat
// what the problem line has already named ("list Bitbucket workspace
// members by email: …" after "workspace members by email failed"), so a
// line says its subject once.
func dropSubject(detail, what string) string {
	what = strings.ToLower(strings.TrimSpace(what))
	for what != "" {
		head, rest, ok := strings.Cut(detail, ": ")
		if !ok || !strings.Contains(strings.ToLower(head), what) || strings.TrimSpace(rest) == "" {
			break
		}
		detail = rest
	}
	return detail
}

// maxDetail bounds the detail of a problem line.
const maxDetail = 240

// cutLine folds s onto one line and cuts it to n runes.
func cutLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// ProblemList is every part of the snapshot that failed or was implausible:
// the problems the reads recorded, and any part marked unknown without one
// (a check that marks a part unknown is reported even if it recorded
// nothing), sorted by system and what.
func (s *Snapshot) ProblemList() []Problem {
	if s == nil {
		return []Problem{}
	}
	out := make([]Problem, 0, len(s.Problems))
	seen := map[[2]string]bool{}
	systems := map[string]bool{}
	add := func(p Problem) {
		k := [2]string{p.System, p.What}
		if seen[k] {
			return
		}
		seen[k] = true
		systems[p.System] = true
		out = append(out, p)
	}
	for _, p := range s.Problems {
		add(Problem{System: p.System, What: p.Source, Status: p.Status, Detail: p.Err, NotAsked: p.NotAsked})
	}
	// (The workspace member list is not derived: a snapshot may read only
	// the presence of the people a departure concerns, and a failure of
	// either read is recorded.)
	for key, g := range s.Groups {
		if !g.Known && key == g.Slug && !seen[[2]string{SystemBitbucket, "groups"}] && !seen[[2]string{SystemAtlassian, "groups"}] {
			add(Problem{System: SystemBitbucket, What: "group " + g.Slug, Detail: cmp.Or(g.Problem, "marked unknown")})
		}
	}
	for name, g := range s.DBGroups {
		if !g.MembersKnown && g.ID != "" && !systems[SystemDatabricks] {
			add(Problem{System: SystemDatabricks, What: "members of group " + name, Detail: "marked unknown"})
		}
	}
	if !s.TokensKnown && !systems[SystemDatabricks] {
		add(Problem{System: SystemDatabricks, What: "tokens", Detail: "marked unknown"})
	}
	for name, b := range s.Bindings {
		if !b.Known && !seen[[2]string{SystemBitbucket, "variables of binding " + name}] {
			add(Problem{System: SystemBitbucket, What: "variables of binding " + name, Detail: cmp.Or(b.Problem, "marked unknown")})
		}
	}
	slices.SortFunc(out, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.System, b.System), cmp.Compare(a.What, b.What))
	})
	return out
}

// ProblemsError ends a run that printed what it could but had source
// problems: exit 1, one line.
type ProblemsError struct {
	Problems []Problem
}

func (e *ProblemsError) Error() string {
	var systems []string
	for _, p := range e.Problems {
		name := p.System
		if p.Workspace != "" {
			name += " in " + p.Workspace
		}
		if !slices.Contains(systems, name) {
			systems = append(systems, name)
		}
	}
	n := len(e.Problems)
	what := "source"
	if n != 1 {
		what = "sources"
	}
	return fmt.Sprintf("%d %s could not be read (%s): the output covers only what was read; fix the problems listed, then run again",
		n, what, strings.Join(systems, ", "))
}

// CheckProblems is nil without problems, else a *ProblemsError.
func CheckProblems(ps []Problem) error {
	if len(ps) == 0 {
		return nil
	}
	return &ProblemsError{Problems: ps}
}
