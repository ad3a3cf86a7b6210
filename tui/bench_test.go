package tui

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/jetup/jetup/runrec"
)

// The wizard's board is a board of today's bench; a damaged session file
// is set aside with a word on screen, and the board goes on in a new
// session.
func TestWizardBoardJoinsTodaysBenchAndSetsADamagedSessionAside(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	if err := os.WriteFile(filepath.Join(state, runrec.BenchFile), []byte("{\"id\": 7"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := drive(t, 100, 30, Options{StateDir: state, Profile: "rpi4"})
	d.waitView("bench.json was damaged: kept as bench.json.damaged-")
	kept, _ := filepath.Glob(filepath.Join(state, runrec.BenchFile+".damaged-*"))
	if len(kept) != 1 {
		t.Fatalf("damaged session file kept as %v", kept)
	}
	b, _, err := runrec.OpenBench(state, runrec.BenchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := b.Session()
	if len(s.Boards) != 1 || s.Boards[0].Run != d.m.sess.Run.ID() || d.m.sess.Board != 1 {
		t.Fatalf("bench session %+v, board %d", s, d.m.sess.Board)
	}
	if rec := d.m.sess.Run.Snapshot(); rec.Bench == nil || rec.Bench.Session != s.ID || rec.Bench.Board != 1 {
		t.Errorf("the run's own record %+v", rec.Bench)
	}
}
