package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"

	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// A board of the bench that failed stays on screen above the next
// board's step, with the step it failed at and what to do next, until the
// person dismisses it: the technician who went on to the next board must
// not lose the one that needs a second look.

// boardRow is one earlier board of the bench that needs the person.
type boardRow struct {
	board int
	label string
	run   string
	step  step.ID
	what  string
	next  string
}

var dismissKey = key.NewBinding(key.WithKeys("D"), key.WithHelp("D", "dismiss failed board"))

// rememberFailureOf keeps a row for board n that ended failed.
func (m *Model) rememberFailureOf(s *Session, n int, outcome runrec.Outcome) {
	if s.Run == nil || outcome != runrec.Failed {
		return
	}
	rec := s.Run.Snapshot()
	row := boardRow{board: n, label: s.label, run: rec.ID}
	for i := len(rec.Steps) - 1; i >= 0; i-- {
		st := rec.Steps[i]
		if st.Outcome == runrec.Success || st.Outcome == runrec.Skipped || st.Outcome == runrec.Running {
			continue
		}
		row.step, row.what, row.next = st.Step, st.Summary, st.Next
		if st.Cause != "" {
			row.what += " (" + st.Cause + ")"
		}
		break
	}
	if row.step == "" {
		return
	}
	m.failures = append(m.failures, row)
}

// dismiss drops the oldest failed board's row.
func (m *Model) dismiss() {
	if len(m.failures) > 0 {
		m.failures = m.failures[1:]
	}
}

// rows draws the failed boards, one line each (two with the next step
// when there is room), for the top of the content area.
func (m *Model) rows(w int) []string {
	out := m.flightRows(w)
	for _, r := range m.failures {
		name := fmt.Sprintf("board %d", r.board)
		if r.label != "" {
			name += " " + r.label
		}
		line := fmt.Sprintf("✗ %s failed at %s: %s", name, titleOf(r.step), r.what)
		out = append(out, m.st.Bad.Render(fit(line, w)))
		if r.next != "" {
			out = append(out, m.st.Subtle.Render(fit("  → "+r.next+" (run "+r.run+")", w)))
		}
	}
	return out
}

// withRows puts the rows above a screen's view.
func withRows(rows []string, content string) string {
	if len(rows) == 0 {
		return content
	}
	return strings.Join(rows, "\n") + "\n\n" + content
}
