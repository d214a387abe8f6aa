package sync

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"time"

	"github.com/bitbricks/bitbricks/config"
)

// Service is the one way into the engine. The CLI (cmd/bitbricks) and the
// console (tui) hold a *Service and only parse input, ask for confirmation
// and render what it returns: every read, plan, apply, revocation, rotation,
// re-map and audit query goes through one of its methods, so both front ends
// share the same guards, audit lines and operator.
//
// Methods, by what they do:
//
//	Read, Plan, Load               snapshot and plan (ComputePlan on the service's clock)
//	CheckSavedPlan                 a plan saved by `sync --out` checked against a fresh one
//	MaxChanges, LimitChanges,
//	CheckPlanSize, Apply           apply a plan's changes with the max_changes guard,
//	                               one audit line per change and the rotator
//	Tokens                         the credential inventory, filtered
//	RevokeToken, RevokeSecret      revoke one credential by id
//	OwnerCredentials, OwnerBindings,
//	RevokeCredentials              revoke every credential of an owner
//	FindLeaked, RevokeLeaked       trace a leaked token value, then contain it
//	Binding, DueBindings, Rotate   rotate pipeline bindings by the rotation protocol
//	Remap                          point a mapping at another Databricks group
//	Writing                        hold the write lock around several calls
//	                               (every write method holds it itself)
//	WorkspacesOfToken, ...Owner,
//	...Leak, ...Secrets,
//	...Bindings, ...Plan,
//	HoldWriteLockIn, WritingIn     with several workspaces, the workspaces a
//	                               command writes to, and their locks only
//	                               (service_route.go)
//	Pipelines, Federations,
//	Federate, FinishEvidence,
//	FinishFederation               move bindings to Pipelines OIDC (service_federation.go)
//	Audit, VerifyAudit,
//	VerifyAuditAt, AuditHead       read the audit log; check its hash chain and
//	                               anchored head; the head printed after an apply
//
// Adding a feature: put its logic in a method here (or in a function of this
// package that a method calls), audited through the same Operator, and keep
// cmd and tui to input, confirmation and output. A Service is safe for use
// by several goroutines; its config changes only through Remap.
type Service struct {
	src      Sources
	now      func() time.Time
	log      *slog.Logger
	progress func(string)

	// The write lock (see Writing): the local lock's directory and how long
	// a write waits for another writer.
	stateDir    string
	lockTimeout time.Duration

	mu     gosync.Mutex
	cfg    *config.Config
	caller string // the Databricks identity, from the last Read or Me
	limit  *int   // max_changes override (LimitChanges)

	// parts serve the workspaces of a config with several; only narrows
	// a run to some of them (service_workspaces.go).
	parts []workspacePart
	only  []string
	// unsearched is what the last search by token id or leaked value over
	// several workspaces could not search (see Unsearched).
	unsearched error
	// parent is the service of several workspaces this one is a part of
	// (nil otherwise): what the account shares is guarded through it.
	parent *Service
}

// ServiceOptions tune NewService. The zero value is the real clock, no log
// and no progress reports.
type ServiceOptions struct {
	// Now is the planning, audit and rotation clock (default time.Now).
	Now func() time.Time
	// Log receives the engine's log records (default: discarded). Front ends
	// point it at a log file, or at stderr with BITBRICKS_DEBUG.
	Log *slog.Logger
	// Progress hears what Read is reading (default: nothing).
	Progress func(string)
	// StateDir holds the local write lock (default DefaultStateDir from the
	// process environment); LockTimeout is how long a write waits for
	// another writer before a *LockHeldError (0: refuse at once).
	StateDir    string
	LockTimeout time.Duration
	// Warn hears what the operator should know but does not stop a run,
	// such as an audit log whose loose permissions were tightened (default:
	// Log at warning level).
	Warn func(msg string)
}

// NewService serves cfg over src. cfg.Path is the file Remap rewrites.
func NewService(src Sources, cfg *config.Config, opts ServiceOptions) *Service {
	s := &Service{src: src, cfg: cfg, now: opts.Now, log: opts.Log, progress: opts.Progress,
		stateDir: opts.StateDir, lockTimeout: opts.LockTimeout}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if len(src.Workspaces) > 0 {
		s.newParts(opts)
		for _, p := range s.parts {
			p.svc.parent = s
		}
	}
	if fa, ok := src.Audit.(*FileAudit); ok && fa.Warn == nil {
		warn := opts.Warn
		if warn == nil {
			warn = func(msg string) { s.log.Warn(msg) }
		}
		fa.Warn = warn
	}
	return s
}

// Config is the config the service plans with (re-read after a Remap).
func (s *Service) Config() *config.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// Sources are the adapters the service reads and changes.
func (s *Service) Sources() Sources { return s.src }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }

// Read takes a snapshot (see the package function Read) and remembers who
// the Databricks credentials act as, for the audit log.
func (s *Service) Read(ctx context.Context) (*Snapshot, error) {
	if len(s.parts) > 0 {
		return s.readParts(ctx, s.progress)
	}
	snap, err := Read(ctx, s.src, s.Config(), s.progress)
	if err != nil {
		return nil, err
	}
	s.checkWorkspaceID(ctx, snap)
	snap.Leftovers = FindLeftovers(snap, s.Config(), s.Config().Audit.File)
	s.mu.Lock()
	s.caller = snap.Caller
	s.mu.Unlock()
	return snap, nil
}

// LoadWithProgress is Load reporting to progress (such as the console's
// status line) instead of the service's own Progress.
func (s *Service) LoadWithProgress(ctx context.Context, progress func(string)) (*Snapshot, Plan, error) {
	if err := s.needAccount(); err != nil {
		return nil, Plan{}, err
	}
	if len(s.parts) > 0 {
		snap, err := s.readParts(ctx, progress)
		if err != nil {
			return nil, Plan{}, err
		}
		return snap, s.Plan(snap), nil
	}
	snap, err := Read(ctx, s.src, s.Config(), progress)
	if err != nil {
		return nil, Plan{}, err
	}
	s.checkWorkspaceID(ctx, snap)
	s.mu.Lock()
	s.caller = snap.Caller
	s.mu.Unlock()
	return snap, s.Plan(snap), nil
}

// Plan computes the plan of snap against the current config, at Now.
func (s *Service) Plan(snap *Snapshot) Plan {
	if len(s.parts) > 0 && len(snap.Workspaces) > 0 {
		return s.planParts(snap)
	}
	return finishPlan(s.startPlan(snap), nil)
}

// startPlan starts the plan of one workspace's snap against the current
// config, at Now (see startPlan).
func (s *Service) startPlan(snap *Snapshot) *planner {
	return startPlan(snap, s.Config(), s.now())
}

// finishPlan finishes pl with what the run proved about departures (nil:
// a run of one workspace) and names the workspace on the plan.
func finishPlan(pl *planner, run *runEvidence) Plan {
	name := pl.cfg.Databricks.Workspace
	if name == "" {
		name = config.SingleWorkspaceName(pl.snap.Host, pl.cfg.Databricks.Profile)
	}
	return tagWorkspace(holdIfReplaced(pl.finish(run), pl.snap, name), name)
}

// tagWorkspace names the workspace on every change and finding of plan
// that names none.
func tagWorkspace(plan Plan, name string) Plan {
	for i := range plan.Changes {
		if plan.Changes[i].Workspace == "" {
			plan.Changes[i].Workspace = name
		}
	}
	for i := range plan.Findings {
		if plan.Findings[i].Workspace == "" {
			plan.Findings[i].Workspace = name
		}
	}
	return plan
}

// Load is Read then Plan.
func (s *Service) Load(ctx context.Context) (*Snapshot, Plan, error) {
	if err := s.needAccount(); err != nil {
		return nil, Plan{}, err // a plan needs the account's groups and assignment
	}
	snap, err := s.Read(ctx)
	if err != nil {
		return nil, Plan{}, err
	}
	return snap, s.Plan(snap), nil
}

// LimitChanges overrides policy.max_changes for this service's applies
// (`sync --max-changes N`); a negative n means no limit.
func (s *Service) LimitChanges(n int) {
	s.mu.Lock()
	s.limit = &n
	s.mu.Unlock()
	for _, p := range s.parts {
		p.svc.LimitChanges(n)
	}
}

// MaxChanges is the most changes one Apply makes: the LimitChanges override,
// else policy.max_changes. Negative: no limit.
func (s *Service) MaxChanges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limit != nil {
		return *s.limit
	}
	return s.cfg.Policy.MaxChanges
}

// CheckPlanSize returns the *GuardError Apply would refuse plan with, or
// nil. Front ends call it before asking for confirmation, so nobody confirms
// a plan that will be refused.
func (s *Service) CheckPlanSize(plan Plan) error {
	if len(s.parts) > 0 {
		if err := s.checkUnread(plan.Problems, "apply"); err != nil {
			return err
		}
	}
	if max := s.MaxChanges(); max >= 0 && len(plan.Changes) > max {
		return &GuardError{Changes: len(plan.Changes), Max: max}
	}
	return nil
}

// Apply makes exactly plan's changes through the package function Apply:
// refused with a *GuardError above MaxChanges, one audit line per change to
// audit.file as the current operator (its intent before, its outcome after), rotate_credential changes run by the
// rotation protocol (each step audited under the change). obs may be nil.
func (s *Service) Apply(ctx context.Context, plan Plan, obs Observer) ([]Result, error) {
	if len(s.parts) > 0 {
		return s.applyParts(ctx, plan, obs)
	}
	return s.apply(ctx, plan, obs, nil)
}

// apply is Apply of one workspace; earlier are the outcomes of the run's
// changes in other workspaces so far (see ApplyOptions.Earlier).
func (s *Service) apply(ctx context.Context, plan Plan, obs Observer, earlier []Outcome) ([]Result, error) {
	exec, ok := s.src.Executor()
	if !ok {
		return nil, errors.New("apply: the Databricks adapter cannot make changes")
	}
	op, err := s.operator(ctx)
	if err != nil {
		return nil, err
	}
	opts := ApplyOptions{MaxChanges: s.MaxChanges(), Audit: s.src.Audit, AuditFile: s.Config().Audit.File, Operator: op, Now: s.now,
		Workspace: s.Config().Databricks.Workspace, Earlier: earlier}
	// Without a credentials service (an adapter that cannot rotate), Apply
	// skips rotate_credential changes as "rotation not available".
	if c, err := s.credentialsAs(op); err == nil {
		opts.Rotator = c
		exec = leftoverGuard{Executor: exec, c: c}
	}
	var results []Result
	err = s.Writing(ctx, "apply", func(ctx context.Context) (err error) {
		// Who is taken out of a mapped group is recorded before (in the
		// workspace, for every machine's later runs). No record, no
		// removal: a ledger that cannot be written withholds the removals
		// it was to record (skipped); the other changes are made.
		withheld, lerr := s.recordRemovals(ctx, plan)
		opts.Withheld = withheld
		results, err = Apply(ctx, plan, exec, obs, opts)
		s.acknowledgeWorkspaceID(ctx) // workspace_replaced.go
		if err == nil && lerr != nil {
			return lerr
		}
		return errors.Join(err, lerr)
	})
	return results, err
}

// CheckSavedPlan reads a fresh snapshot and checks a saved plan against its
// plan (see the package function CheckSavedPlan): the plan to apply, or a
// *StalePlanError (exit 3) naming the changes that no longer hold.
func (s *Service) CheckSavedPlan(ctx context.Context, saved SavedPlan) (SavedPlanCheck, error) {
	if len(s.parts) > 0 {
		if err := s.checkSavedScope(saved); err != nil {
			return SavedPlanCheck{}, err
		}
	}
	snap, fresh, err := s.Load(ctx)
	if err != nil {
		return SavedPlanCheck{}, err
	}
	if len(s.parts) > 0 {
		// A saved plan is checked against every workspace it may touch:
		// one that cannot be read now refuses it whole.
		if err := s.checkUnread(fresh.Problems, "apply"); err != nil {
			return SavedPlanCheck{}, err
		}
		fresh = alignAccountChanges(saved, fresh)
	}
	return CheckSavedPlan(saved, fresh, SnapshotDigest(snap))
}

// LoadSavedPlan reads the saved plan at path (see ParseSavedPlan), a
// regular file of at most 16 MiB.
func LoadSavedPlan(path string) (SavedPlan, error) {
	f, err := os.Open(path)
	if err != nil {
		return SavedPlan{}, fmt.Errorf("read saved plan: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return SavedPlan{}, fmt.Errorf("read saved plan: %w", err)
	}
	const limit = 16 << 20
	if !st.Mode().IsRegular() || st.Size() > limit {
		return SavedPlan{}, fmt.Errorf("saved plan %s: not a regular file of at most 16 MiB", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return SavedPlan{}, fmt.Errorf("read saved plan: %w", err)
	}
	p, err := ParseSavedPlan(b)
	if err != nil {
		return SavedPlan{}, fmt.Errorf("saved plan %s: %w", path, err)
	}
	return p, nil
}

// Tokens reads a snapshot and returns its credential inventory (every token
// and secret with its policy flags, oldest first) that matches filter, and
// the sources that could not be read (the inventory may lack their part).
func (s *Service) Tokens(ctx context.Context, filter InventoryFilter) ([]CredentialStatus, []Problem, error) {
	snap, err := s.Read(ctx)
	if err != nil {
		return nil, nil, err
	}
	if len(snap.Workspaces) > 0 {
		return FilterInventory(s.workspaceInventory(snap), filter), s.Plan(snap).Problems, nil
	}
	return FilterInventory(Inventory(snap, s.Config(), s.now()), filter), snap.ProblemList(), nil
}

// RevokeToken revokes one token (PAT or on-behalf-of) by id, audited.
func (s *Service) RevokeToken(ctx context.Context, id string) (Credential, error) {
	if len(s.parts) > 0 {
		return s.revokeTokenParts(ctx, id)
	}
	c, err := s.credentials(ctx)
	if err != nil {
		return Credential{}, err
	}
	var cr Credential
	err = s.Writing(ctx, "revoke --token-id "+id, func(ctx context.Context) (err error) {
		cr, err = c.RevokeToken(ctx, id)
		return err
	})
	return cr, err
}

// RevokeSecret revokes one OAuth secret of a service principal (display
// name or application id), audited.
func (s *Service) RevokeSecret(ctx context.Context, servicePrincipal, id string) (Credential, error) {
	if len(s.parts) > 0 {
		return s.revokeSecretParts(ctx, servicePrincipal, id)
	}
	c, err := s.credentials(ctx)
	if err != nil {
		return Credential{}, err
	}
	var cr Credential
	err = s.Writing(ctx, "revoke --secret-id "+id, func(ctx context.Context) (err error) {
		cr, err = c.RevokeSecret(ctx, servicePrincipal, id)
		return err
	})
	return cr, err
}

// OwnerCredentials lists every credential of one user (userName) or service
// principal, without revoking anything: the front end shows it, confirms,
// then calls RevokeCredentials with the list.
func (s *Service) OwnerCredentials(ctx context.Context, owner string) (Owned, error) {
	if len(s.parts) > 0 {
		return s.ownerCredentialsParts(ctx, owner)
	}
	c, err := s.credentials(ctx)
	if err != nil {
		return Owned{}, err
	}
	return c.OwnerCredentials(ctx, owner)
}

// OwnerBindings are the pipeline bindings that stop working when every
// credential of p is revoked: those of a service principal p.
func (s *Service) OwnerBindings(p Principal) []config.Binding {
	if p.Type != PrincipalServicePrincipal {
		return nil
	}
	sp := ServicePrincipal{DisplayName: p.Name, ApplicationID: p.ApplicationID}
	var out []config.Binding
	for _, b := range s.Config().Pipelines {
		if sp.Named(b.ServicePrincipal) {
			out = append(out, b)
		}
	}
	return out
}

// RevokeCredentials revokes exactly creds, audited one line each; the
// failures are in the Revocation and joined in the error.
func (s *Service) RevokeCredentials(ctx context.Context, creds []Credential) (Revocation, error) {
	if len(s.parts) > 0 {
		return s.revokeCredentialsParts(ctx, creds)
	}
	c, err := s.credentials(ctx)
	if err != nil {
		return Revocation{}, err
	}
	var rev Revocation
	err = s.Writing(ctx, "revoke", func(ctx context.Context) (err error) {
		rev, err = c.RevokeCredentials(ctx, creds)
		return err
	})
	return rev, err
}

// FindLeaked traces a leaked token value to its owner, the owner's tokens
// and the bindings rotated first, changing nothing. The value is never kept,
// logged or returned.
func (s *Service) FindLeaked(ctx context.Context, value string) (*Leak, error) {
	if len(s.parts) > 0 {
		return s.findLeakedParts(ctx, value)
	}
	c, err := s.credentials(ctx)
	if err != nil {
		return nil, err
	}
	leak, err := c.FindLeaked(ctx, value)
	if err == nil && s.parent != nil {
		leak.Workspace = s.Config().Databricks.Workspace
		s.parent.keepSecretsBoundElsewhere(leak)
	}
	return leak, err
}

// RevokeLeaked contains exactly the leak FindLeaked traced: the leaked token
// first; with opts.Rest the owner's bindings rotated, then its other
// credentials (bitbricks' own last); then a check that the leaked value no
// longer authenticates (Credentials.RevokeLeaked).
func (s *Service) RevokeLeaked(ctx context.Context, leak *Leak, opts LeakOptions) (LeakRevocation, error) {
	if leak == nil {
		return LeakRevocation{}, errors.New("revoke leaked token: trace it first")
	}
	if len(s.parts) > 0 {
		return s.revokeLeakedParts(ctx, leak, opts)
	}
	c, err := s.credentials(ctx)
	if err != nil {
		return LeakRevocation{}, err
	}
	var res LeakRevocation
	err = s.Writing(ctx, "revoke --leaked", func(ctx context.Context) (err error) {
		res, err = c.RevokeLeaked(ctx, leak, opts)
		return err
	})
	return res, err
}

// Binding is the pipeline binding called name, or an error that lists the
// config's bindings.
func (s *Service) Binding(name string) (config.Binding, error) {
	cfg := s.Config()
	if b, ok := cfg.BindingByName(name); ok {
		return b, nil
	}
	names := make([]string, 0, len(cfg.Pipelines))
	for _, p := range cfg.Pipelines {
		names = append(names, p.Name)
	}
	return config.Binding{}, fmt.Errorf("no binding %q in %s (bindings: %s)", name, cfg.Path, strings.Join(names, ", "))
}

// DueBindings reads a snapshot and returns the bindings due for rotation,
// each with why, and the sources that could not be read (a binding whose
// part is unknown is not known to be due).
func (s *Service) DueBindings(ctx context.Context) ([]DueBinding, []Problem, error) {
	if len(s.parts) > 0 {
		return s.dueBindingsParts(ctx)
	}
	snap, err := s.Read(ctx)
	if err != nil {
		return nil, nil, err
	}
	return DueBindings(snap, s.Config(), s.now()), snap.ProblemList(), nil
}

// Rotate rotates the binding called name by the rotation protocol, each
// step audited.
func (s *Service) Rotate(ctx context.Context, name string) (RotationResult, error) {
	if b, err := s.Binding(name); err == nil && b.Credential == config.CredentialOAuthSecret {
		if err := s.needAccount(); err != nil {
			return RotationResult{}, err // OAuth secrets are made through the account API
		}
	}
	if len(s.parts) > 0 {
		return s.rotateParts(ctx, name)
	}
	b, err := s.Binding(name)
	if err != nil {
		return RotationResult{}, err
	}
	c, err := s.credentials(ctx)
	if err != nil {
		return RotationResult{}, err
	}
	var res RotationResult
	err = s.Writing(ctx, "rotate "+name, func(ctx context.Context) (err error) {
		res, err = c.RotateBinding(ctx, b)
		return err
	})
	return res, err
}

// Remap points mapping index at the Databricks group named group: the config
// file is rewritten with its comments and layout kept (only when the result
// is a valid config), the change is audited, and the service plans with the
// new config from then on.
func (s *Service) Remap(ctx context.Context, index int, group string) error {
	cfg := s.Config()
	if index < 0 || index >= len(cfg.Mappings) {
		return fmt.Errorf("re-map: no mapping %d in %s", index, cfg.Path)
	}
	src, err := config.ReadFile(cfg.Path, "config file")
	if err != nil {
		return fmt.Errorf("re-map: %w", err)
	}
	out, err := config.Remap(src, index, group)
	if err != nil {
		return fmt.Errorf("re-map: %w", err)
	}
	next, err := config.Parse(cfg.Path, out)
	if err != nil {
		return fmt.Errorf("re-map would make the config invalid, so it was not written: %w", err)
	}
	op, err := s.operator(ctx)
	if err != nil {
		return err
	}
	old := cfg.Mappings[index]
	return s.editingConfig(ctx, "re-map", old, func(ctx context.Context) error {
		if err := writeFileAtomic(cfg.Path, out); err != nil {
			return fmt.Errorf("re-map: %w", err)
		}
		s.setConfig(next)
		ev := AuditEvent{Time: s.now().UTC(), Operator: op, Action: "remap",
			Target: fmt.Sprintf("mapping %s: %s -> %s", old.BitbucketGroup, old.DatabricksGroup, group) + s.mappingScope(old), Result: ResultApplied}
		if s.src.Audit != nil && next.Audit.File == cfg.Audit.File {
			return s.src.Audit.Append(ctx, ev)
		}
		return AppendAudit(next.Audit.File, ev)
	})
}

// Audit returns the n most recent events of the audit log, newest first; a
// log not written yet has none. Lines that are not events are left out
// (VerifyAudit reports them).
func (s *Service) Audit(n int) ([]AuditEvent, error) {
	f, err := os.Open(s.Config().Audit.File)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	defer f.Close()
	var all []AuditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var ev AuditEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		all = append(all, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	if n >= 0 && len(all) > n {
		all = all[len(all)-n:]
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	return all, nil
}

// VerifyAudit checks the hash chain of the config's audit log against its
// anchored head (see VerifyAuditLog). It returns the file it checked.
func (s *Service) VerifyAudit() (string, error) {
	path := s.Config().Audit.File
	return path, VerifyAuditLog(path)
}

// VerifyAuditAt checks the audit log at path ("" is audit.file) against
// head (nil: its sidecar; a volume log: every run's link), and returns the
// head it found. A log under /Volumes/ is read through the Files API.
func (s *Service) VerifyAuditAt(ctx context.Context, path string, head *AuditHead) (string, AuditHead, error) {
	if path == "" {
		path = s.Config().Audit.File
	}
	if IsVolumePath(path) {
		v, ok := s.src.Audit.(*VolumeAudit)
		if !ok || v.Dir != path {
			db, _ := s.src.Databricks.(*Databricks)
			if v, ok = NewAuditSink(path, db).(*VolumeAudit); !ok {
				return path, AuditHead{}, fmt.Errorf("audit log %s is on a volume, and the Databricks adapter cannot read volumes", path)
			}
		}
		h, err := VerifyVolumeAudit(ctx, v.Files, v.Dir, head)
		return path, h, err
	}
	h, err := VerifyAuditFile(path, head)
	return path, h, err
}

// VerifyAuditFile is VerifyAuditHead on the local log at path, with a clear
// error when there is no log there yet.
func VerifyAuditFile(path string, head *AuditHead) (AuditHead, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return AuditHead{}, fmt.Errorf("no audit log at %s: nothing has been audited there yet; check audit.file in the config, or pass --file", path)
	}
	return VerifyAuditHead(path, head)
}

// AuditHead is the head of this run's audit log, as printed at the end of
// every apply so that a pipeline's log anchors it; ok is false when there is
// no audit log or no head yet.
func (s *Service) AuditHead(ctx context.Context) (head AuditHead, where string, ok bool) {
	if s.src.Audit == nil {
		return AuditHead{}, "", false
	}
	h, err := s.src.Audit.Head(ctx)
	if err != nil {
		return AuditHead{}, "", false
	}
	return h, s.src.Audit.Where(), true
}

// VerifyAuditLog is VerifyAudit on the log at path, with a clear error when
// there is no log there yet.
func VerifyAuditLog(path string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no audit log at %s: nothing has been audited there yet; check audit.file in the config, or pass --file", path)
	}
	return VerifyAudit(path)
}

// operator is the OS user with the Databricks identity of the last Read, or
// of a Me call when nothing was read yet.
func (s *Service) operator(ctx context.Context) (Operator, error) {
	s.mu.Lock()
	caller := s.caller
	s.mu.Unlock()
	if caller == "" {
		me, err := s.src.Databricks.Me(ctx)
		if err != nil {
			return Operator{}, err
		}
		s.mu.Lock()
		s.caller = me
		s.mu.Unlock()
		caller = me
	}
	return CurrentOperator(caller), nil
}

// credentials is the revoke and rotate service, audited as the operator.
func (s *Service) credentials(ctx context.Context) (*Credentials, error) {
	op, err := s.operator(ctx)
	if err != nil {
		return nil, err
	}
	return s.credentialsAs(op)
}

func (s *Service) credentialsAs(op Operator) (*Credentials, error) {
	c, err := s.src.Credentials(s.Config())
	if err != nil {
		return nil, err
	}
	c.Operator, c.Now, c.Log = op, s.now, s.log
	return c, nil
}

// writeFileAtomic replaces path with data through a temporary file in the
// same directory, keeping the file's mode.
func writeFileAtomic(path string, data []byte) error {
	mode := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".bitbricks-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
