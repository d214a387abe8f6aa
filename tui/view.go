package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bitbricks/bitbricks/sync"
	"github.com/bitbricks/bitbricks/views"
	"github.com/bitbricks/bitbricks/views/components"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
)

// View joins the header, tabs, the focused view (or a dialog), the status line and
// the help footer, clamped to the terminal.
func (m Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	out := strings.Join([]string{m.headerView(), m.tabsView(), m.bodyView(), m.statusView(), m.footerView()}, "\n")
	if n := strings.Count(out, "\n") + 1; n > m.height {
		lines := strings.Split(out, "\n")
		out = strings.Join(lines[:m.height], "\n")
	}
	return out
}

func (m Model) headerView() string {
	st := m.th.st
	left := " " + st.Header.Render("bitbricks")
	var right []string
	if m.d != nil {
		if m.d.ws.several() { // the scope, always: it decides what every view shows
			left += "  " + m.d.snap.Workspace + " ⇄ " + st.Text.Bold.Render(m.d.ws.title())
		} else {
			left += "  " + m.d.snap.Workspace + " ⇄ " + m.d.snap.Host
		}
		right = append(right,
			fmt.Sprintf("drift %d", len(m.d.plan.Changes)),
			fmt.Sprintf("%d over age", m.d.overAge),
			"read "+agoText(m.now().Sub(m.d.snap.TakenAt)))
		if m.d.ws.why != "" { // nothing of it known: no count is made up
			right = []string{components.GlyphError + " not read", "tried " + agoText(m.now().Sub(m.d.snap.TakenAt))}
		}
		if m.fromCache { // the age of what is shown matters most: dropped last
			right = append([]string{"cached, read " + agoText(m.now().Sub(m.d.snap.TakenAt))}, right[:len(right)-1]...)
		}
	}
	if m.loading {
		right = append([]string{m.spin.View() + " loading"}, right...)
	}
	if m.ro { // always shown: it changes what keys do
		left += "  " + st.Status.Error.Render(components.GlyphWarn+" READ-ONLY")
	}
	line := components.Fit(left, m.width)
	for ; len(right) > 0; right = right[:len(right)-1] { // drop what does not fit, last first
		r := strings.Join(right, " · ") + " "
		if gap := m.width - lipgloss.Width(left) - lipgloss.Width(r); gap >= 2 {
			line = left + strings.Repeat(" ", gap) + r
			break
		}
	}
	if b := m.problemsBanner(); b != "" {
		line += "\n" + b
	}
	return line
}

// problemsBanner is one line naming the sources that could not be read, so
// nobody takes a partial picture for the whole: "" when all were read.
func (m Model) problemsBanner() string {
	if m.d == nil || len(m.d.plan.Problems) == 0 {
		return ""
	}
	var parts, whole []string
	for _, p := range m.d.plan.Problems {
		if p.What == sync.WhatWorkspace && p.Workspace != "" {
			// A whole workspace not read: named first, with why.
			whole = append(whole, fmt.Sprintf("workspace %s could not be read: %s", p.Workspace, p.Detail))
			continue
		}
		st := "no answer"
		if p.Status != 0 {
			st = "HTTP " + strconv.Itoa(p.Status)
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s)", p.System, p.What, st))
	}
	text := ""
	covers := "this view covers the other workspaces"
	if m.d.ws.why != "" {
		covers = "nothing of " + m.d.ws.name + " is shown; R retries, w shows another"
	}
	if len(whole) > 0 {
		text = fmt.Sprintf(" %s %s; %s", components.GlyphError, strings.Join(whole, "; "), covers)
		if len(parts) > 0 {
			text += "; also not read: " + strings.Join(parts, ", ")
		}
	} else {
		text = fmt.Sprintf(" %s %s could not be read; this view covers only what was: %s",
			components.GlyphError, views.Count(len(parts), "source", ""), strings.Join(parts, ", "))
	}
	return m.th.st.Status.Error.Render(components.Fit(views.Sanitize(text), m.width))
}

func agoText(d time.Duration) string {
	if d < time.Minute {
		return "just now"
	}
	return views.Age(d) + " ago"
}

// tabsView is the tab bar; layout caches it, as it changes only with the tab, the
// data or the width.
func (m Model) tabsView() string {
	if m.cache.tabs != "" {
		return m.cache.tabs
	}
	return m.renderTabs()
}

func (m Model) renderTabs() string {
	render := func(short bool) string {
		parts := make([]string, len(m.tabs))
		for i, v := range m.tabs {
			name, abbr := v.Title()
			if short {
				name = abbr
			}
			label := fmt.Sprintf("%d %s", i+1, name)
			if b := v.Badge(); b != "" && m.d != nil {
				label += " (" + b + ")"
			}
			if i == m.active {
				parts[i] = m.th.st.Tab.Active.Render("[" + label + "]")
			} else {
				parts[i] = m.th.st.Tab.Inactive.Render(" " + label + " ")
			}
		}
		return strings.Join(parts, "")
	}
	s := render(false)
	if lipgloss.Width(s) > m.width {
		s = render(true)
	}
	return components.Fit(s, m.width)
}

func (m Model) bodyView() string {
	var dialog string
	switch m.modal {
	case modalConfirm:
		dialog = m.confirm.View()
	case modalPicker:
		dialog = m.picker.View()
	case modalPager:
		return m.pager.View()
	case modalLeaked:
		dialog = m.th.st.Dialog.Width(min(m.width-4, 72)).Render(
			m.th.st.Text.Bold.Render("Revoke a leaked token") + "\n\n" +
				"Paste the token. It is never shown, logged or stored; bitbricks finds which credential it is and asks before revoking." + m.leakScope() + "\n\n" +
				m.input.View())
	}
	if dialog != "" {
		return lipgloss.Place(m.width, m.bodyH, lipgloss.Center, lipgloss.Center, dialog)
	}
	if m.d == nil {
		msg := m.spin.View() + " loading the snapshot…"
		if !m.loading {
			msg = m.th.st.Status.Error.Render(components.GlyphError+" nothing loaded") + "; press R to retry"
		}
		return lipgloss.Place(m.width, m.bodyH, lipgloss.Center, lipgloss.Center, msg)
	}
	return m.view().View()
}

func (m Model) statusView() string {
	st := m.th.st
	var s string
	switch {
	case m.modal == modalFilter:
		s = m.input.View()
	case m.busy != "":
		s = m.spin.View() + " " + st.Status.Busy.Render(m.busy)
		if m.total > 0 {
			s += fmt.Sprintf(" %d/%d", m.done, m.total)
		}
		if m.status != "" && m.statusK == statusError { // a key refused meanwhile
			s += "  " + st.Status.Error.Render(components.GlyphError+" "+m.status)
		}
	case m.status == "" && m.loading && m.loadNote != "": // the load's counts, moving
		s = m.spin.View() + " " + st.Status.Busy.Render(m.loadNote)
	case m.status == "":
	case m.statusK == statusError:
		s = st.Status.Error.Render(components.GlyphError + " " + m.status)
	case m.statusK == statusOK:
		s = st.Status.OK.Render(components.GlyphInSync + " " + m.status)
	default:
		s = st.Status.Info.Render(m.status)
	}
	line := " " + s
	if m.status != "" && m.busy == "" && m.modal != modalFilter && lipgloss.Width(line) > m.width && m.width > 2*lipgloss.Width(statusMore) {
		// Cut, but never lost: the help (?) shows the last message whole.
		return components.Fit(line, m.width-lipgloss.Width(statusMore)) + st.Text.Muted.Render(statusMore)
	}
	return components.Fit(line, m.width)
}

// statusMore ends a status line too long for the terminal.
const statusMore = " · ? shows all"

// footerView is the help for the keys that work now. It is cached: it changes only
// when bindings, the width or the help mode do, and rendering it is not free.
func (m Model) footerView() string {
	k := m.helpKeys()
	var sig strings.Builder
	sig.WriteString(strconv.Itoa(m.width))
	add := func(b key.Binding) {
		if b.Enabled() {
			sig.WriteString("\x00" + b.Help().Key + "\x01" + b.Help().Desc)
		}
	}
	for _, b := range k.short {
		add(b)
	}
	if m.help.ShowAll {
		sig.WriteString("\x02all")
		for _, g := range k.full {
			for _, b := range g {
				add(b)
			}
		}
	}
	if c := m.cache; c.sig == sig.String() {
		return c.out
	}
	// help cuts short help with an ellipsis, but not always within the width; fit each line.
	lines := strings.Split(m.help.View(k), "\n")
	for i, l := range lines {
		lines[i] = components.Fit(" "+l, m.width)
	}
	m.cache.sig, m.cache.out = sig.String(), strings.Join(lines, "\n")
	return m.cache.out
}

// viewCache holds rendered lines that seldom change. It is shared by the copies of
// a Model, as View has a value receiver.
type viewCache struct{ sig, out, tabs string }

// helpKeys are the keys that work now: the dialog's, or the focused view's and the
// globals.
func (m Model) helpKeys() keyHelp {
	switch m.modal {
	case modalConfirm:
		return keyHelp{m.confirm.ShortHelp(), m.confirm.FullHelp()}
	case modalPicker:
		return keyHelp{m.picker.ShortHelp(), m.picker.FullHelp()}
	case modalFilter, modalLeaked:
		k := []key.Binding{m.inputKeys.Accept, m.inputKeys.Cancel}
		return keyHelp{k, [][]key.Binding{k, m.input.FullHelp()[0]}}
	case modalPager:
		return keyHelp{m.pager.ShortHelp(), m.pager.FullHelp()}
	}
	p := m.view()
	return keyHelp{
		short: append(p.ShortHelp(), m.keys.ShortHelp()...),
		full:  append(p.FullHelp(), m.keys.FullHelp()...),
	}
}
