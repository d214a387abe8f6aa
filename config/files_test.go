package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostileFiles are what a config or identity map path may point at by
// mistake or malice: each must be refused before it is read, with one line.
func hostileFiles(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(50 << 20); err != nil { // 50 MB, sparse
		t.Fatal(err)
	}
	f.Close()
	nul := filepath.Join(dir, "nul.yaml")
	if err := os.WriteFile(nul, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"fifo": fifo, "50 MB": big, "NUL bytes": nul, "directory": sub}
	if _, err := os.Stat("/dev/zero"); err == nil {
		files["/dev/zero"] = "/dev/zero"
	}
	return files
}

// refusedQuickly runs f and fails the test if it has not returned shortly
// before the test binary's deadline (it would have blocked for ever): a
// guard against a hang that names what hung, not a timing assertion, and
// no fixed time that a loaded machine could miss.
func refusedQuickly(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	var hung <-chan time.Time // no deadline: wait
	if deadline, ok := t.Deadline(); ok {
		left := time.Until(deadline)
		hung = time.After(max(left-30*time.Second, left/2))
	}
	select {
	case err := <-done:
		return err
	case <-hung:
		t.Fatal("blocked reading the file")
		return nil
	}
}

func allocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

func TestLoadRefusesWhatIsNotASmallRegularFile(t *testing.T) {
	isolateEnv(t)
	for name, path := range hostileFiles(t) {
		t.Run(name, func(t *testing.T) {
			before := allocated()
			err := refusedQuickly(t, func() error { _, err := Load(path); return err })
			if err == nil {
				t.Fatal("loaded")
			}
			if grew := allocated() - before; grew > 8<<20 {
				t.Errorf("allocated %d MiB refusing it", grew>>20)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || len(msg) > 300 || !strings.Contains(msg, path) {
				t.Errorf("error is not one short line naming the file: %q", msg)
			}
		})
	}
}

func TestLoadIdentityMapRefusesWhatIsNotASmallRegularFile(t *testing.T) {
	for name, path := range hostileFiles(t) {
		t.Run(name, func(t *testing.T) {
			before := allocated()
			err := refusedQuickly(t, func() error { _, err := LoadIdentityMap(path); return err })
			if err == nil {
				t.Fatal("loaded")
			}
			if grew := allocated() - before; grew > 8<<20 {
				t.Errorf("allocated %d MiB refusing it", grew>>20)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || len(msg) > 300 {
				t.Errorf("error is not one short line: %q", msg)
			}
		})
	}
}

func TestLoadChecksTheMapFile(t *testing.T) {
	isolateEnv(t)
	files := hostileFiles(t)
	files["missing"] = filepath.Join(t.TempDir(), "ids.yaml")
	for name, mapFile := range files {
		t.Run(name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "bitbricks.yaml")
			if err := os.WriteFile(cfg, []byte(head+"identity:\n  map_file: "+mapFile+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			err := refusedQuickly(t, func() error { _, err := Load(cfg); return err })
			if name == "NUL bytes" {
				// A small regular file: refused when the snapshot reads it (above).
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), cfg+":6:13: identity.map_file: ") {
				t.Errorf("Load = %v, want the map_file position and problem", err)
			}
		})
	}
}

func TestLoadRefusesUnreadableMapFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file")
	}
	isolateEnv(t)
	dir := t.TempDir()
	ids := filepath.Join(dir, "ids.yaml")
	if err := os.WriteFile(ids, []byte("{}\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "bitbricks.yaml")
	if err := os.WriteFile(cfg, []byte(head+"identity:\n  map_file: ids.yaml\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(cfg); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("Load = %v", err)
	}
}

func TestCredentialFromEnvironmentInANameIsRefused(t *testing.T) {
	isolateEnv(t)
	const pat = "dapi0123456789abcdef0123456789abcdef"
	t.Setenv("LEAKY", pat)
	for _, src := range []string{
		"bitbucket:\n  workspace: ${LEAKY}\ndatabricks:\n  profile: prod\n",
		"bitbucket:\n  workspace: acme\ndatabricks:\n  host: https://${LEAKY}.example.com\n",
		head + "mappings:\n  - bitbucket_group: x\n    databricks_group: ${LEAKY}\n",
	} {
		_, err := Parse("c.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), "looks like a Databricks personal access token") {
			t.Errorf("Parse(%q) = %v", src, err)
			continue
		}
		if strings.Contains(err.Error(), pat[4:]) {
			t.Errorf("the error shows the value: %v", err)
		}
	}
}
