package sync

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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

// TestPartGuardsAccountSecrets: the service of one workspace of several
// (Service.InWorkspace, as the console writes) guards an OAuth secret, the
// account's, with every workspace's bindings: from dev, ml-deployer's
// secret that prod's ml-prod runs on needs --force, and a leak of
// ml-deployer traced in dev keeps its OAuth secrets.
func TestPartGuardsAccountSecrets(t *testing.T) {
	ctx := context.Background()
	tw := newTwoWorkspaces(t)
	var spID, bound string
	var newest time.Time
	tw.org.Mu.Lock()
	for id, sp := range tw.org.DB.ServicePrincipals {
		if sp.DisplayName == "ml-deployer" {
			spID = id
		}
	}
	for _, sec := range tw.org.DB.Secrets {
		if sec.SPID == spID && sec.Created.After(newest) {
			bound, newest = sec.ID, sec.Created
		}
	}
	tw.org.Mu.Unlock()
	var leaked *emulator.DBToken
	tw.org.InWorkspace(emulator.DemoDevWorkspace, func(st *emulator.DatabricksState) {
		tw.org.Mu.Lock()
		st.ServicePrincipals[spID].Assigned = true
		tw.org.Mu.Unlock()
		leaked = tw.org.AddToken(emulator.DBToken{OwnerID: spID, Comment: "pasted", Created: demoNow.Add(-time.Hour), Expiry: demoNow.Add(time.Hour)})
	})
	dev, err := tw.service(t).InWorkspace(emulator.DemoDevWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := dev.LookupSecret(ctx, "ml-deployer", bound)
	if err != nil {
		t.Fatal(err)
	}
	checks, err := dev.CheckRevocations(ctx, []Credential{sec})
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 1 || checks[0].Binding != "ml-prod" {
		t.Errorf("dev's checks of prod's bound secret: %+v; want binding ml-prod", checks)
	}
	leak, err := dev.FindLeaked(ctx, leaked.Value)
	if err != nil {
		t.Fatal(err)
	}
	if leak.Workspace != emulator.DemoDevWorkspace || len(leak.Secrets) != 0 || !strings.Contains(leak.Unknown, "ml-prod (workspace prod)") {
		t.Errorf("leak in %q, %d secrets to revoke, note %q; want dev, none, naming ml-prod", leak.Workspace, len(leak.Secrets), leak.Unknown)
	}
}

// TestPartWritingTakesItsOwnLock: a context holding prod's write lock does
// not hold dev's: dev's service (Service.InWorkspace) takes its own lock
// before writing, so dev's lease is written; a nested request for dev's
// lock under it reuses it.
func TestPartWritingTakesItsOwnLock(t *testing.T) {
	ctx := context.Background()
	tw := newTwoWorkspaces(t)
	svc := tw.service(t)
	dev, err := svc.InWorkspace(emulator.DemoDevWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	held, release, err := svc.HoldWriteLockIn(ctx, "test", []string{emulator.DemoWorkspace})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	tw.srv.ResetStats()
	var inner error
	err = dev.Writing(held, "test dev", func(ctx context.Context) error {
		if got := heldWorkspaces(ctx); !slices.Contains(got, emulator.DemoDevWorkspace) {
			t.Errorf("held inside dev's Writing: %v", got)
		}
		// dev's lock is held now: a nested request reuses it.
		_, rel, err := svc.HoldWriteLockIn(ctx, "other", []string{emulator.DemoDevWorkspace})
		rel()
		inner = err
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := tw.srv.Stats(); st.WorkspaceWrites[emulator.DemoDevWorkspace] == 0 {
		t.Errorf("dev's lease was not written: %v", st.WorkspaceWrites)
	}
	if inner != nil {
		t.Errorf("a nested request for dev's lock under it: %v", inner)
	}
}
