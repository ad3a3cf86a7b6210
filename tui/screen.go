package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// Screen is one page of the wizard. The root model owns the frame (step
// list, header, key help) and routes messages to the active screen.
type Screen interface {
	// Init starts the screen when it becomes active.
	Init() tea.Cmd
	Update(msg tea.Msg) (Screen, tea.Cmd)
	// View renders the screen into the content area.
	View() string
	// SetSize gives the content area's size; it is called before the
	// first View and on every resize.
	SetSize(width, height int)
	// Keys are the screen's own keys, shown in the help bar.
	Keys() []key.Binding
	// CapturesKeys is true while the screen wants every key (a filter or
	// text field has focus, the console is in focus mode): the root then
	// only keeps ctrl+c.
	CapturesKeys() bool
}

// Leaver is a Screen that wants to know when the wizard leaves it for
// another step (continue, esc, s, GoTo), to stop what only matters while it
// is shown (the Recover screen's watch of the USB bus). Optional.
type Leaver interface {
	Leave()
}

// CtrlCPasser is a Screen that, while it captures keys, wants ctrl+c too:
// the console in focus mode sends it to the board (interrupting a command
// there), and offers its own key to leave focus. Without it the root keeps
// ctrl+c to quit the wizard.
type CtrlCPasser interface {
	PassesCtrlC() bool
}

// DoneMsg is sent by a screen when its step has ended. The root records the
// outcome in the run record; on success or skip it moves to the next step.
type DoneMsg struct {
	Outcome runrec.Outcome
	Summary string
	Err     error
	// Details is stored in run.json as the step's details (a verdict, a
	// receipt); nil for none.
	Details any
	// Attempt, when set, is the attempt this ends: the message is dropped
	// once that attempt is closed, so an end sent twice (again ahead of a
	// retry) or arriving after the person moved on never ends another.
	Attempt *runrec.Step
}

// Done returns a command that ends the active step.
func Done(outcome runrec.Outcome, summary string, err error) tea.Cmd {
	return func() tea.Msg { return DoneMsg{Outcome: outcome, Summary: summary, Err: err} }
}

// attempt ties a screen's ends to the run record's attempt they end. A
// task's end reaches the root later than the person's keys: a retry
// pressed before it, or a step left, must not have it end another
// attempt (the root drops a DoneMsg whose attempt is closed).
type attempt struct {
	step *runrec.Step // the attempt the screen's work runs in
	end  *DoneMsg     // how it ended, for a retry to send again first
}

// begin notes the attempt open now as the one the work runs in: call it
// when the work starts, after a retry's new attempt is open.
func (a *attempt) begin(s *Session) { a.step, a.end = s.Step(), nil }

// done is the command that sends d as the end of the work's attempt.
func (a *attempt) done(d DoneMsg) tea.Cmd {
	d.Attempt = a.step
	a.end = &d
	return func() tea.Msg { return d }
}

// retry starts the work again in a new attempt: the last end is sent
// again first (it may still be on its way to the root, and a retry taken
// before it would be recorded in the failed attempt; the root drops
// whichever comes second), then the new attempt is recorded, then start
// is delivered to the screen, which calls begin.
func (a *attempt) retry(start tea.Msg) tea.Cmd {
	var ended tea.Cmd
	if d := a.end; d != nil {
		ended = func() tea.Msg { return *d }
	}
	return tea.Sequence(ended, Retry(), func() tea.Msg { return start })
}

// doneNow ends the attempt open now: for an end the person asks for
// (enter), which the root takes unless the step was left meanwhile.
func (s *Session) doneNow(d DoneMsg) tea.Cmd {
	d.Attempt = s.Step()
	return func() tea.Msg { return d }
}

// ScreenFactory makes the screen for a step of the chosen profile.
type ScreenFactory func(s *Session, st *Styles) Screen

// A step's screen lives in its own file(s) and registers itself there:
//
//	func init() { register(step.Console, "Watch", newConsoleScreen) }
//
// That is all the wizard needs: the step list shows the title for every
// profile whose steps name the id, and the screen is made when the step is
// first reached. A step a profile names with no screen registered gets a
// screen that says plainly that it is not built yet.

// screens maps each step to its screen.
var screens = map[step.ID]ScreenFactory{}

// stepTitle is what the step list shows for each step.
var stepTitle = map[step.ID]string{}

// register makes factory the screen of step id, titled title in the step
// list.
func register(id step.ID, title string, factory ScreenFactory) {
	screens[id] = factory
	stepTitle[id] = title
}

// titleOf is the step list's name for id: its registered title, or the
// id itself for a step without a screen.
func titleOf(id step.ID) string {
	if t, ok := stepTitle[id]; ok {
		return t
	}
	return string(id)
}
