package sync

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bitbricks/bitbricks/config"
)

// SnapshotCache keeps the last snapshot the console read, so that the next
// start shows it at once and refreshes behind it. It holds no secret (a
// Snapshot never does), is written 0600 and read only when 0600, and is
// keyed by the config's content and the identity in use: another config or
// another identity never sees it. `sync` never uses it.
type SnapshotCache struct {
	path, key string
}

// cacheFormat names the file's layout; another value is a miss. The file
// is gob: it decodes a 30,000-credential snapshot several times faster than
// JSON, and only bitbricks reads it.
const cacheFormat = "bitbricks-snapshot-cache/2"

type cacheFile struct {
	Format   string
	Key      string
	Snapshot *Snapshot
}

// DefaultCacheDir is $XDG_CACHE_HOME/bitbricks (or the platform's cache
// directory).
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "bitbricks"), nil
}

// NewSnapshotCache is the cache for cfg and identity in dir. identity names
// who reads (hosts, user names, profile), never a secret. The key hashes the
// config file's bytes (cfg.Path) and identity, so editing the config or
// switching identity starts afresh.
func NewSnapshotCache(dir string, cfg *config.Config, identity string) *SnapshotCache {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", cfg.Path)
	if b, err := os.ReadFile(cfg.Path); err == nil {
		h.Write(b)
	} else {
		fmt.Fprintf(h, "%+v", *cfg) // no file (tests, demo): the parsed config
	}
	fmt.Fprintf(h, "\x00%s", identity)
	key := hex.EncodeToString(h.Sum(nil))
	return &SnapshotCache{path: filepath.Join(dir, "snapshot-"+key[:16]+".json"), key: key}
}

// Path is the cache file.
func (c *SnapshotCache) Path() string { return c.path }

// Load returns the cached snapshot, or ok false when there is none for this
// config and identity (or it is unreadable, not 0600, or of another format).
func (c *SnapshotCache) Load() (snap *Snapshot, ok bool) {
	fi, err := os.Lstat(c.path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		return nil, false
	}
	r, err := os.Open(c.path)
	if err != nil {
		return nil, false
	}
	defer r.Close()
	var f cacheFile
	if gob.NewDecoder(bufio.NewReader(r)).Decode(&f) != nil || f.Format != cacheFormat || f.Key != c.key || f.Snapshot == nil {
		return nil, false
	}
	return f.Snapshot, true
}

// Save replaces the cached snapshot (written aside, then renamed, 0600).
func (c *SnapshotCache) Save(snap *Snapshot) error {
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("snapshot cache: %w", err)
	}
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(cacheFile{Format: cacheFormat, Key: c.key, Snapshot: snap}); err != nil {
		return fmt.Errorf("snapshot cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".snapshot-*")
	if err != nil {
		return fmt.Errorf("snapshot cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("snapshot cache: %w", err)
	}
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("snapshot cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("snapshot cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.path); err != nil {
		return fmt.Errorf("snapshot cache: %w", err)
	}
	return nil
}
