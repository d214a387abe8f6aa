package tui

import (
	"context"
	"fmt"
	"strings"

	"github.com/bitbricks/bitbricks/config"
	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
	"github.com/bitbricks/bitbricks/views/components"
	tea "github.com/charmbracelet/bubbletea"
)

// Results of backend calls. Each carries the generation (loads) or operation id it
// answers, and the root drops any that is not the newest.
type (
	loadedMsg struct {
		gen  int
		snap *sync.Snapshot
		plan sync.Plan
		cfg  *config.Config
		err  error
	}
	auditMsg struct {
		gen    int
		events []AuditEvent
		err    error
	}
	opDoneMsg struct {
		op   int
		what string // what was done, for the status line
		next string // what to do when it failed
		err  error
	}
	applyProgressMsg struct {
		op   int
		r    sync.Result
		next tea.Cmd // listens for the next result
	}
	applyDoneMsg struct {
		op      int
		results []sync.Result
		err     error
	}
	leakFoundMsg struct {
		op   int
		leak Leak
		err  error
	}
	// leakRevokedMsg ends the search for a leaked token.
	leakRevokedMsg struct {
		op   int
		leak Leak
		res  LeakResult
		err  error
	}
)

// guard turns a panic in a backend call into an error, so a bug there shows in the
// status line instead of leaving the terminal in raw mode.
func guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v (please report it)", r)
		}
	}()
	return f()
}

func (m Model) loadCmd(gen int) tea.Cmd {
	b, ctx := m.b, m.ctx
	return func() tea.Msg {
		msg := loadedMsg{gen: gen}
		msg.err = guard(func() (err error) {
			msg.snap, msg.plan, err = b.Load(ctx)
			msg.cfg = b.Config()
			return err
		})
		return msg
	}
}

func (m Model) auditCmd(gen int) tea.Cmd {
	b, ctx := m.b, m.ctx
	return func() tea.Msg {
		msg := auditMsg{gen: gen}
		msg.err = guard(func() (err error) {
			msg.events, err = b.Audit(ctx, 200)
			return err
		})
		return msg
	}
}

// opCmd runs one backend call; f returns what was done, for the status line.
func (m Model) opCmd(op int, next string, f func(ctx context.Context) (string, error)) tea.Cmd {
	ctx := m.ctx
	return func() tea.Msg {
		msg := opDoneMsg{op: op, next: next}
		msg.err = guard(func() (err error) {
			msg.what, err = f(ctx)
			return err
		})
		return msg
	}
}

// applyCmd runs Apply in its own goroutine and feeds its progress to the program one
// message at a time, each carrying the command that waits for the next.
func (m Model) applyCmd(op int, plan sync.Plan) tea.Cmd {
	b, ctx := m.b, m.ctx
	return func() tea.Msg {
		ch := make(chan tea.Msg)
		listen := func() tea.Msg { return <-ch }
		send := func(msg tea.Msg) {
			select {
			case ch <- msg:
			case <-ctx.Done():
			}
		}
		go func() {
			var results []sync.Result
			err := guard(func() (err error) {
				results, err = b.Apply(ctx, plan, func(r sync.Result) {
					send(applyProgressMsg{op: op, r: r, next: listen})
				})
				return err
			})
			send(applyDoneMsg{op: op, results: results, err: err})
		}()
		return listen()
	}
}

func (m Model) reload() (Model, tea.Cmd) {
	m.gen++
	m.loading, m.loadNote = true, ""
	return m, tea.Batch(m.startLoad(m.gen), m.spin.Tick)
}

// result handles what commands report.
func (m Model) result(msg tea.Msg) (Model, tea.Cmd) {
	if m, cmd, ok := m.fastStart(msg); ok {
		return m, cmd
	}
	switch msg := msg.(type) {
	case loadedMsg:
		if msg.gen != m.gen {
			m.log.Debug("dropped a stale load", "gen", msg.gen, "newest", m.gen)
			return m, nil
		}
		m.loading, m.loadNote = false, ""
		if msg.err != nil {
			m.setStatus(statusError, "could not load: "+sync.Message(msg.err)+"; fix that, then press R to retry")
			return m, nil
		}
		if m.statusK == statusError && strings.HasPrefix(m.status, "could not load") {
			m.setStatus(statusInfo, "")
		}
		m.fromCache = false
		m.setData(msg.snap, msg.plan, msg.cfg)
		return m, m.auditCmd(m.gen)
	case auditMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		return m.broadcast(auditEventsMsg{events: msg.events, err: msg.err})
	case opDoneMsg:
		if msg.op != m.op {
			return m, nil
		}
		m.busy = ""
		if line, held := heldStatus(msg.err); held {
			m.setStatus(statusInfo, line)
		} else if msg.err != nil {
			m.setStatus(statusError, sync.Message(msg.err)+"; "+msg.next)
		} else {
			m.setStatus(statusOK, msg.what)
		}
		return m.reload()
	case applyProgressMsg:
		if msg.op != m.op {
			return m, msg.next
		}
		m.done++
		m, cmd := m.broadcast(changeStatusMsg{status: map[string]string{msg.r.ID: resultText(msg.r)}})
		return m, tea.Batch(cmd, msg.next)
	case applyDoneMsg:
		if msg.op != m.op {
			return m, nil
		}
		m.busy, m.total, m.done = "", 0, 0
		applied, failed, firstErr := 0, 0, ""
		status := map[string]string{}
		for _, r := range msg.results {
			status[r.ID] = resultText(r)
			switch r.Status {
			case sync.ResultApplied:
				applied++
			case sync.ResultFailed:
				failed++
				if firstErr == "" {
					firstErr = r.ID + ": " + r.Error
				}
			}
		}
		m, _ = m.broadcast(changeStatusMsg{status: status})
		plan := m.tabRef(tabOf[*planView](m.tabs))
		line, held := heldStatus(msg.err)
		switch {
		case held:
			m.setStatus(statusInfo, line)
		case msg.err != nil:
			m.setStatus(statusError, fmt.Sprintf("apply stopped after %d applied: %s; review %s, then apply again", applied, sync.Message(msg.err), plan))
		case failed > 0:
			m.setStatus(statusError, fmt.Sprintf("applied %d, %d failed (%s); see %s", applied, failed, firstErr, plan))
		default:
			m.setStatus(statusOK, fmt.Sprintf("applied %d %s; plan refreshed", applied, plural(applied, "change")))
		}
		return m.reload()
	case leakFoundMsg:
		if msg.op != m.op {
			return m, nil
		}
		m.busy = ""
		if msg.err != nil {
			m.setStatus(statusError, leakNotFound(msg.err))
			return m, nil
		}
		return m.askLeaked(msg.leak)
	case leakRevokedMsg:
		if msg.op != m.op {
			return m, nil
		}
		return m.leakRevoked(msg)
	}
	return m.broadcast(msg)
}

// broadcast gives a message no one in particular handles to every view.
func (m Model) broadcast(msg tea.Msg) (Model, tea.Cmd) {
	cmds := make([]tea.Cmd, len(m.tabs))
	for i, v := range m.tabs {
		m.tabs[i], cmds[i] = v.Update(msg)
	}
	return m, tea.Batch(cmds...)
}

func resultText(r sync.Result) string {
	switch r.Status {
	case sync.ResultApplied:
		return components.GlyphInSync + " applied"
	case sync.ResultFailed:
		return components.GlyphError + " failed"
	}
	return components.GlyphExtra + " " + r.Status
}

// plural is word in the number n calls for (the views' one formatter).
func plural(n int, word string) string { return views.Plural(n, word, "") }
