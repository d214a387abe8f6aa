package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// checkHeaders asserts what clients that trust headers rely on (the Node
// "bitbucket" client parses any application/json body, so an empty 204
// with a JSON Content-Type makes it fail): a 204 carries no body, no
// Content-Type and no Content-Length; any other body has a Content-Type,
// and a JSON one parses.
func checkHeaders(t *testing.T, name string, resp *http.Response, body []byte, wantJSONType string) {
	t.Helper()
	ct := resp.Header.Get("Content-Type")
	switch {
	case resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified:
		if len(body) != 0 || ct != "" || resp.Header.Get("Content-Length") != "" || resp.ContentLength > 0 {
			t.Errorf("%s: %d with body %q, Content-Type %q, Content-Length %q: want none", name, resp.StatusCode, body, ct, resp.Header.Get("Content-Length"))
		}
	case len(body) == 0 && resp.Request.Method != http.MethodHead:
		t.Errorf("%s: %d with an empty body", name, resp.StatusCode)
	case strings.HasPrefix(ct, "application/json"):
		if ct != wantJSONType {
			t.Errorf("%s: Content-Type %q, want %q", name, ct, wantJSONType)
		}
		if resp.Request.Method != http.MethodHead && !json.Valid(body) {
			t.Errorf("%s: Content-Type %q but the body is not JSON: %q", name, ct, body)
		}
	case ct == "":
		t.Errorf("%s: %d body without a Content-Type", name, resp.StatusCode)
	}
}

func TestResponseHeadersMatchTheServices(t *testing.T) {
	org := Demo(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	org.AddVolume("main", "ops", "audit")
	srv := New(org, Options{})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	org.Mu.Lock()
	var repo *BBRepo
	for _, r := range org.BB.Repos {
		if len(r.Variables) > 0 {
			repo = r
			break
		}
	}
	varUUID := repo.Variables[0].UUID
	var group *BBGroup
	for _, g := range org.BB.Groups {
		if len(g.Members) > 0 {
			group = g
			break
		}
	}
	member := org.bbUser(group.Members[0])
	var adminGroup *AdminGroup
	for _, g := range org.Admin.Groups {
		if len(g.Members) > 0 {
			adminGroup = g
			break
		}
	}
	var dbUser, dbToken string
	for id, u := range org.DB.Users {
		if !u.Admin {
			dbUser = id
			break
		}
	}
	for id, tk := range org.DB.Tokens {
		if tk.OwnerID == dbUser || dbToken == "" {
			dbToken = id
		}
	}
	org.Mu.Unlock()

	basic := func(r *http.Request) { r.SetBasicAuth(org.Creds.BitbucketUsername, org.Creds.BitbucketAPIToken) }
	bearer := func(v string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+v) }
	}
	const bbJSON, dbJSON, adminJSON = "application/json", "application/json", "application/json"
	type req struct {
		name, method, path, body string
		auth                     func(*http.Request)
		status                   int
		jsonType                 string
	}
	repoPath := "/2.0/repositories/" + org.BB.Workspace.Slug + "/" + repo.Slug
	reqs := []req{
		{"bitbucket variable list", "GET", repoPath + "/pipelines_config/variables", "", basic, 200, bbJSON},
		{"bitbucket variable delete", "DELETE", repoPath + "/pipelines_config/variables/" + varUUID, "", basic, 204, bbJSON},
		{"bitbucket variable delete again", "DELETE", repoPath + "/pipelines_config/variables/" + varUUID, "", basic, 404, bbJSON},
		{"bitbucket /1.0 member delete", "DELETE", "/1.0/groups/" + org.BB.Workspace.Slug + "/" + group.Slug + "/members/" + member.UUID, "", bearer(org.Creds.BitbucketBearer), 204, bbJSON},
		{"bitbucket /1.0 member delete, API token", "DELETE", "/1.0/groups/" + org.BB.Workspace.Slug + "/" + group.Slug + "/members/" + member.UUID, "", basic, 403, bbJSON},
		{"bitbucket no such API", "DELETE", "/2.0/nothing", "", basic, 404, bbJSON},
		{"bitbucket bad credentials", "DELETE", repoPath + "/pipelines_config/variables/" + varUUID, "", bearer("nope"), 401, bbJSON},
		{"atlassian membership delete", "DELETE", "/admin/v2/orgs/" + org.Admin.OrgID + "/directories/-/groups/" + adminGroup.ID + "/memberships/" + adminGroup.Members[0], "", bearer(org.Creds.AtlassianAdminKey), 204, adminJSON},
		{"databricks token delete", "DELETE", "/api/2.0/token-management/tokens/" + dbToken, "", bearer(org.Creds.DatabricksToken), 200, dbJSON},
		{"databricks token delete again", "DELETE", "/api/2.0/token-management/tokens/" + dbToken, "", bearer(org.Creds.DatabricksToken), 404, dbJSON},
		{"databricks SCIM user delete", "DELETE", "/api/2.0/preview/scim/v2/Users/" + dbUser, "", bearer(org.Creds.DatabricksToken), 204, dbJSON},
		{"databricks file upload", "PUT", "/api/2.0/fs/files/Volumes/main/ops/audit/a/b.jsonl?overwrite=false", "{}\n", bearer(org.Creds.DatabricksToken), 204, dbJSON},
		{"databricks file upload again", "PUT", "/api/2.0/fs/files/Volumes/main/ops/audit/a/b.jsonl?overwrite=false", "{}\n", bearer(org.Creds.DatabricksToken), 409, dbJSON},
		{"databricks file metadata", "HEAD", "/api/2.0/fs/files/Volumes/main/ops/audit/a/b.jsonl", "", bearer(org.Creds.DatabricksToken), 200, dbJSON},
		{"databricks directory list", "GET", "/api/2.0/fs/directories/Volumes/main/ops/audit/a", "", bearer(org.Creds.DatabricksToken), 200, dbJSON},
		{"databricks file delete", "DELETE", "/api/2.0/fs/files/Volumes/main/ops/audit/a/b.jsonl", "", bearer(org.Creds.DatabricksToken), 204, dbJSON},
		{"databricks file of no volume", "GET", "/api/2.0/fs/files/Volumes/none/x/y/z", "", bearer(org.Creds.DatabricksToken), 404, dbJSON},
	}
	run := func(rq req) {
		t.Helper()
		r, _ := http.NewRequest(rq.method, hs.URL+rq.path, strings.NewReader(rq.body))
		rq.auth(r)
		resp, err := hs.Client().Do(r)
		if err != nil {
			t.Fatalf("%s: %v", rq.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != rq.status {
			t.Errorf("%s: status %d, want %d (%s)", rq.name, resp.StatusCode, rq.status, body)
		}
		checkHeaders(t, rq.name, resp, body, rq.jsonType)
	}
	for _, rq := range reqs {
		run(rq)
	}

	// A fault that rewrites a response keeps its headers right: a DELETE
	// answered through the fault layer is still a bare 204.
	if err := srv.SetFaults([]FaultRule{{Method: "DELETE", Route: "/1.0/**", Kind: FaultEmptyMembers}}); err != nil {
		t.Fatal(err)
	}
	org.Mu.Lock()
	member = org.bbUser(group.Members[0])
	org.Mu.Unlock()
	run(req{"bitbucket /1.0 member delete through the fault layer", "DELETE", "/1.0/groups/" + org.BB.Workspace.Slug + "/" + group.Slug + "/members/" + member.UUID, "", bearer(org.Creds.BitbucketBearer), 204, bbJSON})
	if n := srv.Stats().Faults[string(FaultEmptyMembers)]; n != 1 {
		t.Errorf("the fault layer answered %d requests, want 1", n)
	}
}

// A handler that labels a 204 as JSON (as writeJSON(w, 204, …) would) still
// sends a bare 204.
func TestServiceHeadersStripBodilessAnswers(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(withServiceHeaders(w), http.StatusNoContent, map[string]string{})
	}))
	defer hs.Close()
	r, _ := http.NewRequest("DELETE", hs.URL+"/x", nil)
	resp, err := hs.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkHeaders(t, "writeJSON 204", resp, body, "application/json")
}
