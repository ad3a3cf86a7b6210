package tui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
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

// Every board of a bench comes up at 192.168.55.1 with a key of its own.
// The pins belong to the board: the second board is not refused because
// of the first one's key, its own console vouches for its own key, a
// board whose console said nothing is asked about (never trusted
// silently), and a board flashed again has its pin forgotten.
func TestBenchBoardsAtOneAddressEachPinTheirOwnKey(t *testing.T) {
	t.Parallel()
	o, board := fastBench()
	o.StateDir = t.TempDir()
	o.Hardware = sim.WithBoard(o.Hardware, nil, board)
	d := onPush(t, 100, 30, o)
	first := board.Fingerprint()
	d.m.sess.Facts[step.FactHostKey] = first // what its console printed
	d.key(tea.KeyEnter)
	d.waitView("matches the board's console", "✓ pushed")
	run1 := d.m.sess.Run

	d.send(nextBoardMsg{})
	d.waitView("▸ Label", "push ./result as")
	d.key(tea.KeyEnter)
	d.waitView("▸ Recover")
	k2, err := d.m.sess.Hardware.Push.SSH.HostKey(context.Background(), "192.168.55.1:22", nil)
	if err != nil {
		t.Fatal(err)
	}
	second := remote.Fingerprint(k2)
	if second == first {
		t.Fatal("the simulated next board kept the first one's key: the test would prove nothing")
	}
	d.m.sess.SetFact(step.FactIP, "192.168.55.1")
	d.m.sess.SetFact(step.FactHostKey, second) // its own console's word
	d.run(d.m.goTo(step.Push, false))
	// The carried form starts by itself and goes on to Verify.
	d.waitAttempt(step.Push, "a success", outcome(runrec.Success))
	if text := d.view(); strings.Contains(text, "CHANGED") || strings.Contains(text, "First contact") {
		t.Errorf("second board refused or asked about:\n%s", text)
	}
	pins := func(r *runrec.Run) []string {
		keys, err := remote.KnownHosts{File: filepath.Join(r.Dir(), "known_hosts")}.Pinned("192.168.55.1:22")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range keys {
			out = append(out, remote.Fingerprint(k))
		}
		return out
	}
	run2 := d.m.sess.Run
	if p1, p2 := pins(run1), pins(run2); len(p1) != 1 || p1[0] != first || len(p2) != 1 || p2[0] != second {
		t.Errorf("pins: board 1 %v (want %s), board 2 %v (want %s)", p1, first, p2, second)
	}
	// Flashed again: the board's pin and its console's old word go. The
	// Verify step the push went on to reads and writes the pins too: its
	// checks end first, as a flash always comes after them.
	d.until("the second board's checks to end", func() bool {
		v, ok := d.m.active().screen.(*verifyScreen)
		return ok && v.run != nil && v.run.done
	})
	d.m.sess.freshBoard()
	if p := pins(run2); len(p) != 0 || d.m.sess.Facts[step.FactHostKey] != "" {
		t.Errorf("after a new flash: pins %v, host key fact %q", p, d.m.sess.Facts[step.FactHostKey])
	}

	// A third board whose console said nothing: asked about, not trusted.
	d.send(nextBoardMsg{})
	d.waitView("▸ Label")
	d.key(tea.KeyEnter)
	d.waitView("▸ Recover")
	d.m.sess.SetFact(step.FactIP, "192.168.55.1")
	d.run(d.m.goTo(step.Push, false))
	d.waitView("First contact", "y trust this key")
	if p := pins(d.m.sess.Run); len(p) != 0 {
		t.Errorf("third board pinned before anyone vouched: %v", p)
	}
}

// A label another board of today already carries is said, and asked
// again: enter keeps it, another label is taken at once. A label that is
// no label is refused with what a label may hold.
func TestBenchLabelUsedTodayWarnsAndAsks(t *testing.T) {
	t.Parallel()
	o, _ := fastBench()
	o.StateDir = t.TempDir()
	d := onPush(t, 100, 30, o)
	d.send(nextBoardMsg{})
	d.waitView("▸ Label")
	d.typ("B-01")
	d.key(tea.KeyEnter)
	d.waitView("▸ Recover")
	labelled := d.m.sess.Run.ID()

	d.send(nextBoardMsg{})
	d.waitView("▸ Label", "Board 3 of today's bench")
	d.typ("b/01")
	d.key(tea.KeyEnter)
	d.waitView("✗ not a label")
	for range 4 {
		d.key(tea.KeyBackspace)
	}
	d.typ("b-01")
	d.key(tea.KeyEnter)
	d.waitView("b-01 is already the label of a board of today", labelled, "enter again keeps it")
	if d.m.sess.label != "" {
		t.Fatalf("label taken before the person said so: %q", d.m.sess.label)
	}
	d.key(tea.KeyEnter)
	d.waitView("▸ Recover")
	b := d.m.bench.Session()
	if len(b.Boards) != 3 || b.Boards[1].Label != "B-01" || b.Boards[2].Label != "b-01" {
		t.Errorf("bench boards %+v", b.Boards)
	}
}

// A board whose console has shown it up goes on in flight: its row above
// the next board's label question, its push on its own. When it fails
// (here its console printed another key than the one at the address) its
// row stays with the step it failed at and what to do, until D.
func TestBoardInFlightFailsAndStaysUntilDismissed(t *testing.T) {
	t.Parallel()
	o, board := fastBench()
	o.StateDir = t.TempDir()
	o.Hardware = sim.WithBoard(o.Hardware, nil, board)
	d := onPush(t, 100, 30, o)
	d.m.sess.Facts[step.FactHostKey] = board.Fingerprint()
	d.key(tea.KeyEnter)
	d.waitView("✓ pushed")
	d.m.sess.answers.verified = true // as if its checks had passed and the person went on

	d.send(nextBoardMsg{})
	d.waitView("▸ Label")
	d.typ("B2")
	d.key(tea.KeyEnter)
	d.waitView("▸ Recover")
	d.m.sess.SetFact(step.FactIP, "192.168.55.1")
	d.m.sess.SetFact(step.FactHostKey, "SHA256:"+strings.Repeat("A", 43)) // not the key at the address
	d.run(d.m.goTo(step.Console, false))
	d.send(DoneMsg{Outcome: runrec.Success, Summary: "reached shell"})
	d.waitView("board 2 B2 in flight", "▸ Label", "Board 3 of today's bench")
	text := d.waitView("✗ board 2 B2 failed at Push", "host-key-mismatch", "→ check the address")
	if strings.Contains(text, "in flight") {
		t.Errorf("a landed board still in flight:\n%s", text)
	}
	runs, _, _ := runrec.List(o.StateDir)
	if len(runs) != 2 || runs[1].Outcome != runrec.Failed || runs[1].Ended == nil {
		t.Fatalf("board 2's run: %+v", runs)
	}
	// Typing the label does not dismiss it; D outside the text field does.
	d.typ("B3")
	d.key(tea.KeyEnter)
	d.waitView("▸ Recover", "✗ board 2 B2 failed at Push", "D dismiss failed board")
	d.typ("D")
	d.until("the failed board's row to be dismissed", func() bool { return !strings.Contains(d.view(), "board 2 B2 failed") })
}

// A push waits while another board of the bench is in flight at the same
// address (the host reaches one board there), and starts once it landed.
func TestPushWaitsForTheBoardInFlightAtItsAddress(t *testing.T) {
	t.Parallel()
	o, board := fastBench()
	o.StateDir = t.TempDir()
	d := onPush(t, 100, 30, o)
	other := newSession(o.Hardware, o.StateDir, "test")
	f := &flight{sess: other, board: 7, addr: "192.168.55.1", entries: []*entry{{id: step.Push, title: "Push"}}}
	d.m.flights = append(d.m.flights, f)
	d.m.sess.Facts[step.FactHostKey] = board.Fingerprint()
	d.key(tea.KeyEnter)
	d.waitView("waiting: board 7 of the bench is still being pushed")
	if n := len(d.steps(step.Push)); n != 1 || d.steps(step.Push)[0].Outcome != runrec.Running {
		t.Fatalf("push attempts while waiting: %+v", d.steps(step.Push))
	}
	d.m.flights = nil
	d.send(addrFreeMsg{})
	d.waitView("✓ pushed")
}

// A board left unlabelled takes what it says about itself: here its
// recovery device's USB serial. The same serial on a later board of the
// day is said (the same board again?) and still taken.
func TestUnlabelledBoardTakesItsSerial(t *testing.T) {
	t.Parallel()
	o, _ := fastBench()
	o.StateDir = t.TempDir()
	d := onPush(t, 100, 30, o)
	d.m.sess.SetFact(step.FactUSBSerial, "TOPO 1234") // a space is no label character
	d.send(DoneMsg{Outcome: runrec.Success, Summary: "a step that ends well"})
	d.waitView("▸ Verify")
	if b := d.m.bench.Session(); b.Boards[0].Label != "TOPO1234" {
		t.Fatalf("first board's label %q", b.Boards[0].Label)
	}
	d.send(nextBoardMsg{})
	d.waitView("▸ Label")
	d.key(tea.KeyEnter)
	d.waitView("▸ Recover")
	d.m.sess.SetFact(step.FactUSBSerial, "TOPO1234")
	d.run(d.m.goTo(step.Push, false))
	d.send(DoneMsg{Outcome: runrec.Success, Summary: "a step that ends well"})
	d.waitView("serial TOPO1234 is already the label of run")
	if b := d.m.bench.Session(); b.Boards[1].Label != "TOPO1234" {
		t.Errorf("second board's label %q", b.Boards[1].Label)
	}
}
