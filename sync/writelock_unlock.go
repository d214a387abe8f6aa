package sync

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Releasing a write lease by hand (`bitbricks unlock`), and taking over at
// once the lease of a run that died on this very machine.
//
// A killed writer's lease blocks every other writer until it expires (up to
// DefaultLeaseTTL). `unlock` shows the holder, and once its user confirmed
// that holder (by its lease id) releases the lease through the take-over
// path of an expired one: the next epoch's file is created only if absent,
// so a lease another writer took meanwhile is never overwritten, already
// expired, and the old file is deleted. The next writer takes the expired
// one over at once; the old holder, should it still run, finds its next
// epoch taken at its next renewal (within a third of the lease's lifetime)
// and stops; but once another writer has come and released its lease, the
// epochs start again and such a holder could renew beside the next one:
// unlock only a run known to be dead. It refuses while the holder is a
// live process on this machine, or while the lease was renewed recently
// enough that its holder may be alive (a live run renews it every third of
// its lifetime), unless forced; and audits what it released. A holder that
// still runs checks its lease before each change (confirmLease), so even a
// forced release stops it before its next one.

// unlockCommand is the command an unlock's release names in the lease it
// leaves: a writer that finds it knows its lease was released by hand.
const unlockCommand = "unlock"

// recency is how recently a lease was renewed, and whether its holder may
// therefore still be alive.
type recency struct {
	renewed   time.Time     // when the lease file was written
	every     time.Duration // a live holder renews it this often
	deadAfter time.Time     // not renewed by then: its holder is not running (or cannot reach the workspace)
	recent    bool          // not expired and now before deadAfter
}

// recencyOf reads h's renewal: a live holder writes the next lease file a
// third of its lifetime after the last, give or take its requests (a
// thirtieth more is allowed for them).
func recencyOf(h Holder, now time.Time) recency {
	renewed, ttl := h.Renewed, h.Expiry.Sub(h.Renewed)
	if renewed.IsZero() || ttl <= 0 {
		// Written before the renewal was recorded, or unlock's own release.
		ttl = DefaultLeaseTTL
		renewed = h.Expiry.Add(-ttl)
	}
	r := recency{renewed: renewed, every: ttl / 3}
	r.deadAfter = renewed.Add(r.every + ttl/30)
	r.recent = now.Before(h.Expiry) && now.Before(r.deadAfter)
	return r
}

// why is the refusal of an unlock of a lease (what) renewed recently.
func (r recency) why(what string, h Holder, now time.Time) string {
	return fmt.Sprintf("%s was renewed %s ago (at %s) by %s: a live run renews it every %s, so that run may still be writing; if it is not renewed by %s, its run is dead (or cannot reach the workspace) and unlock releases it; pass --force only if you know that run is dead (a run that still writes then stops before its next change); nothing was released",
		what, max(now.Sub(r.renewed), 0).Round(time.Second), r.renewed.UTC().Format(time.RFC3339),
		fmt.Sprintf("%s on %s (process %d, %s)", cmp.Or(h.Holder, "unknown"), cmp.Or(h.Host, "an unknown host"), h.Process, cmp.Or(h.Command, "unknown command")),
		r.every.Round(time.Second), r.deadAfter.UTC().Format(time.RFC3339))
}

// UnlockRefused is an `unlock` that released nothing. It exits with code 3.
type UnlockRefused struct{ Why string }

func (e *UnlockRefused) Error() string { return "refused: " + e.Why }

// leaseIDOf is the lease id unlock shows, and --lease-id names, of the
// lease file at p held by h: its nonce as bitbricks writes it (16 hex
// digits), else (a file bitbricks did not write, or one changed by hand)
// "invalid-" and 8 hex digits of a hash of its nonce and path, so that
// what is shown is always what can be typed back, and names this file.
func leaseIDOf(h Holder, p string) string {
	if len(h.Nonce) == 16 && strings.Trim(h.Nonce, "0123456789abcdef") == "" {
		return h.Nonce
	}
	sum := sha256.Sum256([]byte(h.Nonce + "\x00" + p))
	return "invalid-" + hex.EncodeToString(sum[:4])
}

// thisMachine is the machine (machineID) a holder's process is judged on;
// a test sets it to judge a lease as another machine would.
var thisMachine = machineID

// goneHere reports whether h ran on this machine (same host and machine id)
// and its process no longer exists there.
func goneHere(h Holder) bool {
	host, _ := os.Hostname()
	me := thisMachine()
	if h.Machine == "" || me == "" || h.Machine != me || h.Host != host {
		return false
	}
	alive, known := processState(h.Process, h.ProcessStart)
	return known && !alive
}

// localLive reports whether h may be a live process of this machine: on
// this host, and its process not known to be gone.
func localLive(h Holder) bool {
	host, _ := os.Hostname()
	if h.Host != host {
		return false
	}
	if me := thisMachine(); h.Machine != "" && me != "" && h.Machine != me {
		return false // another container or boot of a host of the same name
	}
	alive, known := processState(h.Process, h.ProcessStart)
	return alive || !known
}

// LeaseState is a workspace's write lease as `unlock` shows it.
type LeaseState struct {
	Workspace string `json:"workspace,omitempty"`
	Host      string `json:"host"` // the workspace's host
	Path      string `json:"path"` // the lease file; "" when none is held
	Held      bool   `json:"held"` // a lease file is there
	Holder    Holder `json:"holder"`
	LeaseID   string `json:"lease_id"` // the holder's nonce: what --lease-id names
	Expired   bool   `json:"expired"`
	// LocalLive: the holder may be a live process on this machine
	// (unlock refuses).
	LocalLive bool `json:"local_live"`
	// Renewed is when the lease was last written; a live holder renews it
	// every RenewEvery. Recent: not expired and renewed less than that
	// (and a little) ago, so its holder may be alive: unlock refuses
	// without force until DeadAfter.
	Renewed    time.Time     `json:"renewed"`
	RenewEvery time.Duration `json:"-"`
	DeadAfter  time.Time     `json:"dead_after"`
	Recent     bool          `json:"recently_renewed"`
	at         time.Time     // when it was read
	// Released: unlock released it.
	Released bool `json:"released"`
}

// leaseSource is the part of the service (one workspace) whose lease an
// unlock reads: the named workspace of several, or the one.
func (s *Service) leaseSource(workspace string) (*Service, string, error) {
	if len(s.parts) == 0 {
		if workspace != "" && workspace != s.Config().Databricks.Workspace {
			return nil, "", fmt.Errorf("--workspace %s: the config has one workspace (%s); leave --workspace out", workspace, s.src.Databricks.Host())
		}
		return s, s.Config().Databricks.Workspace, nil
	}
	if workspace == "" {
		return nil, "", fmt.Errorf("name the workspace whose lease to release: --workspace %s", s.Workspaces()[0])
	}
	p, ok := s.partNamed(workspace)
	if !ok {
		return nil, "", fmt.Errorf("--workspace %s: no such workspace in databricks.workspaces (%v)", workspace, s.Workspaces())
	}
	return p.svc, workspace, nil
}

// Lease reads the write lease of the named workspace ("" with one): who
// holds it, since when, until when, and whether that may be a live process
// on this machine.
func (s *Service) Lease(ctx context.Context, workspace string) (LeaseState, error) {
	part, name, err := s.leaseSource(workspace)
	if err != nil {
		return LeaseState{}, err
	}
	db, ok := part.src.Databricks.(*Databricks)
	if !ok {
		return LeaseState{}, errors.New("unlock: the Databricks adapter keeps no workspace lease")
	}
	if err := db.checkIdentity(ctx); err != nil {
		return LeaseState{}, err
	}
	st := LeaseState{Workspace: name, Host: db.Host()}
	epoch, info, err := currentLease(ctx, db, DefaultLeaseDir)
	if err != nil || epoch == 0 {
		return st, err
	}
	h, err := readLease(ctx, db, info, DefaultLeaseTTL)
	if err != nil {
		return st, fmt.Errorf("read the workspace lease %s: %w", info.Path, err)
	}
	st.Path, st.Held, st.Holder, st.LeaseID = info.Path, true, h, leaseIDOf(h, info.Path)
	now := part.now()
	st.Expired = !now.Before(h.Expiry)
	st.LocalLive = localLive(h)
	r := recencyOf(h, now)
	if goneHere(h) {
		r.recent = false // its process is known to be gone: however recent, no run renews it
	}
	st.Renewed, st.RenewEvery, st.DeadAfter, st.Recent, st.at = r.renewed, r.every, r.deadAfter, r.recent, now
	return st, nil
}

// Unlock releases the write lease of the named workspace that leaseID (as
// Lease showed it) holds: refused (*UnlockRefused, exit 3) when another
// holder has it now, when its holder may be a live process on this
// machine, when it was renewed so recently that its holder may be alive
// (unless force), or when this machine's local lock is held. The release
// is audited (an intent line first: no audit, no release).
func (s *Service) Unlock(ctx context.Context, workspace, leaseID string, force bool) (LeaseState, error) {
	part, name, err := s.leaseSource(workspace)
	if err != nil {
		return LeaseState{}, err
	}
	if leaseID == "" {
		return LeaseState{}, errors.New("unlock: no lease id: read the lease first (Lease) and pass the id shown")
	}
	before, err := s.Lease(ctx, workspace)
	if err != nil {
		return before, err
	}
	if !before.Held {
		return before, &UnlockRefused{Why: "no bitbricks run holds the workspace lease now: nothing to release"}
	}
	if before.LeaseID != leaseID {
		return before, &UnlockRefused{Why: fmt.Sprintf("the lease is held by %s (lease id %s), not lease id %s: nothing was released", before.Holder, cmp.Or(before.LeaseID, "none"), leaseID)}
	}
	if err := before.Refusal(force); err != nil {
		return before, err
	}
	db := part.src.Databricks.(*Databricks)
	op, err := part.operator(ctx)
	if err != nil {
		return before, err
	}
	target := fmt.Sprintf("lease:%s lease_id:%s holder:%s/%d", before.Path, leaseID, strings.ReplaceAll(cmp.Or(before.Holder.Host, "unknown"), " ", "_"), before.Holder.Process)
	if force && before.Recent {
		target += " forced:renewed_" + before.Renewed.UTC().Format(time.RFC3339)
	}
	if name != "" {
		target += " workspace:" + name
	}
	audit := func(result, msg string) error {
		if s.src.Audit == nil {
			return nil
		}
		ev := AuditEvent{Time: s.now().UTC(), Operator: op, Action: "unlock", Target: target, Result: result, Error: msg}
		if err := s.src.Audit.Append(ctx, ev); err != nil {
			return &AuditWriteError{Where: s.src.Audit.Where(), Err: err}
		}
		return nil
	}
	if err := audit(ResultIntent, ""); err != nil {
		return before, err
	}
	opts := WriteLockOptions{StateDir: part.stateDir, Command: unlockCommand, Operator: op, Now: part.now, Log: part.log, unlock: leaseID, unlockForce: force}
	opts.StateDir = cmp.Or(opts.StateDir, DefaultStateDir(nil))
	opts.LeaseDir, opts.TTL = DefaultLeaseDir, DefaultLeaseTTL
	if opts.Log == nil {
		opts.Log = s.log
	}
	me := newHolder(opts)
	// This machine's own lock first: a writer here holds it while it runs.
	local, err := lockLocal(filepath.Join(opts.StateDir, lockFileName), me)
	if err != nil {
		_ = audit(ResultFailed, oneLine(err))
		var held *LockHeldError
		if errors.As(err, &held) {
			return before, &UnlockRefused{Why: fmt.Sprintf("a bitbricks run on this machine holds the local write lock (%s): stop it (or let it finish); nothing was released", held.By)}
		}
		return before, err
	}
	defer local.release()
	// The take-over leaves an expired lease of the next epoch (see
	// acquireLease): the next writer goes ahead at once.
	if _, err := acquireLease(ctx, db, opts, me); err != nil {
		_ = audit(ResultFailed, oneLine(err))
		return before, err
	}
	opts.Log.Warn("released the workspace lease by hand", "lease", before.Path, "holder", before.Holder.String())
	if err := audit(ResultApplied, ""); err != nil {
		return before, err
	}
	before.Released = true
	return before, nil
}

// Refusal is why unlock would refuse this lease before being asked to
// confirm anything: none held, a holder that may be a live process on
// this machine, or (unless force) a lease renewed so recently that its
// holder may be alive; nil otherwise.
func (st LeaseState) Refusal(force bool) error {
	switch {
	case !st.Held:
		return &UnlockRefused{Why: "no bitbricks run holds the write lease of " + st.where() + ": nothing to release"}
	case st.LocalLive:
		return &UnlockRefused{Why: fmt.Sprintf("the write lease of %s is held by a live process on this machine (%s): stop that run (or let it finish); nothing was released", st.where(), st.Holder)}
	case st.Recent && !force:
		r := recency{renewed: st.Renewed, every: st.RenewEvery, deadAfter: st.DeadAfter}
		return &UnlockRefused{Why: r.why("the write lease of "+st.where(), st.Holder, st.at)}
	}
	return nil
}

// where names the lease's workspace for messages.
func (st LeaseState) where() string {
	if st.Workspace != "" {
		return "workspace " + st.Workspace + " (" + st.Host + ")"
	}
	return st.Host
}
