package sync

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
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
	m, _, err := d.loadLedger(ctx)
	return m, err
}

// noLedger reports the one answer that means there is no ledger yet: 404
// RESOURCE_DOES_NOT_EXIST, what Databricks answers for a path that does
// not exist. Any other 404 (ENDPOINT_NOT_FOUND, NOT_FOUND, FEATURE_DISABLED,
// a gateway's code-less "Not Found") says nothing about the file, so it is
// a failed read, never an empty ledger.
func noLedger(err error) bool {
	var ae *apierr.APIError
	return errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound && ae.ErrorCode == "RESOURCE_DOES_NOT_EXIST"
}

// ledgerFormatError is a ledger file that answered (HTTP 200) but is not a
// ledger this version of bitbricks reads: what it is and what to do, an
// implausible answer to errors.As.
type ledgerFormatError struct{ why string }

func (e *ledgerFormatError) Error() string {
	return DefaultDeparturesLedger + " " + e.why + ": left as it is, its people unchecked; repair it (JSON, format_version \"1\", former_members kept), as deleting it forgets their departures"
}

func (e *ledgerFormatError) Unwrap() error {
	return &ImplausibleError{List: "departures ledger", Why: e.why}
}

// loadLedger reads the ledger and whether its file exists. Only a clean
// not-found (noLedger) is "none yet"; a file that is not a ledger of
// format_version "1" with former_members is an implausible answer.
func (d *Databricks) loadLedger(ctx context.Context) (map[string]ledgerEntry, bool, error) {
	out, err := d.w.Workspace.Export(ctx, workspace.ExportRequest{Path: DefaultDeparturesLedger, Format: workspace.ExportFormatSource})
	if noLedger(err) {
		return map[string]ledgerEntry{}, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read the departures ledger %s: %w", DefaultDeparturesLedger, err)
	}
	bad := func(why string) error {
		return fmt.Errorf("read the departures ledger: %w", &ledgerFormatError{why: why})
	}
	b, err := base64.StdEncoding.DecodeString(out.Content)
	if err != nil {
		return nil, true, bad("is not base64 (" + cutLine(oneLine(err), 30) + ")")
	}
	var l struct {
		FormatVersion string                  `json:"format_version"`
		Former        *map[string]ledgerEntry `json:"former_members"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, true, bad("is not ledger JSON (" + cutLine(oneLine(err), 30) + ")")
	}
	if l.FormatVersion != ledgerFormat {
		return nil, true, bad(fmt.Sprintf("has format_version %q, not %q", cutLine(l.FormatVersion, 20), ledgerFormat))
	}
	if l.Former == nil || *l.Former == nil {
		return nil, true, bad("has no former_members")
	}
	return *l.Former, true, nil
}

// ledgerFormat is the ledger's format_version.
const ledgerFormat = "1"

// recordLedger adds entries to the ledger, keeping every entry it holds. A
// ledger that cannot be read is not rewritten (that would lose its
// entries): the error says so. A ledger that did not exist is created only
// if it still does not (one that appeared meanwhile is not replaced).
func (d *Databricks) recordLedger(ctx context.Context, add map[string]ledgerEntry) error {
	if len(add) == 0 {
		return nil
	}
	have, exists, err := d.loadLedger(ctx)
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
	b, _ := json.MarshalIndent(departuresLedger{FormatVersion: ledgerFormat, About: ledgerAbout, Former: have}, "", "  ")
	if !exists {
		if err := d.w.Workspace.MkdirsByPath(ctx, path.Dir(DefaultDeparturesLedger)); err != nil {
			return fmt.Errorf("write the departures ledger %s: %w", DefaultDeparturesLedger, err)
		}
	}
	// Overwrite only the ledger just read (under the write lock, so no
	// other bitbricks writes it meanwhile); a new one is a create-if-absent.
	err = d.w.Workspace.Import(ctx, workspace.Import{Path: DefaultDeparturesLedger, Format: workspace.ImportFormatAuto,
		Content: base64.StdEncoding.EncodeToString(b), Overwrite: exists})
	if !exists && errors.Is(err, apierr.ErrResourceAlreadyExists) {
		return fmt.Errorf("write the departures ledger %s: it was not there when read and is there now; it is left as it is, run sync again: %w", DefaultDeparturesLedger, err)
	}
	if err != nil {
		return fmt.Errorf("write the departures ledger %s: %w", DefaultDeparturesLedger, err)
	}
	return nil
}

// removalsToRecord are the users plan takes out of a mapped group (of any
// workspace of cfg), by lower-case userName.
func removalsToRecord(plan Plan, cfg *config.Config, workspace string, now time.Time) map[string]ledgerEntry {
	out := map[string]ledgerEntry{}
	for _, c := range recordedRemovals(plan, cfg) {
		out[strings.ToLower(c.Principal)] = ledgerEntry{Group: c.Group, Removed: now.UTC(), Workspace: workspace}
	}
	return out
}

// recordedRemovals are the changes of plan that take a user out of a
// mapped group: each needs its ledger entry before it is made.
func recordedRemovals(plan Plan, cfg *config.Config) []Change {
	mapped := map[string]bool{}
	for _, m := range cfg.Whole().Mappings {
		mapped[m.DatabricksGroup] = true
	}
	var out []Change
	for _, c := range plan.Changes {
		if c.Action == ActionRemoveMember && c.PrincipalType == PrincipalUser && mapped[c.Group] && strings.Contains(c.Principal, "@") {
			out = append(out, c)
		}
	}
	return out
}

// LedgerError is a departures ledger that could not be written before an
// apply. No record, no removal: the removals it was to record (Users) were
// not made (skipped); the apply's other changes were. Earlier removals only
// the local audit log records (Local) stay recorded there alone until a
// later apply from this machine writes them into the ledger.
type LedgerError struct {
	// Workspace is the workspace, of several, whose ledger it is; empty
	// with one.
	Workspace string
	Users     []string
	Local     []string
	Err       error
}

func (e *LedgerError) Error() string {
	named := func(names []string) string {
		if len(names) > maxNamed {
			names = append(slices.Clone(names[:maxNamed]), fmt.Sprintf("and %d more", len(names)-maxNamed))
		}
		return strings.Join(names, ", ")
	}
	msg := fmt.Sprintf("the departures ledger was not written (%s)", oneLine(e.Err))
	if len(e.Users) > 0 {
		msg += fmt.Sprintf(": %s stay in their groups (their removals were skipped: a departure that cannot be recorded is not made); fix the cause and run sync again", named(e.Users))
	}
	if len(e.Local) > 0 {
		msg += fmt.Sprintf("; only this machine's audit log records that %s were taken out of their groups earlier, and the next apply from here writes them into the ledger", named(e.Local))
	}
	return msg
}

func (e *LedgerError) Unwrap() error { return e.Err }

// ledgerProblem is e as a problem of the run.
func (e *LedgerError) problem() Problem {
	detail := oneLine(e.Err)
	if len(e.Users) > 0 {
		names := e.Users
		if len(names) > 3 {
			names = append(slices.Clone(names[:3]), fmt.Sprintf("%d more", len(e.Users)-3))
		}
		detail = fmt.Sprintf("removal of %s skipped, the departure not recorded: %s", strings.Join(names, ", "), detail)
	}
	return Problem{System: SystemDatabricks, What: "departures ledger", Status: ledgerStatus(e.Err), Workspace: e.Workspace, Detail: detail}
}

// ledgerStatus is the HTTP status of a ledger error: 200 for a ledger read
// whose content is not a ledger.
func ledgerStatus(err error) int {
	var ie *ImplausibleError
	if s := httpStatus(err); s != 0 || !errors.As(err, &ie) {
		return s
	}
	return http.StatusOK
}

// ApplyProblems is problems with, added, the problems an apply's error
// carries (a departures ledger not written, per workspace) that problems
// do not list yet: what a run's output lists after an apply.
func ApplyProblems(problems []Problem, err error) []Problem {
	out := slices.Clone(problems)
	for _, le := range ledgerErrors(err) {
		p := le.problem()
		if i := slices.IndexFunc(out, func(q Problem) bool {
			return q.System == p.System && q.What == p.What && q.Workspace == p.Workspace
		}); i >= 0 {
			continue // the read's problem says it already
		}
		out = append(out, p)
	}
	return out
}

// ledgerErrors are the *LedgerErrors in err's tree.
func ledgerErrors(err error) []*LedgerError {
	if le, ok := err.(*LedgerError); ok {
		return []*LedgerError{le}
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		var out []*LedgerError
		for _, e := range u.Unwrap() {
			out = append(out, ledgerErrors(e)...)
		}
		return out
	case interface{ Unwrap() error }:
		return ledgerErrors(u.Unwrap())
	}
	return nil
}

// onlyLedger reports whether err is made of *LedgerErrors only: an apply
// that made its other changes, so a run over several workspaces goes on.
func onlyLedger(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := err.(*LedgerError); ok {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if e != nil && !onlyLedger(e) {
				return false
			}
		}
		return true
	case interface{ Unwrap() error }:
		return onlyLedger(u.Unwrap())
	}
	return false
}

// recordRemovals writes, before plan is applied, the users it takes out of
// a mapped group into the ledger of the service's workspace, with those the
// local audit log names and the ledger lacks. nil when there are none, or
// the Databricks source keeps no ledger. When the ledger cannot be written,
// withheld are the removals (by change id) that are not to be made, each
// with why.
func (s *Service) recordRemovals(ctx context.Context, plan Plan) (withheld map[string]string, err error) {
	add := removalsToRecord(plan, s.Config(), s.Config().Databricks.Workspace, s.now())
	st, ok := s.src.Databricks.(ledgerStore)
	if !ok || len(plan.Changes) == 0 || !s.Config().Policy.RevokeDeparted {
		return nil, nil
	}
	users := slices.Sorted(maps.Keys(add))
	// What only this machine's audit log knows goes into the ledger too
	// (removals of runs before the ledger, or whose ledger write failed).
	var local []string
	for k, group := range formerMembers(s.Config().Audit.File, s.Config()) {
		if _, ok := add[k]; !ok {
			add[k] = ledgerEntry{Group: group, Workspace: s.Config().Databricks.Workspace}
			local = append(local, k)
		}
	}
	slices.Sort(local)
	if len(add) == 0 {
		return nil, nil
	}
	if err := st.recordLedger(ctx, add); err != nil {
		s.log.Error("departures ledger not written", "users", strings.Join(slices.Sorted(maps.Keys(add)), ","), "err", oneLine(err))
		withheld = map[string]string{}
		for _, c := range recordedRemovals(plan, s.Config()) {
			withheld[c.ID] = "not run: its departure could not be recorded in the departures ledger " + DefaultDeparturesLedger + " (" + cutLine(oneLine(err), 160) + ")"
		}
		return withheld, &LedgerError{Workspace: s.Config().Databricks.Workspace, Users: users, Local: local, Err: err}
	}
	return nil, nil
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
