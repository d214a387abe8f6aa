package emulator

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ktrysmt/go-bitbucket"
)

func decodeJSON[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return v
}

func bbClient(t *testing.T, f *bbFixture, u *BBUser) *bitbucket.Client {
	t.Helper()
	c, err := bitbucket.NewAPITokenAuthWithBaseUrlStr(u.Email, u.APIToken, f.srv.URL+"/2.0")
	if err != nil {
		t.Fatal(err)
	}
	c.HttpClient.Timeout = 10 * time.Second
	return c
}

// TestGoBitbucket drives the emulator with go-bitbucket v0.10.0 as shipped.
func TestGoBitbucket(t *testing.T) {
	f := newBBFixture(t, 23)
	c := bbClient(t, f, f.admin)

	me, err := c.User.Profile()
	if err != nil || me.Uuid != f.admin.UUID || me.AccountId != f.admin.AccountID {
		t.Fatalf("Profile = %+v, %v", me, err)
	}
	wss, err := c.Workspaces.List()
	// user/workspaces nests a workspace_base: uuid and slug, no name or is_private.
	if err != nil || len(wss.Workspaces) != 1 || wss.Workspaces[0].Slug != "acme" || wss.Workspaces[0].UUID != f.org.BB.Workspace.UUID {
		t.Fatalf("Workspaces.List = %+v, %v", wss, err)
	}
	if ws, err := c.Workspaces.Get("acme"); err != nil || ws.UUID != f.org.BB.Workspace.UUID {
		t.Fatalf("Workspaces.Get = %+v, %v", ws, err)
	}

	// 23 members + the admin + the guest: three pages of 10, followed through next.
	members, err := c.Workspaces.Members("acme")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range members.Members {
		got = append(got, m.AccountId)
	}
	var want []string
	for _, u := range f.org.BB.Users {
		if u.InWorkspace {
			want = append(want, u.AccountID)
		}
	}
	if len(want) != 25 || !slices.Equal(got, want) {
		t.Fatalf("Members returned %d accounts %v, want all %d %v", len(got), got, len(want), want)
	}
	if p, err := c.Workspaces.Permissions.GetUserPermissions("acme", f.member.Nickname); err != nil || p == nil || p.Type != "member" {
		t.Errorf("GetUserPermissions(member) = %+v, %v", p, err)
	}
	if p, err := c.Workspaces.Permissions.GetUserPermissionsByUuid("acme", f.admin.UUID); err != nil || p == nil || p.Type != "owner" {
		t.Errorf("GetUserPermissionsByUuid(admin) = %+v, %v", p, err)
	}

	// go-bitbucket drops a repository whose created_on it cannot parse.
	repos, err := c.Repositories.ListForAccount(&bitbucket.RepositoriesOptions{Owner: "acme"})
	if err != nil || len(repos.Items) != 2 || repos.Items[0].Slug != "etl-jobs" || repos.Items[0].CreatedOnTime == nil {
		t.Fatalf("ListForAccount = %+v, %v", repos, err)
	}
	if r, err := c.Repositories.Repository.Get(&bitbucket.RepositoryOptions{Owner: "acme", RepoSlug: "etl-jobs"}); err != nil || r.Uuid != f.repo.UUID {
		t.Fatalf("Repository.Get = %+v, %v", r, err)
	}

	// Repository pipeline variables: add secured and plain, list, update, delete.
	rv := c.Repositories.Repository
	sec, err := rv.AddPipelineVariable(&bitbucket.RepositoryPipelineVariableOptions{Owner: "acme", RepoSlug: "etl-jobs", Key: "NEW_SECRET", Value: "s3cr3t-value", Secured: true})
	if err != nil || sec.Uuid == "" || sec.Value != "" || !sec.Secured {
		t.Fatalf("AddPipelineVariable(secured) = %+v, %v", sec, err)
	}
	plain, err := rv.AddPipelineVariable(&bitbucket.RepositoryPipelineVariableOptions{Owner: "acme", RepoSlug: "etl-jobs", Key: "NEW_PLAIN", Value: "visible"})
	if err != nil || plain.Value != "visible" {
		t.Fatalf("AddPipelineVariable(plain) = %+v, %v", plain, err)
	}
	_, err = rv.AddPipelineVariable(&bitbucket.RepositoryPipelineVariableOptions{Owner: "acme", RepoSlug: "etl-jobs", Key: "NEW_PLAIN", Value: "again"})
	var status *bitbucket.UnexpectedResponseStatusError
	if !errors.As(err, &status) || status.StatusCode != http.StatusConflict {
		t.Errorf("duplicate key: err %v, want 409", err)
	}
	vars, err := rv.ListPipelineVariables(&bitbucket.RepositoryPipelineVariablesOptions{Owner: "acme", RepoSlug: "etl-jobs"})
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{}
	for _, v := range vars.Variables {
		values[v.Key] = v.Value
	}
	if len(values) != 4 || values["NEW_SECRET"] != "" || values["DATABRICKS_TOKEN"] != "" || values["NEW_PLAIN"] != "visible" || values["DATABRICKS_TOKEN_ID"] != "1234" {
		t.Errorf("ListPipelineVariables = %v", values)
	}
	upd, err := rv.UpdatePipelineVariable(&bitbucket.RepositoryPipelineVariableOptions{Owner: "acme", RepoSlug: "etl-jobs", Uuid: sec.Uuid, Key: "NEW_SECRET", Value: "rotated", Secured: true})
	if err != nil || upd.Value != "" || !upd.Secured {
		t.Errorf("UpdatePipelineVariable = %+v, %v", upd, err)
	}
	if v, err := rv.GetPipelineVariable(&bitbucket.RepositoryPipelineVariableOptions{Owner: "acme", RepoSlug: "etl-jobs", Uuid: sec.Uuid}); err != nil || v.Key != "NEW_SECRET" || v.Value != "" {
		t.Errorf("GetPipelineVariable = %+v, %v", v, err)
	}
	_, err = rv.UpdatePipelineVariable(&bitbucket.RepositoryPipelineVariableOptions{Owner: "acme", RepoSlug: "etl-jobs", Uuid: sec.Uuid, Key: "NEW_SECRET", Value: "x"})
	if !errors.As(err, &status) || status.StatusCode != http.StatusBadRequest {
		t.Errorf("unsecuring a secured variable: err %v, want 400", err)
	}
	if _, err := rv.DeletePipelineVariable(&bitbucket.RepositoryPipelineVariableDeleteOptions{Owner: "acme", RepoSlug: "etl-jobs", Uuid: plain.Uuid}); err != nil {
		t.Errorf("DeletePipelineVariable: %v", err)
	}
	f.org.Mu.Lock()
	stored := slices.Clone(f.repo.Variables)
	f.org.Mu.Unlock()
	if len(stored) != 3 || stored[2].Key != "NEW_SECRET" || stored[2].Value != "rotated" {
		t.Errorf("stored variables after delete: %+v", stored)
	}

	// Environments and deployment variables.
	envs, err := rv.ListEnvironments(&bitbucket.RepositoryEnvironmentsOptions{Owner: "acme", RepoSlug: "etl-jobs"})
	if err != nil || len(envs.Environments) != 3 {
		t.Fatalf("ListEnvironments = %+v, %v", envs, err)
	}
	prod := envs.Environments[2]
	if prod.Name != "Production" || prod.Uuid != f.prod.UUID || prod.Rank != 2 {
		t.Errorf("Production environment = %+v", prod)
	}
	if e, err := rv.GetEnvironment(&bitbucket.RepositoryEnvironmentOptions{Owner: "acme", RepoSlug: "etl-jobs", Uuid: prod.Uuid}); err != nil || e.Name != "Production" {
		t.Errorf("GetEnvironment = %+v, %v", e, err)
	}
	dvs, err := rv.ListDeploymentVariables(&bitbucket.RepositoryDeploymentVariablesOptions{Owner: "acme", RepoSlug: "etl-jobs", Environment: &prod})
	if err != nil || len(dvs.Variables) != 1 || dvs.Variables[0].Key != "DEPLOY_TOKEN" || dvs.Variables[0].Value != "" || !dvs.Variables[0].Secured {
		t.Fatalf("ListDeploymentVariables = %+v, %v", dvs, err)
	}
	dv, err := rv.AddDeploymentVariable(&bitbucket.RepositoryDeploymentVariableOptions{Owner: "acme", RepoSlug: "etl-jobs", Environment: &prod, Key: "DEPLOY_ID", Value: "42"})
	if err != nil || dv.Value != "42" {
		t.Fatalf("AddDeploymentVariable = %+v, %v", dv, err)
	}
	if dv, err = rv.UpdateDeploymentVariable(&bitbucket.RepositoryDeploymentVariableOptions{Owner: "acme", RepoSlug: "etl-jobs", Environment: &prod, Uuid: dv.Uuid, Key: "DEPLOY_ID", Value: "43"}); err != nil || dv.Value != "43" {
		t.Errorf("UpdateDeploymentVariable = %+v, %v", dv, err)
	}
	if _, err := rv.DeleteDeploymentVariable(&bitbucket.RepositoryDeploymentVariableDeleteOptions{Owner: "acme", RepoSlug: "etl-jobs", Environment: &prod, Uuid: dv.Uuid}); err != nil {
		t.Errorf("DeleteDeploymentVariable: %v", err)
	}
	if dvs, _ := rv.ListDeploymentVariables(&bitbucket.RepositoryDeploymentVariablesOptions{Owner: "acme", RepoSlug: "etl-jobs", Environment: &prod}); len(dvs.Variables) != 1 {
		t.Errorf("deployment variables after delete: %+v", dvs.Variables)
	}

	// A Bearer access token acts as its account.
	bc, err := bitbucket.NewOAuthbearerTokenWithBaseUrlStr(f.bearer, f.srv.URL+"/2.0")
	if err != nil {
		t.Fatal(err)
	}
	if me, err := bc.User.Profile(); err != nil || me.AccountId != f.admin.AccountID {
		t.Errorf("Bearer Profile = %+v, %v", me, err)
	}
}

func TestBitbucketAuth(t *testing.T) {
	f := newBBFixture(t, 1)
	wrong := *f.admin
	wrong.APIToken = "not-the-token"
	for name, auth := range map[string]string{
		"no credentials":    "",
		"wrong token":       basic(&wrong),
		"unknown bearer":    "Bearer nope",
		"email of no token": basic(f.guest),
	} {
		resp, body := f.do(t, "GET", "/2.0/user", auth, "")
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || json.Valid([]byte(body)) {
			t.Errorf("%s: %d %q %q, want a plain-text 401", name, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	// go-bitbucket surfaces it as UnexpectedResponseStatusError.
	_, err := bbClient(t, f, &wrong).User.Profile()
	var status *bitbucket.UnexpectedResponseStatusError
	if !errors.As(err, &status) || status.StatusCode != http.StatusUnauthorized {
		t.Errorf("go-bitbucket with a wrong token: %v", err)
	}

	// A departed user authenticates but no longer reaches the workspace.
	if resp, _ := f.do(t, "GET", "/2.0/user", basic(f.departed), ""); resp.StatusCode != http.StatusOK {
		t.Errorf("departed /2.0/user: %d", resp.StatusCode)
	}
	resp, body := f.do(t, "GET", "/2.0/workspaces/acme/members", basic(f.departed), "")
	if e := decodeJSON[map[string]any](t, body); resp.StatusCode != http.StatusForbidden || e["type"] != "error" {
		t.Errorf("departed members: %d %s", resp.StatusCode, body)
	}
	if _, body := f.do(t, "GET", "/2.0/user/workspaces", basic(f.departed), ""); decodeJSON[bbPage](t, body).Size != 0 {
		t.Errorf("departed /2.0/user/workspaces: %s", body)
	}
}

// GET /2.0/user/workspaces: workspace_access items with administrator and a
// workspace_base, filtered by ?administrator=.
func TestBitbucketUserWorkspaces(t *testing.T) {
	f := newBBFixture(t, 1)
	type access struct {
		Type          string
		Administrator *bool
		Workspace     struct {
			Type, UUID, Slug, Name string
			Links                  struct{ Avatar, Self struct{ Href string } }
		}
	}
	list := func(u *BBUser, query string) []access {
		t.Helper()
		resp, body := f.do(t, "GET", "/2.0/user/workspaces"+query, basic(u), "")
		page := decodeJSON[struct{ Values []access }](t, body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("user/workspaces%s: %d %s", query, resp.StatusCode, body)
		}
		return page.Values
	}
	got := list(f.admin, "")
	if len(got) != 1 {
		t.Fatalf("admin's workspaces: %+v", got)
	}
	a := got[0]
	if a.Type != "workspace_access" || a.Administrator == nil || !*a.Administrator || a.Workspace.Type != "workspace_base" ||
		a.Workspace.Slug != "acme" || a.Workspace.UUID != f.org.BB.Workspace.UUID || a.Workspace.Name != "" ||
		!strings.HasSuffix(a.Workspace.Links.Self.Href, "/2.0/workspaces/acme") || !strings.HasSuffix(a.Workspace.Links.Avatar.Href, "/workspaces/acme/avatar/") {
		t.Errorf("admin's workspace access: %+v", a)
	}
	if got := list(f.member, ""); len(got) != 1 || got[0].Administrator == nil || *got[0].Administrator {
		t.Errorf("member's workspace access: %+v", got)
	}
	if got := list(f.member, "?administrator=true"); len(got) != 0 {
		t.Errorf("member with administrator=true: %+v", got)
	}
	if got := list(f.admin, "?administrator=false"); len(got) != 0 {
		t.Errorf("admin with administrator=false: %+v", got)
	}
}

func TestBitbucketWorkspacesGone(t *testing.T) {
	f := newBBFixture(t, 1)
	resp, body := f.do(t, "GET", "/2.0/workspaces", basic(f.admin), "")
	type data struct {
		AnnouncementURL string `json:"announcement_url"`
	}
	e := decodeJSON[struct {
		Type  string
		Error struct {
			Message, Detail string
			Data            data
		}
		Data data
	}](t, body)
	const announcement = "https://developer.atlassian.com/cloud/bitbucket/changelog#CHANGE-2770"
	if resp.StatusCode != http.StatusGone || e.Type != "error" || e.Error.Message != "CHANGE-2770 - Functionality has been deprecated" ||
		e.Error.Detail != "Please read the changelog entry for more details." || e.Error.Data.AnnouncementURL != announcement || e.Data.AnnouncementURL != announcement {
		t.Errorf("GET /2.0/workspaces: %d %s", resp.StatusCode, body)
	}
	resp, body = f.do(t, "GET", "/2.0/nothing/here", basic(f.admin), "")
	if resp.StatusCode != http.StatusNotFound || decodeJSON[map[string]any](t, body)["type"] != "error" {
		t.Errorf("unknown path: %d %s", resp.StatusCode, body)
	}
}

func TestBitbucketPaging(t *testing.T) {
	f := newBBFixture(t, 30) // 32 members
	admin := basic(f.admin)
	var seen []string
	next := "/2.0/workspaces/acme/members?pagelen=15"
	for pages := 0; next != ""; pages++ {
		if pages == 5 {
			t.Fatal("paging does not end")
		}
		_, body := f.do(t, "GET", next, admin, "")
		p := decodeJSON[struct {
			bbPage
			Values []struct{ User struct{ UUID string } } `json:"values"`
		}](t, body)
		for _, v := range p.Values {
			seen = append(seen, v.User.UUID)
		}
		next = ""
		if p.Next != "" {
			u, err := url.Parse(p.Next)
			if err != nil || !u.IsAbs() || u.Host != strings.TrimPrefix(f.srv.URL, "http://") || u.Query().Get("pagelen") != "15" {
				t.Fatalf("next %q is not an absolute URL on the server keeping pagelen", p.Next)
			}
			next = u.RequestURI()
		}
	}
	if len(seen) != 32 || len(slices.Compact(slices.Sorted(slices.Values(seen)))) != 32 {
		t.Errorf("paged %d members, want 32 distinct", len(seen))
	}
	if _, body := f.do(t, "GET", "/2.0/workspaces/acme/members?pagelen=500", admin, ""); decodeJSON[bbPage](t, body).Pagelen != 100 {
		t.Errorf("pagelen is not capped at 100: %s", body[:80])
	}
	if resp, _ := f.do(t, "GET", "/2.0/workspaces/acme/members?page=0", admin, ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("page=0: %d", resp.StatusCode)
	}
}

func TestBitbucketGroups(t *testing.T) {
	f := newBBFixture(t, 2)
	admin, member := basic(f.admin), basic(f.member)

	resp, body := f.do(t, "GET", "/1.0/groups/acme", admin, "")
	type v1 struct {
		Name, Slug string
		Permission *string
		Owner      struct {
			IsTeam bool `json:"is_team"`
		}
		Members []struct {
			UUID        string
			AccountID   string `json:"account_id"`
			ResourceURI string `json:"resource_uri"`
			IsTeam      bool   `json:"is_team"`
		}
	}
	groups := decodeJSON[[]v1](t, body)
	if resp.StatusCode != http.StatusOK || len(groups) != 2 || groups[0].Slug != "data-engineers" || *groups[0].Permission != "write" ||
		groups[1].Permission != nil || !groups[0].Owner.IsTeam || len(groups[0].Members) != 2 || groups[0].Members[1].UUID != f.member.UUID ||
		!strings.HasPrefix(groups[0].Members[0].ResourceURI, "/1.0/users/") {
		t.Fatalf("GET /1.0/groups/acme: %d %s", resp.StatusCode, body)
	}
	for name, c := range map[string]struct {
		method, path, auth string
		status             int
	}{
		"non-admin":          {"GET", "/1.0/groups/acme", member, 403},
		"uuid read":          {"GET", "/1.0/groups/" + url.PathEscape(f.org.BB.Workspace.UUID), admin, 403},
		"uuid write":         {"PUT", "/1.0/groups/" + url.PathEscape(f.org.BB.Workspace.UUID) + "/contractors/members/" + url.PathEscape(f.member.UUID), admin, 405},
		"create":             {"POST", "/1.0/groups/acme", admin, 405},
		"unknown workspace":  {"GET", "/1.0/groups/other", admin, 404},
		"unknown group":      {"GET", "/1.0/groups/acme/nope/members", admin, 404},
		"api token write":    {"PUT", "/1.0/groups/acme/contractors/members/" + url.PathEscape(f.member.UUID), admin, 403},
		"non-admin write":    {"PUT", "/1.0/groups/acme/contractors/members/" + url.PathEscape(f.member.UUID), "Bearer nope", 401},
		"remove non-member":  {"DELETE", "/1.0/groups/acme/contractors/members/" + url.PathEscape(f.member.UUID), "Bearer " + f.bearer, 404},
		"already member add": {"PUT", "/1.0/groups/acme/data-engineers/members/" + url.PathEscape(f.member.UUID), "Bearer " + f.bearer, 409},
	} {
		if resp, body := f.do(t, c.method, c.path, c.auth, "{}"); resp.StatusCode != c.status {
			t.Errorf("%s: %s %s = %d %s, want %d", name, c.method, c.path, resp.StatusCode, body, c.status)
		}
	}

	// Add with an OAuth bearer token, see it listed, remove it.
	path := "/1.0/groups/acme/contractors/members/" + url.PathEscape(f.member.UUID)
	resp, body = f.do(t, "PUT", path, "Bearer "+f.bearer, "{}")
	if u := decodeJSON[map[string]any](t, body); resp.StatusCode != http.StatusOK || u["account_id"] != f.member.AccountID {
		t.Fatalf("PUT member: %d %s", resp.StatusCode, body)
	}
	_, body = f.do(t, "GET", "/1.0/groups/acme/contractors/members", admin, "")
	if ms := decodeJSON[[]map[string]any](t, body); len(ms) != 2 || ms[1]["uuid"] != f.member.UUID {
		t.Errorf("members after PUT: %s", body)
	}
	if resp, _ := f.do(t, "DELETE", path, "Bearer "+f.bearer, ""); resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE member: %d", resp.StatusCode)
	}
	if _, body = f.do(t, "GET", "/1.0/groups/acme/contractors/members/", admin, ""); len(decodeJSON[[]any](t, body)) != 1 {
		t.Errorf("members after DELETE: %s", body)
	}
	// Adding someone from outside the workspace makes them a member.
	resp, _ = f.do(t, "PUT", "/1.0/groups/acme/contractors/members/"+f.departed.AccountID, "Bearer "+f.bearer, "{}")
	if resp.StatusCode != http.StatusOK || !f.org.BBUserByAccountID(f.departed.AccountID).InWorkspace {
		t.Errorf("adding a non-member: %d", resp.StatusCode)
	}
}

// TestSecuredValuesNeverServed exercises every route that touches variables,
// through both path spellings, and scans everything the server sent.
func TestSecuredValuesNeverServed(t *testing.T) {
	f := newBBFixture(t, 1)
	admin := basic(f.admin)
	esc := url.PathEscape
	repo := "/2.0/repositories/acme/etl-jobs"
	dep := repo + "/deployments_config/environments/" + esc(f.prod.UUID) + "/variables"
	wsv := "/2.0/workspaces/acme/pipelines-config/variables"
	fresh := []string{"fresh-secret-1", "fresh-secret-2", "fresh-secret-3", "rotated-secret-1", "rotated-secret-2", "rotated-secret-3"}

	for _, base := range []string{repo + "/pipelines_config/variables", wsv, dep} {
		for _, p := range []string{base, base + "/"} {
			f.do(t, "GET", p, admin, "")
		}
	}
	for i, base := range []string{repo + "/pipelines_config/variables/", wsv, dep} {
		resp, body := f.do(t, "POST", base, admin, `{"key":"FRESH","value":"`+fresh[i]+`","secured":true}`)
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") == "" {
			t.Fatalf("POST %s: %d %s", base, resp.StatusCode, body)
		}
		v := decodeJSON[map[string]any](t, body)
		if _, has := v["value"]; has {
			t.Errorf("POST %s returned a value: %s", base, body)
		}
		item := strings.TrimSuffix(base, "/") + "/" + esc(v["uuid"].(string))
		f.do(t, "PUT", item, admin, `{"value":"`+fresh[i+3]+`"}`)
		if !strings.HasPrefix(base, dep) {
			f.do(t, "GET", item, admin, "")
		}
	}
	for _, id := range []string{f.secured.UUID, f.org.BB.Variables[0].UUID} {
		f.do(t, "GET", repo+"/pipelines_config/variables/"+esc(id), admin, "")
		f.do(t, "GET", wsv+"/"+esc(id), admin, "")
	}
	f.do(t, "PUT", dep+"/"+esc(f.deploySecured.UUID), admin, `{"key":"DEPLOY_TOKEN","secured":true}`)
	for _, p := range []string{"/2.0/user", "/2.0/workspaces/acme", repo, "/2.0/repositories/acme", repo + "/environments/", "/1.0/groups/acme"} {
		f.do(t, "GET", p, admin, "")
	}

	out := f.served()
	if !strings.Contains(out, "DATABRICKS_TOKEN") || !strings.Contains(out, "FRESH") {
		t.Fatal("the scan saw no variables at all")
	}
	for _, secret := range append(fresh, f.secretVal) {
		if strings.Contains(out, secret) {
			t.Errorf("a secured value (%s…) was served", secret[:6])
		}
	}
}

func TestPipelinesOIDC(t *testing.T) {
	f := newBBFixture(t, 1)
	iss := f.srv.URL + "/2.0/workspaces/acme/pipelines-config/identity/oidc"
	resp, body := f.do(t, "GET", "/2.0/workspaces/"+url.PathEscape(f.org.BB.Workspace.UUID)+"/pipelines-config/identity/oidc/.well-known/openid-configuration", "", "")
	conf := decodeJSON[struct {
		Issuer  string
		JWKSURI string `json:"jwks_uri"`
	}](t, body)
	if resp.StatusCode != http.StatusOK || conf.Issuer != iss || conf.JWKSURI != iss+"/keys.json" {
		t.Fatalf("discovery: %d %s", resp.StatusCode, body)
	}
	_, body = f.do(t, "GET", strings.TrimPrefix(conf.JWKSURI, f.srv.URL), "", "")
	keys := decodeJSON[struct {
		Keys []struct{ Kty, Kid, Alg, N, E string }
	}](t, body).Keys
	if len(keys) != 1 || keys[0].Kty != "RSA" || keys[0].Alg != "RS256" {
		t.Fatalf("keys.json: %s", body)
	}
	n, _ := base64.RawURLEncoding.DecodeString(keys[0].N)
	e, _ := base64.RawURLEncoding.DecodeString(keys[0].E)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}

	tok, err := f.org.PipelinesOIDCToken(f.srv.URL, PipelineStep{Repo: "etl-jobs", Environment: "Production"})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("token does not verify with keys.json: %v", err)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if h := decodeJSON[map[string]string](t, string(hdr)); h["kid"] != keys[0].Kid || h["alg"] != "RS256" {
		t.Errorf("header %s", hdr)
	}
	c := decodeJSON[map[string]any](t, string(payload))
	wantSub := f.repo.UUID + ":" + f.prod.UUID + ":" + c["stepUuid"].(string)
	if c["iss"] != iss || c["sub"] != wantSub || c["repositoryUuid"] != f.repo.UUID || c["deploymentEnvironmentUuid"] != f.prod.UUID ||
		c["aud"] != "ari:cloud:bitbucket::workspace/"+strings.Trim(f.org.BB.Workspace.UUID, "{}") || c["exp"].(float64) != float64(bbNow.Add(time.Hour).Unix()) {
		t.Errorf("claims %s", payload)
	}
	if resp, _ := f.do(t, "GET", "/2.0/workspaces/other/pipelines-config/identity/oidc/keys.json", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown workspace keys: %d", resp.StatusCode)
	}
}
