package sync

import (
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/config"
	sdkconfig "github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/provisioning"
)

// TestMatchListed: a listed workspace whose host (or profile's host) is an
// account workspace's deployment host must be that workspace (its id);
// two entries that are one workspace, by host and profile or by a given
// workspace_id, are refused in one line.
func TestMatchListed(t *testing.T) {
	aws := &sdkconfig.Config{Host: "https://accounts.cloud.databricks.com", AccountID: "a1"}
	all := []provisioning.Workspace{
		{WorkspaceId: 1, WorkspaceName: "Production", DeploymentName: "dbc-prod"},
		{WorkspaceId: 2, WorkspaceName: "dev", DeploymentName: "dbc-dev"},
	}
	list := []config.Workspace{
		{Name: "prod", Host: "https://DBC-prod.cloud.databricks.com/"},
		{Name: "dev", Profile: "dev"},
		{Name: "qa", Host: "https://qa.example.com"},
	}
	hosts := []string{list[0].Host, "https://dbc-dev.cloud.databricks.com", list[2].Host}
	got, err := matchListed(list, hosts, all, aws)
	if err != nil {
		t.Fatal(err)
	}
	if p := got["prod"]; p.ID != 1 || p.From != "databricks.workspaces[0].host" || !strings.Contains(p.Claim, `"Production"`) {
		t.Errorf("prod: %+v", p)
	}
	if d := got["dev"]; d.ID != 2 || d.From != `the profile "dev" of databricks.workspaces[1]` {
		t.Errorf("dev: %+v", d)
	}
	if _, ok := got["qa"]; ok || len(got) != 2 {
		t.Errorf("qa has no account workspace at its host: %+v", got)
	}
	e := &WorkspaceIdentityError{Name: "prod", Host: hosts[0], From: got["prod"].From, Want: 1, Got: 2, Claim: got["prod"].Claim}
	if msg := e.Error(); !strings.Contains(msg, `but the account (its workspace "Production" at https://dbc-prod.cloud.databricks.com) says prod is workspace id 1`) {
		t.Errorf("message: %s", msg)
	}

	// One workspace twice: by a host and a profile of that host.
	twice := append(list[:2:2], config.Workspace{Name: "prod2", Profile: "p2"})
	if _, err := matchListed(twice, []string{hosts[0], hosts[1], "https://dbc-prod.cloud.databricks.com"}, all, aws); err == nil ||
		!strings.Contains(err.Error(), "databricks.workspaces[0] (prod) and databricks.workspaces[2] (prod2) are one workspace (id 1): list it once") {
		t.Errorf("one workspace twice: %v", err)
	}
	// A given workspace_id and a matched host that are one workspace.
	given := append(list[:1:1], config.Workspace{Name: "p", Host: "https://p.example.com", WorkspaceID: "1"})
	if _, err := matchListed(given, []string{hosts[0], "https://p.example.com"}, all, aws); err == nil || !strings.Contains(err.Error(), "are one workspace (id 1)") {
		t.Errorf("given id: %v", err)
	}
	// No account list: nothing matched, nothing refused.
	if got, err := matchListed(list, hosts, nil, nil); err != nil || len(got) != 0 {
		t.Errorf("without the account: %v %v", got, err)
	}
	for h, want := range map[string]bool{"https://dbc-1.cloud.databricks.com": true, "https://1.7.gcp.databricks.com": true,
		"https://adb-1.azuredatabricks.net": false, "http://127.0.0.1:8080": false, "https://cloud.databricks.com.evil.com": false} {
		if cloudZoneHost(h) != want {
			t.Errorf("cloudZoneHost(%s) = %v", h, !want)
		}
	}
}
