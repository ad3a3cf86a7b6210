package tui

// The bench: every board the wizard brings up is a board of today's bench
// session (runrec's bench.json), one run record each.

import (
	"fmt"
	"time"

	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// joinBench makes the run the next board of today's bench session,
// opening the session with the wizard's first board. A session file that
// was damaged is set aside by runrec; the person is told once. Without a
// session (the state dir cannot be written) the board still runs: its
// record says what happened.
func (m *Model) joinBench(run *runrec.Run, label string) {
	if run == nil {
		return
	}
	if m.bench == nil {
		b, note, err := runrec.OpenBench(m.opt.StateDir, runrec.BenchOptions{})
		if err != nil {
			m.notice = "no bench session: " + err.Error()
			return
		}
		m.bench = b
		if note != "" {
			m.notice = note
		}
	}
	ref, err := m.bench.Add(run, label)
	if err != nil {
		m.notice = "bench session: " + err.Error()
		return
	}
	m.sess.Bench, m.sess.Board = m.bench, ref.Board
}

// passCarried passes by, from entry i on, the steps this board does not
// ask for because of the board before (bench_carry.go), each recorded as
// skipped with the reason; it returns the entry to open.
func (m *Model) passCarried(i int) int { return passCarried(m.sess, m.entries, i) }

// passCarried is the same for any board's session and steps: the one on
// screen or one in flight (bench_flight.go).
func passCarried(sess *Session, entries []*entry, i int) int {
	for i < len(entries)-1 {
		e := entries[i]
		why, ok := sess.carry.auto(e)
		if !ok {
			break
		}
		e.carried, e.state = true, skipped
		if sess.Run != nil {
			_ = sess.Run.Begin(e.id).Finish(runrec.Skipped, why, nil)
		}
		i++
	}
	return i
}

// setLabel names the board in today's bench and in its run record.
func (m *Model) setLabel(label string) {
	m.sess.label = label
	if m.bench == nil || m.sess.Run == nil {
		return
	}
	if err := m.bench.SetLabel(m.sess.Run, label); err != nil {
		m.notice = "bench session: " + err.Error()
	}
}

// labelFromBoard names a board left unlabelled by what it says about
// itself: the serial number its console printed, else its recovery
// device's USB serial. A label another board of today already carries is
// still this board's own serial: it is kept, and said (the same board
// again, or a serial that is not unique).
func (m *Model) labelFromBoard() {
	if m.sess.label != "" || m.sess.Board == 0 {
		return
	}
	for _, k := range []string{step.FactSerialNumber, step.FactUSBSerial} {
		label := runrec.LabelFrom(m.sess.Facts[k])
		if label == "" {
			continue
		}
		if used, err := runrec.LabelUsed(m.opt.StateDir, label, runrec.StartOfDay(time.Now()), m.sess.Run.ID()); err == nil && used != "" {
			m.notice = fmt.Sprintf("this board's serial %s is already the label of run %s today: the same board again?", label, used)
		}
		m.setLabel(label)
		return
	}
}
