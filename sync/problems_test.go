package sync

import (
	"strings"
	"testing"
)

func TestProblemListReportsUnknownParts(t *testing.T) {
	s := &Snapshot{MembersKnown: true, TokensKnown: true,
		Groups:   map[string]*BitbucketGroup{"de": {Slug: "de", Name: "Data", Problem: "members could not be read"}},
		Bindings: map[string]*BindingState{"etl": {Name: "etl", Known: true}},
	}
	s.Groups["Data"] = s.Groups["de"]
	ps := s.ProblemList()
	if len(ps) != 1 || ps[0].System != SystemBitbucket || ps[0].What != "group de" {
		t.Fatalf("problems = %+v, want the unknown group once", ps)
	}
	// A part marked unknown by any check is a problem even without a record.
	s.TokensKnown = false
	ps = s.ProblemList()
	if len(ps) != 2 {
		t.Fatalf("problems = %+v, want group and tokens", ps)
	}
	// A recorded problem is not repeated by its derived twin.
	s.Problems = []SourceProblem{{System: SystemDatabricks, Source: "tokens", Status: 500, Err: "HTTP 500"}}
	ps = s.ProblemList()
	n := 0
	for _, p := range ps {
		if p.What == "tokens" {
			n++
			if p.Status != 500 {
				t.Errorf("tokens problem = %+v", p)
			}
		}
	}
	if n != 1 {
		t.Errorf("problems = %+v, want tokens once", ps)
	}
	if (&Snapshot{MembersKnown: true, TokensKnown: true}).ProblemList() == nil {
		t.Error("no problems must be an empty list, not nil (JSON: [])")
	}
}

// A problem line names its subject once: the error's own "list … members
// by email:" prefix does not repeat it.
func TestProblemLineSaysItsSubjectOnce(t *testing.T) {
	for _, p := range []Problem{
		{System: SystemBitbucket, What: "workspace members by email", Status: 500,
			Detail: "list Bitbucket workspace members by email: https://api.bitbucket.org/2.0/workspaces/acme/members: HTTP 500: boom"},
		{System: SystemDatabricks, What: "tokens", Detail: "list tokens: connection reset"},
	} {
		line := p.String()
		if n := strings.Count(strings.ToLower(line), strings.ToLower(p.What)); n != 1 {
			t.Errorf("%q names %q %d times, want once", line, p.What, n)
		}
		if !strings.HasSuffix(line, "boom") && !strings.HasSuffix(line, "connection reset") {
			t.Errorf("%q lost the error's cause", line)
		}
	}
	// A detail that is only the subject is kept: it is all there is.
	if got := (Problem{System: "x", What: "tokens", Detail: "tokens disabled"}).String(); !strings.HasSuffix(got, ": tokens disabled") {
		t.Errorf("String() = %q", got)
	}
}
