package tui

import (
	"context"

	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
	tea "github.com/charmbracelet/bubbletea"
)

// Backends may also report a load's progress and hold the snapshot of an
// earlier run, so the console starts at once and shows counts moving.
type (
	progressLoader interface {
		// LoadProgress is Load, reporting what it reads (with counts) to
		// progress, from one goroutine at a time.
		LoadProgress(ctx context.Context, progress func(string)) (*sync.Snapshot, sync.Plan, error)
	}
	cachedLoader interface {
		// Cached is the snapshot an earlier run left, planned against the
		// current config; ok is false when there is none for this config
		// and identity.
		Cached() (snap *sync.Snapshot, plan sync.Plan, ok bool)
	}
)

type (
	// loadProgressMsg is one progress line of load gen; next listens for
	// the line after it (or the load's result).
	loadProgressMsg struct {
		gen  int
		text string
		next tea.Cmd
	}
	// cachedMsg is the snapshot of an earlier run, shown until load 1 lands.
	cachedMsg struct {
		snap *sync.Snapshot
		plan sync.Plan
	}
)

// startLoad runs load gen, with its progress lines when the backend reports
// them (the lines arrive as loadProgressMsg, the result as loadedMsg).
func (m Model) startLoad(gen int) tea.Cmd {
	pl, ok := m.b.(progressLoader)
	if !ok {
		return m.loadCmd(gen)
	}
	b, ctx := m.b, m.ctx
	ch := make(chan tea.Msg, 64)
	var listen tea.Cmd
	listen = func() tea.Msg {
		msg := <-ch
		if p, ok := msg.(loadProgressMsg); ok {
			p.next = listen
			return p
		}
		return msg
	}
	return func() tea.Msg {
		go func() {
			msg := loadedMsg{gen: gen}
			msg.err = guard(func() (err error) {
				msg.snap, msg.plan, err = pl.LoadProgress(ctx, func(text string) {
					select {
					case ch <- loadProgressMsg{gen: gen, text: text}:
					default: // the console is behind: skip a line rather than stall the read
					}
				})
				msg.cfg = b.Config()
				return err
			})
			ch <- msg
		}()
		return listen()
	}
}

// cachedCmd delivers the earlier run's snapshot, when the backend has one.
func (m Model) cachedCmd() tea.Cmd {
	cl, ok := m.b.(cachedLoader)
	if !ok {
		return nil
	}
	return func() tea.Msg {
		var msg cachedMsg
		var ok bool
		if err := guard(func() error { msg.snap, msg.plan, ok = cl.Cached(); return nil }); err != nil || !ok {
			return nil
		}
		return msg
	}
}

// fastStart handles the messages of startLoad and cachedCmd.
func (m Model) fastStart(msg tea.Msg) (Model, tea.Cmd, bool) {
	switch msg := msg.(type) {
	case loadProgressMsg:
		if msg.gen == m.gen && m.loading {
			m.loadNote = views.Sanitize(msg.text)
		}
		return m, msg.next, true
	case cachedMsg:
		if m.d != nil || !m.loading || m.gen != 1 {
			return m, nil, true // the first load landed first: it is newer
		}
		m.fromCache = true
		m.setData(msg.snap, msg.plan, m.b.Config())
		return m, nil, true
	}
	return m, nil, false
}

// CachedBackend is the engine backend with a snapshot cache: the console
// starts from the last snapshot read with this config and identity, and
// every successful load replaces it. Only the console uses it.
type CachedBackend struct {
	*EngineBackend
	Cache *sync.SnapshotCache
}

// LoadProgress reads and plans, reporting progress, and caches the snapshot.
func (c *CachedBackend) LoadProgress(ctx context.Context, progress func(string)) (*sync.Snapshot, sync.Plan, error) {
	snap, plan, err := c.Service.LoadWithProgress(ctx, progress)
	if err == nil && c.Cache != nil {
		_ = c.Cache.Save(snap) // a cache that cannot be written only costs the next start its head start
	}
	return snap, plan, err
}

// Load is LoadProgress without progress.
func (c *CachedBackend) Load(ctx context.Context) (*sync.Snapshot, sync.Plan, error) {
	return c.LoadProgress(ctx, nil)
}

// Cached is the cached snapshot, planned against the current config.
func (c *CachedBackend) Cached() (*sync.Snapshot, sync.Plan, bool) {
	if c.Cache == nil {
		return nil, sync.Plan{}, false
	}
	snap, ok := c.Cache.Load()
	if !ok {
		return nil, sync.Plan{}, false
	}
	return snap, c.Service.Plan(snap), true
}

// LoadProgress reads and plans, reporting progress.
func (e *EngineBackend) LoadProgress(ctx context.Context, progress func(string)) (*sync.Snapshot, sync.Plan, error) {
	return e.Service.LoadWithProgress(ctx, progress)
}
