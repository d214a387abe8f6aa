package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	bbsync "github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/tui"
)

// runConsole opens the console on the configured systems.
func runConsole(ctx context.Context, s *ioStreams, g *globalFlags) error {
	if !s.IsTerminal {
		return tui.ErrNoTerminal
	}
	e, err := engineFromFlags(s, g)
	if err != nil {
		return err
	}
	e.cache = consoleCache(s, e)
	return runConsoleWith(ctx, s, g, e)
}

// consoleCache is the console's snapshot cache for this config and identity
// (hosts, workspace, user names and profile: never a secret), in
// $XDG_CACHE_HOME/bitbricks; nil when there is no cache directory.
func consoleCache(s *ioStreams, e *engine) *bbsync.SnapshotCache {
	dir, err := bbsync.DefaultCacheDir()
	if err != nil {
		return nil
	}
	identity := fmt.Sprintf("databricks=%s profile=%s workspace=%s bitbucket=%s",
		e.src.Databricks.Host(), firstSet(s.Getenv("DATABRICKS_CONFIG_PROFILE"), e.cfg.Databricks.Profile),
		e.cfg.Bitbucket.Workspace, s.Getenv("BITBUCKET_USERNAME"))
	return bbsync.NewSnapshotCache(dir, e.cfg, identity)
}

func firstSet(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// runConsoleWith runs the console on a ready engine (also `demo`). Logs go to
// a file, never to the terminal the console draws on.
func runConsoleWith(ctx context.Context, s *ioStreams, g *globalFlags, e *engine) error {
	if !s.IsTerminal {
		return tui.ErrNoTerminal
	}
	logFile, path, err := openLog(s)
	if err != nil {
		return err
	}
	defer logFile.Close()
	log := slog.New(slog.NewTextHandler(logFile, nil))
	var b tui.Backend = tui.NewEngineBackend(bbsync.NewService(e.src, e.cfg, bbsync.ServiceOptions{Now: s.Now, Log: log,
		StateDir: e.lock.stateDir, LockTimeout: e.lock.lockTimeout}))
	if e.cache != nil { // the configured console only: the demo's organisation is new every time
		b = &tui.CachedBackend{EngineBackend: b.(*tui.EngineBackend), Cache: e.cache}
	}
	log.Info("console started", "config", e.cfg.Path, "read_only", g.readOnlyMode(s))
	err = tui.Run(ctx, b, tui.Options{ReadOnly: g.readOnlyMode(s), Now: s.Now, LogWriter: logFile})
	if err != nil {
		return fmt.Errorf("console: %w (log: %s)", err, path)
	}
	return nil
}

// openLog opens the console's log file: $BITBRICKS_LOG, else
// ~/.local/state/bitbricks/console.log.
func openLog(s *ioStreams) (*os.File, string, error) {
	path := s.Getenv("BITBRICKS_LOG")
	if path == "" {
		dir, err := os.UserHomeDir()
		if err != nil {
			dir = os.TempDir()
		}
		path = filepath.Join(dir, ".local", "state", "bitbricks", "console.log")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, "", fmt.Errorf("console log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("console log %s: %w (set BITBRICKS_LOG to another file)", path, err)
	}
	return f, path, nil
}
