package sync

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/workspace"
)

// One writer at a time. Every command that writes holds, while it writes, a
// local lock (a file lock in the state directory) and a lease in the
// Databricks workspace, so two machines (a scheduled pipeline and an admin's
// console) exclude each other too.
//
// The lease is a workspace file created only if absent (Workspace import
// with overwrite false answers RESOURCE_ALREADY_EXISTS). The Workspace API
// has no conditional overwrite or delete, so a lease file is never rewritten:
// each lease lives at an epoch-suffixed path (writer.<epoch>.json), the
// highest epoch present is the current one, and renewing or taking over an
// expired lease both create the next epoch's path. Whoever creates it first
// holds the lease; the other gets RESOURCE_ALREADY_EXISTS and looks again.

// Lease defaults.
const (
	DefaultLeaseDir = "/Shared/.bitbricks/lease"
	DefaultLeaseTTL = 5 * time.Minute
	leasePrefix     = "writer."
	leaseSuffix     = ".json"
	lockFileName    = "write.lock"
)

// Holder is who holds (or held) the write lock: what a refused writer is told.
type Holder struct {
	Holder  string    `json:"holder"`  // OS user and Databricks identity
	Host    string    `json:"host"`    // machine name
	Process int       `json:"process"` // process id
	Command string    `json:"command"` // what it is doing, such as "sync --apply"
	Start   time.Time `json:"start"`
	Expiry  time.Time `json:"expiry,omitzero"` // the lease's; zero for the local lock
	// Renewed is when this lease file was written: a live holder writes
	// the next one every third of Expiry-Renewed (renew). Zero in a lease
	// written before it was recorded: Expiry less DefaultLeaseTTL.
	Renewed time.Time `json:"renewed,omitzero"`
	Nonce   string    `json:"nonce"` // tells this holder's lease from another's
	// Machine ties Process to one machine and process namespace
	// (machineID); "" where that cannot be told.
	Machine string `json:"machine,omitempty"`
	// ProcessStart is when Process started, as this machine tells it
	// (processStart): a process of that id that started at another time
	// is another process. "" where that cannot be told.
	ProcessStart string `json:"process_start,omitempty"`
}

func (h Holder) String() string {
	if h.Holder == "" && h.Host == "" && h.Process == 0 && h.Start.IsZero() {
		// An empty lock file, or one held by another program.
		return "holder unknown (the lock file names no bitbricks run)"
	}
	s := fmt.Sprintf("%s on %s (process %d", cmp.Or(h.Holder, "unknown"), cmp.Or(h.Host, "an unknown host"), h.Process)
	if h.Command != "" {
		s += ", " + h.Command
	}
	s += ")"
	if !h.Start.IsZero() {
		s += " since " + h.Start.UTC().Format(time.RFC3339)
	}
	if !h.Expiry.IsZero() {
		s += ", lease until " + h.Expiry.UTC().Format(time.RFC3339)
	}
	return s
}

// LockHeldError refuses a write because another bitbricks run holds the
// write lock. It exits with code 3.
type LockHeldError struct {
	Where  string // "local lock <file>" or "workspace lease <path>"
	By     Holder
	Waited time.Duration // how long it waited (--lock-timeout); 0: it did not wait
	// Own: the holder is this very run (a lock its context holds already),
	// not another one: waiting cannot free it.
	Own bool
}

// ownLocksKey carries the nonces of the write locks a context's run holds.
type ownLocksKey struct{}

func ownLocks(ctx context.Context) []string {
	held, _ := ctx.Value(ownLocksKey{}).([]string)
	return held
}

func (e *LockHeldError) Error() string {
	if e.Own {
		return fmt.Sprintf("refused: this bitbricks run itself holds the write lock it asked for (%s: %s), so no other run is writing and waiting cannot free it; two workspaces of the config are probably one (check databricks.workspaces for two entries with one host), else this is a bug in bitbricks; nothing was changed",
			e.Where, e.By)
	}
	wait := "pass --lock-timeout 10m to wait for it"
	if e.Waited > 0 {
		wait = "waited " + e.Waited.Round(100*time.Millisecond).String() + "; pass a longer --lock-timeout to wait longer"
	}
	held := e.By.String()
	if !e.By.Expiry.IsZero() {
		// The lease cannot tell a live run from a killed one: say when it frees itself.
		held += " (a run that was killed keeps it until then; `bitbricks unlock` releases it now)"
	}
	return fmt.Sprintf("refused: another bitbricks run is writing (%s): %s; nothing was changed; %s", e.Where, held, wait)
}

// LeaseLostError is a write stopped because its workspace lease is no
// longer its own: `bitbricks unlock` released it, another writer took it
// over, or it could not be renewed before it expired. It exits with code 1.
type LeaseLostError struct {
	Path string
	Err  error
	// Where names the lease's workspace ("workspace prod (host)", or the
	// host); "" says "the workspace lease <Path>".
	Where string
	// By holds the lease now, when known: unlock's release (Command
	// "unlock") or another run.
	By *Holder
	// Since: changes made after it may have overlapped another writer's
	// (when By took the lease, but not before the lease was last known to
	// be this run's); zero when unknown.
	Since time.Time
	// Stage is when the loss was found: lostBeforeChange (nothing more was
	// written), lostAtRelease (the run had ended its writing), or "" (at a
	// renewal: the run stopped).
	Stage string
}

// When a lost lease was found (LeaseLostError.Stage).
const (
	lostBeforeChange = "change"
	lostAtRelease    = "release"
)

func (e *LeaseLostError) Error() string {
	where := "the workspace lease " + e.Path
	if e.Where != "" {
		where = "the write lease of " + e.Where
	}
	var s string
	switch {
	case e.By != nil && e.By.Command == unlockCommand:
		s = fmt.Sprintf("%s was released by `bitbricks unlock` at %s (%s on %s)", where, e.By.Start.UTC().Format(time.RFC3339), cmp.Or(e.By.Holder, "unknown"), cmp.Or(e.By.Host, "an unknown host"))
	case e.By != nil:
		s = fmt.Sprintf("%s was taken over by another run: %s", where, e.By)
	default:
		s = fmt.Sprintf("%s was lost (%s)", where, oneLine(e.Err))
	}
	switch e.Stage {
	case lostBeforeChange:
		s += "; nothing more was written"
	case lostAtRelease:
		s += ", found when the run ended its writing"
	default:
		s += ": the run stopped so that two writers never overlap"
	}
	if !e.Since.IsZero() {
		s += fmt.Sprintf("; changes made after %s may have overlapped another writer's: check them in the audit log and run `bitbricks sync` to see what is left", e.Since.UTC().Format(time.RFC3339))
	}
	return s
}

func (e *LeaseLostError) Unwrap() error { return e.Err }

// DefaultStateDir is where bitbricks keeps its state, next to the default
// audit log: $XDG_STATE_HOME/bitbricks, else ~/.local/state/bitbricks.
func DefaultStateDir(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "bitbricks")
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	if home == "" {
		home = os.TempDir()
	}
	return filepath.Join(home, ".local", "state", "bitbricks")
}

// WriteLockOptions configure AcquireWriteLock.
type WriteLockOptions struct {
	// StateDir holds the local lock file; "" is DefaultStateDir(os.Getenv).
	StateDir string
	// Timeout is how long to wait for another writer; 0 refuses at once.
	Timeout time.Duration
	// Command says what the holder is doing ("sync --apply", "rotate etl-prod").
	Command  string
	Operator Operator
	// Workspace names the workspace (of several) the lease is in, for
	// messages and for the check before each change; "" with one.
	Workspace string
	// LeaseDir is the workspace folder of the lease (DefaultLeaseDir).
	LeaseDir string
	// TTL is the lease's lifetime (DefaultLeaseTTL); it is renewed every
	// third of it while the work runs.
	TTL time.Duration
	// Poll is the pause between attempts while waiting (default 1 s).
	Poll time.Duration
	Now  func() time.Time // nil: time.Now
	Log  *slog.Logger     // nil: slog.Default()

	// unlock, for `unlock`, is the lease id (nonce) of the holder to take
	// the lease from (writelock_unlock.go); unlockForce takes it also when
	// it was renewed recently enough that its holder may be alive.
	unlock      string
	unlockForce bool
}

// WriteLock is a held write lock: the local lock and, with a Databricks
// workspace, its lease. Release it when the writing is done.
type WriteLock struct {
	opts  WriteLockOptions
	local *localLock
	lease *lease

	work   context.Context
	cancel context.CancelCauseFunc
	stop   chan struct{}
	done   chan struct{}
	once   gosync.Once
}

// AcquireWriteLock takes the local lock in opts.StateDir, then the lease in
// db's workspace (none when db is nil), waiting up to opts.Timeout for
// another writer. It returns a context for the work that is cancelled if the
// lease is lost; a *LockHeldError when another writer holds either.
func AcquireWriteLock(ctx context.Context, db *Databricks, opts WriteLockOptions) (*WriteLock, context.Context, error) {
	opts.StateDir = cmp.Or(opts.StateDir, DefaultStateDir(nil))
	opts.LeaseDir = cmp.Or(opts.LeaseDir, DefaultLeaseDir)
	opts.TTL = cmpDuration(opts.TTL, DefaultLeaseTTL)
	opts.Poll = cmpDuration(opts.Poll, time.Second)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	me := newHolder(opts)
	start := time.Now()
	deadline := start.Add(opts.Timeout)
	l := &WriteLock{opts: opts, stop: make(chan struct{}), done: make(chan struct{})}
	for {
		var err error
		if l.local == nil {
			l.local, err = lockLocal(filepath.Join(opts.StateDir, lockFileName), me)
		}
		if err == nil && db != nil && l.lease == nil {
			l.lease, err = acquireLease(ctx, db, opts, me)
		}
		if err == nil {
			break
		}
		var held *LockHeldError
		if errors.As(err, &held) && held.By.Nonce != "" && slices.Contains(ownLocks(ctx), held.By.Nonce) {
			held.Own = true
		}
		if !errors.As(err, &held) || held.Own || !time.Now().Before(deadline) {
			if held != nil && opts.Timeout > 0 && !held.Own {
				held.Waited = max(time.Since(start), time.Millisecond)
			}
			l.local.release()
			return nil, ctx, err
		}
		opts.Log.Info("waiting for another writer", "holder", held.By.String(), "where", held.Where)
		select {
		case <-ctx.Done():
			l.local.release()
			return nil, ctx, ctx.Err()
		case <-time.After(min(opts.Poll, time.Until(deadline))):
		}
	}
	work, cancel := context.WithCancelCause(ctx)
	l.work, l.cancel = work, cancel
	if l.lease != nil {
		l.lease.where = leaseWhere(opts.Workspace, db.Host())
	}
	work = context.WithValue(work, ownLocksKey{}, append(slices.Clone(ownLocks(ctx)), me.Nonce))
	if l.lease != nil {
		go l.renew(work)
	} else {
		close(l.done)
	}
	return l, work, nil
}

// Lost is why the work context was cancelled by a lost lease, or nil.
func (l *WriteLock) Lost(ctx context.Context) error {
	var lost *LeaseLostError
	if err := context.Cause(ctx); errors.As(err, &lost) {
		return lost
	}
	return nil
}

// Release ends the lease (deleting its file) and the local lock. It is safe
// to call more than once. A lease found no longer this run's (released by
// unlock, taken over) is left alone and reported: a *LeaseLostError.
func (l *WriteLock) Release(ctx context.Context) error {
	if l == nil {
		return nil
	}
	var err error
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		if l.lease != nil && l.Lost(l.work) == nil {
			// Deleting the lease also runs when the work was cancelled.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), compensateTimeout)
			l.lease.mu.Lock()
			err = l.lease.confirm(dctx, l.opts.Now, lostAtRelease)
			var lost *LeaseLostError
			if !errors.As(err, &lost) {
				// Ours, or not known otherwise (the check failed): delete it.
				err = l.lease.release(dctx)
			}
			l.lease.mu.Unlock()
			cancel()
		}
		l.local.release()
		l.cancel(nil)
	})
	return err
}

// renew keeps the lease alive every third of its TTL until Release. A lease
// that cannot be renewed before it expires, or that another writer took
// over, cancels the work.
func (l *WriteLock) renew(work context.Context) {
	defer close(l.done)
	every := l.opts.TTL / 3
	for {
		select {
		case <-l.stop:
			return
		case <-work.Done():
			return
		case <-time.After(every):
		}
		err := l.lease.renew(work, l.opts)
		if err == nil {
			continue
		}
		var lost *LeaseLostError
		if errors.As(err, &lost) || !l.opts.Now().Before(l.lease.holder.Expiry) {
			if lost == nil {
				lost = &LeaseLostError{Path: l.lease.path, Err: err}
			}
			l.opts.Log.Error("write lease lost: stopping", "lease", l.lease.path, "err", oneLine(err))
			l.cancel(lost)
			return
		}
		l.opts.Log.Warn("write lease not renewed yet; retrying", "lease", l.lease.path, "err", oneLine(err))
	}
}

// confirm checks that the lease is still this run's (lease.confirm); a
// lost one cancels the work with it.
func (l *WriteLock) confirm(ctx context.Context) error {
	if l == nil || l.lease == nil {
		return nil
	}
	if lost := l.Lost(l.work); lost != nil {
		return lost
	}
	l.lease.mu.Lock()
	err := l.lease.confirm(ctx, l.opts.Now, lostBeforeChange)
	l.lease.mu.Unlock()
	var lost *LeaseLostError
	if errors.As(err, &lost) {
		l.opts.Log.Error("write lease lost: stopping before the next change", "lease", lost.Path, "err", lost.Error())
		l.cancel(lost)
		return lost
	}
	if err != nil {
		return fmt.Errorf("could not check that the write lease is still this run's, so nothing more was written: %w", err)
	}
	return nil
}

// leaseWhere names a lease's workspace in messages.
func leaseWhere(workspace, host string) string {
	if workspace != "" {
		return "workspace " + workspace + " (" + host + ")"
	}
	return host
}

func newHolder(opts WriteLockOptions) Holder {
	host, _ := os.Hostname()
	var b [8]byte
	_, _ = rand.Read(b[:])
	who := cmp.Or(opts.Operator.OSUser, CurrentOperator("").OSUser)
	if opts.Operator.Databricks != "" {
		who += " (" + opts.Operator.Databricks + ")"
	}
	return Holder{Holder: strings.TrimSpace(who), Host: host, Process: os.Getpid(), Command: opts.Command,
		Start: opts.Now().UTC(), Nonce: hex.EncodeToString(b[:]), Machine: machineID(), ProcessStart: processStart(os.Getpid())}
}

// ---- the local lock ----

type localLock struct {
	f    *os.File
	path string
}

// lockLocal takes the lock file at p without waiting and writes me into it,
// so a refused writer can say who holds it.
func lockLocal(p string, me Holder) (*localLock, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, fmt.Errorf("create the state directory for the write lock: %w", err)
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the write lock %s: %w", p, err)
	}
	held, err := tryLockFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	if held {
		var h Holder
		b, _ := os.ReadFile(p)
		_ = json.Unmarshal(b, &h)
		f.Close()
		return nil, &LockHeldError{Where: "local lock " + p, By: h}
	}
	b, _ := json.Marshal(me)
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(b, 0)
	}
	return &localLock{f: f, path: p}, nil
}

func (l *localLock) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	unlockFile(l.f)
	l.f.Close()
	l.f = nil
}

// ---- the workspace lease ----

type lease struct {
	db    *Databricks
	dir   string
	where string // leaseWhere
	// mu orders the renewals and the checks (confirm) of what follows.
	mu     gosync.Mutex
	path   string
	epoch  int
	holder Holder
	// objectID is the lease file's workspace object id (0: not known), so
	// a file of the same path made by another writer later is not this one.
	objectID int64
	// confirmed is when the lease was last known to be this run's.
	confirmed time.Time
}

func leasePath(dir string, epoch int) string {
	return path.Join(dir, leasePrefix+strconv.Itoa(epoch)+leaseSuffix)
}

// leaseEpoch is the epoch of a lease file's path; false for another file.
func leaseEpoch(p string) (int, bool) {
	name := path.Base(p)
	if !strings.HasPrefix(name, leasePrefix) || !strings.HasSuffix(name, leaseSuffix) {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, leasePrefix), leaseSuffix))
	return n, err == nil
}

// current is the lease file of the highest epoch in dir, 0 when there is none.
func currentLease(ctx context.Context, db *Databricks, dir string) (epoch int, info workspace.ObjectInfo, err error) {
	objs, err := db.w.Workspace.ListAll(ctx, workspace.ListWorkspaceRequest{Path: dir})
	if apierr.IsMissing(err) {
		if err := db.w.Workspace.MkdirsByPath(ctx, dir); err != nil {
			return 0, info, fmt.Errorf("create the lease folder %s: %w", dir, err)
		}
		return 0, info, nil
	}
	if err != nil {
		return 0, info, fmt.Errorf("list the lease folder %s: %w", dir, err)
	}
	for _, o := range objs {
		name := path.Base(o.Path)
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, leasePrefix), leaseSuffix))
		if err != nil || !strings.HasPrefix(name, leasePrefix) || !strings.HasSuffix(name, leaseSuffix) {
			continue
		}
		if n > epoch {
			epoch, info = n, o
		}
	}
	return epoch, info, nil
}

// readLease reads the holder in a lease file; a file that cannot be read as
// one counts as held until its modification time plus a TTL.
func readLease(ctx context.Context, db *Databricks, info workspace.ObjectInfo, ttl time.Duration) (Holder, error) {
	out, err := db.w.Workspace.Export(ctx, workspace.ExportRequest{Path: info.Path, Format: workspace.ExportFormatSource})
	if err != nil {
		return Holder{}, err
	}
	var h Holder
	b, derr := base64.StdEncoding.DecodeString(out.Content)
	if derr != nil || json.Unmarshal(b, &h) != nil || h.Expiry.IsZero() {
		h = Holder{Holder: "an unreadable lease", Start: time.UnixMilli(info.ModifiedAt), Expiry: time.UnixMilli(info.ModifiedAt).Add(ttl)}
	}
	return h, nil
}

// createLease creates the lease file at p for h, only if absent, and reads
// it back: false when another writer created it first. An import whose
// answer was lost, or that a retry then found present, counts as created
// when the file holds h.
func createLease(ctx context.Context, db *Databricks, p string, h Holder) (bool, error) {
	b, _ := json.Marshal(h)
	ierr := db.w.Workspace.Import(ctx, workspace.Import{Path: p, Format: workspace.ImportFormatAuto,
		Content: base64.StdEncoding.EncodeToString(b), Overwrite: false})
	out, rerr := db.w.Workspace.Export(ctx, workspace.ExportRequest{Path: p, Format: workspace.ExportFormatSource})
	var got Holder
	if rerr == nil {
		if raw, err := base64.StdEncoding.DecodeString(out.Content); err == nil {
			_ = json.Unmarshal(raw, &got)
		}
	}
	switch {
	case rerr == nil && got.Nonce == h.Nonce:
		return true, nil
	case ierr == nil && rerr != nil:
		return false, fmt.Errorf("read back the workspace lease %s: %w", p, rerr)
	case ierr == nil || errors.Is(ierr, apierr.ErrResourceAlreadyExists):
		return false, nil
	}
	return false, fmt.Errorf("create the workspace lease %s: %w", p, ierr)
}

// acquireLease takes the workspace lease: it creates the next epoch's file
// when there is none or the current one has expired, and refuses with a
// *LockHeldError while a live one is held.
func acquireLease(ctx context.Context, db *Databricks, opts WriteLockOptions, me Holder) (*lease, error) {
	for attempt := 0; ; attempt++ {
		epoch, info, err := currentLease(ctx, db, opts.LeaseDir)
		if err != nil {
			return nil, err
		}
		var stale string
		var prev Holder
		if epoch > 0 {
			prev, err = readLease(ctx, db, info, opts.TTL)
			if apierr.IsMissing(err) && attempt < 5 {
				continue // released meanwhile: look again
			}
			if err != nil {
				return nil, fmt.Errorf("read the workspace lease %s: %w", info.Path, err)
			}
			switch {
			case opts.unlock != "":
				// `unlock`: only the lease its user was shown.
				if id := leaseIDOf(prev, info.Path); id != opts.unlock {
					return nil, &UnlockRefused{Why: fmt.Sprintf("the lease is now %s (lease id %s), not the one you confirmed: nothing was released", prev, id)}
				}
				if localLive(prev) {
					return nil, &UnlockRefused{Why: fmt.Sprintf("its holder is a live process on this machine (%s): stop that run (or let it finish); nothing was released", prev)}
				}
				if r := recencyOf(prev, opts.Now()); r.recent && !opts.unlockForce && !goneHere(prev) {
					return nil, &UnlockRefused{Why: r.why("the lease", prev, opts.Now())}
				}
			case opts.Now().Before(prev.Expiry) && goneHere(prev):
				opts.Log.Warn("the write lease's holder ran on this host and its process no longer exists: taking the lease over now", "lease", info.Path, "holder", prev.String())
			case opts.Now().Before(prev.Expiry):
				return nil, &LockHeldError{Where: "workspace lease " + info.Path, By: prev}
			}
			stale = info.Path
		} else if opts.unlock != "" {
			return nil, &UnlockRefused{Why: "no bitbricks run holds the workspace lease now: nothing to release"}
		}
		me.Renewed = opts.Now().UTC()
		me.Expiry = me.Renewed.Add(opts.TTL)
		if opts.unlock != "" {
			// `unlock` leaves its epoch's file expired at once: the next
			// writer takes it over as any expired lease, and the holder it
			// replaced, should it still run, finds its next epoch taken at
			// its renewal and stops (deleting every file would let epochs
			// start again at 1 beside that holder's).
			me.Expiry = opts.Now().UTC()
		}
		p := leasePath(opts.LeaseDir, epoch+1)
		ok, err := createLease(ctx, db, p, me)
		if err != nil {
			return nil, err
		}
		if !ok {
			if attempt < 5 {
				continue // another writer was first: look at what it holds
			}
			return nil, fmt.Errorf("create the workspace lease in %s: other writers kept taking it", opts.LeaseDir)
		}
		if stale != "" {
			opts.Log.Warn("took over the write lease", "lease", stale, "holder", prev.String())
			// Its holder is gone (or lost it): nobody else deletes this path.
			_ = db.w.Workspace.Delete(ctx, workspace.Delete{Path: stale})
		}
		return &lease{db: db, dir: opts.LeaseDir, path: p, epoch: epoch + 1, holder: me, objectID: objectID(ctx, db, p), confirmed: me.Renewed}, nil
	}
}

// objectID is the workspace object id of the file at p, 0 when it cannot
// be read.
func objectID(ctx context.Context, db *Databricks, p string) int64 {
	info, err := db.w.Workspace.GetStatusByPath(ctx, p)
	if err != nil || info == nil {
		return 0
	}
	return info.ObjectId
}

// confirm checks, with one listing of the lease folder, that the lease is
// still this run's: its file is there (the same workspace object) and no
// later epoch's is. Otherwise a *LeaseLostError (stage says when it was
// found) naming who holds the lease now, when a later file says. The
// caller holds l.mu.
func (l *lease) confirm(ctx context.Context, now func() time.Time, stage string) error {
	objs, err := l.db.w.Workspace.ListAll(ctx, workspace.ListWorkspaceRequest{Path: l.dir})
	if err != nil && !apierr.IsMissing(err) {
		return fmt.Errorf("list the lease folder %s: %w", l.dir, err)
	}
	mine, latest, top := false, l.epoch, workspace.ObjectInfo{}
	for _, o := range objs {
		n, ok := leaseEpoch(o.Path)
		switch {
		case !ok:
		case n == l.epoch:
			mine = l.objectID == 0 || o.ObjectId == l.objectID
		case n > latest:
			latest, top = n, o
		}
	}
	if mine && latest == l.epoch {
		l.confirmed = now().UTC()
		return nil
	}
	lost := &LeaseLostError{Path: l.path, Where: l.where, Stage: stage, Since: l.confirmed,
		Err: fmt.Errorf("%s is gone", l.path)}
	if latest > l.epoch {
		lost.Err = fmt.Errorf("%s was created by another writer", top.Path)
		if h, err := readLease(ctx, l.db, top, DefaultLeaseTTL); err == nil {
			lost.By = &h
			if h.Start.After(lost.Since) {
				lost.Since = h.Start
			}
		}
	}
	return lost
}

// renew moves the lease to the next epoch with a new expiry: created only if
// absent, so a writer that took the lease over meanwhile wins, and this one
// learns it lost.
func (l *lease) renew(ctx context.Context, opts WriteLockOptions) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !opts.Now().Before(l.holder.Expiry) {
		// Another writer may have taken it over and let it go meanwhile:
		// renewing now could overlap with that writer's work.
		return &LeaseLostError{Path: l.path, Err: fmt.Errorf("it expired at %s before it could be renewed", l.holder.Expiry.Format(time.RFC3339))}
	}
	// Still this run's? (Once unlock's release was taken over and let go,
	// the next epoch's path is free again: creating it would not tell.)
	if err := l.confirm(ctx, opts.Now, ""); err != nil {
		return err
	}
	h := l.holder
	h.Renewed = opts.Now().UTC()
	h.Expiry = h.Renewed.Add(opts.TTL)
	p := leasePath(l.dir, l.epoch+1)
	ok, err := createLease(ctx, l.db, p, h)
	if err != nil {
		return err
	}
	if !ok {
		lost := &LeaseLostError{Path: l.path, Where: l.where, Since: l.confirmed, Err: fmt.Errorf("%s was created by another writer", p)}
		if got, err := l.db.w.Workspace.GetStatusByPath(ctx, p); err == nil && got != nil {
			if by, err := readLease(ctx, l.db, *got, DefaultLeaseTTL); err == nil {
				lost.By = &by
			}
		}
		return lost
	}
	old := l.path
	l.path, l.epoch, l.holder, l.objectID = p, l.epoch+1, h, objectID(ctx, l.db, p)
	if err := l.db.w.Workspace.Delete(ctx, workspace.Delete{Path: old}); err != nil && !apierr.IsMissing(err) {
		opts.Log.Warn("old lease file not deleted", "lease", old, "err", oneLine(err))
	}
	return nil
}

// release deletes the lease file; one already gone was taken over.
func (l *lease) release(ctx context.Context) error {
	err := l.db.w.Workspace.Delete(ctx, workspace.Delete{Path: l.path})
	if err != nil && !apierr.IsMissing(err) {
		return fmt.Errorf("delete the workspace lease %s (it expires at %s): %w", l.path, l.holder.Expiry.Format(time.RFC3339), err)
	}
	return nil
}

// writeLockKey marks a context whose run holds the write lock: its value
// is the []heldLease of the locks it holds.
type writeLockKey struct{}

// heldLease is a write lock a context's run holds, and its workspace's name
// (WriteLockOptions.Workspace).
type heldLease struct {
	workspace string
	lock      *WriteLock
}

// holdsWriteLock reports whether ctx runs under Writing: no other bitbricks
// writer is at work, so what an earlier run left unfinished is left over,
// not in flight.
func holdsWriteLock(ctx context.Context) bool { return ctx.Value(writeLockKey{}) != nil }

func heldLeases(ctx context.Context) []heldLease {
	held, _ := ctx.Value(writeLockKey{}).([]heldLease)
	return held
}

// confirmLease is the check before each change: that the workspace lease
// the run holds (of workspace, when it holds that one; else each) is still
// its own. One listing of the lease folder per lease. A lease released by
// `unlock` or taken over meanwhile gives a *LeaseLostError, and cancels
// the run's work: nothing more may be written. Without a lease (no
// Databricks workspace), nil.
func confirmLease(ctx context.Context, workspace string) error {
	held := heldLeases(ctx)
	if i := slices.IndexFunc(held, func(h heldLease) bool { return workspace != "" && h.workspace == workspace }); i >= 0 {
		held = held[i : i+1]
	}
	for _, h := range held {
		if err := h.lock.confirm(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Writing runs fn while holding the write lock: the local lock in
// opts.StateDir and the lease in the sources' Databricks workspace. Every
// command that writes goes through it once. A second writer waits up to
// opts.Timeout, then gets a *LockHeldError (exit 3) naming the holder.
// fn's context is cancelled if the lease is lost.
func (s Sources) Writing(ctx context.Context, opts WriteLockOptions, fn func(ctx context.Context) error) error {
	db, _ := s.Databricks.(*Databricks)
	if db != nil && opts.Operator.Databricks == "" {
		me, err := db.Me(ctx)
		if err != nil {
			return err
		}
		opts.Operator.Databricks = me
	}
	l, work, err := AcquireWriteLock(ctx, db, opts)
	if err != nil {
		return err
	}
	held := append(slices.Clone(heldLeases(ctx)), heldLease{workspace: opts.Workspace, lock: l})
	err = fn(context.WithValue(work, writeLockKey{}, held))
	if lost := l.Lost(work); lost != nil && !errors.As(err, new(*LeaseLostError)) {
		err = errors.Join(err, lost)
	}
	if rerr := l.Release(ctx); rerr != nil {
		if errors.As(rerr, new(*LeaseLostError)) {
			// Released by unlock (or taken over) while this run wrote.
			err = errors.Join(err, rerr)
		} else {
			l.opts.Log.Warn("write lease not deleted; it expires by itself", "err", oneLine(rerr))
		}
	}
	return err
}
