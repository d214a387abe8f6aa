package sync

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
)

// groupsPlanned are the groups plan changes, by workspace.
func groupsPlanned(plan Plan) map[string][]string {
	out := map[string][]string{}
	for _, c := range plan.Changes {
		if c.Group != "" && !strings.Contains(strings.Join(out[c.Workspace], ","), c.Group) {
			out[c.Workspace] = append(out[c.Workspace], c.Group)
		}
	}
	return out
}

func plans(groups map[string][]string, ws, group string) bool {
	return strings.Contains(","+strings.Join(groups[ws], ",")+",", ","+group+",")
}

// TestRemapTwoWorkspaces: re-mapping a mapping that names workspaces:
// [dev] rewrites the config, dev plans the new group from then on (its
// part plans with the new config) while prod plans neither; only dev's
// write lock is taken; the audit line names the workspaces. A new mapping
// (Map) applies to both.
func TestRemapTwoWorkspaces(t *testing.T) {
	ctx := context.Background()
	tw := newTwoWorkspaces(t)
	dir := t.TempDir()
	_, idmap := emulator.DemoConfigFiles(tw.org, tw.prod.URL)
	if err := os.WriteFile(filepath.Join(dir, "identities.yaml"), idmap, 0o600); err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(emulator.DemoWorkspacesConfig(tw.org, tw.prod.URL)),
		"    databricks_group: ml-team\n", "    databricks_group: ml-team\n    workspaces: [dev]\n", 1)
	text += "audit:\n  file: " + filepath.Join(dir, "audit.jsonl") + "\n"
	path := filepath.Join(dir, "bitbricks.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(path, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	tw.cfg = cfg
	svc := tw.service(t)
	index := -1
	for i, m := range cfg.Mappings {
		if m.DatabricksGroup == "ml-team" {
			index = i
		}
	}
	_, plan, err := svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := groupsPlanned(plan)
	if !plans(before, "dev", "ml-team") || plans(before, "prod", "ml-team") {
		t.Fatalf("before: groups planned %v; want ml-team in dev only", before)
	}

	tw.srv.ResetStats()
	if err := svc.Remap(ctx, index, "ml-eng"); err != nil {
		t.Fatal(err)
	}
	st := tw.srv.Stats()
	if st.WorkspaceWrites["prod"] != 0 || st.WorkspaceWrites["dev"] == 0 {
		t.Errorf("re-map writes %v: want dev's write lock only", st.WorkspaceWrites)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "databricks_group: ml-eng\n    workspaces: [dev]\n") {
		t.Errorf("the config file:\n%s", b)
	}
	_, plan, err = svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := groupsPlanned(plan)
	if !plans(after, "dev", "ml-eng") || plans(after, "dev", "ml-team") || plans(after, "prod", "ml-eng") {
		t.Errorf("after the re-map: groups planned %v; want ml-eng in dev only", after)
	}
	audit, _ := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if !strings.Contains(string(audit), "ml-eng workspaces:dev") {
		t.Errorf("the audit log:\n%s", audit)
	}

	// A new mapping names no workspaces: both plan its group.
	if err := svc.Map(ctx, "interns", "interns-team"); err != nil {
		t.Fatal(err)
	}
	_, plan, err = svc.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g := groupsPlanned(plan); !plans(g, "dev", "interns-team") || !plans(g, "prod", "interns-team") {
		t.Errorf("after map: groups planned %v; want interns-team in both", g)
	}
}
