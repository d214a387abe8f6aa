package views

import (
	"bytes"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/sync"
)

func TestRenderPipelinesText(t *testing.T) {
	policy := &sync.FederationPolicy{ID: "bitbricks-etl-prod", SubjectClaim: sync.ClaimRepository, Subject: "{repo}"}
	bfs := []sync.BindingFederation{
		{Binding: "etl-prod", Workspace: "acme", Repository: "etl", Variable: "DATABRICKS_TOKEN", Credential: "pat",
			Created: testNow.Add(-40 * 24 * time.Hour), Status: sync.FederationStored, CanFederate: true, Policy: policy,
			Why: "`bitbricks federate etl-prod` creates the policy"},
		{Binding: "ml-prod", Workspace: "acme", Repository: "ml-models", Environment: "Production", Variable: "DATABRICKS_CLIENT_SECRET",
			Credential: "oauth-secret", Created: testNow.Add(-3 * time.Hour), Status: sync.FederationFederating, Policy: policy, InPlace: true,
			Why: "the policy is in place", TooBroad: []sync.BroadPolicy{{Policy: sync.FederationPolicy{ID: "all"}, Why: "subject_claim workspaceUuid trusts every repository"}}},
		{Binding: "bi\x1b[31m", Workspace: "acme", Repository: "bi", Variable: "DATABRICKS_TOKEN", Credential: "pat",
			Status: sync.FederationFederated, Policy: policy, InPlace: true, Why: "nothing stored"},
		{Binding: "legacy", Workspace: "acme", Repository: "old", Variable: "TOKEN", Credential: "pat", Status: sync.FederationStored,
			Why: "databricks.account_id is not configured"},
	}
	var b bytes.Buffer
	if err := RenderPipelinesText(&b, bfs, testNow); err != nil {
		t.Fatal(err)
	}
	golden(t, "pipelines.golden", b.Bytes())
	if bytes.Contains(b.Bytes(), []byte("\x1b")) {
		t.Error("an escape sequence from a binding name reached the output")
	}
}
