package tui

// The bench: every board the wizard brings up is a board of today's bench
// session (runrec's bench.json), one run record each.

import (
	"github.com/jetup/jetup/runrec"
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
