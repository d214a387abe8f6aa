package sync

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	gosync "sync"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/files"
)

// A workspace replaced between runs.
//
// A configured (or discovered) workspace name, or a host, may come to stand
// for another workspace: a workspace deleted and created again under the
// same name or deployment, a vanity URL moved, a profile edited. Its groups
// and tokens are then another workspace's, and what earlier runs learned of
// it (who bitbricks removed, which tokens it recorded) may not hold. Each
// run records, in the state directory, the workspace id (X-Databricks-Org-Id
// of its answer to SCIM Me) each workspace answered with; a run that finds
// another id than the one recorded reports it (a workspace_replaced finding
// and a problem, so the run exits 1) and holds every destructive change in
// that workspace; additive changes go ahead. A run that writes (sync
// --apply, which reads under the write lock, or any apply) records the new
// id, so the run after plans as usual; a plan alone (a preview, the
// console's view) keeps holding.

// FindingWorkspaceReplaced is a workspace whose id differs from the one
// earlier runs recorded for its name (or host).
const FindingWorkspaceReplaced FindingKind = "workspace_replaced"

// workspaceIDsFile holds, in the state directory, the id each workspace
// last answered with.
const workspaceIDsFile = "workspace-ids.json"

type workspaceIDRecord struct {
	ID   int64     `json:"workspace_id"`
	Host string    `json:"host"`
	Seen time.Time `json:"seen"`
}

// idKey is what a workspace's record is kept under: its name when it has
// one (one workspace of several), else its host.
func (s *Service) idKey(host string) string {
	if name := s.Config().Databricks.Workspace; name != "" {
		return "name:" + name
	}
	return "host:" + config.NormalHost(host)
}

// checkWorkspaceID compares the id snap's workspace answered with against
// the one recorded and sets snap.ReplacedFrom when they differ
// (recordWorkspaceID).
func (s *Service) checkWorkspaceID(ctx context.Context, snap *Snapshot) {
	if snap == nil || snap.WorkspaceID == 0 {
		return
	}
	if from := s.recordWorkspaceID(ctx, snap.Host, snap.WorkspaceID, holdsWriteLock(ctx)); from != 0 {
		snap.ReplacedFrom = from
		s.log.Warn("workspace replaced since the last run: destructive changes held", "workspace", s.idKey(snap.Host), "recorded", from, "now", snap.WorkspaceID)
	}
}

// acknowledgeWorkspaceID records, after an apply, the id the workspace
// answers with now: the run that held a replaced workspace's destructive
// changes was that one, and the next plans as usual.
func (s *Service) acknowledgeWorkspaceID(ctx context.Context) {
	if d, ok := s.src.Databricks.(*Databricks); ok {
		if id := d.orgID.Load(); id > 0 {
			s.recordWorkspaceID(ctx, d.Host(), id, true)
		}
	}
}

// recordWorkspaceID compares id, the id host answered with, against the
// one recorded for it: in the state directory, and next to the audit log
// when that is on a volume (every machine's, so a pipeline whose runner
// keeps nothing still tells). It returns the recorded id when that differs
// (0 otherwise), and records id when none was recorded, or when replace
// is set: a run that writes (it holds the write lock, or has applied);
// a plan alone never uses up the hold. A record that cannot be read or
// written is logged: the check then cannot tell, and nothing is held.
func (s *Service) recordWorkspaceID(ctx context.Context, host string, id int64, replace bool) int64 {
	key := s.idKey(host)
	now := workspaceIDRecord{ID: id, Host: host, Seen: s.now().UTC()}
	path := filepath.Join(cmp.Or(s.stateDir, DefaultStateDir(os.Getenv)), workspaceIDsFile)
	local := s.readLocalIDs(path)
	recorded, known := local[key]
	vol, _ := s.src.Audit.(*VolumeAudit)
	var recs map[string]workspaceIDRecord
	if vol != nil {
		volumeIDsMu.Lock()
		defer volumeIDsMu.Unlock()
		var err error
		if recs, err = readVolumeIDs(ctx, vol); err != nil {
			s.log.Warn("workspace ids record on the volume unreadable", "dir", vol.Dir, "err", oneLine(err))
			vol = nil
		} else if rec, ok := recs[key]; ok {
			recorded, known = rec, true // the volume's is every machine's
		}
	}
	differs := known && recorded.ID != id
	if differs && !replace {
		return recorded.ID // kept, so the next run holds too until one writes
	}
	if vol != nil && (!hasRecord(recs, key) || recs[key].ID != id) {
		recs[key] = now
		if err := writeVolumeIDs(ctx, vol, recs); err != nil {
			s.log.Warn("workspace ids record on the volume not written", "dir", vol.Dir, "err", oneLine(err))
		}
	}
	if rec, ok := local[key]; !ok || rec.ID != id {
		local[key] = now
		b, _ := json.MarshalIndent(local, "", "  ")
		err := os.MkdirAll(filepath.Dir(path), 0o700)
		if err == nil {
			err = writeFileAtomic(path, b)
		}
		if err != nil {
			s.log.Warn("workspace ids record not written", "file", path, "err", oneLine(err))
		}
	}
	if differs {
		return recorded.ID
	}
	return 0
}

func hasRecord(recs map[string]workspaceIDRecord, key string) bool {
	_, found := recs[key]
	return found
}

// readLocalIDs reads the state directory's record; none when it cannot.
func (s *Service) readLocalIDs(path string) map[string]workspaceIDRecord {
	recs := map[string]workspaceIDRecord{}
	b, err := os.ReadFile(path)
	if err != nil {
		return recs
	}
	if err := json.Unmarshal(b, &recs); err != nil {
		s.log.Warn("workspace ids record unreadable; starting it again", "file", path, "err", oneLine(err))
		return map[string]workspaceIDRecord{}
	}
	return recs
}

// volumeIDsMu keeps the workspaces of one run from rewriting the volume's
// record over each other.
var volumeIDsMu gosync.Mutex

// readVolumeIDs reads the record next to the volume audit log; none when
// there is none yet.
func readVolumeIDs(ctx context.Context, v *VolumeAudit) (map[string]workspaceIDRecord, error) {
	recs := map[string]workspaceIDRecord{}
	b, err := download(ctx, v.Files, path.Join(v.Dir, workspaceIDsFile))
	if errors.Is(err, apierr.ErrNotFound) {
		return recs, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("%s: %w", path.Join(v.Dir, workspaceIDsFile), err)
	}
	return recs, nil
}

func writeVolumeIDs(ctx context.Context, v *VolumeAudit, recs map[string]workspaceIDRecord) error {
	b, _ := json.MarshalIndent(recs, "", "  ")
	return v.Files.Upload(ctx, files.UploadRequest{FilePath: path.Join(v.Dir, workspaceIDsFile), Contents: io.NopCloser(bytes.NewReader(b)),
		Overwrite: true, ForceSendFields: []string{"Overwrite"}})
}

// holdIfReplaced holds every destructive change of plan when snap's
// workspace was replaced since the last run, with a finding and a problem
// naming it (name) and what was held.
func holdIfReplaced(plan Plan, snap *Snapshot, name string) Plan {
	if snap == nil || snap.ReplacedFrom == 0 {
		return plan
	}
	var kept []Change
	held := map[string]bool{}
	for _, c := range plan.Changes {
		if c.Destructive {
			held[c.ID] = true
			continue
		}
		kept = append(kept, c)
	}
	plan.Changes = kept
	for i := range plan.Members {
		if held[plan.Members[i].ChangeID] {
			plan.Members[i].ChangeID = ""
		}
	}
	detail := fmt.Sprintf("%s answers as workspace id %d, but earlier runs recorded workspace id %d for it: the workspace was replaced (or the config now points at another); this run holds its %d destructive changes (removals, revocations, unassignments) and makes only additive ones; check the host, then run again: the next run plans as usual",
		snap.Host, snap.WorkspaceID, snap.ReplacedFrom, len(held))
	plan.Findings = append(plan.Findings, Finding{Kind: FindingWorkspaceReplaced, Subject: "workspace " + name, Detail: detail, Workspace: name})
	plan.Problems = append(plan.Problems, Problem{System: SystemDatabricks, What: "workspace replaced", Detail: "workspace " + name + ": " + detail})
	return plan
}
