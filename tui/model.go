package tui

import (
	"context"
	"io"
	"log/slog"
	"slices"
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

type tab int

const (
	tabMappings tab = iota
	tabPrincipals
	tabCredentials
	tabPipelines
	tabPlan
	tabAudit
)

var (
	tabNames = [...]string{"Mappings", "Principals", "Credentials", "Pipelines", "Plan", "Audit"}
	tabShort = [...]string{"Map", "Princ", "Creds", "Pipes", "Plan", "Audit"}
)

type modal int

const (
	modalNone modal = iota
	modalConfirm
	modalPicker
	modalFilter
	modalLeaked
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
	mutating  []key.Binding
	help      help.Model
	spin      spinner.Model

	gen       int    // the newest load; results of older ones are dropped
	op        int    // the newest question or operation; answers to older ones are dropped
	loading   bool   // a load is running
	busy      string // the operation running, "" when none
	total     int    // changes in the running apply
	done      int    // of which reported
	d         *dataset
	status    string
	statusK   statusKind
	pending   action
	remap     remapIntent
	filterWas string // the filter before the filter input opened, for esc

	tab        tab
	mappings   mappingsView
	principals principalsView
	creds      credentialsView
	pipelines  pipelinesView
	plan       planView
	audit      auditView

	modal   modal
	confirm components.Confirm
	picker  components.Picker
	input   components.Input

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
	m := Model{
		b: b, ctx: ctx, cancel: cancel, now: now, ro: opts.ReadOnly,
		gen: 1, loading: true, // Init starts load 1
		log:       slog.New(slog.NewTextHandler(lw, nil)),
		th:        th,
		keys:      defaultGlobalKeys(opts.ReadOnly),
		inputKeys: defaultInputKeys(),
		mutating:  mutatingKeys(),
		help:      help.New(),
		spin:      spinner.New(spinner.WithSpinner(spinner.Dot), spinner.WithStyle(th.st.Status.Busy)),

		mappings:   newMappingsView(th, opts.ReadOnly),
		principals: newPrincipalsView(th),
		creds:      newCredentialsView(th, opts.ReadOnly),
		pipelines:  newPipelinesView(th, opts.ReadOnly),
		plan:       newPlanView(th, opts.ReadOnly),
		audit:      newAuditView(th),
		cache:      &viewCache{},
	}
	m.help.Styles = th.st.Help
	m.help.ShortSeparator = "  "
	return m
}

// Init starts the first load.
func (m Model) Init() tea.Cmd {
	return tea.Batch(m.loadCmd(1), m.spin.Tick)
}

// The views are reached through switches rather than an interface: a pointer to a
// field in an interface would move every copy of the Model to the heap.

func (m *Model) setFilter(q string) {
	switch m.tab {
	case tabMappings:
		m.mappings.SetFilter(q)
	case tabPrincipals:
		m.principals.SetFilter(q)
	case tabCredentials:
		m.creds.SetFilter(q)
	case tabPipelines:
		m.pipelines.SetFilter(q)
	case tabPlan:
		m.plan.SetFilter(q)
	case tabAudit:
		m.audit.SetFilter(q)
	}
}

func (m Model) filter() string {
	switch m.tab {
	case tabPrincipals:
		return m.principals.Filter()
	case tabCredentials:
		return m.creds.Filter()
	case tabPipelines:
		return m.pipelines.Filter()
	case tabPlan:
		return m.plan.Filter()
	case tabAudit:
		return m.audit.Filter()
	}
	return m.mappings.Filter()
}

func (m Model) activeView() string {
	switch m.tab {
	case tabPrincipals:
		return m.principals.View()
	case tabCredentials:
		return m.creds.View()
	case tabPipelines:
		return m.pipelines.View()
	case tabPlan:
		return m.plan.View()
	case tabAudit:
		return m.audit.View()
	}
	return m.mappings.View()
}

func (m Model) activeHelp() help.KeyMap {
	switch m.tab {
	case tabPrincipals:
		return m.principals
	case tabCredentials:
		return m.creds
	case tabPipelines:
		return m.pipelines
	case tabPlan:
		return m.plan
	case tabAudit:
		return m.audit
	}
	return m.mappings
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
	case applyIntent, revokeIntent, remapIntent, rotateIntent:
		return m.intent(msg)
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
		m.help.ShowAll = !m.help.ShowAll
		m.layout()
	case key.Matches(msg, m.keys.Views):
		return m.switchTab(tab(msg.String()[0] - '1'))
	case key.Matches(msg, m.keys.Refresh):
		return m.reload()
	case key.Matches(msg, m.keys.Filter):
		m.filterWas = m.filter()
		m.openInput(modalFilter, "/", false)
		m.input.SetValue(m.filterWas)
	case key.Matches(msg, m.keys.ClearFilter):
		m.setFilter("")
		m.syncKeys()
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
	for _, b := range m.mutating {
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

func (m Model) switchTab(t tab) (Model, tea.Cmd) {
	if t < tabMappings || t > tabAudit {
		return m, nil
	}
	m.tab = t
	m.layout()
	if t == tabAudit {
		return m, m.auditCmd(m.gen)
	}
	return m, nil
}

func (m Model) updateActive(msg tea.Msg) (Model, tea.Cmd) {
	var cmd tea.Cmd
	switch m.tab {
	case tabMappings:
		m.mappings, cmd = m.mappings.Update(msg)
	case tabPrincipals:
		m.principals, cmd = m.principals.Update(msg)
	case tabCredentials:
		m.creds, cmd = m.creds.Update(msg)
	case tabPipelines:
		m.pipelines, cmd = m.pipelines.Update(msg)
	case tabPlan:
		m.plan, cmd = m.plan.Update(msg)
	case tabAudit:
		m.audit, cmd = m.audit.Update(msg)
	}
	return m, cmd
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
			m.setFilter(m.filterWas)
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
			m.setFilter(m.input.Value())
		}
	}
	m.syncKeys()
	return m, nil
}

// syncKeys enables the keys that apply now.
func (m *Model) syncKeys() {
	m.keys.ClearFilter.SetEnabled(m.filter() != "")
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
	m.mappings.SetSize(m.width, m.bodyH)
	m.principals.SetSize(m.width, m.bodyH)
	m.creds.SetSize(m.width, m.bodyH)
	m.pipelines.SetSize(m.width, m.bodyH)
	m.plan.SetSize(m.width, m.bodyH)
	m.audit.SetSize(m.width, m.bodyH)
	switch m.modal { // only an open dialog has been built
	case modalConfirm:
		m.confirm.SetSize(m.width, m.bodyH)
	case modalPicker:
		m.picker.SetSize(m.width, m.bodyH)
	case modalFilter, modalLeaked:
		m.input.SetSize(m.width, 1)
	}
}
