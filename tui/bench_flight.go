package tui

import (
	"fmt"
	"reflect"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// Overlap: on a bench, once a board's console has shown it up and its
// push is the one carried from the board before (nothing to ask), its
// push and checks go on in flight while the next board is labelled, put
// in recovery mode and flashed. A board in flight keeps its own session
// (its run record, its pins, its tasks) and its own Push and Verify
// screens, which the wizard keeps fed with their tasks' messages without
// showing them; each is one row above the current step. A board in
// flight that fails stays as a row with its next step until dismissed.
//
// What two boards share, and what waits (docs/ARCHITECTURE.md):
// one flash at a time (the USB recovery port and the flash gadget's
// serial "0"; a lock in the state dir), one console per serial port
// (serialcon's flock), one SSH step per address: a board's push waits
// while another board of the bench is in flight at the same address.

// flight is a board whose last steps run while the next board is set up.
type flight struct {
	sess    *Session
	entries []*entry // from its Push step to its Summary
	cur     int
	board   int
	ended   bool
	failed  bool
	addr    string
}

// flightMsg is a message of a board in flight's screens for the root.
type flightMsg struct {
	f   *flight
	msg tea.Msg
}

// canFly reports whether the active board, its console just shown up,
// can go on in flight: a bench board whose push is carried, its host key
// vouched for by its console (nobody is there to answer a question),
// overlap not turned off, and the push the next entry.
func (m *Model) canFly() bool {
	c := m.sess.carry
	if m.opt.NoOverlap || c == nil || c.answers.push == nil || m.sess.Facts[step.FactHostKey] == "" || pushHost(m.sess) == "" ||
		m.cur+1 >= len(m.entries) || m.entries[m.cur+1].id != step.Push {
		return false
	}
	if _, skipped := c.skip[step.Push]; skipped {
		return false
	}
	// Nothing after it may wait for the person: the checks pass on by
	// themselves only when they did for the board before.
	for _, e := range m.entries[m.cur+2:] {
		_, skipped := c.skip[e.id]
		switch {
		case e.id == "", skipped, e.id == step.Verify && c.answers.verified:
		default:
			return false
		}
	}
	return true
}

// fly sends the active board's remaining steps in flight and starts the
// next board.
func (m *Model) fly() tea.Cmd {
	// A copy: the next board's steps are made in m.entries.
	f := &flight{sess: m.sess, entries: append([]*entry(nil), m.entries[m.cur+1:]...), board: m.boards + 1, addr: pushHost(m.sess)}
	m.flights = append(m.flights, f)
	next := m.startNext(false)
	m.resize()
	return tea.Batch(next, m.flightActivate(f, 0))
}

// pushHost is the address a board's push goes to.
func pushHost(s *Session) string {
	host := s.Facts[step.FactIP]
	if host == "" {
		host = s.Facts[step.FactHostname]
	}
	if host == "" && s.Hardware.Sim {
		host = "192.168.55.1"
	}
	return host
}

// flightActivate opens entry i of a board in flight.
func (m *Model) flightActivate(f *flight, i int) tea.Cmd {
	i = passCarried(f.sess, f.entries, i)
	f.cur = i
	e := f.entries[i]
	if e.id == "" { // its summary: the board is done
		return m.land(f)
	}
	if e.screen == nil {
		e.screen = e.make()
	}
	if e.open == nil && f.sess.Run != nil {
		e.open = f.sess.Run.Begin(e.id)
	}
	f.sess.current = e.open
	e.screen.SetSize(m.contentSize())
	return f.tag(e.screen.Init())
}

// flightDone takes a message a board in flight's screen sent the root.
func (m *Model) flightDone(fm flightMsg) tea.Cmd {
	f := fm.f
	if f.ended || f.cur >= len(f.entries) {
		return nil
	}
	e := f.entries[f.cur]
	switch msg := fm.msg.(type) {
	case DoneMsg:
		if msg.Attempt != nil && msg.Attempt != e.open {
			return nil // that attempt is already recorded
		}
		if e.open != nil {
			if msg.Details != nil {
				_ = e.open.SetDetails(msg.Details)
			}
			_ = e.open.Finish(msg.Outcome, msg.Summary, msg.Err)
			e.open, f.sess.current = nil, nil
		}
		switch msg.Outcome {
		case runrec.Success, runrec.Skipped:
			e.state = done
			return m.flightActivate(f, f.cur+1)
		}
		e.state, f.failed = failed, true
		return m.land(f)
	case RetryMsg:
		if e.open == nil && f.sess.Run != nil {
			e.open = f.sess.Run.Begin(e.id)
			f.sess.current = e.open
		}
	}
	return nil
}

// land ends a board in flight: its run record closed, its session ended
// off the UI, a failure kept as a row until dismissed.
func (m *Model) land(f *flight) tea.Cmd {
	f.ended = true
	outcome := runrec.Success
	if f.failed {
		outcome = runrec.Failed
	}
	if f.sess.Run != nil {
		_ = f.sess.Run.Close(outcome)
	}
	m.rememberFailureOf(f.sess, f.board, outcome)
	for i, x := range m.flights {
		if x == f {
			m.flights = append(m.flights[:i], m.flights[i+1:]...)
			break
		}
	}
	m.done = append(m.done, f.sess)
	m.resize()
	s := f.sess
	cmds := []tea.Cmd{func() tea.Msg { s.stop(); return nil }, m.addressFree()}
	if m.finishing && len(m.flights) == 0 {
		cmds = append(cmds, m.quit(m.benchOutcome()))
	}
	return tea.Batch(cmds...)
}

// feedFlights gives a message that is not the root's to every board in
// flight's active screen (a screen takes only its own tasks' messages).
func (m *Model) feedFlights(msg tea.Msg) tea.Cmd {
	var cmds []tea.Cmd
	for _, f := range m.flights {
		e := f.entries[f.cur]
		if e.screen == nil {
			continue
		}
		s, cmd := e.screen.Update(msg)
		e.screen = s
		cmds = append(cmds, f.tag(cmd))
	}
	return tea.Batch(cmds...)
}

// tag makes what a board in flight's screen tells the root a flightMsg,
// through Batch and Sequence.
func (f *flight) tag(cmd tea.Cmd) tea.Cmd {
	if cmd == nil {
		return nil
	}
	return func() tea.Msg {
		msg := cmd()
		switch msg := msg.(type) {
		case DoneMsg, RetryMsg, GoToMsg, ChangeProfileMsg:
			return flightMsg{f: f, msg: msg}
		case tea.BatchMsg:
			out := make(tea.BatchMsg, len(msg))
			for i, c := range msg {
				out[i] = f.tag(c)
			}
			return out
		}
		if cmds, ok := sequenceOf(msg); ok {
			for i := range cmds {
				cmds[i] = f.tag(cmds[i])
			}
			return tea.Sequence(cmds...)()
		}
		return msg
	}
}

// sequenceOf unpacks tea.Sequence's message (its type is Bubble Tea's own).
func sequenceOf(msg tea.Msg) ([]tea.Cmd, bool) {
	v := reflect.ValueOf(msg)
	if !v.IsValid() || v.Kind() != reflect.Slice || v.Type().Elem() != reflect.TypeFor[tea.Cmd]() {
		return nil, false
	}
	cmds := make([]tea.Cmd, v.Len())
	for i := range cmds {
		cmds[i] = v.Index(i).Interface().(tea.Cmd)
	}
	return cmds, true
}

// flightsBusy reports whether a board in flight has work running.
func (m *Model) flightsBusy() bool {
	for _, f := range m.flights {
		if f.sess.Busy() {
			return true
		}
	}
	return false
}

// flightRows draws one row per board in flight: board, label, step,
// progress, verdict.
func (m *Model) flightRows(w int) []string {
	var out []string
	for _, f := range m.flights {
		e := f.entries[f.cur]
		name := fmt.Sprintf("board %d", f.board)
		if f.sess.label != "" {
			name += " " + f.sess.label
		}
		line := fmt.Sprintf("▸ %s in flight: %s", name, titleOf(e.id))
		if p, ok := e.screen.(interface{ Progress() string }); ok {
			if s := p.Progress(); s != "" {
				line += " · " + s
			}
		}
		out = append(out, m.st.Accent.Render(fit(strings.TrimSpace(line), w)))
	}
	return out
}

// addressBusy names the board in flight at addr, "" when none.
func (m *Model) addressBusy(s *Session, addr string) string {
	for _, f := range m.flights {
		if !f.ended && f.sess != s && f.addr == addr {
			return fmt.Sprintf("board %d", f.board)
		}
	}
	return ""
}

// addrFreeMsg tells the active screen that a board in flight landed: an
// address it waited for may be free.
type addrFreeMsg struct{}

func (m *Model) addressFree() tea.Cmd { return func() tea.Msg { return addrFreeMsg{} } }

// resize gives the active screen its area again: the rows above it came
// or went.
func (m *Model) resize() {
	if s := m.active().screen; s != nil {
		s.SetSize(m.contentSize())
	}
}

// endBench ends the bench at the label question: at once, or once the
// boards in flight have landed.
func (m *Model) endBench() tea.Cmd {
	if len(m.flights) == 0 {
		return m.quit(m.benchOutcome())
	}
	m.finishing = true
	return nil
}

// benchOutcome is the wizard's outcome when a bench ends: failed when a
// board failed and was not dismissed.
func (m *Model) benchOutcome() runrec.Outcome {
	if len(m.failures) > 0 {
		return runrec.Failed
	}
	return runrec.Success
}
