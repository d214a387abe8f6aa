package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// bbContractOps lists every Bitbucket 2.0 operation the emulator serves, as
// method and path of the OpenAPI document. An empty note means responses are
// validated against the document; otherwise the note says why not, and the
// test checks what it can.
//
// 401s are not validated: Bitbucket answers a bad credential with plain
// text, which the document does not describe.
var bbContractOps = map[string]string{
	"GET /user":                                                                                                                 "",
	"GET /user/workspaces":                                                                                                      "not in the document (CHANGE-3022); values checked by hand against Atlassian's workspace_access/workspace_base",
	"GET /workspaces":                                                                                                           "gone (410, CHANGE-2770); the document still describes the 200; body checked against the error schema and the service's wording",
	"GET /workspaces/{workspace}":                                                                                               "",
	"GET /workspaces/{workspace}/members":                                                                                       "",
	"GET /workspaces/{workspace}/members/{member}":                                                                              "",
	"GET /workspaces/{workspace}/permissions":                                                                                   "",
	"GET /repositories/{workspace}":                                                                                             "",
	"GET /repositories/{workspace}/{repo_slug}":                                                                                 "",
	"GET /repositories/{workspace}/{repo_slug}/environments":                                                                    "",
	"GET /repositories/{workspace}/{repo_slug}/environments/{environment_uuid}":                                                 "",
	"GET /repositories/{workspace}/{repo_slug}/pipelines_config/variables":                                                      "",
	"POST /repositories/{workspace}/{repo_slug}/pipelines_config/variables":                                                     "",
	"GET /repositories/{workspace}/{repo_slug}/pipelines_config/variables/{variable_uuid}":                                      "",
	"PUT /repositories/{workspace}/{repo_slug}/pipelines_config/variables/{variable_uuid}":                                      "",
	"DELETE /repositories/{workspace}/{repo_slug}/pipelines_config/variables/{variable_uuid}":                                   "",
	"GET /workspaces/{workspace}/pipelines-config/variables":                                                                    "",
	"POST /workspaces/{workspace}/pipelines-config/variables":                                                                   "",
	"GET /workspaces/{workspace}/pipelines-config/variables/{variable_uuid}":                                                    "",
	"PUT /workspaces/{workspace}/pipelines-config/variables/{variable_uuid}":                                                    "",
	"DELETE /workspaces/{workspace}/pipelines-config/variables/{variable_uuid}":                                                 "",
	"GET /repositories/{workspace}/{repo_slug}/deployments_config/environments/{environment_uuid}/variables":                    "",
	"POST /repositories/{workspace}/{repo_slug}/deployments_config/environments/{environment_uuid}/variables":                   "",
	"PUT /repositories/{workspace}/{repo_slug}/deployments_config/environments/{environment_uuid}/variables/{variable_uuid}":    "",
	"DELETE /repositories/{workspace}/{repo_slug}/deployments_config/environments/{environment_uuid}/variables/{variable_uuid}": "",
	"GET /repositories/{workspace}/{repo_slug}/pipelines":                                                                       "",
	"GET /repositories/{workspace}/{repo_slug}/src/{commit}/{path}":                                                             "raw file contents, which the document does not describe (it has only the JSON listing and meta forms); body and 404 checked by hand",
	"GET /workspaces/{workspace}/pipelines-config/identity/oidc/.well-known/openid-configuration":                               "",
	"GET /workspaces/{workspace}/pipelines-config/identity/oidc/keys.json":                                                      "",
}

var bbSpec struct {
	once sync.Once
	doc  *openapi3.T
	err  error
}

// bitbucketSpec loads the vendored part of Bitbucket's OpenAPI document
// (testdata/bitbucket-openapi.json) once per test binary.
func bitbucketSpec(t *testing.T) *openapi3.T {
	t.Helper()
	bbSpec.once.Do(func() {
		bbSpec.doc, bbSpec.err = openapi3.NewLoader().LoadFromFile(specSubset)
		if bbSpec.err == nil {
			bbSpec.err = restoreErrorSchema(bbSpec.doc)
		}
	})
	if bbSpec.err != nil {
		t.Fatalf("load the Bitbucket OpenAPI document %s: %v", specSubset, bbSpec.err)
	}
	return bbSpec.doc
}

// restoreErrorSchema puts back the error schema Atlassian publishes: the
// vendored copy stripped it to an object that allows no properties at all
// (see testdata/README.md), which no real error body satisfies.
func restoreErrorSchema(doc *openapi3.T) error {
	ref := doc.Components.Schemas["error"]
	if ref == nil || ref.Value == nil {
		return nil
	}
	var s openapi3.Schema
	err := json.Unmarshal([]byte(`{"type":"object","required":["type"],"additionalProperties":true,
		"properties":{"type":{"type":"string"},"error":{"type":"object","required":["message"],"additionalProperties":false,
		"properties":{"message":{"type":"string"},"detail":{"type":"string"},"data":{"type":"object","additionalProperties":true}}}}}`), &s)
	*ref.Value = s // every $ref to it shares this value
	return err
}

// specRouter routes requests to the test server onto the document's
// operations. It is built over the covered paths only: the whole document
// fails validation on a schema name, which does not matter here.
func specRouter(t *testing.T, doc *openapi3.T, serverURL string) routers.Router {
	t.Helper()
	mini := &openapi3.T{OpenAPI: doc.OpenAPI, Info: doc.Info, Paths: openapi3.NewPaths(),
		Servers:    openapi3.Servers{{URL: serverURL + "/2.0"}},
		Components: &openapi3.Components{SecuritySchemes: doc.Components.SecuritySchemes}}
	for op, note := range bbContractOps {
		if note != "" {
			continue
		}
		_, path, _ := strings.Cut(op, " ")
		item := doc.Paths.Value(path)
		if item == nil {
			t.Fatalf("%s is not in the OpenAPI document", op)
		}
		mini.Paths.Set(path, item)
	}
	r, err := legacy.NewRouter(mini, openapi3.DisableExamplesValidation())
	if err != nil {
		t.Fatalf("build OpenAPI router: %v", err)
	}
	return r
}

func TestBitbucketContract(t *testing.T) {
	doc := bitbucketSpec(t)
	f := newBBFixture(t, 12)
	router := specRouter(t, doc, f.srv.URL)
	admin := basic(f.admin)
	esc := url.PathEscape
	repo := "/2.0/repositories/acme/etl-jobs"
	wsVar := f.org.BB.Variables[1]
	depVars := repo + "/deployments_config/environments/" + esc(f.prod.UUID) + "/variables"
	missing := esc("{00000000-0000-4000-8000-000000000000}")

	for _, result := range []string{"FAILED", "SUCCESSFUL"} {
		if _, err := f.org.RecordPipelineRun("etl-jobs", "", result); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.org.SetRepoFile("etl-jobs", "bitbucket-pipelines.yml", "pipelines:\n  default: []\n"); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		op, method, path, body string
		status                 int
	}{
		{"GET /user", "GET", "/2.0/user", "", 200},
		{"GET /user/workspaces", "GET", "/2.0/user/workspaces", "", 200},
		{"GET /workspaces", "GET", "/2.0/workspaces", "", 410},
		{"GET /workspaces/{workspace}", "GET", "/2.0/workspaces/acme", "", 200},
		{"GET /workspaces/{workspace}", "GET", "/2.0/workspaces/" + esc(f.org.BB.Workspace.UUID), "", 200},
		{"GET /workspaces/{workspace}", "GET", "/2.0/workspaces/nope", "", 404},
		{"GET /workspaces/{workspace}/members", "GET", "/2.0/workspaces/acme/members", "", 200},
		{"GET /workspaces/{workspace}/members", "GET", "/2.0/workspaces/acme/members?page=2", "", 200},
		{"GET /workspaces/{workspace}/members/{member}", "GET", "/2.0/workspaces/acme/members/" + esc(f.member.UUID), "", 200},
		{"GET /workspaces/{workspace}/members/{member}", "GET", "/2.0/workspaces/acme/members/" + f.member.AccountID, "", 200},
		{"GET /workspaces/{workspace}/members/{member}", "GET", "/2.0/workspaces/acme/members/" + esc(f.departed.UUID), "", 404},
		{"GET /workspaces/{workspace}/permissions", "GET", "/2.0/workspaces/acme/permissions", "", 200},
		{"GET /workspaces/{workspace}/permissions", "GET", "/2.0/workspaces/acme/permissions?q=" + esc(`permission="owner"`), "", 200},
		{"GET /repositories/{workspace}", "GET", "/2.0/repositories/acme", "", 200},
		{"GET /repositories/{workspace}", "GET", "/2.0/repositories/nope", "", 404},
		{"GET /repositories/{workspace}/{repo_slug}", "GET", repo, "", 200},
		{"GET /repositories/{workspace}/{repo_slug}", "GET", "/2.0/repositories/acme/" + esc(f.repo.UUID), "", 200},
		{"GET /repositories/{workspace}/{repo_slug}", "GET", "/2.0/repositories/acme/nope", "", 404},
		{"GET /repositories/{workspace}/{repo_slug}/environments", "GET", repo + "/environments", "", 200},
		{"GET /repositories/{workspace}/{repo_slug}/environments/{environment_uuid}", "GET", repo + "/environments/" + esc(f.prod.UUID), "", 200},
		{"GET /repositories/{workspace}/{repo_slug}/environments/{environment_uuid}", "GET", repo + "/environments/" + missing, "", 404},

		{"GET /repositories/{workspace}/{repo_slug}/pipelines_config/variables", "GET", repo + "/pipelines_config/variables", "", 200},
		{"POST /repositories/{workspace}/{repo_slug}/pipelines_config/variables", "POST", repo + "/pipelines_config/variables", `{"key":"NEW_VAR","value":"v","secured":false}`, 201},
		{"POST /repositories/{workspace}/{repo_slug}/pipelines_config/variables", "POST", repo + "/pipelines_config/variables", `{"key":"NEW_VAR","value":"v"}`, 409},
		{"POST /repositories/{workspace}/{repo_slug}/pipelines_config/variables", "POST", "/2.0/repositories/acme/nope/pipelines_config/variables", `{"key":"X"}`, 404},
		{"GET /repositories/{workspace}/{repo_slug}/pipelines_config/variables/{variable_uuid}", "GET", repo + "/pipelines_config/variables/" + esc(f.secured.UUID), "", 200},
		{"GET /repositories/{workspace}/{repo_slug}/pipelines_config/variables/{variable_uuid}", "GET", repo + "/pipelines_config/variables/" + missing, "", 404},
		{"PUT /repositories/{workspace}/{repo_slug}/pipelines_config/variables/{variable_uuid}", "PUT", repo + "/pipelines_config/variables/" + esc(f.secured.UUID), `{"key":"DATABRICKS_TOKEN","value":"rotated","secured":true}`, 200},
		{"PUT /repositories/{workspace}/{repo_slug}/pipelines_config/variables/{variable_uuid}", "PUT", repo + "/pipelines_config/variables/" + missing, `{"value":"x"}`, 404},
		{"DELETE /repositories/{workspace}/{repo_slug}/pipelines_config/variables/{variable_uuid}", "DELETE", repo + "/pipelines_config/variables/" + esc(f.repo.Variables[1].UUID), "", 204},
		{"DELETE /repositories/{workspace}/{repo_slug}/pipelines_config/variables/{variable_uuid}", "DELETE", repo + "/pipelines_config/variables/" + missing, "", 404},

		{"GET /workspaces/{workspace}/pipelines-config/variables", "GET", "/2.0/workspaces/acme/pipelines-config/variables", "", 200},
		{"POST /workspaces/{workspace}/pipelines-config/variables", "POST", "/2.0/workspaces/acme/pipelines-config/variables", `{"key":"WS_NEW","value":"s","secured":true}`, 201},
		{"POST /workspaces/{workspace}/pipelines-config/variables", "POST", "/2.0/workspaces/acme/pipelines-config/variables", `{"key":"WS_NEW","value":"s"}`, 409},
		{"GET /workspaces/{workspace}/pipelines-config/variables/{variable_uuid}", "GET", "/2.0/workspaces/acme/pipelines-config/variables/" + esc(wsVar.UUID), "", 200},
		{"GET /workspaces/{workspace}/pipelines-config/variables/{variable_uuid}", "GET", "/2.0/workspaces/acme/pipelines-config/variables/" + missing, "", 404},
		{"PUT /workspaces/{workspace}/pipelines-config/variables/{variable_uuid}", "PUT", "/2.0/workspaces/acme/pipelines-config/variables/" + esc(wsVar.UUID), `{"value":"changed"}`, 200},
		{"PUT /workspaces/{workspace}/pipelines-config/variables/{variable_uuid}", "PUT", "/2.0/workspaces/acme/pipelines-config/variables/" + missing, `{"value":"x"}`, 404},
		{"DELETE /workspaces/{workspace}/pipelines-config/variables/{variable_uuid}", "DELETE", "/2.0/workspaces/acme/pipelines-config/variables/" + esc(wsVar.UUID), "", 204},
		{"DELETE /workspaces/{workspace}/pipelines-config/variables/{variable_uuid}", "DELETE", "/2.0/workspaces/acme/pipelines-config/variables/" + missing, "", 404},

		{"GET /repositories/{workspace}/{repo_slug}/deployments_config/environments/{environment_uuid}/variables", "GET", depVars, "", 200},
		{"POST /repositories/{workspace}/{repo_slug}/deployments_config/environments/{environment_uuid}/variables", "POST", depVars, `{"key":"DEP_NEW","value":"d"}`, 201},
		{"POST /repositories/{workspace}/{repo_slug}/deployments_config/environments/{environment_uuid}/variables", "POST", depVars, `{"key":"DEP_NEW","value":"d"}`, 409},
		{"POST /repositories/{workspace}/{repo_slug}/deployments_config/environments/{environment_uuid}/variables", "POST", repo + "/deployments_config/environments/" + missing + "/variables", `{"key":"D"}`, 404},
		{"PUT /repositories/{workspace}/{repo_slug}/deployments_config/environments/{environment_uuid}/variables/{variable_uuid}", "PUT", depVars + "/" + esc(f.deploySecured.UUID), `{"key":"DEPLOY_TOKEN","value":"new","secured":true}`, 200},
		{"PUT /repositories/{workspace}/{repo_slug}/deployments_config/environments/{environment_uuid}/variables/{variable_uuid}", "PUT", depVars + "/" + missing, `{"value":"x"}`, 404},
		{"DELETE /repositories/{workspace}/{repo_slug}/deployments_config/environments/{environment_uuid}/variables/{variable_uuid}", "DELETE", depVars + "/" + esc(f.deploySecured.UUID), "", 204},
		{"DELETE /repositories/{workspace}/{repo_slug}/deployments_config/environments/{environment_uuid}/variables/{variable_uuid}", "DELETE", depVars + "/" + missing, "", 404},

		{"GET /workspaces/{workspace}/pipelines-config/identity/oidc/.well-known/openid-configuration", "GET", "/2.0/workspaces/acme/pipelines-config/identity/oidc/.well-known/openid-configuration", "", 200},
		{"GET /workspaces/{workspace}/pipelines-config/identity/oidc/.well-known/openid-configuration", "GET", "/2.0/workspaces/nope/pipelines-config/identity/oidc/.well-known/openid-configuration", "", 404},
		{"GET /workspaces/{workspace}/pipelines-config/identity/oidc/keys.json", "GET", "/2.0/workspaces/acme/pipelines-config/identity/oidc/keys.json", "", 200},
		{"GET /repositories/{workspace}/{repo_slug}/pipelines", "GET", repo + "/pipelines/?sort=-created_on&pagelen=1", "", 200},
		{"GET /repositories/{workspace}/{repo_slug}/src/{commit}/{path}", "GET", repo + "/src/main/bitbucket-pipelines.yml", "", 200},
		{"GET /repositories/{workspace}/{repo_slug}/src/{commit}/{path}", "GET", repo + "/src/main/absent.yml", "", 404},
	}

	exercised := map[string]bool{}
	for _, c := range cases {
		note, listed := bbContractOps[c.op]
		if !listed {
			t.Fatalf("case for %s, which bbContractOps does not list", c.op)
		}
		exercised[c.op] = true
		req, _ := http.NewRequest(c.method, f.srv.URL+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", admin)
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var raw bytes.Buffer
		_, _ = raw.ReadFrom(resp.Body)
		resp.Body.Close()
		name := c.method + " " + c.path
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d; body %s", name, resp.StatusCode, c.status, raw.String())
			continue
		}
		if note != "" {
			checkUndocumented(t, doc, c.op, name, raw.Bytes())
			continue
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s: no operation in the document: %v", name, err)
			continue
		}
		if got := route.Method + " " + route.Path; got != c.op {
			t.Errorf("%s: routed to %s, want %s", name, got, c.op)
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
			Status:                 resp.StatusCode,
			Header:                 resp.Header,
			Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		in.SetBodyBytes(raw.Bytes())
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("%s: response does not match the document: %v\nbody: %s", name, err, raw.String())
		}
	}

	for op := range bbContractOps {
		if !exercised[op] {
			t.Errorf("bbContractOps lists %s but no case exercises it", op)
		}
	}
	for _, rt := range (&Server{}).bitbucketRoutes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if rest, ok := strings.CutPrefix(path, "/2.0"); ok {
			if _, listed := bbContractOps[method+" "+rest]; !listed {
				t.Errorf("served route %s is not in bbContractOps: add it and a case", rt.pattern)
			}
		}
	}
}

// checkUndocumented checks the operations the document cannot validate as
// served: the 410 body against the error schema, and the values of
// /user/workspaces against Atlassian's current document (workspace_access
// with a workspace_base, which the vendored revision lacks).
func checkUndocumented(t *testing.T, doc *openapi3.T, op, name string, body []byte) {
	t.Helper()
	if op == "GET /repositories/{workspace}/{repo_slug}/src/{commit}/{path}" {
		if strings.HasSuffix(name, "/absent.yml") {
			var e map[string]any
			if err := json.Unmarshal(body, &e); err != nil || doc.Components.Schemas["error"].Value.VisitJSON(e) != nil {
				t.Errorf("%s: not an error body: %s", name, body)
			}
		} else if !strings.HasPrefix(string(body), "pipelines:") {
			t.Errorf("%s: not the raw file: %q", name, body)
		}
		return
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("%s: body is not JSON: %v", name, err)
		return
	}
	schemas := doc.Components.Schemas
	switch op {
	case "GET /workspaces":
		if err := schemas["error"].Value.VisitJSON(v); err != nil {
			t.Errorf("%s: not an error body: %v", name, err)
		}
		if msg, _ := json.Marshal(v); !strings.Contains(string(msg), "CHANGE-2770") {
			t.Errorf("%s: body does not name CHANGE-2770: %s", name, msg)
		}
	case "GET /user/workspaces":
		values, _ := v["values"].([]any)
		if len(values) == 0 {
			t.Errorf("%s: no workspaces", name)
		}
		for _, it := range values {
			a, _ := it.(map[string]any)
			ws, _ := a["workspace"].(map[string]any)
			links, _ := ws["links"].(map[string]any)
			_, isBool := a["administrator"].(bool)
			if a["type"] != "workspace_access" || !isBool || ws["type"] != "workspace_base" || ws["uuid"] == nil || ws["slug"] == nil ||
				links["self"] == nil || links["avatar"] == nil {
				t.Errorf("%s: not a workspace_access with a workspace_base: %v", name, a)
			}
			for k := range links {
				if k != "self" && k != "avatar" {
					t.Errorf("%s: workspace_base links allow only self and avatar, not %q", name, k)
				}
			}
		}
	default:
		t.Errorf("%s: no check for undocumented operation %s", name, op)
	}
}
