package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// labelScreen is the one question the next board of a bench asks: its
// label. Typed (what is written on the board's sticker), or left empty
// for the board to tell: its recovery device's USB serial or the module
// serial number its console prints. A label another board of today's
// bench already carries is said, and asked again: enter keeps it.
type labelScreen struct {
	sess   *Session
	st     *Styles
	in     textinput.Model
	carry  *benchCarry
	w      int
	err    string
	usedBy string // the run that carries the label typed, "" when none
	asked  string // the label the person was warned about (enter again keeps it)
	board  int    // its place in today's bench
}

var (
	labelKey    = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "label the board (empty: the board tells it)"))
	endBenchKey = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "no more boards: end the bench"))
)

// endBenchMsg: no next board; the wizard ends once the boards in flight
// have landed.
type endBenchMsg struct{}

// labelChosenMsg ends the label question; label "" leaves it to the board.
type labelChosenMsg struct{ label string }

func newLabelScreen(s *Session, st *Styles, c *benchCarry, board int) Screen {
	in := textinput.New()
	in.Prompt = ""
	in.Placeholder = "the board's sticker, or empty: the board tells it"
	in.CharLimit = safe.MaxName
	return &labelScreen{sess: s, st: st, in: in, carry: c, board: board}
}

func (l *labelScreen) Init() tea.Cmd       { return l.in.Focus() }
func (l *labelScreen) SetSize(w, _ int)    { l.w = w; l.in.SetWidth(max(w-10, 10)) }
func (l *labelScreen) CapturesKeys() bool  { return true }
func (l *labelScreen) Keys() []key.Binding { return []key.Binding{labelKey, endBenchKey} }

func (l *labelScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		var cmd tea.Cmd
		l.in, cmd = l.in.Update(msg)
		return l, cmd
	}
	if key.Matches(k, endBenchKey) {
		return l, func() tea.Msg { return endBenchMsg{} }
	}
	if k.String() != "enter" {
		var cmd tea.Cmd
		l.in, cmd = l.in.Update(msg)
		if strings.TrimSpace(l.in.Value()) != l.asked {
			l.usedBy, l.err = "", ""
		}
		return l, cmd
	}
	label := strings.TrimSpace(l.in.Value())
	if label == "" {
		return l, func() tea.Msg { return labelChosenMsg{} }
	}
	if err := safe.Name("label", label); err != nil {
		l.err = "not a label: " + err.Error() + " (letters, digits, . _ -)"
		return l, nil
	}
	if label != l.asked {
		except := ""
		if l.sess.Run != nil {
			except = l.sess.Run.ID()
		}
		used, err := runrec.LabelUsed(l.sess.StateDir, label, runrec.StartOfDay(time.Now()), except)
		if err == nil && used != "" {
			l.asked, l.usedBy, l.err = label, used, ""
			return l, nil
		}
	}
	return l, func() tea.Msg { return labelChosenMsg{label: label} }
}

func (l *labelScreen) View() string {
	var b strings.Builder
	title := "Next board"
	if l.board > 0 {
		title = fmt.Sprintf("Board %d of today's bench", l.board)
	}
	b.WriteString(l.st.Title.Render(title) + "\n")
	if l.carry != nil {
		b.WriteString(l.st.Subtle.Render(wrapIndent("Same choices as "+l.carry.from+": "+strings.Join(l.carry.said(l.order()), "; ")+".", l.w, "")) + "\n")
	}
	b.WriteString("\nLabel  " + l.in.View() + "\n\n")
	switch {
	case l.usedBy != "":
		b.WriteString(l.st.Warn.Render(hanging("! ", fmt.Sprintf("%s is already the label of a board of today (run %s). enter again keeps it; or type another.", l.asked, l.usedBy), l.w)) + "\n")
	case l.err != "":
		b.WriteString(l.st.Bad.Render(hanging("✗ ", l.err, l.w)) + "\n")
	default:
		b.WriteString(l.st.Subtle.Render(wrapIndent("Empty: the board tells its label, its recovery device's USB serial or the serial number its console prints.", l.w, "")) + "\n")
	}
	return b.String()
}

// order is the profile's steps, for saying the carried ones in order.
func (l *labelScreen) order() []step.ID {
	if l.sess.Profile == nil {
		return nil
	}
	return l.sess.Profile.Steps
}
