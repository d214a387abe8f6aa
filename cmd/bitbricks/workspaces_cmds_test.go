package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/emulator"
)

// The credential commands over the demo's two workspaces, prod and dev:
// each acts in the workspace it concerns, and the emulator's per-workspace
// counters show that the other workspace got no write (not even the write
// lock's lease).

// wsToken is a token of owner (userName or SP display name) whose comment
// starts with comment, in workspace ws.
func wsToken(t *testing.T, o *testOrg, ws, owner, comment string) emulator.DBToken {
	t.Helper()
	st := o.org.Workspace(ws)
	o.org.Mu.Lock()
	defer o.org.Mu.Unlock()
	for _, tok := range st.Tokens {
		name := ""
		if u := st.Users[tok.OwnerID]; u != nil {
			name = u.UserName
		} else if sp := st.ServicePrincipals[tok.OwnerID]; sp != nil {
			name = sp.DisplayName
		}
		if name == owner && strings.HasPrefix(tok.Comment, comment) {
			return *tok
		}
	}
	t.Fatalf("no token %q of %s in %s", comment, owner, ws)
	return emulator.DBToken{}
}

// wsHas reports whether workspace ws holds a token with this id.
func wsHas(o *testOrg, ws, id string) bool {
	st := o.org.Workspace(ws)
	o.org.Mu.Lock()
	defer o.org.Mu.Unlock()
	return st.Tokens[id] != nil
}

// wsCount is how many tokens workspace ws holds.
func wsCount(o *testOrg, ws string) int {
	st := o.org.Workspace(ws)
	o.org.Mu.Lock()
	defer o.org.Mu.Unlock()
	return len(st.Tokens)
}

// wsAddToken adds a token to workspace ws.
func wsAddToken(o *testOrg, ws string, tok emulator.DBToken) *emulator.DBToken {
	var added *emulator.DBToken
	o.org.InWorkspace(ws, func(*emulator.DatabricksState) { added = o.org.AddToken(tok) })
	return added
}

// userID is the SCIM id of a user by userName.
func userID(t *testing.T, o *testOrg, userName string) string {
	t.Helper()
	o.org.Mu.Lock()
	defer o.org.Mu.Unlock()
	for id, u := range o.org.DB.Users {
		if u.UserName == userName {
			return id
		}
	}
	t.Fatalf("no user %s", userName)
	return ""
}

// writesOnlyIn fails unless the writes since the last ResetStats went to
// workspace want (and the account) and none to other.
func writesOnlyIn(t *testing.T, o *testOrg, want, other string) {
	t.Helper()
	st := o.srv.Stats()
	t.Logf("requests per workspace %v, writes %v", st.Workspaces, st.WorkspaceWrites)
	if st.WorkspaceWrites[other] != 0 {
		t.Errorf("%s got %d write(s); want none (writes %v)", other, st.WorkspaceWrites[other], st.WorkspaceWrites)
	}
	if want != "" && st.WorkspaceWrites[want] == 0 {
		t.Errorf("%s got no write (writes %v)", want, st.WorkspaceWrites)
	}
}

// addDevBinding adds the binding etl-dev to the config: etl-deployer's
// token in dev, in the etl repository's DATABRICKS_DEV_TOKEN (not there yet).
func addDevBinding(t *testing.T, o *testOrg) {
	t.Helper()
	b, err := os.ReadFile(o.cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(b), "pipelines:\n", "pipelines:\n"+
		"  - name: etl-dev\n    repository: etl\n    workspace: dev\n    variable: DATABRICKS_DEV_TOKEN\n"+
		"    service_principal: etl-deployer\n    credential: pat\n    rotate_every: 20d\n    lifetime: 25d\n", 1)
	if src == string(b) {
		t.Fatal("the config has no pipelines section")
	}
	if err := os.WriteFile(o.cfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
}

// auditText is the audit log of the two-workspace config.
func auditText(t *testing.T, o *testOrg) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(o.root, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTokensTwoWorkspaces: the text inventory has a WORKSPACE column with
// both workspaces; --workspace dev lists dev's tokens only.
func TestTokensTwoWorkspaces(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	r := runCLI(t, o.env, "", "tokens", "--config", o.cfg)
	if r.code != 0 {
		t.Fatalf("tokens: exit %d: %s", r.code, r.err)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if !strings.HasPrefix(lines[0], "WORKSPACE ") {
		t.Errorf("no WORKSPACE column: %s", lines[0])
	}
	// Tokens per workspace (Atlassian API tokens are the organisation's).
	count := map[string]int{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		switch {
		case len(f) > 3 && f[3] == "pat":
			count[f[0]]++
		case len(f) > 0 && f[0] == "(account)":
			count[f[0]]++
		}
	}
	dan := wsToken(t, o, "dev", "dan@acme.com", "notebook")
	if count["-"] != 0 || count["(account)"] == 0 {
		t.Errorf("an OAuth secret is not the account's, or a token names no workspace: %v", count)
	}
	if count["dev"] != 3 || count["prod"] < 50 || !strings.Contains(r.out, "dev        "+dan.ID) {
		t.Errorf("rows per workspace %v, want dev 3 (with %s) and prod 50+:\n%s", count, dan.ID, r.out)
	}
	r = runCLI(t, o.env, "", "tokens", "--config", o.cfg, "--workspace", "dev")
	if r.code != 0 {
		t.Fatalf("tokens --workspace dev: exit %d: %s", r.code, r.err)
	}
	lines = strings.Split(strings.TrimSpace(r.out), "\n")
	pats := 0
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, "dev ") && !strings.HasPrefix(l, "- ") && !strings.HasPrefix(l, "(account) ") {
			t.Errorf("--workspace dev lists %q", l)
		}
		if strings.Contains(l, " pat ") {
			pats++
		}
	}
	if pats != 3 {
		t.Errorf("--workspace dev: %d tokens, want dev's 3:\n%s", pats, r.out)
	}
	r = runCLI(t, o.env, "", "tokens", "--config", o.cfg, "--workspace", "dev", "--output", "json")
	var doc struct {
		Credentials []struct{ ID, Kind, Workspace string }
	}
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil || len(doc.Credentials) < 3 {
		t.Fatalf("JSON: %v, %d credentials: %s", err, len(doc.Credentials), r.out)
	}
	for _, c := range doc.Credentials {
		if c.Workspace != "dev" {
			t.Errorf("credential %s in %q", c.ID, c.Workspace)
		}
	}
	assertNoSecrets(t, o, r.out, r.err)
}

// TestRevokeTokenIDTwoWorkspaces: a token id is searched in every
// workspace and revoked in the one holding it (output and audit name it);
// an id in both is refused (exit 3) until --workspace names one; an id in
// neither names the workspaces searched.
func TestRevokeTokenIDTwoWorkspaces(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	dan := wsToken(t, o, "dev", "dan@acme.com", "notebook")
	o.srv.ResetStats()
	r := runCLI(t, o.env, "", "revoke", "--config", o.cfg, "--token-id", dan.ID, "--yes")
	if r.code != 0 {
		t.Fatalf("revoke: exit %d: %s", r.code, r.err)
	}
	if want := "- revoked pat " + dan.ID + " of dan@acme.com in workspace dev"; !strings.Contains(r.out, want) {
		t.Errorf("output lacks %q:\n%s", want, r.out)
	}
	if wsHas(o, "dev", dan.ID) {
		t.Error("the token is still in dev")
	}
	writesOnlyIn(t, o, "dev", "prod")
	if a := auditText(t, o); !strings.Contains(a, "token:"+dan.ID+" owner:dan@acme.com workspace:dev") {
		t.Errorf("the audit log does not name the workspace:\n%s", a)
	}

	// The same id in both workspaces.
	id := "0123456789abcdef0123456789abcdef"
	owner := userID(t, o, "tess@acme.com")
	wsAddToken(o, "prod", emulator.DBToken{ID: id, Value: "dapi" + strings.Repeat("1a", 16), OwnerID: owner, Comment: "twin", Created: testNow.Add(-time.Hour)})
	wsAddToken(o, "dev", emulator.DBToken{ID: id, Value: "dapi" + strings.Repeat("2b", 16), OwnerID: owner, Comment: "twin", Created: testNow.Add(-time.Hour)})
	o.srv.ResetStats()
	r = runCLI(t, o.env, "", "revoke", "--config", o.cfg, "--token-id", id, "--yes")
	if r.code != 3 || !strings.Contains(r.err, "several workspaces (prod, dev)") || !strings.Contains(r.err, "--workspace") {
		t.Errorf("an id in both: exit %d: %s", r.code, r.err)
	}
	if st := o.srv.Stats(); st.WorkspaceWrites["prod"]+st.WorkspaceWrites["dev"] != 0 {
		t.Errorf("the refusal wrote: %v", st.WorkspaceWrites)
	}
	o.srv.ResetStats()
	r = runCLI(t, o.env, "", "revoke", "--config", o.cfg, "--token-id", id, "--yes", "--workspace", "dev", "--output", "json")
	if r.code != 0 {
		t.Fatalf("--workspace dev: exit %d: %s", r.code, r.err)
	}
	var rep struct {
		Revoked []struct{ ID, Workspace string }
	}
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil || len(rep.Revoked) != 1 || rep.Revoked[0].Workspace != "dev" {
		t.Errorf("JSON report (%v): %s", err, r.out)
	}
	if wsHas(o, "dev", id) || !wsHas(o, "prod", id) {
		t.Errorf("after --workspace dev: in dev %v, in prod %v; want only prod's left", wsHas(o, "dev", id), wsHas(o, "prod", id))
	}
	writesOnlyIn(t, o, "dev", "prod")

	r = runCLI(t, o.env, "", "revoke", "--config", o.cfg, "--token-id", "ffffffffffffffff", "--yes")
	if r.code != 1 || !strings.Contains(r.err, "no token ffffffffffffffff in workspaces prod, dev") {
		t.Errorf("an unknown id: exit %d: %s", r.code, r.err)
	}
	assertNoSecrets(t, o, r.out, r.err)
}

// TestRevokeSecretTwoWorkspaces: an OAuth secret belongs to the account:
// --secret-id still revokes it with several workspaces, through the first
// active one; dev gets no write.
func TestRevokeSecretTwoWorkspaces(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	o.org.Mu.Lock()
	var id string
	for _, sec := range o.org.DB.Secrets {
		if sp := o.org.DB.ServicePrincipals[sec.SPID]; sp != nil && sp.DisplayName == "reporting-bot" {
			id = sec.ID
			break
		}
	}
	o.org.Mu.Unlock()
	o.srv.ResetStats()
	r := runCLI(t, o.env, "", "revoke", "--config", o.cfg, "--secret-id", id, "--service-principal", "reporting-bot", "--yes")
	if r.code != 0 {
		t.Fatalf("revoke --secret-id: exit %d: %s", r.code, r.err)
	}
	if want := "- revoked oauth_secret " + id + " of reporting-bot (account-level)"; !strings.Contains(r.out, want) {
		t.Errorf("output lacks %q:\n%s", want, r.out)
	}
	st := o.srv.Stats()
	if st.WorkspaceWrites["account"] == 0 {
		t.Errorf("no account write: %v", st.WorkspaceWrites)
	}
	writesOnlyIn(t, o, "", "dev")
	o.org.Mu.Lock()
	_, left := o.org.DB.Secrets[id]
	o.org.Mu.Unlock()
	if left {
		t.Error("the secret is still there")
	}

	// ml-deployer's newest secret is what prod's binding ml-prod runs on:
	// a run limited to dev, where ml-deployer is assigned too, refuses it
	// without --force (every workspace's bindings guard an OAuth secret).
	r = runCLI(t, o.env, "", "revoke", "--config", o.cfg, "--secret-id", "x", "--service-principal", "ml-deployer", "--yes", "--workspace", "dev")
	if r.code != 1 || !strings.Contains(r.err, `no Databricks service principal "ml-deployer" in workspaces dev`) {
		t.Errorf("ml-deployer from dev before it is assigned there: exit %d: %s", r.code, r.err)
	}
	o.org.InWorkspace("dev", func(st *emulator.DatabricksState) {
		o.org.Mu.Lock()
		defer o.org.Mu.Unlock()
		for _, sp := range st.ServicePrincipals {
			if sp.DisplayName == "ml-deployer" {
				sp.Assigned = true
			}
		}
	})
	o.org.Mu.Lock()
	var bound string
	var newest time.Time
	for _, sec := range o.org.DB.Secrets {
		if sp := o.org.DB.ServicePrincipals[sec.SPID]; sp != nil && sp.DisplayName == "ml-deployer" && sec.Created.After(newest) {
			bound, newest = sec.ID, sec.Created
		}
	}
	o.org.Mu.Unlock()
	r = runCLI(t, o.env, "", "revoke", "--config", o.cfg, "--secret-id", bound, "--service-principal", "ml-deployer", "--yes", "--workspace", "dev")
	if r.code != 3 || !strings.Contains(r.err, "pipeline binding ml-prod runs on it") {
		t.Errorf("prod's bound secret from dev: exit %d: %s", r.code, r.err)
	}
	assertNoSecrets(t, o, r.out, r.err)
}

// TestRevokeOwnerTwoWorkspaces: --owner lists the owner's credentials in
// every workspace, each with its workspace, before revoking them each in
// its own; --workspace dev keeps prod's; the guards hold per workspace.
func TestRevokeOwnerTwoWorkspaces(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	devTok := wsToken(t, o, "dev", "dan@acme.com", "notebook")
	prodTok := wsToken(t, o, "prod", "dan@acme.com", "routine")

	// Without a terminal and --yes, the list is shown and nothing revoked.
	r := runCLI(t, o.env, "", "revoke", "--config", o.cfg, "--owner", "dan@acme.com")
	if r.code != 3 {
		t.Fatalf("without --yes: exit %d: %s", r.code, r.err)
	}
	for _, want := range []string{"dan@acme.com holds 3 credentials:", "  prod         " + prodTok.ID, "  dev          " + devTok.ID} {
		if !strings.Contains(r.err, want) {
			t.Errorf("the list lacks %q:\n%s", want, r.err)
		}
	}

	o.srv.ResetStats()
	r = runCLI(t, o.env, "", "revoke", "--config", o.cfg, "--owner", "dan@acme.com", "--yes", "--workspace", "dev")
	if r.code != 0 {
		t.Fatalf("--workspace dev: exit %d: %s", r.code, r.err)
	}
	if wsHas(o, "dev", devTok.ID) || !wsHas(o, "prod", prodTok.ID) {
		t.Errorf("after --workspace dev: dev's left %v, prod's left %v", wsHas(o, "dev", devTok.ID), wsHas(o, "prod", prodTok.ID))
	}
	writesOnlyIn(t, o, "dev", "prod")

	// tess: a token in each workspace, both revoked, each in its own.
	tessDev := wsAddToken(o, "dev", emulator.DBToken{OwnerID: userID(t, o, "tess@acme.com"), Comment: "dev cli", Created: testNow.Add(-time.Hour)})
	tessProd := wsToken(t, o, "prod", "tess@acme.com", "routine")
	r = runCLI(t, o.env, "", "revoke", "--config", o.cfg, "--owner", "tess@acme.com", "--yes")
	if r.code != 0 {
		t.Fatalf("tess: exit %d: %s", r.code, r.err)
	}
	for _, want := range []string{"- revoked pat " + tessDev.ID + " of tess@acme.com in workspace dev", "- revoked pat " + tessProd.ID + " of tess@acme.com in workspace prod"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
	if wsHas(o, "dev", tessDev.ID) || wsHas(o, "prod", tessProd.ID) {
		t.Error("a token of tess is left")
	}

	// tess holds nothing now: nothing to revoke, and dev gets no write.
	o.srv.ResetStats()
	r = runCLI(t, o.env, "", "revoke", "--config", o.cfg, "--owner", "tess@acme.com", "--yes")
	if r.code != 0 || !strings.Contains(r.err, "holds no credentials") {
		t.Errorf("tess again: exit %d: %s", r.code, r.err)
	}
	writesOnlyIn(t, o, "", "dev")

	// The admin is the identity bitbricks uses in both: refused per
	// workspace without --force, nothing revoked.
	admin := wsToken(t, o, "dev", "admin@acme.com", "bitbricks")
	r = runCLI(t, o.env, "", "revoke", "--config", o.cfg, "--owner", "admin@acme.com", "--yes")
	if r.code != 3 || !strings.Contains(r.err, admin.ID) || !strings.Contains(r.err, "identity bitbricks is using") {
		t.Errorf("the admin without --force: exit %d: %s", r.code, r.err)
	}
	if !wsHas(o, "dev", admin.ID) {
		t.Error("the admin's dev token was revoked")
	}
	assertNoSecrets(t, o, r.out, r.err)
}

// TestRevokeLeakedTwoWorkspaces: a leaked dev token authenticates at dev
// only; it is traced and revoked there, prod gets no write; a value that
// authenticates nowhere says so.
func TestRevokeLeakedTwoWorkspaces(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	leaked := wsToken(t, o, "dev", "alice@acme.com", "routine")
	o.srv.ResetStats()
	r := runCLI(t, o.env, leaked.Value+"\n", "revoke", "--config", o.cfg, "--leaked", "--yes")
	t.Logf("stdout:\n%s\nstderr:\n%s", r.out, r.err)
	if r.code != 0 {
		t.Fatalf("revoke --leaked: exit %d: %s", r.code, r.err)
	}
	if !strings.Contains(r.err, "belongs to alice@acme.com (user) in workspace dev") {
		t.Errorf("the trace does not name dev:\n%s", r.err)
	}
	if !strings.Contains(r.out, "was revoked first") || !strings.Contains(r.out, "no longer authenticates") || wsHas(o, "dev", leaked.ID) {
		t.Errorf("the leaked token is not revoked:\n%s", r.out)
	}
	if !strings.Contains(r.out, "other workspaces are not touched") {
		t.Errorf("nothing says the other workspaces' credentials are kept:\n%s", r.out)
	}
	writesOnlyIn(t, o, "dev", "prod")
	if a := auditText(t, o); !strings.Contains(a, "workspace:dev") {
		t.Errorf("the audit log does not name dev:\n%s", a)
	}

	r = runCLI(t, o.env, leaked.Value+"\n", "revoke", "--config", o.cfg, "--leaked", "--yes")
	if r.code != 1 || !strings.Contains(r.err, "does not authenticate at any of the workspaces prod, dev") {
		t.Errorf("a dead value: exit %d: %s", r.code, r.err)
	}
	assertNoSecrets(t, o, r.out, r.err)
}

// TestRotateTwoWorkspaces: a binding names its workspace; rotating it
// creates its token in that workspace only; --due covers the bindings of
// the active workspaces; a binding outside --workspace is refused.
func TestRotateTwoWorkspaces(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	addDevBinding(t, o)

	// --due over both lists each binding with its workspace (no --yes, no
	// terminal: refused after the list).
	r := runCLI(t, o.env, "", "rotate", "--config", o.cfg, "--due")
	if !strings.Contains(r.err, "etl-dev (etl-deployer, pat in workspace dev)") {
		t.Errorf("--due does not list etl-dev in dev (exit %d):\n%s", r.code, r.err)
	}

	r = runCLI(t, o.env, "", "rotate", "--config", o.cfg, "etl-dev", "--yes", "--workspace", "prod")
	if r.code != 1 || !strings.Contains(r.err, "workspace dev is outside this run") {
		t.Errorf("etl-dev with --workspace prod: exit %d: %s", r.code, r.err)
	}

	before := wsCount(o, "dev")
	o.srv.ResetStats()
	r = runCLI(t, o.env, "", "rotate", "--config", o.cfg, "--due", "--yes", "--workspace", "dev")
	if r.code != 0 {
		t.Fatalf("rotate --due --workspace dev: exit %d: %s\n%s", r.code, r.err, r.out)
	}
	if !strings.Contains(r.out, "rotated etl-dev in workspace dev: new credential") || strings.Contains(r.out, "etl-prod") {
		t.Errorf("output:\n%s", r.out)
	}
	writesOnlyIn(t, o, "dev", "prod")
	if after := wsCount(o, "dev"); after != before+1 {
		t.Errorf("dev holds %d tokens, want %d (the new one)", after, before+1)
	}
	if a := auditText(t, o); !strings.Contains(a, "workspace:dev") {
		t.Errorf("the audit log does not name dev")
	}

	o.srv.ResetStats()
	r = runCLI(t, o.env, "", "rotate", "--config", o.cfg, "etl-dev", "--yes")
	if r.code != 0 {
		t.Fatalf("rotate etl-dev: exit %d: %s\n%s", r.code, r.err, r.out)
	}
	if !strings.Contains(r.out, "1 older revoked") {
		t.Errorf("the second rotation revokes the first's token:\n%s", r.out)
	}
	writesOnlyIn(t, o, "dev", "prod")
	assertNoSecrets(t, o, r.out, r.err)
}

// TestPipelinesAndFederateTwoWorkspaces: pipelines names each binding's
// Databricks workspace; federate acts in the binding's workspace only.
func TestPipelinesAndFederateTwoWorkspaces(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	addDevBinding(t, o)
	r := runCLI(t, o.env, "", "pipelines", "--config", o.cfg)
	if !strings.Contains(r.out, "DATABRICKS") {
		t.Errorf("no DATABRICKS column:\n%s", r.out)
	}
	rows := map[string]string{}
	for _, l := range strings.Split(r.out, "\n") {
		if f := strings.Fields(l); len(f) > 2 {
			rows[f[1]] = f[2]
		}
	}
	if rows["etl-dev"] != "dev" || rows["etl-prod"] != "prod" || rows["ml-prod"] != "prod" {
		t.Errorf("workspaces by binding %v:\n%s", rows, r.out)
	}
	r = runCLI(t, o.env, "", "pipelines", "--config", o.cfg, "--output", "json")
	var doc struct {
		Bindings []struct {
			Binding             string
			DatabricksWorkspace string `json:"databricks_workspace"`
		}
	}
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil || len(doc.Bindings) != 3 {
		t.Fatalf("JSON: %v: %s", err, r.out)
	}
	for _, b := range doc.Bindings {
		if want := map[bool]string{true: "dev", false: "prod"}[b.Binding == "etl-dev"]; b.DatabricksWorkspace != want {
			t.Errorf("%s: databricks_workspace %q, want %s", b.Binding, b.DatabricksWorkspace, want)
		}
	}

	o.srv.ResetStats()
	// etl-deployer is assigned to prod too: --force (TestFederateWidensToOtherWorkspaces).
	r = runCLI(t, o.env, "", "federate", "--config", o.cfg, "etl-dev", "--force")
	if r.code != 0 || !strings.Contains(r.out, "for etl-dev") {
		t.Fatalf("federate etl-dev: exit %d: %s\n%s", r.code, r.err, r.out)
	}
	writesOnlyIn(t, o, "dev", "prod")

	// --all runs phase 1 for every binding that can federate, each in its
	// workspace (etl-prod trusts the same repository as etl-dev with the
	// same service principal: its policy is in place already).
	o.srv.ResetStats()
	r = runCLI(t, o.env, "", "federate", "--config", o.cfg, "--all", "--workspace", "prod")
	if r.code != 0 || !strings.Contains(r.out, "for ml-prod (created)") || strings.Contains(r.out, "etl-dev") {
		t.Fatalf("federate --all --workspace prod: exit %d: %s\n%s", r.code, r.err, r.out)
	}
	writesOnlyIn(t, o, "prod", "dev")

	o.srv.ResetStats()
	r = runCLI(t, o.env, "", "federate", "--config", o.cfg, "etl-dev", "--finish", "--yes")
	if r.code != 3 {
		t.Errorf("--finish without evidence: exit %d: %s", r.code, r.err)
	}
	writesOnlyIn(t, o, "", "prod")
	assertNoSecrets(t, o, r.out, r.err)
}

// TestSavedPlanTwoWorkspaces: a plan saved over both workspaces carries
// workspace-prefixed ids and applies whole; under --workspace dev it is
// refused (exit 3, nothing written), since a saved plan is applied exactly
// or not at all; a plan saved under --workspace dev applies to dev only.
func TestSavedPlanTwoWorkspaces(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	plan := filepath.Join(o.root, "plan.json")
	r := runCLI(t, o.env, "", "sync", "--config", o.cfg, "--out", plan)
	if r.code != 0 {
		t.Fatalf("sync --out: exit %d: %s", r.code, r.err)
	}
	var doc struct {
		Changes []struct{ ID, Workspace string }
	}
	if err := json.Unmarshal([]byte(readFile(t, plan)), &doc); err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, c := range doc.Changes {
		per[c.Workspace]++
		if !strings.HasPrefix(c.ID, c.Workspace+":") {
			t.Errorf("change %s of workspace %s", c.ID, c.Workspace)
		}
	}
	if per["prod"] == 0 || per["dev"] == 0 {
		t.Fatalf("saved changes per workspace %v", per)
	}

	o.srv.ResetStats()
	r = runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--yes", "--plan", plan, "--workspace", "dev", "--max-changes", "200")
	if r.code != 3 || !strings.Contains(r.err, "outside --workspace dev") {
		t.Errorf("--workspace dev with prod changes: exit %d: %s", r.code, r.err)
	}
	if st := o.srv.Stats(); st.WorkspaceWrites["prod"]+st.WorkspaceWrites["dev"]+st.WorkspaceWrites["account"] != 0 {
		t.Errorf("the refusal wrote: %v", st.WorkspaceWrites)
	}

	devPlan := filepath.Join(o.root, "dev.json")
	if r = runCLI(t, o.env, "", "sync", "--config", o.cfg, "--out", devPlan, "--workspace", "dev"); r.code != 0 {
		t.Fatalf("sync --out --workspace dev: exit %d: %s", r.code, r.err)
	}
	o.srv.ResetStats()
	r = runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--yes", "--plan", devPlan, "--max-changes", "200")
	if r.code != 0 {
		t.Fatalf("apply the dev plan: exit %d: %s\n%s", r.code, r.err, r.out)
	}
	if !strings.Contains(r.err, "called for now not in the saved plan") {
		t.Errorf("prod's changes are not said to be left out:\n%s", r.err)
	}
	writesOnlyIn(t, o, "dev", "prod")

	// The whole plan no longer holds in dev (applied): refused, nothing written.
	o.srv.ResetStats()
	r = runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--yes", "--plan", plan, "--max-changes", "200")
	if r.code != 3 || !strings.Contains(r.err, "✗ dev:") {
		t.Errorf("a stale dev part: exit %d: %s", r.code, r.err)
	}
	// Only the write locks' leases were written (the check runs under them).
	for route, n := range o.srv.Stats().Routes {
		if !isRead(route) && !isLease(route) {
			t.Errorf("a refused plan wrote: %s (%d)", route, n)
		}
	}

	// A fresh plan over both applies whole, and then all is in sync.
	if r = runCLI(t, o.env, "", "sync", "--config", o.cfg, "--out", plan); r.code != 0 {
		t.Fatalf("sync --out: exit %d: %s", r.code, r.err)
	}
	r = runCLI(t, o.env, "", "sync", "--config", o.cfg, "--apply", "--yes", "--plan", plan, "--max-changes", "200")
	if r.code != 0 || !strings.Contains(r.err, "nothing changed since it was made") {
		t.Fatalf("apply the saved plan: exit %d: %s\n%s", r.code, r.err, r.out)
	}
	if r = runCLI(t, o.env, "", "sync", "--config", o.cfg, "--detailed-exitcode"); r.code != 0 {
		t.Errorf("after the saved plan: exit %d: %s\n%s", r.code, r.err, r.out)
	}
	assertNoSecrets(t, o, r.out, r.err)
}

// TestLeakOfServicePrincipalBoundInOtherWorkspace: ml-deployer's
// on-behalf-of token leaks in dev; its OAuth secrets belong to the account
// and prod's binding ml-prod runs on one, so the leak's revocation in dev
// keeps them (and says what to run) instead of breaking prod's pipeline.
func TestLeakOfServicePrincipalBoundInOtherWorkspace(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	o.org.Mu.Lock()
	var spID string
	secrets := 0
	for id, sp := range o.org.DB.ServicePrincipals {
		if sp.DisplayName == "ml-deployer" {
			spID = id
		}
	}
	for _, sec := range o.org.DB.Secrets {
		if sec.SPID == spID {
			secrets++
		}
	}
	o.org.Mu.Unlock()
	// ml-deployer is assigned to dev too (a principal authenticates only
	// at a workspace it is assigned to).
	o.org.InWorkspace("dev", func(st *emulator.DatabricksState) {
		o.org.Mu.Lock()
		st.ServicePrincipals[spID].Assigned = true
		o.org.Mu.Unlock()
	})
	leaked := wsAddToken(o, "dev", emulator.DBToken{OwnerID: spID, Comment: "copied to a wiki", Created: testNow.Add(-time.Hour), Expiry: testNow.Add(24 * time.Hour)})
	o.srv.ResetStats()
	r := runCLI(t, o.env, leaked.Value+"\n", "revoke", "--config", o.cfg, "--leaked", "--yes")
	t.Logf("stdout:\n%s\nstderr:\n%s", r.out, r.err)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	if wsHas(o, "dev", leaked.ID) {
		t.Error("the leaked token is alive")
	}
	if !strings.Contains(r.err, "pipeline binding(s) ml-prod (workspace prod) may run on one") {
		t.Errorf("nothing says why the OAuth secrets are kept:\n%s", r.err)
	}
	o.org.Mu.Lock()
	left := 0
	for _, sec := range o.org.DB.Secrets {
		if sec.SPID == spID {
			left++
		}
	}
	o.org.Mu.Unlock()
	if left != secrets {
		t.Errorf("ml-deployer holds %d OAuth secrets, had %d: prod's pipeline may be broken", left, secrets)
	}
	writesOnlyIn(t, o, "dev", "prod")
	assertNoSecrets(t, o, r.out, r.err)
}
