package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// notBuiltScreen stands in for a step whose screen does not exist yet. It
// says so plainly and lets the person skip the step.
type notBuiltScreen struct {
	title string
	id    step.ID
	st    *Styles
	w     int
}

func newNotBuilt(id step.ID, st *Styles) Screen {
	return &notBuiltScreen{id: id, title: stepTitle[id], st: st}
}

func (n *notBuiltScreen) Init() tea.Cmd       { return nil }
func (n *notBuiltScreen) SetSize(w, _ int)    { n.w = w }
func (n *notBuiltScreen) CapturesKeys() bool  { return false }
func (n *notBuiltScreen) Keys() []key.Binding { return []key.Binding{skipKey} }

var skipKey = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "skip"))

func (n *notBuiltScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, skipKey) {
		return n, Done(runrec.Skipped, "step not built yet in this version of jetup", nil)
	}
	return n, nil
}

func (n *notBuiltScreen) View() string {
	return n.st.Title.Render(n.title) + "\n\n" +
		wrapIndent(fmt.Sprintf("The %s step is not built yet in this version of jetup. Do it by hand (`jetup %s --help` once it exists), then press enter to skip it here.", strings.ToLower(n.title), n.id), n.w, "") + "\n"
}

// summaryScreen is the last page: what happened at each step, and where the
// run record is.
type summaryScreen struct {
	sess *Session
	st   *Styles
	w    int
}

func newSummary(s *Session, st *Styles) Screen { return &summaryScreen{sess: s, st: st} }

func (s *summaryScreen) Init() tea.Cmd       { return nil }
func (s *summaryScreen) SetSize(w, _ int)    { s.w = w }
func (s *summaryScreen) CapturesKeys() bool  { return false }
func (s *summaryScreen) Keys() []key.Binding { return []key.Binding{finishKey} }

var finishKey = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "finish"))

func (s *summaryScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, finishKey) {
		return s, func() tea.Msg { return finishMsg{} }
	}
	return s, nil
}

type finishMsg struct{}

func (s *summaryScreen) View() string {
	var b strings.Builder
	b.WriteString(s.st.Title.Render("Summary") + "\n\n")
	if s.sess.Run == nil {
		return b.String()
	}
	rec := s.sess.Run.Snapshot()
	now := time.Now()
	for _, st := range rec.Steps {
		fmt.Fprintf(&b, "%s %-11s %-10s %6s  %s\n", outcomeMark(s.st, st.Outcome), stepTitle[st.Step], st.Outcome,
			st.Duration(now).Round(time.Second), truncate(st.Summary, s.w-34))
	}
	b.WriteString("\nRun record: " + s.sess.Run.Dir() + "\n")
	return b.String()
}

func outcomeMark(st *Styles, o runrec.Outcome) string {
	switch o {
	case runrec.Success:
		return st.Good.Render("✓")
	case runrec.Skipped:
		return st.Subtle.Render("–")
	case runrec.Running:
		return st.Accent.Render("▸")
	default:
		return st.Bad.Render("✗")
	}
}
