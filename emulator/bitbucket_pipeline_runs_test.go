package emulator

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPipelinesControlAndRuns(t *testing.T) {
	f := newBBFixture(t, 1)
	admin := basic(f.admin)

	// A step token through the control endpoint, for this workspace and for another.
	claims := func(body string) map[string]any {
		t.Helper()
		resp, out := f.do(t, "POST", "/_emulator/pipelines/oidc-token", "", body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("mint %s: %d %s", body, resp.StatusCode, out)
		}
		tok := decodeJSON[map[string]string](t, out)["token"]
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("not a JWT: %q", tok)
		}
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		return decodeJSON[map[string]any](t, string(payload))
	}
	own := claims(`{"repository":"etl-jobs","environment":"Production","branch":"release"}`)
	if own["repositoryUuid"] != f.repo.UUID || own["deploymentEnvironmentUuid"] != f.prod.UUID || own["branchName"] != "release" ||
		!strings.HasSuffix(own["iss"].(string), "/2.0/workspaces/acme/pipelines-config/identity/oidc") {
		t.Errorf("own workspace claims: %v", own)
	}
	other := claims(`{"repository":"etl-jobs","workspace":"umbrella"}`)
	if other["repositoryUuid"] == f.repo.UUID || other["workspaceUuid"] == f.org.BB.Workspace.UUID ||
		!strings.Contains(other["iss"].(string), "/workspaces/umbrella/") || strings.Contains(other["aud"].(string), strings.Trim(f.org.BB.Workspace.UUID, "{}")) {
		t.Errorf("another workspace's token looks like this one's: %v", other)
	}
	expired := claims(`{"repository":"etl-jobs","ttl":"-1m"}`)
	if exp := int64(expired["exp"].(float64)); exp != bbNow.Add(-time.Minute).Unix() || int64(expired["iat"].(float64)) >= exp {
		t.Errorf("expired token: %v", expired)
	}
	for _, bad := range []string{`{"repository":"nope"}`, `{"repository":"etl-jobs","environment":"Nowhere"}`, `{"repository":"etl-jobs","ttl":"soon"}`, `[`} {
		if resp, _ := f.do(t, "POST", "/_emulator/pipelines/oidc-token", "", bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("mint %s: %d, want 400", bad, resp.StatusCode)
		}
	}

	// Runs: recorded through the control endpoint, listed newest first on request.
	for _, result := range []string{"FAILED", "SUCCESSFUL"} {
		if resp, out := f.do(t, "POST", "/_emulator/pipelines/runs", "", `{"repository":"etl-jobs","result":"`+result+`"}`); resp.StatusCode != http.StatusCreated {
			t.Fatalf("record run: %d %s", resp.StatusCode, out)
		}
	}
	if resp, _ := f.do(t, "POST", "/_emulator/pipelines/runs", "", `{"repository":"etl-jobs","result":"MAYBE"}`); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a run with an unknown result: %d", resp.StatusCode)
	}
	type run struct {
		BuildNumber int `json:"build_number"`
		State       struct {
			Name   string
			Result struct{ Name string }
		}
		Target struct {
			RefName string `json:"ref_name"`
		}
	}
	_, out := f.do(t, "GET", "/2.0/repositories/acme/etl-jobs/pipelines/?sort=-created_on&pagelen=1", admin, "")
	page := decodeJSON[struct {
		Values []run
		Next   string
	}](t, out)
	if len(page.Values) != 1 || page.Values[0].BuildNumber != 2 || page.Values[0].State.Name != "COMPLETED" ||
		page.Values[0].State.Result.Name != "SUCCESSFUL" || page.Values[0].Target.RefName != "main" || page.Next == "" {
		t.Errorf("newest run: %s", out)
	}
	_, out = f.do(t, "GET", "/2.0/repositories/acme/etl-jobs/pipelines", admin, "")
	if all := decodeJSON[struct{ Values []run }](t, out).Values; len(all) != 2 || all[0].BuildNumber != 1 {
		t.Errorf("runs oldest first: %s", out)
	}
	if resp, _ := f.do(t, "GET", "/2.0/repositories/acme/etl-jobs/pipelines", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("runs without credentials: %d", resp.StatusCode)
	}

	// bitbucket-pipelines.yml on the main branch.
	path := "/2.0/repositories/acme/etl-jobs/src/main/bitbucket-pipelines.yml"
	if resp, _ := f.do(t, "GET", path, admin, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("absent file: %d", resp.StatusCode)
	}
	const yml = "pipelines:\n  default:\n    - step:\n        oidc: true\n"
	if resp, _ := f.do(t, "PUT", "/_emulator/pipelines/config?repository=etl-jobs", "", yml); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("set config: %d", resp.StatusCode)
	}
	if resp, out := f.do(t, "GET", path, admin, ""); resp.StatusCode != http.StatusOK || out != yml {
		t.Errorf("file: %d %q", resp.StatusCode, out)
	}
	if resp, _ := f.do(t, "GET", "/2.0/repositories/acme/etl-jobs/src/feature/bitbucket-pipelines.yml", admin, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another ref: %d", resp.StatusCode)
	}
}
