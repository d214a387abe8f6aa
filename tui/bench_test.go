package tui

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/emulator"
	"github.com/bitbricks/bitbricks/sync"
	tea "github.com/charmbracelet/bubbletea"
)

// largeConsole is the large organisation (10,000 users, 1,000 mapped groups,
// 30,000 tokens) read once through the real engine from the emulator, for
// the console benchmarks.
var largeConsole struct {
	once gosync.Once
	snap *sync.Snapshot
	plan sync.Plan
	cfg  *config.Config
	err  error
}

func largeData(b *testing.B) (*sync.Snapshot, sync.Plan, *config.Config) {
	b.Helper()
	l := &largeConsole
	l.once.Do(func() {
		org := emulator.Large(emulator.DefaultLarge(), testNow)
		hs := httptest.NewServer(emulator.New(org, emulator.Options{}).Handler())
		defer hs.Close()
		path := filepath.Join(os.TempDir(), fmt.Sprintf("bitbricks-console-bench-%d.yaml", os.Getpid()))
		defer os.Remove(path)
		if l.err = os.WriteFile(path, emulator.LargeConfig(org, hs.URL), 0o600); l.err != nil {
			return
		}
		if l.cfg, l.err = config.Load(path); l.err != nil {
			return
		}
		var src sync.Sources
		src, l.err = sync.NewSources(l.cfg, sync.SourceOptions{
			Env: sync.MapEnv(map[string]string{"BITBUCKET_USERNAME": org.Creds.BitbucketUsername,
				"BITBUCKET_API_TOKEN": org.Creds.BitbucketAPIToken, "ATLASSIAN_ADMIN_API_KEY": org.Creds.AtlassianAdminKey}),
			Databricks: sync.DatabricksOptions{Host: hs.URL, Token: org.Creds.DatabricksToken, RateLimit: 1000,
				AccountClientID: org.Creds.AccountClientID, AccountClientSecret: org.Creds.AccountClientSecret},
		})
		if l.err != nil {
			return
		}
		if l.snap, l.err = sync.Read(context.Background(), src, l.cfg, nil); l.err != nil {
			return
		}
		l.plan = sync.ComputePlan(l.snap, l.cfg, testNow)
	})
	if l.err != nil {
		b.Fatal(l.err)
	}
	return l.snap, l.plan, l.cfg
}

// largeModel is the console at 200x60 on the large organisation, showing
// view i.
func largeModel(b *testing.B, i int) (Model, *fixtureBackend) {
	snap, plan, cfg := largeData(b)
	f := newFixture(b)
	f.snap, f.cfg = snap, cfg
	m := NewModel(f, testOptions(false))
	m = send(b, m, tea.WindowSizeMsg{Width: 200, Height: 60})
	m = send(b, m, loadedMsg{gen: 1, snap: snap, plan: plan, cfg: cfg})
	return keys(b, m, fmt.Sprint(i+1)), f
}

// BenchmarkConsoleLarge measures, in every view at large size, a key press
// (one row down, then the frame) and a full refresh (a new snapshot and plan
// arriving, then the frame). Run with -bench ConsoleLarge -benchmem.
func BenchmarkConsoleLarge(b *testing.B) {
	snap, plan, cfg := largeData(b)
	for i := range newTabs(newTheme(asciiRenderer()), false) {
		name, _ := newTabs(newTheme(asciiRenderer()), false)[i].Title()
		name = strings.ToLower(name)
		b.Run("key/"+name, func(b *testing.B) {
			m, _ := largeModel(b, i)
			b.ReportAllocs()
			down := true
			n := 0
			for b.Loop() {
				k := "j"
				if !down {
					k = "k"
				}
				if n++; n%50 == 0 {
					down = !down
				}
				m = send(b, m, keyMsg(k))
				_ = m.View()
			}
		})
		b.Run("refresh/"+name, func(b *testing.B) {
			m, _ := largeModel(b, i)
			b.ReportAllocs()
			for b.Loop() {
				m.gen++
				m = send(b, m, loadedMsg{gen: m.gen, snap: snap, plan: plan, cfg: cfg})
				_ = m.View()
			}
		})
	}
}

// BenchmarkConsoleFirstFrameFromCache measures the time to the first useful
// frame when the console starts with a cached large snapshot: read the cache
// file, plan it against the config, build the views and draw the frame (the
// refresh then runs behind it). Without a cache the first frame waits for a
// whole read (see `bitbricks bench`, snapshot_ms) and the same refresh.
func BenchmarkConsoleFirstFrameFromCache(b *testing.B) {
	snap, _, cfg := largeData(b)
	cache := sync.NewSnapshotCache(b.TempDir(), cfg, "bench")
	if err := cache.Save(snap); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(cache.Path())
	if err != nil {
		b.Fatal(err)
	}
	f := newFixture(b)
	f.cfg = cfg
	b.ReportAllocs()
	for b.Loop() {
		m := NewModel(f, testOptions(false))
		m = send(b, m, tea.WindowSizeMsg{Width: 200, Height: 60})
		cached, ok := cache.Load()
		if !ok {
			b.Fatal("cache miss")
		}
		m = send(b, m, cachedMsg{snap: cached, plan: sync.ComputePlan(cached, cfg, testNow)})
		if !m.fromCache || !strings.Contains(m.View(), "cached") {
			b.Fatal("the first frame is not the cached snapshot")
		}
	}
	b.ReportMetric(float64(fi.Size())/(1<<20), "cache-MB")
}
