package tui

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	gosync "sync"
	"time"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/sync"
)

// EngineBackend is the Backend over the real engine: the sync adapters,
// ComputePlan, Apply with its guards, the credentials service and the audit
// log. `bitbricks` and `bitbricks demo` use it; only the sources differ.
type EngineBackend struct {
	Sources sync.Sources
	// Now is the planning clock (default time.Now).
	Now func() time.Time
	// Log receives the engine's log (default: discarded). Never stdout: the
	// console owns the terminal.
	Log *slog.Logger

	mu  gosync.Mutex
	cfg *config.Config
	// caller is the Databricks identity of the last Load, for the audit log.
	caller string
}

// NewEngineBackend serves cfg (re-read from cfg.Path after a re-map) from src.
func NewEngineBackend(src sync.Sources, cfg *config.Config, now func() time.Time) *EngineBackend {
	if now == nil {
		now = time.Now
	}
	return &EngineBackend{Sources: src, Now: now, cfg: cfg, Log: slog.New(slog.DiscardHandler)}
}

// Config is the config the next Load plans with.
func (e *EngineBackend) Config() *config.Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg
}

// Load reads a snapshot and plans it.
func (e *EngineBackend) Load(ctx context.Context) (*sync.Snapshot, sync.Plan, error) {
	cfg := e.Config()
	snap, err := sync.Read(ctx, e.Sources, cfg, nil)
	if err != nil {
		return nil, sync.Plan{}, err
	}
	e.mu.Lock()
	e.caller = snap.Caller
	e.mu.Unlock()
	return snap, sync.ComputePlan(snap, cfg, e.Now()), nil
}

func (e *EngineBackend) operator() sync.Operator {
	e.mu.Lock()
	defer e.mu.Unlock()
	return sync.CurrentOperator(e.caller)
}

// credentials is the revoke and rotate service, audited.
func (e *EngineBackend) credentials() (*sync.Credentials, error) {
	c, err := e.Sources.Credentials(e.Config())
	if err != nil {
		return nil, err
	}
	c.Operator, c.Now, c.Log = e.operator(), e.Now, e.Log
	return c, nil
}

// Apply runs exactly these changes through the same guards and audit log as
// `sync --apply`.
func (e *EngineBackend) Apply(ctx context.Context, changes []sync.Change, progress func(sync.Result)) ([]sync.Result, error) {
	exec, ok := e.Sources.Executor()
	if !ok {
		return nil, errors.New("the Databricks adapter cannot make changes")
	}
	cfg := e.Config()
	creds, err := e.credentials()
	if err != nil {
		return nil, err
	}
	// Apply audits each change; the rotator audits each step of a rotation
	// under it, as during `sync --apply`.
	return sync.Apply(ctx, sync.Plan{GeneratedAt: e.Now(), Changes: changes}, exec, progressObserver(progress), sync.ApplyOptions{
		MaxChanges: cfg.Policy.MaxChanges,
		AuditFile:  cfg.Audit.File,
		Operator:   e.operator(),
		Rotator:    creds,
		Now:        e.Now,
	})
}

// progressObserver reports each finished change.
type progressObserver func(sync.Result)

func (p progressObserver) Start(int, int, sync.Change) {}
func (p progressObserver) Done(_, _ int, _ sync.Change, r sync.Result) {
	if p != nil {
		p(r)
	}
}

// Revoke revokes tokens and secrets.
func (e *EngineBackend) Revoke(ctx context.Context, creds []sync.Credential) error {
	c, err := e.credentials()
	if err != nil {
		return err
	}
	_, err = c.RevokeCredentials(ctx, creds)
	return err
}

// FindLeaked traces a token value to its owner without revoking anything.
func (e *EngineBackend) FindLeaked(ctx context.Context, value string) (Leak, error) {
	c, err := e.credentials()
	if err != nil {
		return Leak{}, err
	}
	l, err := c.FindLeaked(ctx, value)
	if err != nil {
		return Leak{}, err
	}
	out := Leak{Redacted: l.Redacted, Owner: l.Owner.Name, OwnerID: l.Owner.ID, OwnerType: l.Owner.Type, Tokens: l.Tokens, trace: l}
	for _, b := range l.Bindings {
		out.Bindings = append(out.Bindings, b.Name)
	}
	return out, nil
}

// RevokeLeaked is `bitbricks revoke --leaked` on the leak FindLeaked traced,
// so exactly the tokens shown are revoked.
func (e *EngineBackend) RevokeLeaked(ctx context.Context, leak Leak) (string, int, error) {
	l, ok := leak.trace.(*sync.Leak)
	if !ok {
		return "", 0, errors.New("revoke leaked token: trace it first")
	}
	c, err := e.credentials()
	if err != nil {
		return "", 0, err
	}
	res, err := c.RevokeLeaked(ctx, l)
	return l.Owner.Name, len(res.Revoked), err
}

// Rotate rotates one binding by the rotation protocol.
func (e *EngineBackend) Rotate(ctx context.Context, binding string) error {
	b, ok := e.Config().BindingByName(binding)
	if !ok {
		return fmt.Errorf("no binding %q in the config", binding)
	}
	c, err := e.credentials()
	if err != nil {
		return err
	}
	_, err = c.RotateBinding(ctx, b)
	return err
}

// Remap rewrites the config file with mapping index pointed at group,
// comments and layout kept, audits it, and plans with it from then on.
func (e *EngineBackend) Remap(ctx context.Context, index int, group string) error {
	cfg := e.Config()
	src, err := os.ReadFile(cfg.Path)
	if err != nil {
		return fmt.Errorf("re-map: read %s: %w", cfg.Path, err)
	}
	out, err := config.Remap(src, index, group)
	if err != nil {
		return fmt.Errorf("re-map: %w", err)
	}
	next, err := config.Parse(cfg.Path, out)
	if err != nil {
		return fmt.Errorf("re-map would make the config invalid, so it was not written: %w", err)
	}
	if err := writeFileAtomic(cfg.Path, out); err != nil {
		return fmt.Errorf("re-map: %w", err)
	}
	e.mu.Lock()
	e.cfg = next
	e.mu.Unlock()
	old := cfg.Mappings[index]
	return sync.AppendAudit(next.Audit.File, sync.AuditEvent{Time: e.Now().UTC(), Operator: e.operator(), Action: "remap",
		Target: fmt.Sprintf("mapping %s: %s -> %s", old.BitbucketGroup, old.DatabricksGroup, group), Result: sync.ResultApplied})
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

// Audit returns the n most recent audit events, newest first.
func (e *EngineBackend) Audit(ctx context.Context, n int) ([]AuditEvent, error) {
	path := e.Config().Audit.File
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
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
		var ev sync.AuditEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		all = append(all, AuditEvent{Time: ev.Time, Operator: ev.Operator.OSUser + " as " + ev.Operator.Databricks,
			Action: ev.Action, Target: ev.Target, Result: ev.Result, Error: ev.Error})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	if len(all) > n {
		all = all[len(all)-n:]
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	return all, nil
}
