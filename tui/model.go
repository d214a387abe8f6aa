package tui

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/views"
	"github.com/bitbricks/bitbricks/views/components"
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/spinner"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

type modal int

const (
	modalNone modal = iota
	modalConfirm
	modalPicker
	modalFilter
	modalLeaked
	modalPager // the detail pane of a row, or the help
)

type statusKind int

const (
	statusInfo statusKind = iota
	statusOK
	statusError
)

// action is what a yes to the open confirmation does: it may update the model (mark
// the console busy) and returns the command that calls the backend.
type action func(m *Model) tea.Cmd

// Model is the root of the console.
type Model struct {
	b      Backend
	ctx    context.Context
	cancel context.CancelFunc
	now    func() time.Time
	log    *slog.Logger
	ro     bool

	th        *theme
	keys      globalKeys
	inputKeys inputKeys
	help      help.Model
	spin      spinner.Model

	gen       int    // the newest load; results of older ones are dropped
	op        int    // the newest question or operation; answers to older ones are dropped
	loading   bool   // a load is running
	loadNote  string // the running load's last progress line
	fromCache bool   // d is an earlier run's snapshot, shown until the load lands
	busy      string // the operation running, "" when none
	total     int    // changes in the running apply
	done      int    // of which reported
	d         *dataset
	last      *lastLoad // what d was built from, for a change of scope
	scope     string    // the workspace shown, "" for all (or the only one)
	pickFor   pickKind  // what the open picker chooses
	status    string
	statusK   statusKind
	pending   action
	declined  action // what a No to the open question does; nil: nothing changes
	remap     remapIntent
	filterWas string // the filter before the filter input opened, for esc

	tickEvery time.Duration // how often clockMsg redraws

	tabs   []tabView // the views, from newTabs
	active int       // the index of the view shown

	modal   modal
	confirm components.Confirm
	picker  components.Picker
	input   components.Input
	pager   components.Pager

	width, height, bodyH int
	cache                *viewCache
}

// NewModel is the one constructor of the console, used by Run, the tests and the demo.
func NewModel(b Backend, opts Options) Model {
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	lw := opts.LogWriter
	if lw == nil {
		lw = io.Discard
	}
	th := newTheme(opts.Renderer)
	tabs := newTabs(th, opts.ReadOnly)
	m := Model{
		b: b, ctx: ctx, cancel: cancel, now: now, ro: opts.ReadOnly,
		gen: 1, loading: true, // Init starts load 1
		log:       slog.New(slog.NewTextHandler(lw, nil)),
		th:        th,
		keys:      defaultGlobalKeys(opts.ReadOnly, len(tabs)),
		inputKeys: defaultInputKeys(),
		help:      help.New(),
		spin:      spinner.New(spinner.WithSpinner(spinner.Dot), spinner.WithStyle(th.st.Status.Busy)),

		tabs:  tabs,
		cache: &viewCache{},

		tickEvery: cmp.Or(opts.TickEvery, time.Minute),
	}
	m.help.Styles = th.st.Help
	m.help.ShortSeparator = "  "
	return m
}

// Init starts the first load, and shows the last run's snapshot meanwhile
// when the backend kept one.
func (m Model) Init() tea.Cmd {
	return tea.Batch(m.cachedCmd(), m.startLoad(1), m.spin.Tick, m.clockTick())
}

// clockMsg redraws what depends on the clock, such as the header's "read 5m ago".
type clockMsg struct{}

func (m Model) clockTick() tea.Cmd {
	return tea.Tick(m.tickEvery, func(time.Time) tea.Msg { return clockMsg{} })
}

func (m Model) view() tabView { return m.tabs[m.active] }

// tabRef names view i with its key, for messages: "the plan (5)".
func (m Model) tabRef(i int) string {
	if i < 0 {
		return ""
	}
	name, _ := m.tabs[i].Title()
	return fmt.Sprintf("%s (%d)", strings.ToLower(name), i+1)
}

// Update routes a message: keys to the dialog or the focused view, results of
// commands to their handlers; everything else to every view.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case tea.KeyMsg:
		return m.key(msg)
	case spinner.TickMsg:
		if !m.loading && m.busy == "" {
			return m, nil // the spinner stops with the work
		}
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	case components.ConfirmMsg:
		return m.answered(msg)
	case components.PickedMsg:
		return m.picked(msg)
	case applyIntent, revokeIntent, remapIntent, rotateIntent, federateIntent:
		return m.intent(msg)
	case auditWantedMsg:
		return m, m.auditCmd(m.gen)
	case clockMsg:
		return m, m.clockTick() // the redraw that follows every message is the point
	}
	return m.result(msg)
}

// key is the precedence of keys: ctrl+c, then an open dialog or input, then the
// refusal of mutating keys (read-only, busy), then global keys, then the focused view.
func (m Model) key(msg tea.KeyMsg) (Model, tea.Cmd) {
	if msg.Type == tea.KeyCtrlC {
		return m.quit()
	}
	var cmd tea.Cmd
	switch m.modal {
	case modalConfirm:
		m.confirm, cmd = m.confirm.Update(msg)
		return m, cmd
	case modalPicker:
		m.picker, cmd = m.picker.Update(msg)
		return m, cmd
	case modalFilter, modalLeaked:
		return m.inputKey(msg)
	case modalPager:
		if key.Matches(msg, m.pager.Keys.Close) || key.Matches(msg, m.keys.Help) {
			m.modal = modalNone
			m.layout()
			return m, nil
		}
		if key.Matches(msg, m.keys.Views) { // a number leaves the pane for that view
			m.modal = modalNone
			n, _ := strconv.Atoi(msg.String())
			return m.switchTab(n - 1)
		}
		m.pager, cmd = m.pager.Update(msg)
		return m, cmd
	}
	if why := m.refusal(msg); why != "" {
		m.setStatus(statusError, why)
		return m, nil
	}
	switch {
	case key.Matches(msg, m.keys.Quit) && m.busy != "":
		m.setStatus(statusError, m.busy+" is running; wait for it, or press ctrl+c to abandon it")
	case key.Matches(msg, m.keys.Quit):
		return m.quit()
	case key.Matches(msg, m.keys.Help):
		m.openPager("Help · "+m.viewName(), m.helpText())
	case key.Matches(msg, m.keys.Detail):
		if title, body, ok := m.view().Detail(); ok && m.d != nil {
			m.openPager(title, body)
		}
	case key.Matches(msg, m.keys.Views):
		n, _ := strconv.Atoi(msg.String())
		return m.switchTab(n - 1)
	case key.Matches(msg, m.keys.Refresh):
		return m.reload()
	case key.Matches(msg, m.keys.Filter):
		m.filterWas = m.view().Filter()
		m.openInput(modalFilter, "/", false)
		m.input.SetValue(m.filterWas)
	case key.Matches(msg, m.keys.ClearFilter):
		m.view().SetFilter("")
		m.syncKeys()
	case key.Matches(msg, m.keys.Workspace):
		return m.openSwitcher()
	case key.Matches(msg, m.keys.Leaked):
		m.openInput(modalLeaked, "token › ", true)
		m.input.Placeholder = "paste the token"
	default:
		return m.updateActive(msg)
	}
	return m, nil
}

func (m Model) quit() (Model, tea.Cmd) {
	m.cancel()
	return m, tea.Quit
}

// refusal says why a mutating key does nothing now, or "" when it may go ahead.
func (m Model) refusal(msg tea.KeyMsg) string {
	mutating := append(m.view().MutatingKeys(), m.keys.Leaked)
	for _, b := range mutating {
		if !slices.Contains(b.Keys(), msg.String()) {
			continue
		}
		switch {
		case m.ro:
			return "read-only: " + b.Help().Desc + " (" + msg.String() + ") is disabled; restart without --read-only to change anything"
		case m.busy != "":
			return "wait: " + m.busy + " is still running"
		}
	}
	return ""
}

func (m Model) switchTab(i int) (Model, tea.Cmd) {
	if i < 0 || i >= len(m.tabs) {
		return m, nil
	}
	m.view().Blur()
	m.active = i
	m.view().Focus()
	m.layout()
	return m, m.view().Shown()
}

func (m Model) viewName() string {
	name, _ := m.view().Title()
	return name
}

func (m Model) updateActive(msg tea.Msg) (Model, tea.Cmd) {
	var cmd tea.Cmd
	m.tabs[m.active], cmd = m.view().Update(msg)
	return m, cmd
}

// openPager shows text whole in the body, scrolled with the arrows, until esc.
func (m *Model) openPager(title, text string) {
	m.modal = modalPager
	m.pager = components.NewPager(m.th.st, views.Sanitize(title), text)
	m.pager.SetSize(m.width, m.bodyH)
	m.syncKeys()
}

func (m *Model) openInput(kind modal, prompt string, masked bool) {
	m.modal = kind
	m.input = components.NewInput(m.th.st, prompt)
	m.input.Masked = masked
	m.input.SetSize(m.width, 1)
}

// inputKey edits the filter (applied as it is typed) or the leaked token.
func (m Model) inputKey(msg tea.KeyMsg) (Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.inputKeys.Cancel):
		if m.modal == modalFilter {
			m.view().SetFilter(m.filterWas)
		}
		m.input.Reset()
		m.modal = modalNone
	case key.Matches(msg, m.inputKeys.Accept):
		kind, value := m.modal, m.input.Value()
		m.input.Reset()
		m.modal = modalNone
		if kind == modalLeaked && strings.TrimSpace(value) != "" {
			return m.findLeaked(strings.TrimSpace(value))
		}
	default:
		m.input, _ = m.input.Update(msg)
		if m.modal == modalFilter {
			// A credential pasted into the filter by mistake is not shown.
			_, m.input.Masked = views.LooksLikeCredential(m.input.Value())
			m.view().SetFilter(m.input.Value())
		}
	}
	m.syncKeys()
	return m, nil
}

// syncKeys enables the keys that apply now.
func (m *Model) syncKeys() {
	m.keys.ClearFilter.SetEnabled(m.view().Filter() != "")
	m.keys.Detail.SetEnabled(m.d != nil)
	m.keys.Refresh.SetEnabled(true)
}

// setStatus shows s in the status line. Messages quote names and errors from
// Bitbucket and Databricks, so s is sanitised here, once for every caller.
func (m *Model) setStatus(k statusKind, s string) {
	s = views.Sanitize(s)
	m.statusK, m.status = k, s
	m.log.Info("status", "kind", k, "text", s)
}

// layout gives every view its size; it measures the fixed lines rather than assuming.
func (m *Model) layout() {
	m.syncKeys()
	m.help.Width = m.width
	m.cache.tabs = m.renderTabs()
	fixed := lipgloss.Height(m.headerView()) + lipgloss.Height(m.tabsView()) +
		lipgloss.Height(m.statusView()) + lipgloss.Height(m.footerView())
	m.bodyH = max(m.height-fixed, 3)
	for _, v := range m.tabs {
		v.SetSize(m.width, m.bodyH)
	}
	switch m.modal { // only an open dialog has been built
	case modalConfirm:
		m.confirm.SetSize(m.width, m.bodyH)
	case modalPicker:
		m.picker.SetSize(m.width, m.bodyH)
	case modalFilter, modalLeaked:
		m.input.SetSize(m.width, 1)
	case modalPager:
		m.pager.SetSize(m.width, m.bodyH)
	}
}
