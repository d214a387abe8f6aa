package sync

import (
	"context"
	gosync "sync"
)

// Writing runs fn holding the write lock: the local lock in the service's
// state directory and the lease in its Databricks workspace (see
// Sources.Writing). Every method that writes (Apply, the revocations,
// Rotate, Remap) holds it itself; a front end wraps a read-then-write
// sequence in Writing (`sync --apply` plans and applies under one lock) so
// a second writer plans only after the first is done. Calls inside fn, on
// its context, do not take the lock again. Another writer makes it wait up
// to the service's LockTimeout, then return a *LockHeldError (exit 3)
// naming the holder.
func (s *Service) Writing(ctx context.Context, command string, fn func(context.Context) error) error {
	if len(s.parts) > 0 {
		// Each workspace's lock, those the context holds already skipped.
		return s.writingParts(ctx, command, fn)
	}
	if s.parent != nil {
		// One workspace of several: its own lock, unless the context holds
		// it (another workspace's lock is not this one's).
		return s.parent.writingIn(ctx, command, []workspacePart{{name: s.Config().Databricks.Workspace, svc: s}}, fn)
	}
	if holdsWriteLock(ctx) {
		return fn(ctx)
	}
	op, err := s.operator(ctx)
	if err != nil {
		return err
	}
	return s.src.Writing(ctx, WriteLockOptions{StateDir: s.stateDir, Timeout: s.lockTimeout, Command: command,
		Operator: op, Now: s.now, Log: s.log, Workspace: s.Config().Databricks.Workspace}, fn)
}

// HoldWriteLock takes the write lock like Writing, for a front end whose
// read-then-write sequence is not one function: it returns the context to
// do the work with (cancelled if the lease is lost) and a release to defer,
// which returns a *LeaseLostError when the lease was found no longer this
// run's (released by unlock, taken over) while it was held.
func (s *Service) HoldWriteLock(ctx context.Context, command string) (context.Context, func() error, error) {
	return s.holdLock(ctx, func(ctx context.Context, fn func(context.Context) error) error {
		return s.Writing(ctx, command, fn)
	})
}

// holdLock holds the lock writing takes until the release it returns.
func (s *Service) holdLock(ctx context.Context, writing func(context.Context, func(context.Context) error) error) (context.Context, func() error, error) {
	held := make(chan context.Context, 1)
	done, release := make(chan error, 1), make(chan struct{})
	go func() {
		done <- writing(ctx, func(work context.Context) error {
			held <- work
			<-release
			return nil
		})
	}()
	select {
	case work := <-held:
		var once gosync.Once
		var err error
		return work, func() error {
			once.Do(func() {
				close(release)
				if err = <-done; err != nil {
					s.log.Error("the write lock ended with an error", "err", oneLine(err))
				}
			})
			return err
		}, nil
	case err := <-done:
		return ctx, func() error { return nil }, err
	}
}
