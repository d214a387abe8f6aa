package sync

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/workspace"
)

// The departures ledger: who bitbricks took out of a mapped group, kept in
// the workspace next to the write lease, so that every machine's run sees
// it (a console on a laptop, a pipeline whose audit log is on a volume or
// gone with its runner).
//
// A person taken out of every mapped group is in no group a plan reads, so
// only a record of the removal makes later runs still ask Bitbucket whether
// they left (and revoke their tokens and own assignments once a clean 404
// proves it). The local audit log holds that record for the machine that
// wrote it; the ledger holds it for all. An entry is written before the
// removal is made (a run killed in between leaves an entry too many, which
// costs at most a lookup while the person holds something here), under the
// write lock (so no two writers rewrite it at once), and never removed: a
// lookup that fails, or a ledger that cannot be read, leaves it as it is.
// A ledger that cannot be read is a problem of the run (exit 1): the people
// it names keep their tokens that run, as with any unknown departure.

// DefaultDeparturesLedger is the ledger's workspace file.
const DefaultDeparturesLedger = "/Shared/.bitbricks/departures.json"

// departuresLedger is the ledger file's content.
type departuresLedger struct {
	FormatVersion string `json:"format_version"`
	About         string `json:"about"`
	// Former are the people taken out of a mapped group, by lower-case
	// userName.
	Former map[string]ledgerEntry `json:"former_members"`
}

type ledgerEntry struct {
	Group     string    `json:"group"`
	Removed   time.Time `json:"removed"`
	Workspace string    `json:"workspace,omitempty"`
}

const ledgerAbout = "people bitbricks took out of a mapped group; later runs ask Bitbucket whether they left while they hold a token or an assignment here. Do not edit: a name removed here may keep a departed person's tokens alive."

// ledgerStore is a Databricks source that keeps the ledger.
type ledgerStore interface {
	readLedger(ctx context.Context) (map[string]ledgerEntry, error)
	recordLedger(ctx context.Context, add map[string]ledgerEntry) error
}

// readLedger reads the ledger: none (and no error) when there is none yet.
func (d *Databricks) readLedger(ctx context.Context) (map[string]ledgerEntry, error) {
	out, err := d.w.Workspace.Export(ctx, workspace.ExportRequest{Path: DefaultDeparturesLedger, Format: workspace.ExportFormatSource})
	if apierr.IsMissing(err) {
		return map[string]ledgerEntry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the departures ledger %s: %w", DefaultDeparturesLedger, err)
	}
	b, err := base64.StdEncoding.DecodeString(out.Content)
	if err != nil {
		return nil, fmt.Errorf("read the departures ledger %s: %w", DefaultDeparturesLedger, err)
	}
	var l departuresLedger
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("read the departures ledger %s: not a ledger bitbricks wrote (%s); it is left as it is", DefaultDeparturesLedger, oneLine(err))
	}
	if l.Former == nil {
		l.Former = map[string]ledgerEntry{}
	}
	return l.Former, nil
}

// recordLedger adds entries to the ledger, keeping every entry it holds. A
// ledger that cannot be read is not rewritten (that would lose its
// entries): the error says so.
func (d *Databricks) recordLedger(ctx context.Context, add map[string]ledgerEntry) error {
	if len(add) == 0 {
		return nil
	}
	have, err := d.readLedger(ctx)
	if err != nil {
		return err
	}
	changed := false
	for k, e := range add {
		if _, ok := have[k]; !ok {
			have[k] = e
			changed = true
		}
	}
	if !changed {
		return nil
	}
	b, _ := json.MarshalIndent(departuresLedger{FormatVersion: "1", About: ledgerAbout, Former: have}, "", "  ")
	if err := d.w.Workspace.MkdirsByPath(ctx, path.Dir(DefaultDeparturesLedger)); err != nil {
		return fmt.Errorf("write the departures ledger %s: %w", DefaultDeparturesLedger, err)
	}
	err = d.w.Workspace.Import(ctx, workspace.Import{Path: DefaultDeparturesLedger, Format: workspace.ImportFormatAuto,
		Content: base64.StdEncoding.EncodeToString(b), Overwrite: true})
	if err != nil {
		return fmt.Errorf("write the departures ledger %s: %w", DefaultDeparturesLedger, err)
	}
	return nil
}

// removalsToRecord are the users plan takes out of a mapped group (of any
// workspace of cfg), by lower-case userName.
func removalsToRecord(plan Plan, cfg *config.Config, workspace string, now time.Time) map[string]ledgerEntry {
	mapped := map[string]bool{}
	for _, m := range cfg.Whole().Mappings {
		mapped[m.DatabricksGroup] = true
	}
	out := map[string]ledgerEntry{}
	for _, c := range plan.Changes {
		if c.Action != ActionRemoveMember || c.PrincipalType != PrincipalUser || !mapped[c.Group] || !strings.Contains(c.Principal, "@") {
			continue
		}
		out[strings.ToLower(c.Principal)] = ledgerEntry{Group: c.Group, Removed: now.UTC(), Workspace: workspace}
	}
	return out
}

// LedgerError is a departures ledger that could not be written before an
// apply: its removals were made; the local audit log records them (and the
// next apply from this machine writes them into the ledger), but a run
// elsewhere may not see them until then.
type LedgerError struct {
	Users []string
	Err   error
}

func (e *LedgerError) Error() string {
	names := e.Users
	if len(names) > maxNamed {
		names = append(slices.Clone(names[:maxNamed]), fmt.Sprintf("and %d more", len(e.Users)-maxNamed))
	}
	return fmt.Sprintf("the departures ledger was not written (%s): only this machine's audit log records that %s were taken out of their groups; the next apply from here writes them into it, and until then a run elsewhere may let their tokens outlive their departure",
		oneLine(e.Err), strings.Join(names, ", "))
}

func (e *LedgerError) Unwrap() error { return e.Err }

// recordRemovals writes, before plan is applied, the users it takes out of
// a mapped group into the ledger of the service's workspace, with those the
// local audit log names and the ledger lacks. nil when there are none, or
// the Databricks source keeps no ledger.
func (s *Service) recordRemovals(ctx context.Context, plan Plan) error {
	add := removalsToRecord(plan, s.Config(), s.Config().Databricks.Workspace, s.now())
	st, ok := s.src.Databricks.(ledgerStore)
	if !ok || len(plan.Changes) == 0 || !s.Config().Policy.RevokeDeparted {
		return nil
	}
	// What only this machine's audit log knows goes into the ledger too
	// (removals of runs before the ledger, or whose ledger write failed).
	for k, group := range formerMembers(s.Config().Audit.File, s.Config()) {
		if _, ok := add[k]; !ok {
			add[k] = ledgerEntry{Group: group, Workspace: s.Config().Databricks.Workspace}
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := st.recordLedger(ctx, add); err != nil {
		users := slices.Sorted(maps.Keys(add))
		s.log.Error("departures ledger not written", "users", strings.Join(users, ","), "err", oneLine(err))
		return &LedgerError{Users: users, Err: err}
	}
	return nil
}

// ledgerKey carries, in a run over several workspaces, the union of every
// workspace's ledger (each workspace's own failure by part).
type ledgerKey struct{}

type ledgerEvidence struct {
	former map[string]ledgerEntry
	read   map[int]bool  // the parts whose ledger is in former
	errs   map[int]error // by part
}

// readLedgers reads at once the ledger of every part whose host answered
// (ids[i] != 0); the others read their own (departureLedger).
func readLedgers(ctx context.Context, parts []workspacePart, ids []int64) *ledgerEvidence {
	ev := &ledgerEvidence{former: map[string]ledgerEntry{}, read: map[int]bool{}, errs: map[int]error{}}
	type got struct {
		m   map[string]ledgerEntry
		err error
	}
	res := make([]got, len(parts))
	done := make(chan struct{}, len(parts))
	n := 0
	for i, p := range parts {
		st, ok := p.svc.src.Databricks.(ledgerStore)
		if !ok || !p.svc.Config().Policy.RevokeDeparted || ids[i] == 0 {
			continue
		}
		ev.read[i] = true
		n++
		go func() {
			defer func() { done <- struct{}{} }()
			m, err := st.readLedger(ctx)
			res[i] = got{m, err}
		}()
	}
	for range n {
		<-done
	}
	for i, r := range res {
		if r.err != nil {
			ev.errs[i] = r.err
		}
		for k, e := range r.m {
			if _, ok := ev.former[k]; !ok {
				ev.former[k] = e
			}
		}
	}
	return ev
}

// departureLedger adds the ledger's people (of a group still mapped) to
// the snapshot's former members; the run's union of ledgers when it has
// one. A ledger that cannot be read is a problem of the run.
func (r *reader) departureLedger(ctx context.Context) error {
	var former map[string]ledgerEntry
	var err error
	own := true
	if ev, ok := ctx.Value(ledgerKey{}).(*ledgerEvidence); ok {
		former = maps.Clone(ev.former)
		if i, inRun := ctx.Value(partKey{}).(int); inRun && ev.read[i] {
			err, own = ev.errs[i], false
		}
	}
	if st, ok := r.src.Databricks.(ledgerStore); ok && own {
		var mine map[string]ledgerEntry
		mine, err = st.readLedger(ctx)
		for k, e := range mine {
			if _, ok := former[k]; !ok {
				if former == nil {
					former = map[string]ledgerEntry{}
				}
				former[k] = e
			}
		}
	}
	if err != nil {
		var se *SystemError
		if errors.As(err, &se) {
			return se
		}
		r.record(SystemDatabricks, "departures ledger", err)
	}
	mapped := map[string]bool{}
	for _, m := range r.cfg.Whole().Mappings {
		mapped[m.DatabricksGroup] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, e := range former {
		if !mapped[e.Group] {
			continue
		}
		if r.snap.FormerMembers == nil {
			r.snap.FormerMembers = map[string]string{}
		}
		if _, ok := r.snap.FormerMembers[k]; !ok {
			r.snap.FormerMembers[k] = e.Group
		}
	}
	return nil
}
