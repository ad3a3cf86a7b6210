package tui

// The flow: which step is active, how a step ends, and how the person moves
// between steps and boards. Each move keeps the run record honest: an
// attempt left open is closed with what happened to it.

import (
	"os"

	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// choose builds the flow for the picked board, starts the run record and
// the host check.
func (m *Model) choose(p *profiles.Profile) tea.Cmd {
	if m.sess.Profile != nil {
		return nil // one board per run: a late duplicate choice is ignored
	}
	m.startRun(p)
	return tea.Batch(m.lookUpKit(p), m.activate(m.index(step.Doctor)))
}

// pickerEntry is the step list's first line, the board picker. The chosen
// profile's steps follow it, the host check first, then the summary.
const pickerEntry = 0

// index is where step id is in the step list; -1 when the flow has none.
func (m *Model) index(id step.ID) int {
	for i, e := range m.entries {
		if e.id == id && id != "" {
			return i
		}
	}
	return -1
}

// nextBoardMsg starts the flow again for the next board of the same profile.
type nextBoardMsg struct{}

// nextBoard is the bench technician's loop: the same profile, a new run
// record and a new session (the last board's facts, pins and running
// watches are its own and end with it), the host check carried over
// (recorded as skipped, naming the run that checked it), and every answer
// that was not about the board carried (bench_carry.go). The one question
// asked is the board's label.
func (m *Model) nextBoard() tea.Cmd { return m.startNext(true) }

// startNext starts the next board. With closing, the active board has
// ended (its Summary): its run record is closed and its session ended.
// Without, it goes on in flight (bench_flight.go) with its session.
func (m *Model) startNext(closing bool) tea.Cmd {
	old, p := m.sess, m.sess.Profile
	prev, outcome := "", m.overall(true)
	var carry *benchCarry
	if old.Run != nil {
		prev = old.Run.ID()
		carry = carryFrom(m.boards+1, p, old.Run.Snapshot(), old.answers, old.Facts)
	}
	var stop tea.Cmd
	if closing {
		if old.Run != nil {
			_ = old.Run.Close(outcome)
		}
		m.rememberFailureOf(old, m.boards+1, outcome)
		// The last board's watches (its console) stop now, so the next
		// board can have the port; waiting for them to return is done
		// off the UI.
		old.cancel()
		m.done = append(m.done, old)
		stop = func() tea.Msg { old.stop(); return nil }
	}
	hw := old.Hardware
	if hw.NextBoard != nil {
		hw = hw.NextBoard()
	}
	m.sess = newSession(hw, m.opt.StateDir, m.opt.Version)
	m.sess.Profiles, m.sess.Kits, m.sess.Profile, m.sess.carry = m.opt.Profiles, m.opt.Kits, p, carry
	if carry != nil {
		// What the person chose for the board before stands for this one
		// until they choose otherwise.
		m.sess.answers = carry.answers
	}
	m.boards++
	m.prevRun = prev
	// The run record is made once the board is labelled: a bench ended
	// at the label question leaves no empty board behind.
	m.buildEntries(p)
	doctor := m.index(step.Doctor)
	m.entries[doctor].state = skipped
	sess, n := m.sess, 0
	if m.bench != nil {
		n = len(m.bench.Session().Boards) + 1
	}
	label := &entry{title: "Label", label: true, make: func() Screen { return newLabelScreen(sess, m.st, carry, n) }}
	m.entries = append(m.entries[:doctor+1], append([]*entry{label}, m.entries[doctor+1:]...)...)
	return tea.Batch(stop, m.activate(doctor+1))
}

// beginLabelled makes the run record of a bench board once it is
// labelled: the host check recorded as carried over, the carried facts.
func (m *Model) beginLabelled() {
	m.createRun(m.sess.Profile)
	if c := m.sess.carry; c != nil {
		for k, v := range c.facts {
			m.sess.SetFact(k, v)
		}
	}
	if m.sess.Run != nil {
		_ = m.sess.Run.Begin(step.Doctor).Finish(runrec.Skipped, "host checked for the previous board (run "+m.prevRun+")", nil)
	}
}

// labelChosen names the board (label "" leaves it to the board: its USB
// serial or the serial number its console prints) and goes on to its
// first step.
func (m *Model) labelChosen(label string) tea.Cmd {
	e := m.active()
	if !e.label {
		return nil
	}
	m.sess.label = label
	if m.sess.Run == nil {
		m.beginLabelled()
	} else if label != "" {
		m.setLabel(label)
	}
	e.state = done
	return m.activate(m.cur + 1)
}

// startRun makes the run record and the step list for profile p.
func (m *Model) startRun(p *profiles.Profile) {
	m.sess.Profile = p
	_ = saveRemembered(m.opt.StateDir, remembered{LastProfile: p.Name})
	m.createRun(p)
	m.buildEntries(p)
}

// createRun makes the board's run record and its place in the bench.
func (m *Model) createRun(p *profiles.Profile) {
	run, err := runrec.Create(m.opt.StateDir, runrec.Options{
		Kind: "wizard", Profile: p.Name, Version: m.opt.Version, Host: m.opt.Host, Command: os.Args, Sim: m.opt.Sim,
	})
	if err != nil {
		m.err = err.Error()
	}
	m.sess.Run = run
	m.joinBench(run, m.sess.label)
	m.recordKit()
}

// buildEntries makes the step list for profile p, each screen made for
// this board's session (a board in flight keeps its own).
func (m *Model) buildEntries(p *profiles.Profile) {
	sess, board := m.sess, m.boards
	sess.addrBusy = m.addressBusy
	m.entries[pickerEntry].state = done
	m.entries = m.entries[:pickerEntry+1]
	ids := append([]step.ID{step.Doctor}, p.Steps...)
	for _, id := range ids {
		factory, ok := m.screens[id]
		mk := func() Screen { return newNotBuilt(id, m.st) }
		if ok && factory != nil {
			mk = func() Screen { return factory(sess, m.st) }
		}
		m.entries = append(m.entries, &entry{id: id, title: titleOf(id), make: mk})
	}
	m.entries = append(m.entries, &entry{title: "Summary", make: func() Screen { return newSummary(sess, m.st, board) }})
}

// finishStep records the active step's outcome and moves on when it went well.
func (m *Model) finishStep(d DoneMsg) tea.Cmd {
	e := m.active()
	if d.Attempt != nil && d.Attempt != e.open {
		return nil // that attempt is already recorded
	}
	if e.open != nil {
		if d.Details != nil {
			_ = e.open.SetDetails(d.Details)
		}
		_ = e.open.Finish(d.Outcome, d.Summary, d.Err)
		e.open = nil
		m.sess.current = nil
	}
	switch d.Outcome {
	case runrec.Success:
		e.state = done
		if e.id == step.Flash || e.id == step.Write {
			// A new system on the board: a new host key, vouched for
			// afresh.
			m.sess.freshBoard()
		}
		m.labelFromBoard()
		if e.id == step.Console && m.canFly() {
			return m.fly()
		}
	case runrec.Skipped:
		e.state = skipped
	default:
		e.state = failed
		return nil // stay: the screen offers retry
	}
	if m.cur+1 < len(m.entries) {
		return m.activate(m.cur + 1)
	}
	return nil
}

// back leaves the active step for the previous one; an attempt left open is
// recorded as skipped so the record never shows a phantom running step.
func (m *Model) back() tea.Cmd {
	if d := m.index(step.Doctor); d < 0 || m.cur <= d || m.active().label {
		return nil // the profile is chosen once per run
	}
	m.leave("left before it finished")
	return m.activate(m.cur - 1)
}

// GoToMsg makes another step of the flow the active one. Fresh discards
// that step's screen so it starts over (a flash retry goes back to
// recovery detection: the board must re-enter recovery mode).
type GoToMsg struct {
	Step  step.ID
	Fresh bool
}

// GoTo returns the command that moves the wizard to step id.
func GoTo(id step.ID, fresh bool) tea.Cmd {
	return func() tea.Msg { return GoToMsg{Step: id, Fresh: fresh} }
}

// goTo leaves the active step (an open attempt is recorded as skipped) and
// activates the step id.
func (m *Model) goTo(id step.ID, fresh bool) tea.Cmd {
	for i, e := range m.entries {
		if e.id != id {
			continue
		}
		m.leave("left for " + titleOf(id))
		if fresh {
			e.screen = nil
			e.state = pending
		}
		return m.activate(i)
	}
	return nil
}

// leave records an attempt of the active step that is still open as
// skipped, so the record never shows a phantom running step.
func (m *Model) leave(why string) {
	if e := m.active(); e.open != nil {
		_ = e.open.Finish(runrec.Skipped, why, nil)
		e.open = nil
		m.sess.current = nil
	}
}

// skip ends the active step as skipped by the person (a board already
// flashed, a stick written elsewhere) and moves on.
func (m *Model) skip() tea.Cmd {
	e := m.active()
	if e.id == "" || e.id == step.Doctor {
		return nil
	}
	return m.finishStep(DoneMsg{Outcome: runrec.Skipped, Summary: skippedByPerson})
}

// ChangeProfileMsg asks the root to go back to the board picker: the board
// on the bench is not the one the profile is for (detect found another
// module). The run so far is closed as cancelled and the picker opens with
// Suggest preselected; picking starts a new run.
type ChangeProfileMsg struct {
	Suggest string
	// Why is recorded as the summary of the step that asked.
	Why string
}

func (m *Model) changeProfile(msg ChangeProfileMsg) tea.Cmd {
	m.leave(msg.Why)
	if m.sess.Run != nil {
		_ = m.sess.Run.Close(runrec.Cancelled)
		m.sess.Run = nil
	}
	m.sess.Facts = map[string]string{}
	m.sess.Profile = nil // choose takes the next pick
	picker := m.entries[pickerEntry]
	picker.state, picker.screen = pending, nil
	picker.make = func() Screen { return newPicker(m.opt.Profiles, msg.Suggest, m.prepareStarter()) }
	m.entries = m.entries[:pickerEntry+1]
	return m.activate(pickerEntry)
}

// RetryMsg tells the root that the active screen starts its step again: a
// new attempt is recorded.
type RetryMsg struct{}

// Retry returns the command a screen sends when it starts over.
func Retry() tea.Cmd { return func() tea.Msg { return RetryMsg{} } }
