package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bitbricks/bitbricks/sync"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
)

// fastFake is the fake backend with a snapshot from an earlier run and a
// load that reports progress, then waits for release.
type fastFake struct {
	*fixtureBackend
	cached  *sync.Snapshot
	release chan struct{}
}

func (f *fastFake) Cached() (*sync.Snapshot, sync.Plan, bool) {
	return f.cached, sync.ComputePlan(f.cached, f.Config(), testNow), true
}

func (f *fastFake) LoadProgress(ctx context.Context, progress func(string)) (*sync.Snapshot, sync.Plan, error) {
	progress("Databricks users: 25 of 97 pages")
	progress("Atlassian directory: 2300 of 9014 emails resolved")
	<-f.release
	return f.Load(ctx)
}

// The console shows the last run's snapshot at once, marked as cached with
// its age, and the load's progress counts while it refreshes; the fresh
// snapshot then replaces it.
func TestConsoleStartsFromCache(t *testing.T) {
	f := &fastFake{fixtureBackend: newFixture(t), release: make(chan struct{})}
	f.cached = cloneSnapshot(f.snap)
	f.cached.TakenAt = testNow.Add(-3 * time.Hour)
	m := NewModel(f, testOptions(false))
	m = send(t, m, tea.WindowSizeMsg{Width: 100, Height: 24})

	cached := m.cachedCmd()
	if cached == nil {
		t.Fatal("no cached command for a backend with a cache")
	}
	m = send(t, m, cached())
	if v := m.View(); !strings.Contains(v, "cached, read 3h ago") || !strings.Contains(v, "data-engineers") {
		t.Fatalf("first frame is not the cached snapshot:\n%s", v)
	}

	listen := m.startLoad(1)
	msg := listen()
	for i := 0; i < 2; i++ { // both progress lines
		p, ok := msg.(loadProgressMsg)
		if !ok {
			t.Fatalf("got %T, want a progress line", msg)
		}
		tm, _ := m.Update(p)
		m = tm.(Model)
		if i == 0 {
			msg = p.next()
		}
	}
	v := m.View()
	if !strings.Contains(v, "2300 of 9014 emails resolved") || !strings.Contains(v, "cached, read 3h ago") {
		t.Errorf("progress frame lacks the count or the cached age:\n%s", v)
	}
	golden.RequireEqual(t, []byte(v))

	p := msg.(loadProgressMsg)
	close(f.release)
	m = send(t, m, p.next())
	if v := m.View(); strings.Contains(v, "cached") || strings.Contains(v, "emails resolved") || !strings.Contains(v, "read just now") {
		t.Errorf("after the refresh the frame still shows the cache or the progress:\n%s", v)
	}
	if m.fromCache || m.loading {
		t.Errorf("fromCache %v, loading %v after the load landed", m.fromCache, m.loading)
	}
}

// A load that lands before the cache is read is not replaced by it.
func TestCacheNeverReplacesAFreshLoad(t *testing.T) {
	f := &fastFake{fixtureBackend: newFixture(t), release: make(chan struct{})}
	f.cached = cloneSnapshot(f.snap)
	f.cached.TakenAt = testNow.Add(-3 * time.Hour)
	m := loaded(t, f, 100, 24, false)
	m = send(t, m, m.cachedCmd()())
	if m.fromCache || strings.Contains(m.View(), "cached") {
		t.Errorf("the cache replaced a fresh load:\n%s", m.View())
	}
}
