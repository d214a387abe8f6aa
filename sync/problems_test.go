package sync

import (
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
