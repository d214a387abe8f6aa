package main

import (
	"os"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/emulator"
)

// TestRotateSharedSecretAcrossWorkspaces: ml-deployer's OAuth secret (the
// account's) is bound by ml-prod in prod and by ml-dev in dev. `rotate
// ml-dev` then `rotate ml-prod` each keep the other pipeline's recorded
// secret, and the next `sync` plans no rotation of either for a recorded
// credential that no longer exists.
func TestRotateSharedSecretAcrossWorkspaces(t *testing.T) {
	o := newTwoWorkspaceOrg(t)
	spID := ""
	o.org.Mu.Lock()
	for id, sp := range o.org.DB.ServicePrincipals {
		if sp.DisplayName == "ml-deployer" {
			spID = id
		}
	}
	o.org.Mu.Unlock()
	o.org.InWorkspace(emulator.DemoDevWorkspace, func(st *emulator.DatabricksState) {
		o.org.Mu.Lock()
		st.ServicePrincipals[spID].Assigned = true
		o.org.Mu.Unlock()
	})
	src, err := os.ReadFile(o.cfg)
	if err != nil {
		t.Fatal(err)
	}
	dev := "  - {name: ml-dev, repository: etl, workspace: dev, variable: DATABRICKS_CLIENT_SECRET, service_principal: ml-deployer, credential: oauth-secret}\n"
	shared := strings.Replace(string(src), "pipelines:\n", "pipelines:\n"+dev, 1)
	if shared == string(src) {
		t.Fatal("the demo config has no pipelines")
	}
	if err := os.WriteFile(o.cfg, []byte(shared), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"ml-dev", "ml-prod"} {
		r := runCLI(t, o.env, "", "rotate", b, "--yes", "--config", o.cfg)
		if r.code != 0 {
			t.Fatalf("rotate %s: exit %d: %s", b, r.code, r.err)
		}
		t.Logf("rotate %s: %s", b, strings.TrimSpace(r.out))
	}
	r := runCLI(t, o.env, "", "sync", "--output", "json", "--config", o.cfg)
	if r.code != 0 && r.code != 2 {
		t.Fatalf("sync: exit %d: %s", r.code, r.err)
	}
	for _, c := range changesOf(planOf(t, r.out)) {
		if b, _ := c["binding"].(string); strings.HasPrefix(b, "ml-") {
			t.Errorf("after rotating both, sync plans %v (%v)", c["id"], c["reason"])
		}
	}
	assertNoSecrets(t, o, r.out, r.err)
}
