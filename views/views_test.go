package views

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	xgolden "github.com/charmbracelet/x/exp/golden"

	"github.com/bitbricks/bitbricks/sync"
)

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// golden compares got with its golden file, testdata/<test>/<name>.golden,
// through the one golden mechanism of the repository
// (github.com/charmbracelet/x/exp/golden; go test ./views -update rewrites).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	t.Run(strings.TrimSuffix(name, ".golden"), func(t *testing.T) {
		t.Helper()
		xgolden.RequireEqual(t, got)
	})
}

// samplePlan holds every action and every finding kind, in plan order.
func samplePlan() sync.Plan {
	ch := func(c sync.Change) sync.Change { c.Destructive = c.Action.Destructive(); return c }
	return sync.Plan{
		GeneratedAt: time.Date(2026, 11, 26, 13, 0, 0, 0, time.FixedZone("CET", 3600)),
		Changes: []sync.Change{
			ch(sync.Change{ID: "create_group/ml-team", Action: sync.ActionCreateGroup, Group: "ml-team", GroupKind: sync.KindWorkspace,
				Reason: "mapped from Bitbucket group ml", Route: sync.RouteWorkspace}),
			ch(sync.Change{ID: "add_member/de-team/bob@acme.com", Action: sync.ActionAddMember, Group: "de-team", GroupKind: sync.KindAccount,
				Principal: "bob@acme.com", PrincipalType: sync.PrincipalUser, Reason: "in Bitbucket group data-engineers", Route: sync.RouteAccount}),
			ch(sync.Change{ID: "add_member/ml-team/alice@acme.com", Action: sync.ActionAddMember, Group: "ml-team", GroupKind: sync.KindWorkspace,
				Principal: "alice@acme.com", PrincipalType: sync.PrincipalUser, Reason: "in Bitbucket group ml", Route: sync.RouteWorkspace}),
			ch(sync.Change{ID: "add_entitlement/ml-team/workspace-access", Action: sync.ActionAddEntitlement, Group: "ml-team", GroupKind: sync.KindWorkspace,
				Entitlement: "workspace-access", Reason: "listed by the mapping of ml", Route: sync.RouteWorkspace}),
			ch(sync.Change{ID: "rotate_credential/etl-prod", Action: sync.ActionRotateCredential, Principal: "etl-deployer",
				PrincipalType: sync.PrincipalServicePrincipal, Binding: "etl-prod", Reason: "due: credential is 35d old (rotate every 30d)"}),
			ch(sync.Change{ID: "remove_entitlement/de-team/allow-cluster-create", Action: sync.ActionRemoveEntitlement, Group: "de-team",
				GroupKind: sync.KindAccount, Entitlement: "allow-cluster-create", Reason: "not listed by the mappings to de-team", Route: sync.RouteWorkspace}),
			ch(sync.Change{ID: "remove_member/de-team/fay@acme.com", Action: sync.ActionRemoveMember, Group: "de-team", GroupKind: sync.KindAccount,
				Principal: "fay@acme.com", PrincipalType: sync.PrincipalUser, Reason: "in no mapped Bitbucket group (data-engineers)", Route: sync.RouteAccount}),
			ch(sync.Change{ID: "revoke_token/t-old", Action: sync.ActionRevokeToken, Principal: "hal@acme.com", PrincipalType: sync.PrincipalUser,
				TokenID: "t-old", Reason: "older than 90d (120d)"}),
			ch(sync.Change{ID: "revoke_secret/s-1", Action: sync.ActionRevokeSecret, Principal: "bi-sp", PrincipalType: sync.PrincipalServicePrincipal,
				TokenID: "s-1", Reason: "revoked by hand"}),
		},
		Members: []sync.MemberStatus{
			{Group: "de-team", Principal: "admin@acme.com", PrincipalType: sync.PrincipalUser, State: sync.MemberKept,
				Reason: sync.ReasonProtected, Detail: "listed in policy.protected"},
			{Group: "de-team", Principal: "alice@acme.com", PrincipalType: sync.PrincipalUser, State: sync.MemberInSync,
				Reason: sync.ReasonInBitbucketGroup, Detail: "in data-engineers"},
			{Group: "ops", Principal: "carol@acme.com", PrincipalType: sync.PrincipalUser, State: sync.MemberNotAdded,
				Reason: sync.ReasonAccountGroupNoAccess, Detail: "in Bitbucket group ops; but ops is an account group that neither account SCIM nor the workspace proxy lets these credentials change"},
		},
		Findings: []sync.Finding{
			{Kind: sync.FindingAccountGroupNoAccess, Subject: "ops", Group: "ops", Detail: "ops is an account group and neither account SCIM nor the workspace proxy is reachable; would add carol@acme.com"},
			{Kind: sync.FindingNoDeparted, Subject: "acme", Detail: "1 Bitbucket workspace member(s) have no email; nobody is treated as departed"},
			{Kind: sync.FindingIdPManaged, Subject: "okta-team", Group: "okta-team", Detail: "okta-team is provisioned by an identity provider; not removing gus@acme.com"},
			{Kind: sync.FindingMissingUser, Subject: "eve@acme.com", Group: "de-team", Detail: "no Databricks user eve@acme.com; bitbricks never creates users"},
			{Kind: sync.FindingNotAssigned, Subject: "ivy@acme.com", Group: "de-team", Detail: "ivy@acme.com is in the account but not assigned to this workspace"},
			{Kind: sync.FindingSecretLimit, Subject: "bi-sp", Detail: "service principal bi-sp holds 5 of 5 OAuth secrets"},
			{Kind: sync.FindingStaleToken, Subject: "t-idle", Detail: "owner hal@acme.com, unused for 85 days"},
			{Kind: sync.FindingCouldFederate, Subject: "etl-prod", Detail: "a federation policy can replace the stored pat: bitbricks federate etl-prod"},
			{Kind: sync.FindingFederationTooBroad, Subject: "policy all", Detail: "policy all of service principal etl-deployer: subject_claim workspaceUuid trusts every repository"},
			{Kind: sync.FindingUnknownSource, Subject: "contractors", Group: "partners", Detail: "Bitbucket group contractors could not be read (HTTP 500)"},
			{Kind: sync.FindingUnresolvedIdentity, Subject: "{b2c3}", Group: "de-team", Detail: "no email for Bitbucket account 5570:x (Ghost) in group data-engineers"},
		},
	}
}

func sampleInventory() []sync.CredentialStatus {
	return []sync.CredentialStatus{
		{Credential: sync.Credential{ID: "t-old", Kind: sync.CredentialPAT, Owner: "hal@acme.com", OwnerType: sync.PrincipalUser, Comment: "old",
			Created: testNow.Add(-120 * day), Expiry: testNow.Add(10 * day), LastUsed: testNow.Add(-25 * time.Hour)},
			Age: 120 * day, Flags: []string{sync.FlagOverAge, sync.FlagOverWorkspaceMax}},
		{Credential: sync.Credential{ID: "t-idle", Kind: sync.CredentialPAT, Owner: "hal@acme.com", OwnerType: sync.PrincipalUser,
			Created: testNow.Add(-85 * day)}, Age: 85 * day, Flags: []string{sync.FlagWarnAge, sync.FlagNoExpiry, sync.FlagStale}},
		{Credential: sync.Credential{ID: "s-1", Kind: sync.CredentialOAuthSecret, Owner: "bi-sp", OwnerType: sync.PrincipalServicePrincipal,
			Created: testNow.Add(-20 * day), Expiry: testNow.Add(-time.Hour)}, Age: 20 * day, Flags: []string{sync.FlagSecretLimit}},
		{Credential: sync.Credential{ID: "t-etl", Kind: sync.CredentialOBO, Owner: "etl-deployer", OwnerType: sync.PrincipalServicePrincipal,
			Comment: "bitbricks:etl-prod:1764000000", Created: testNow.Add(-10 * day), Expiry: testNow.Add(5 * time.Hour), LastUsed: testNow.Add(-time.Hour)},
			Age: 10 * day, Flags: []string{sync.FlagExpiring, sync.FlagBound}},
	}
}

func TestRenderPlanText(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plan  sync.Plan
		color bool
	}{
		{"plan", samplePlan(), false},
		{"plan_color", samplePlan(), true},
		{"plan_empty", sync.Plan{GeneratedAt: testNow}, false},
		{"plan_findings_only", sync.Plan{GeneratedAt: testNow, Findings: samplePlan().Findings[:2]}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := RenderPlanText(&b, tc.plan, TextOptions{Color: tc.color}); err != nil {
				t.Fatal(err)
			}
			if !tc.color && bytes.Contains(b.Bytes(), []byte("\x1b[")) {
				t.Error("colour codes without Color")
			}
			xgolden.RequireEqual(t, b.Bytes())
			if tc.color { // colour adds codes, never changes the text
				var plain bytes.Buffer
				_ = RenderPlanText(&plain, tc.plan, TextOptions{})
				if got := ansiCodes.ReplaceAll(b.Bytes(), nil); !bytes.Equal(got, plain.Bytes()) {
					t.Errorf("colour output differs from plain beyond colour codes:\n%s", got)
				}
			}
		})
	}
}

var ansiCodes = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestSummaryLine(t *testing.T) {
	p := samplePlan()
	if got, want := SummaryLine(p), "Plan: 4 to add, 4 to remove, 1 to rotate; 11 findings."; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := SummaryLine(sync.Plan{}), "No changes. Databricks is in step with Bitbucket."; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRenderPlanJSONGolden(t *testing.T) {
	var b bytes.Buffer
	results := []sync.Result{{ID: "create_group/ml-team", Status: sync.ResultApplied}, {ID: "revoke_token/t-old", Status: sync.ResultFailed, Error: "HTTP 500"}}
	if err := RenderPlanJSON(&b, samplePlan(), results); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan_results.json", b.Bytes())
}

func TestRenderTokens(t *testing.T) {
	for _, color := range []bool{false, true} {
		var b bytes.Buffer
		if err := RenderTokensText(&b, sampleInventory(), TokensOptions{TextOptions{Color: color}, testNow}); err != nil {
			t.Fatal(err)
		}
		golden(t, map[bool]string{false: "tokens.golden", true: "tokens_color.golden"}[color], b.Bytes())
	}
	var b bytes.Buffer
	if err := RenderTokensText(&b, nil, TokensOptions{Now: testNow}); err != nil || b.String() != "No credentials.\n" {
		t.Errorf("empty: %q, %v", b.String(), err)
	}
	b.Reset()
	if err := RenderTokensJSON(&b, sampleInventory(), nil, testNow); err != nil {
		t.Fatal(err)
	}
	golden(t, "tokens.json", b.Bytes())
}

func TestExpiryAndLastUsed(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Expiry(time.Time{}, testNow), "no expiry"},
		{Expiry(testNow, testNow), "expired"},
		{Expiry(testNow.Add(3*time.Hour), testNow), "in 3h"},
		{Expiry(testNow.Add(10*day+time.Hour), testNow), "in 10d"},
		{LastUsed(time.Time{}, testNow), "never"},
		{LastUsed(testNow.Add(-time.Hour), testNow), "1h ago"},
		{Age(90 * time.Second), "1m"}, {Age(0), "now"}, {Age(-5 * time.Hour), "-5h"},
		{When(testNow.Add(2*day), testNow, ""), "in 2d"},
		{LastUsed(testNow.Add(-3*day), testNow), "3d ago"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// A token comment is written by whoever made the token: escape sequences and
// line breaks in it are shown escaped, never sent to the terminal.
func TestQuoteCommentEscapes(t *testing.T) {
	if got := QuoteComment(""); got != "" {
		t.Errorf("QuoteComment(\"\") = %q, want empty", got)
	}
	got := QuoteComment("nb\x1b[2J\nrm")
	if want := `"nb\x1b[2J\nrm"`; got != want {
		t.Errorf("QuoteComment = %q, want %q", got, want)
	}
	var b bytes.Buffer
	list := []sync.CredentialStatus{{Credential: sync.Credential{ID: "t1", Owner: "eve@acme.com", Kind: sync.CredentialPAT,
		Comment: "x\x1b]0;pwned\x07\ny", Created: testNow.Add(-24 * time.Hour)}, Flags: []string{}}}
	if err := RenderTokensText(&b, list, TokensOptions{Now: testNow}); err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(b.Bytes(), "\x1b\x07") || bytes.Count(b.Bytes(), []byte("\n")) != 2 {
		t.Errorf("control characters of a comment reached the output:\n%q", b.String())
	}
}

func TestSanitize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice@acme.com", "alice@acme.com"},
		{"Zoë 田中", "Zoë 田中"},
		{"\x1b[31mMallory\x1b[0m", "Mallory"},
		{"a\x1b]0;title\x07b", "ab"},
		{"a\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\b", "alinkb"},
		{"a\x1bPq#0\x1b\\b", "ab"},
		{"a\x1b7b\x1b(Bc", "abc"},
		{"a\u009b2Jb\u009d0;t\u009cc\u0085d", "abcd"},
		{"tab\there\nnext\rline", "tab here next line"},
		{"nul\x00bel\x07del\x7f", "nulbeldel"},
		{"cut\x1b[", "cut"},
		{"open\x1b]0;no end", "open"},
		{"esc at end\x1b", "esc at end"},
		{"\x1b\x1b[1mx", "x"},
	} {
		if got := Sanitize(tc.in); got != tc.want {
			t.Errorf("Sanitize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Names, reasons, details and comments come from Bitbucket and Databricks,
// where anyone can set a display name or a token comment: no control
// character of theirs reaches the terminal through the text renderers.
func TestTextRenderersStripControls(t *testing.T) {
	const name, comment = "\x1b[31mMallory", "\x1b]0;title\x07"
	p := sync.Plan{GeneratedAt: testNow,
		Changes: []sync.Change{
			{ID: "add_member/de\x1b[2J-team/m", Action: sync.ActionAddMember, Group: "de\x1b[2J-team", Principal: name + "@acme.com",
				PrincipalType: sync.PrincipalUser, Reason: "in Bitbucket group " + name + comment},
			{ID: "revoke_token/t\x07", Action: sync.ActionRevokeToken, Principal: name, TokenID: "t\x07", Reason: "owner " + name},
		},
		Findings: []sync.Finding{{Kind: sync.FindingUnresolvedIdentity, Subject: "{b2c3}" + comment, Detail: "no email for " + name + "\u009b2J"}},
	}
	inv := []sync.CredentialStatus{{Credential: sync.Credential{ID: "t1", Kind: sync.CredentialPAT, Owner: name, Comment: comment,
		Created: testNow.Add(-day)}, Age: day, Flags: []string{sync.FlagNoExpiry}}}
	for _, color := range []bool{false, true} {
		var b bytes.Buffer
		if err := RenderPlanText(&b, p, TextOptions{Color: color}); err != nil {
			t.Fatal(err)
		}
		if err := RenderTokensText(&b, inv, TokensOptions{TextOptions{Color: color}, testNow}); err != nil {
			t.Fatal(err)
		}
		out := ansiCodes.ReplaceAllString(b.String(), "") // the renderers' own colours
		if strings.ContainsFunc(out, func(r rune) bool { return r != '\n' && isControl(r) }) {
			t.Errorf("colour %v: control characters from the data reached the output:\n%q", color, out)
		}
		for _, want := range []string{"Mallory@acme.com", "de-team", "revoke token t of Mallory", "owner Mallory", "no email for Mallory"} {
			if !strings.Contains(out, want) {
				t.Errorf("colour %v: output lacks %q:\n%s", color, want, out)
			}
		}
	}
}
