package tui

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/fleet"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// View draws the fleet: a row per node, failures with their next step
// below it, or the node opened with enter.
func (m *FleetModel) View() tea.View {
	var b strings.Builder
	title := "jetup fleet"
	switch {
	case m.o.Push.Inventory != nil:
		title += " · " + safe.Text(filepath.Base(m.o.Push.Inventory.File))
	case m.run.plan != nil:
		title += " · " + safe.Text(filepath.Base(m.run.plan.Inventory))
	}
	right := ""
	if p := m.run.plan; p != nil {
		right = "run " + safe.Text(p.Run)
	}
	gap := m.w - lipgloss.Width(title) - lipgloss.Width(right)
	if gap < 1 {
		right, gap = "", 1
	}
	b.WriteString(m.st.Accent.Render(title) + strings.Repeat(" ", gap) + m.st.Subtle.Render(right) + "\n\n")
	footer := m.footer()
	h := max(m.h-3-lineCount(footer), 3)
	var body string
	if m.detail != nil {
		body = m.detail.view(m.st, m.w, h)
	} else {
		body = m.table(h)
	}
	b.WriteString(lipgloss.NewStyle().MaxWidth(m.w).Height(h).MaxHeight(h).Render(body) + "\n")
	b.WriteString(footer)
	v := tea.NewView(b.String())
	v.AltScreen = true
	v.WindowTitle = title
	return v
}

// detailHeight is the node view's height (as View gives it).
func (m *FleetModel) detailHeight() int { return max(m.h-4, 3) }

func (m *FleetModel) footer() string {
	switch {
	case m.quitting:
		return m.st.Warn.Render("Stopping the nodes' pushes and closing the records…")
	case m.confirmQuit:
		return m.st.Warn.Render(fit("Nodes are still being pushed. Quit and stop them? y to quit, any other key to stay", m.w))
	}
	if m.help.ShowAll {
		return m.help.FullHelpView([][]key.Binding{m.keys()})
	}
	return fit(m.help.ShortHelpView(m.keys()), m.w)
}

// table is the fleet's page: what the run does now, a row per node,
// the failures with their next step, the verdict.
func (m *FleetModel) table(h int) string {
	st, w := m.st, m.w
	var top []string
	run := m.run
	switch {
	case run.plan != nil:
		top = append(top, fit(safe.Text(run.plan.Text()), w))
	case run.starting:
		top = append(top, m.spinner()+" starting the fleet run…")
	default:
		top = append(top, fit(m.intro(), w))
	}
	for _, s := range run.systems {
		if s.Error != "" {
			top = append(top, st.Bad.Render("✗ ")+fit(safe.Text(s.Text()), w-2))
		}
	}
	if n := len(run.systems); n > 0 && len(run.builds) == 0 && run.phase == 0 && m.task != nil {
		top = append(top, fmt.Sprintf("%d system(s) ready", n))
	}
	for _, bld := range run.builds {
		top = append(top, m.spinner()+" "+fit(safe.Text(bld.Text()), w-2))
	}
	switch {
	case run.upload != nil && m.task != nil:
		top = append(top, m.spinner()+" "+fit(safe.Text(run.upload.Text()), w-2))
	case run.cache != nil && run.cache.Error != "":
		top = append(top, st.Bad.Render("✗ ")+fit(safe.Text(run.cache.Text()), w-2))
	case run.cache != nil:
		top = append(top, st.Good.Render("✓ ")+fit(safe.Text(run.cache.Text()), w-2))
	}
	if run.phase > 0 && m.task != nil {
		line := fmt.Sprintf("phase %d of %d", run.phase, len(run.plan.Phases))
		if run.stopping {
			line += ": stopping…"
		}
		top = append(top, st.Bold.Render(line))
	}
	if wt := run.waiting; wt != nil {
		top = append(top, m.spinner()+" "+fit(safe.Text(wt.Text()), w-2))
	}
	for _, l := range run.lines {
		top = append(top, st.Warn.Render(fit(l, w)))
	}

	bottom := m.failures(w)
	switch {
	case run.result != nil:
		bottom = append(bottom, "", m.verdict(*run.result))
	case run.err != nil:
		bottom = append(bottom, "", st.Bad.Render("✗ ")+safe.Text(run.err.Error()))
		if next := step.NextOf(run.err); next != "" {
			bottom = append(bottom, strings.Split(hanging(st.Bold.Render("next: "), safe.Text(next), w), "\n")...)
		}
	}
	// The table gets what is left, at least a few rows; the failures
	// give way first.
	room := h - len(top) - 2 - len(bottom)
	if room < min(len(m.rows), 4)+1 {
		keep := max(h-len(top)-2-min(len(m.rows), 4)-1, 1)
		if len(bottom) > keep {
			cut := len(bottom) - keep + 1
			bottom = append(bottom[:keep-1], st.Subtle.Render(fmt.Sprintf("… %d more lines: enter on a node shows all", cut)))
		}
		room = max(h-len(top)-2-len(bottom), 1)
	}
	return strings.Join(top, "\n") + "\n\n" + m.rowLines(room) + "\n" + strings.Join(bottom, "\n")
}

// intro says what p will do before the first run.
func (m *FleetModel) intro() string {
	sel := 0
	for _, r := range m.rows {
		if r.selected {
			sel++
		}
	}
	phases := 0
	if inv := m.o.Push.Inventory; inv != nil {
		phases = len(inv.Phases)
	}
	return fmt.Sprintf("%d nodes in %d phases: p pushes them phase by phase; nothing is sent before.", sel, phases)
}

// columns of the table.
const (
	colPhase = 3
	colStep  = 10
	colBytes = 16
	colTime  = 6
)

// rowLines is the table's header and rows, at most room lines, the
// cursor's row kept in view.
func (m *FleetModel) rowLines(room int) string {
	st, w := m.st, m.w
	nameW := 4
	for _, r := range m.rows {
		nameW = max(nameW, lipgloss.Width(r.name))
	}
	nameW = min(nameW, 24)
	verdictW := max(w-2-nameW-1-colPhase-1-colStep-1-colBytes-1-colTime-1, 10)
	lines := []string{st.Subtle.Render(fmt.Sprintf("  %-*s %-*s %-*s %-*s %-*s %s", nameW, "NODE", colPhase, "PH", colStep, "STEP",
		colBytes, "BYTES", colTime, "TIME", "VERDICT"))}
	now := time.Now()
	rows := max(room-1, 1)
	first := 0
	if m.cursor >= rows {
		first = m.cursor - rows + 1
	}
	for i := first; i < len(m.rows) && i < first+rows; i++ {
		r := m.rows[i]
		cur := "  "
		name := fmt.Sprintf("%-*s", nameW, truncate(r.name, nameW))
		if i == m.cursor {
			cur, name = st.Accent.Render("▸ "), st.Bold.Render(name)
		}
		lines = append(lines, fmt.Sprintf("%s%s %-*d %-*s %-*s %-*s %s", cur, name, colPhase, r.phase, colStep, truncate(r.step, colStep),
			colBytes, rowBytes(r), colTime, rowTime(r, now), m.rowVerdict(r, verdictW)))
	}
	return strings.Join(lines, "\n")
}

// rowBytes is what the node's copy sent: as it goes, or in all.
func rowBytes(r *fleetRow) string {
	switch {
	case r.sent > 0:
		return deploy.Size(r.sent)
	case r.state == fleet.Running && r.bytesTotal > 0:
		return strings.TrimSuffix(deploy.Size(r.bytesDone), " MiB") + "/" + deploy.Size(r.bytesTotal)
	case r.bytesTotal > 0 && r.bytesDone >= r.bytesTotal:
		return deploy.Size(r.bytesTotal)
	}
	return "–"
}

// rowVerdict is the node's state in words, with its mark.
func (m *FleetModel) rowVerdict(r *fleetRow, w int) string {
	st := m.st
	var s string
	switch r.state {
	case fleet.Running:
		return m.spinner() + " " + fit(firstLine(r.detail), w-2)
	case fleet.Done:
		s = "done"
		if r.checksOK+r.checksBad > 0 {
			s += fmt.Sprintf(", %d checks ok", r.checksOK)
		} else if r.verified != "" {
			s += ", " + r.verified
		}
	case fleet.Skipped:
		s = "already on its system"
	case fleet.Failed:
		s = "failed: " + r.cause
	case fleet.NotRun:
		s = "not run"
	case fleet.NotSelected:
		s = "not selected (--only)"
	default:
		s = "pending"
	}
	return stateMark(st, r.state) + " " + fit(s, w-2)
}

// stateMark is a state's mark: never colour alone.
func stateMark(st *Styles, s fleet.State) string {
	switch s {
	case fleet.Done:
		return st.Good.Render("✓")
	case fleet.Skipped:
		return st.Good.Render("=")
	case fleet.Failed:
		return st.Bad.Render("✗")
	case fleet.Running:
		return st.Accent.Render("▸")
	case fleet.NotSelected:
		return " "
	}
	return st.Subtle.Render("·")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// failures are the failed nodes, each with its cause and next step: they
// stay on screen until the next run.
func (m *FleetModel) failures(w int) []string {
	st := m.st
	var out []string
	notRun := 0
	for _, r := range m.rows {
		switch r.state {
		case fleet.Failed:
			head := fmt.Sprintf("%s %s failed at %s (%s)", st.Bad.Render("✗"), st.Bold.Render(r.name), r.step, r.cause)
			out = append(out, fit(head, w))
			if d := firstLine(r.detail); d != "" {
				out = append(out, "  "+fit(d, w-2))
			}
			if r.next != "" {
				out = append(out, strings.Split(hanging("  next: ", r.next, w), "\n")...)
			}
		case fleet.NotRun:
			notRun++
		}
	}
	if notRun > 0 {
		for _, r := range m.rows {
			if r.state == fleet.NotRun {
				out = append(out, st.Subtle.Render(fit(fmt.Sprintf("· %d node(s) not run: %s", notRun, firstLine(r.detail)), w)))
				break
			}
		}
	}
	if len(out) > 0 {
		out = append([]string{""}, out...)
	}
	return out
}

// verdict is the run's last line. The title names the inventory, so the
// verdict leaves its path out (a long path wrapped the counts apart).
func (m *FleetModel) verdict(res fleet.Result) string {
	text := safe.Text(res.Tally())
	if res.ExitCode == 0 {
		return m.st.Good.Render("✓ ") + wrapIndent(text, m.w-2, "")
	}
	return m.st.Bad.Render("✗ ") + wrapIndent(text, m.w-2, "") + m.st.Subtle.Render(fmt.Sprintf(" (exit %d)", res.ExitCode))
}

// spinner is the spinner's frame without its padding.
func (m *FleetModel) spinner() string { return strings.TrimSpace(m.spin.View()) }

// rowTime is how long the node has taken so far, or took in all.
func rowTime(r *fleetRow, now time.Time) string {
	d := r.took
	if r.state == fleet.Running && !r.started.IsZero() {
		d = now.Sub(r.started)
	}
	if d <= 0 {
		return "–"
	}
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}
