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

// summaryScreen is the last page: which board this was, what happened at
// each step, how long it all took, and where the run record is. From here a
// bench technician goes on to the next board of the same profile.
type summaryScreen struct {
	sess   *Session
	st     *Styles
	boards int
	w      int
}

func newSummary(s *Session, st *Styles, boards int) Screen {
	return &summaryScreen{sess: s, st: st, boards: boards}
}

func (s *summaryScreen) Init() tea.Cmd       { return nil }
func (s *summaryScreen) SetSize(w, _ int)    { s.w = w }
func (s *summaryScreen) CapturesKeys() bool  { return false }
func (s *summaryScreen) Keys() []key.Binding { return []key.Binding{nextBoardKey, finishKey} }

var (
	finishKey    = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "finish"))
	nextBoardKey = key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "next board, same profile"))
)

func (s *summaryScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(k, finishKey):
			return s, func() tea.Msg { return finishMsg{} }
		case key.Matches(k, nextBoardKey):
			return s, func() tea.Msg { return nextBoardMsg{} }
		}
	}
	return s, nil
}

type finishMsg struct{}

// boardLine names the board from what the steps learned about it.
func boardLine(facts map[string]string) string {
	var parts []string
	for _, k := range []string{step.FactModule, step.FactUSBInstance, step.FactFirmwareVersion, step.FactHostname, step.FactIP} {
		if v := facts[k]; v != "" {
			parts = append(parts, v)
		}
	}
	if len(parts) == 0 {
		return "no board facts recorded"
	}
	return strings.Join(parts, " · ")
}

func (s *summaryScreen) View() string {
	var b strings.Builder
	title := "Summary"
	if s.boards > 0 {
		title = fmt.Sprintf("Summary of board %d", s.boards+1)
	}
	b.WriteString(s.st.Title.Render(title) + "\n")
	if s.sess.Run == nil {
		return b.String()
	}
	rec := s.sess.Run.Snapshot()
	now := time.Now()
	b.WriteString(s.st.Subtle.Render(wrapIndent(boardLine(rec.Facts), s.w, "")) + "\n\n")
	lastVerify := -1
	for i, st := range rec.Steps {
		if st.Step == step.Verify {
			lastVerify = i
		}
	}
	for i, st := range rec.Steps {
		fmt.Fprintf(&b, "%s %-11s %-10s %6s  %s\n", outcomeMark(s.st, st.Outcome), titleOf(st.Step), st.Outcome,
			st.Duration(now).Round(time.Second), truncate(st.Summary, s.w-34))
		if i == lastVerify {
			for _, l := range verifyVerdicts(s.st, st.Details, s.w) {
				b.WriteString(l + "\n")
			}
		}
	}
	fmt.Fprintf(&b, "\nIn all %s. Run record: %s\n", now.Sub(rec.Started).Round(time.Second), s.sess.Run.Dir())
	b.WriteString(s.st.Subtle.Render("n starts the next board with the same profile; enter finishes.") + "\n")
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
