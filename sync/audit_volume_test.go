package sync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/emulator"
)

// Two scheduled runs write their audit to a volume through the real SDK's
// Files API: one file each, the second linked to the first's last line.
func TestVolumeAuditChainsRuns(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	ctx := context.Background()
	const root = "/Volumes/main/ops/audit"
	e.org.AddVolume("main", "ops", "audit")
	e.cfg.Audit.File = root + "/bitbricks"

	run := func(changes ...Change) AuditHead {
		t.Helper()
		src := e.sources(t, e.org.Creds.DatabricksToken) // a new process: a new run
		if _, ok := src.Audit.(*VolumeAudit); !ok {
			t.Fatalf("audit sink for %s is %T, want a volume", e.cfg.Audit.File, src.Audit)
		}
		f := &fakeExec{}
		results, err := Apply(ctx, Plan{Changes: changes}, f, nil, ApplyOptions{MaxChanges: -1, Audit: src.Audit,
			Operator: Operator{OSUser: "pipeline", Databricks: "etl-deployer"}})
		if err != nil || len(f.ran) != len(changes) {
			t.Fatalf("apply: %+v, %v", results, err)
		}
		h, err := src.Audit.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h1 := run(Change{ID: "revoke_token/1", Action: ActionRevokeToken, TokenID: "1"})
	h2 := run(Change{ID: "revoke_token/2", Action: ActionRevokeToken, TokenID: "2"}, Change{ID: "revoke_token/3", Action: ActionRevokeToken, TokenID: "3"})
	if h1.Lines != 3 || h2.Lines != 5 || h1.File == h2.File {
		t.Fatalf("heads %+v, %+v: want a link and two lines per change, one file per run", h1, h2)
	}

	stored := e.org.VolumeFiles(root)
	if len(stored) != 2 {
		t.Fatalf("files on the volume: %d, want one per run", len(stored))
	}
	second := string(stored[path.Join("bitbricks", h2.File)])
	first, _, _ := strings.Cut(second, "\n")
	if !strings.Contains(first, `"action":"audit_run","target":"previous:`+h1.File+` lines:3"`) || !strings.Contains(first, `"prev":"`+h1.Hash+`"`) {
		t.Errorf("second run's first line does not link the first run's head %+v: %s", h1, first)
	}

	src := e.sources(t, e.org.Creds.DatabricksToken)
	files := src.Databricks.(*Databricks).w.Files
	got, err := VerifyVolumeAudit(ctx, files, e.cfg.Audit.File, &h2)
	if err != nil || got != h2 {
		t.Fatalf("verify: %+v, %v; want %+v", got, err, h2)
	}
	if _, err := VerifyVolumeAudit(ctx, files, e.cfg.Audit.File, &h1); err != nil {
		t.Errorf("verify against the first run's printed head: %v", err)
	}

	// The first run's last line deleted: the second run's link names it.
	p1 := path.Join("bitbricks", h1.File)
	lines := strings.SplitAfter(string(stored[p1]), "\n")
	e.putVolumeFile(t, root, p1, strings.Join(lines[:2], ""))
	_, err = VerifyVolumeAudit(ctx, files, e.cfg.Audit.File, nil)
	var ae *AuditError
	if !errors.As(err, &ae) || ae.Line != 1 || !strings.HasSuffix(ae.File, h2.File) {
		t.Errorf("verify after the first run was cut = %v, want %s:1", err, h2.File)
	}
	if _, err := VerifyVolumeAudit(ctx, files, e.cfg.Audit.File, &h1); !errors.As(err, &ae) || ae.Line != 3 {
		t.Errorf("verify against the first run's head after a cut = %v, want line 3 missing", err)
	}
}

// putVolumeFile replaces a file on a volume, as someone with write access to
// it could.
func (e *demoEnv) putVolumeFile(t *testing.T, root, p, body string) {
	t.Helper()
	e.org.Mu.Lock()
	defer e.org.Mu.Unlock()
	e.org.DB.Volumes[root].Files[p].Data = []byte(body)
}

// A long run goes on in files of bounded size, each linked to the one
// before, named in order even on a stopped clock.
func TestVolumeAuditSplitsLongRuns(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	ctx := context.Background()
	e.org.AddVolume("main", "ops", "audit")
	dir := "/Volumes/main/ops/audit/long"
	v := &VolumeAudit{Dir: dir, Files: e.db.w.Files, Now: func() time.Time { return demoNow }, PartLines: 4}
	for i := range 7 {
		if err := v.Append(ctx, AuditEvent{Action: "revoke_token", Target: fmt.Sprintf("token:%d", i), Result: ResultApplied}); err != nil {
			t.Fatal(err)
		}
	}
	files := e.org.VolumeFiles("/Volumes/main/ops/audit")
	// 7 events in parts of at most 4 lines, each starting with its link: 3+1, 3+1, 1+1.
	if len(files) != 3 {
		t.Fatalf("%d files, want 3: %v", len(files), slices.Collect(maps.Keys(files)))
	}
	head, _ := v.Head(ctx)
	got, err := VerifyVolumeAudit(ctx, e.db.w.Files, dir, &head)
	if err != nil || got != head || head.Lines != 2 {
		t.Fatalf("verify: %+v, %v; head %+v", got, err, head)
	}
}
