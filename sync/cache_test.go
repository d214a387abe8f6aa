package sync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
)

// The console's snapshot cache: what it saves comes back, 0600, with no
// credential of the seed in it; another config or identity misses it, and
// a file that is not 0600 is not trusted.
func TestSnapshotCache(t *testing.T) {
	e := newDemo(t, emulator.Options{})
	snap := e.read(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "bitbricks.yaml")
	src := emulator.DemoConfig(e.org, e.http.URL)
	if err := os.WriteFile(cfgPath, src, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cacheDir := filepath.Join(dir, "cache")
	c := NewSnapshotCache(cacheDir, cfg, "databricks="+e.http.URL+" bitbucket="+e.org.Creds.BitbucketUsername)
	if _, ok := c.Load(); ok {
		t.Fatal("a cache that was never written answered")
	}
	if err := c.Save(snap); err != nil {
		t.Fatal(err)
	}
	got, ok := c.Load()
	if !ok {
		t.Fatal("the saved snapshot did not come back")
	}
	if len(got.Users) != len(snap.Users) || len(got.Credentials) != len(snap.Credentials) || !got.TakenAt.Equal(snap.TakenAt) || got.Caller != snap.Caller {
		t.Errorf("round trip: %d users, %d credentials, taken %v; want %d, %d, %v",
			len(got.Users), len(got.Credentials), got.TakenAt, len(snap.Users), len(snap.Credentials), snap.TakenAt)
	}
	a, b := ComputePlan(snap, cfg, demoNow), ComputePlan(got, cfg, demoNow)
	if len(a.Changes) != len(b.Changes) || len(a.Findings) != len(b.Findings) {
		t.Errorf("plan from the cache: %d changes, %d findings; from the read: %d, %d", len(b.Changes), len(b.Findings), len(a.Changes), len(a.Findings))
	}

	fi, err := os.Stat(c.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode %v, want 0600", fi.Mode().Perm())
	}
	body, _ := os.ReadFile(c.Path())
	creds := e.org.Creds
	for name, secret := range map[string]string{"Databricks token": creds.DatabricksToken, "Bitbucket API token": creds.BitbucketAPIToken,
		"Bitbucket bearer": creds.BitbucketBearer, "Atlassian admin key": creds.AtlassianAdminKey} {
		if secret != "" && strings.Contains(string(body), secret) {
			t.Errorf("the cache file holds the %s", name)
		}
	}
	e.org.Mu.Lock()
	for value := range e.org.DB.TokensByValue {
		if strings.Contains(string(body), value) {
			t.Errorf("the cache file holds a token value (%s…)", value[:4])
		}
	}
	e.org.Mu.Unlock()

	// Another identity, or the config edited: a miss.
	if _, ok := NewSnapshotCache(cacheDir, cfg, "databricks="+e.http.URL+" bitbucket=someone@else").Load(); ok {
		t.Error("another identity read the cache")
	}
	if err := os.WriteFile(cfgPath, append(src, []byte("# edited\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := NewSnapshotCache(cacheDir, cfg, "databricks="+e.http.URL+" bitbucket="+creds.BitbucketUsername).Load(); ok {
		t.Error("the cache survived a config change")
	}
	// A cache file others can read is not trusted.
	if err := os.WriteFile(cfgPath, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(c.Path(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Load(); ok {
		t.Error("a 0644 cache file was read")
	}
}
