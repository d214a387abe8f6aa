package sync

import (
	"slices"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/config"
)

const (
	fedIssuer = "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc"
	fedWS     = "{11111111-2222-4333-8444-555555555555}"
	fedRepo   = "{aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee}"
	fedEnv    = "{99999999-8888-4777-8666-555555555555}"
)

// fedPolicy is a policy of etl-deployer trusting claim = subject.
func fedPolicy(id, claim, subject string) FederationPolicy {
	return FederationPolicy{ID: id, SPID: "sp-etl", Issuer: fedIssuer, Audiences: []string{Audience(fedWS)}, SubjectClaim: claim, Subject: subject}
}

// The plan's federation rules: could_federate for a stored binding that can
// move, federation_too_broad for a policy wider than one repository, and no
// rotation of a federated binding.
func TestPlanFederation(t *testing.T) {
	etl := config.Binding{Name: "etl-prod", Repository: "etl", Variable: "DATABRICKS_TOKEN", ServicePrincipal: "etl-deployer",
		Credential: config.CredentialPAT, RotateEvery: planDays(30)}
	prod := etl
	prod.Environment = "Production"
	// base: etl-prod stores a 35-day-old token (rotation due), and every
	// fact federation needs was read; no policy yet.
	base := func(s *Snapshot, c *config.Config) {
		s.DBGroups["de-team"].Members = []Member{planMember("alice"), planMember("bob")}
		c.Pipelines = []config.Binding{etl}
		c.Databricks.AccountID = "acct-1"
		s.Federation = FederationFacts{Issuer: fedIssuer, WorkspaceUUID: fedWS, AccountID: "acct-1", AccountPoliciesKnown: true}
		s.Bindings["etl-prod"] = &BindingState{Name: "etl-prod", VariableFound: true, RecordedID: "t-etl", SPID: "sp-etl", Known: true,
			RepositoryUUID: fedRepo, EnvironmentUUID: fedEnv, Policies: []FederationPolicy{}, PoliciesKnown: true}
		s.Credentials = []Credential{planSPCred("t-etl", CredentialOBO, "etl", 35)}
	}
	tests := []struct {
		name     string
		mod      func(s *Snapshot, c *config.Config)
		status   FederationStatus
		changes  []string
		findings []string
		details  map[string][]string
	}{
		{
			name:     "stored and eligible: could_federate, still rotated",
			status:   FederationStored,
			changes:  []string{"rotate_credential/etl-prod"},
			findings: []string{"could_federate etl-prod"},
			details:  map[string][]string{"could_federate etl-prod": {"repositoryUuid " + fedRepo, "bitbricks federate etl-prod", "stored pat in DATABRICKS_TOKEN"}},
		},
		{
			name: "an environment binding federates on the environment's UUID",
			mod: func(s *Snapshot, c *config.Config) {
				c.Pipelines = []config.Binding{prod}
			},
			status:   FederationStored,
			changes:  []string{"rotate_credential/etl-prod"},
			findings: []string{"could_federate etl-prod"},
			details:  map[string][]string{"could_federate etl-prod": {"deploymentEnvironmentUuid " + fedEnv, "environment Production"}},
		},
		{
			name:    "no account_id: not eligible, no finding",
			mod:     func(s *Snapshot, c *config.Config) { c.Databricks.AccountID, s.Federation.AccountID = "", "" },
			status:  FederationStored,
			changes: []string{"rotate_credential/etl-prod"},
		},
		{
			name:    "repository UUID unreadable: not eligible",
			mod:     func(s *Snapshot, c *config.Config) { s.Bindings["etl-prod"].RepositoryUUID = "" },
			status:  FederationStored,
			changes: []string{"rotate_credential/etl-prod"},
		},
		{
			name: "service principal missing: not eligible",
			mod: func(s *Snapshot, c *config.Config) {
				delete(s.SPs, "sp-etl")
				s.Bindings["etl-prod"].SPID = ""
			},
			status:   FederationStored,
			findings: []string{"missing_user etl-deployer"},
		},
		{
			name: "federating: policy in place, variable still there: rotated, no could_federate",
			mod: func(s *Snapshot, c *config.Config) {
				s.Bindings["etl-prod"].Policies = []FederationPolicy{fedPolicy("bitbricks-etl-prod", ClaimRepository, fedRepo)}
			},
			status:  FederationFederating,
			changes: []string{"rotate_credential/etl-prod"},
		},
		{
			name: "federated: policy, no variable: nothing to rotate",
			mod: func(s *Snapshot, c *config.Config) {
				st := s.Bindings["etl-prod"]
				st.Policies = []FederationPolicy{fedPolicy("bitbricks-etl-prod", ClaimRepository, fedRepo)}
				st.VariableFound, st.RecordedID = false, ""
				s.Credentials = nil
			},
			status: FederationFederated,
		},
		{
			name: "a policy for another repository does not federate this one",
			mod: func(s *Snapshot, c *config.Config) {
				st := s.Bindings["etl-prod"]
				st.Policies = []FederationPolicy{fedPolicy("other", ClaimRepository, "{00000000-0000-4000-8000-000000000000}")}
				st.VariableFound = false
			},
			status:   FederationStored,
			changes:  []string{"rotate_credential/etl-prod"},
			findings: []string{"could_federate etl-prod"},
		},
		{
			name: "a policy with another audience does not federate this one",
			mod: func(s *Snapshot, c *config.Config) {
				p := fedPolicy("aud", ClaimRepository, fedRepo)
				p.Audiences = []string{"acct-1"}
				s.Bindings["etl-prod"].Policies = []FederationPolicy{p}
			},
			status:   FederationStored,
			changes:  []string{"rotate_credential/etl-prod"},
			findings: []string{"could_federate etl-prod"},
		},
		{
			name: "variable missing, policies unreadable: reported, never rotated on a guess",
			mod: func(s *Snapshot, c *config.Config) {
				st := s.Bindings["etl-prod"]
				st.VariableFound, st.PoliciesKnown, st.Policies, st.FederationProblem = false, false, nil, "HTTP 403"
			},
			status:   FederationUnknown,
			findings: []string{"unknown_source etl-prod"},
			details:  map[string][]string{"unknown_source etl-prod": {"may be federated", "HTTP 403"}},
		},
		{
			name: "too broad: workspaceUuid, branchName and an account-wide policy",
			mod: func(s *Snapshot, c *config.Config) {
				s.Bindings["etl-prod"].Policies = []FederationPolicy{
					fedPolicy("bitbricks-etl-prod", ClaimRepository, fedRepo),
					fedPolicy("whole-workspace", "workspaceUuid", fedWS),
					fedPolicy("main-anywhere", "branchName", "main"),
					fedPolicy("per-step", "sub", fedRepo+":{step}"),
				}
				s.Federation.AccountPolicies = []FederationPolicy{{ID: "acct-bitbucket", Issuer: fedIssuer, SubjectClaim: "sub"},
					{ID: "acct-github", Issuer: "https://token.actions.githubusercontent.com", SubjectClaim: "sub"}}
			},
			status:  FederationFederating,
			changes: []string{"rotate_credential/etl-prod"},
			findings: []string{
				"federation_too_broad account policy acct-bitbucket",
				"federation_too_broad policy main-anywhere",
				"federation_too_broad policy whole-workspace",
			},
			details: map[string][]string{
				"federation_too_broad policy whole-workspace":        {"every repository"},
				"federation_too_broad policy main-anywhere":          {`branch "main"`},
				"federation_too_broad account policy acct-bitbucket": {"whole account"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap, cfg := planFixture()
			base(snap, cfg)
			if tc.mod != nil {
				tc.mod(snap, cfg)
			}
			p := ComputePlan(snap, cfg, planNow)
			var ids, finds []string
			byKey := map[string]Finding{}
			for _, c := range p.Changes {
				ids = append(ids, c.ID)
			}
			for _, f := range p.Findings {
				k := string(f.Kind) + " " + f.Subject
				finds = append(finds, k)
				byKey[k] = f
			}
			if !slices.Equal(ids, tc.changes) {
				t.Errorf("changes:\n got %q\nwant %q", ids, tc.changes)
			}
			if !slices.Equal(finds, tc.findings) {
				t.Errorf("findings:\n got %q\nwant %q\n%+v", finds, tc.findings, p.Findings)
			}
			for k, subs := range tc.details {
				for _, sub := range subs {
					if !strings.Contains(byKey[k].Detail, sub) {
						t.Errorf("%s: detail %q lacks %q", k, byKey[k].Detail, sub)
					}
				}
			}
			if got := FederationOf(snap, cfg.Pipelines[0]).Status; got != tc.status {
				t.Errorf("status %s, want %s", got, tc.status)
			}
		})
	}
}

func TestOIDCYAML(t *testing.T) {
	for src, want := range map[string]bool{
		"pipelines:\n  default:\n    - step:\n        oidc: true\n        script: [make]\n":                    true,
		"pipelines:\n  branches:\n    main:\n      - step:\n          oidc:\n            audiences: [x]\n":     true,
		"definitions:\n  steps:\n    - step: &s\n        oidc: true\npipelines:\n  default:\n    - step: *s\n": true,
		"pipelines:\n  default:\n    - step:\n        oidc: false\n":                                           false,
		"pipelines:\n  default:\n    - step:\n        script:\n          - echo oidc: true\n":                  false,
		"# oidc: true\npipelines: {}\n": false,
		"oidc: [true":                   false,
		"":                              false,
	} {
		if got := oidcYAML(src); got != want {
			t.Errorf("oidcYAML(%q) = %v, want %v", src, got, want)
		}
	}
}

func TestPolicyID(t *testing.T) {
	for in, want := range map[string]string{"etl-prod": "bitbricks-etl-prod", "ML Prod/2": "bitbricks-ml-prod-2"} {
		if got := PolicyID(in); got != want {
			t.Errorf("PolicyID(%q) = %q, want %q", in, got, want)
		}
	}
}
