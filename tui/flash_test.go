package tui

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/flash"
	"github.com/jetup/jetup/hardware"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

// flashBench is the simulated bench with the Orin Nano in recovery mode
// and a flash that ends in outcome (success or a cause id), its pauses
// scaled by speed (1: a realistic half minute; 0: none).
func flashBench(t *testing.T, outcome string, speed float64) hardware.Edges {
	t.Helper()
	testkit.NeedCommands(t, "sh", "sleep")
	b, _ := simBench(sim.USBConfig{Board: sim.RecoveryBoard})
	b.Flash = &sim.FlashEdge{Outcome: outcome, Speed: speed}
	return b
}

// onFlash opens the wizard on the Flash step of the Orin Nano Super
// devkit, with the board the Recover step would have passed on.
func onFlash(t *testing.T, w, h int, b hardware.Edges) *driver {
	t.Helper()
	d := newDriver(t, Options{Profile: "orin-nano-super-devkit", Hardware: b})
	d.m.sess.Facts[step.FactUSBInstance] = sim.RecoveryBoard.Instance()
	d.m.sess.Facts[step.FactModule] = "Orin Nano 8GB (P3767-0003/-0005)"
	d.openStep(w, h, step.Flash)
	return d
}

func TestFlashScreenSuccessAtBothSizes(t *testing.T) {
	t.Parallel()
	for _, size := range [][2]int{{80, 24}, {200, 60}} {
		d := onFlash(t, size[0], size[1], flashBench(t, "success", 0))
		flashSucceeds(t, d, size[0])
		// enter moves on at once.
		d.key(tea.KeyEnter)
		d.waitView("✓ Flash", "▸ Write")
		flashRecorded(t, d.m)
	}
}

// The Flash screen's walk through a real program, from the Recover step:
// after a success it moves on by itself, the board is booting.
func TestFlashWalk(t *testing.T) {
	t.Parallel()
	tm, scr, m := toRecover(t, 80, 24, "orin-nano-super-devkit", flashBench(t, "success", 0.05))
	p := &program{t: t, tm: tm, scr: scr, m: m}
	p.waitView("enter: use this board for the flash step")
	p.key(tea.KeyEnter)
	p.waitView("▸ Flash")
	flashSucceeds(t, p, 80)
	p.waitView("✓ Flash", "▸ Write")
	flashRecorded(t, m)
}

func flashSucceeds(t *testing.T, u ui, w int) {
	t.Helper()
	text := u.waitView("▸ Flash", "Flash the boot firmware", "Probe the board", "RCM boot over USB", "c cancel flash")
	checkWidth(t, text, w)
	text = u.waitView("✓ Flashed", "✓ Write the boot firmware", "step 14/14", "⏱", "enter continue")
	checkWidth(t, text, w)
	if w == 200 && !strings.Contains(text, "│ Device reported flashing succeeded") {
		t.Errorf("no output tail at 200x60:\n%s", text)
	}
	if strings.Contains(text, "c cancel") {
		t.Error("cancel offered after the end")
	}
}

// flashRecorded checks the run record of a successful flash.
func flashRecorded(t *testing.T, m *Model) {
	t.Helper()
	rec := m.sess.Run.Snapshot()
	var fl *runrec.StepRecord
	for i := range rec.Steps {
		if rec.Steps[i].Step == step.Flash {
			fl = &rec.Steps[i]
		}
	}
	if fl == nil || fl.Outcome != runrec.Success || len(fl.Logs) != 1 || !strings.Contains(string(fl.Details), "success") ||
		!strings.HasPrefix(fl.Summary, "flashed in ") {
		t.Fatalf("flash record %+v", fl)
	}
	raw, _ := os.ReadFile(filepath.Join(m.sess.Run.Dir(), fl.Logs[0]))
	if !bytes.Contains(raw, []byte("Flashing platform firmware successful")) {
		t.Errorf("raw log incomplete:\n%s", raw)
	}
}

func TestFlashScreenFailureCardAndRetryFromRecovery(t *testing.T) {
	t.Parallel()
	d := onFlash(t, 80, 24, flashBench(t, "rcm-rejected", 0))
	text := d.waitView("✗ Failed", "rcm-rejected: the board rejected", "Next: Power-cycle", "r retry from recovery", "✗ RCM boot over USB")
	checkWidth(t, text, 80)
	if strings.Contains(text, "c cancel") {
		t.Error("cancel offered after the end")
	}
	d.typ("r")
	d.waitView("▸ Recover", "enter: use this board for the flash step")
	d.key(tea.KeyEnter)
	d.waitView("▸ Flash", "rcm-rejected: the board rejected")
	// Two attempts, each with its own log.
	var flashes []runrec.StepRecord
	d.until("the second flash attempt to be recorded as failed", func() bool {
		flashes = d.steps(step.Flash)
		return len(flashes) == 2 && flashes[1].Outcome == runrec.Failed
	})
	if flashes[0].Cause != "rcm-rejected" || flashes[1].Logs[0] != "flash-2.log" || flashes[0].Next == "" {
		t.Errorf("attempts %+v", flashes)
	}
}

// A retry pressed while the failed attempt's end is still on its way to
// the root: the attempt is recorded as failed (not "left for Recover"),
// and the end arriving late does not end the Recover step's attempt.
func TestFlashRetryBeforeTheRootHasTheFailure(t *testing.T) {
	t.Parallel()
	d := onFlash(t, 80, 24, flashBench(t, "rcm-rejected", 0))
	first := true // only the first end is held; the retry's own goes through
	d.holdBack(func(msg tea.Msg) bool {
		_, ok := msg.(DoneMsg)
		ok, first = ok && first, first && !ok
		return ok
	})
	d.waitView("✗ Failed", "r retry from recovery")
	d.until("the flash's end to be on its way to the root", func() bool { return d.heldCount() == 1 })
	d.typ("r")
	d.waitView("▸ Recover")
	d.release()
	flashes := d.steps(step.Flash)
	if len(flashes) != 1 || flashes[0].Outcome != runrec.Failed || flashes[0].Cause != "rcm-rejected" {
		t.Errorf("flash attempts %+v", flashes)
	}
	if detects := d.steps(step.Detect); len(detects) != 1 || detects[0].Outcome != runrec.Running {
		t.Errorf("the Recover step's attempt after the late end: %+v", detects)
	}
}

func TestFlashScreenCancelEndsEverything(t *testing.T) {
	mark := testkit.Mark(t)
	k, v, _ := strings.Cut(mark, "=")
	t.Setenv(k, v)
	d := onFlash(t, 80, 24, flashBench(t, "success", 1))
	d.waitView("▸ Probe the board")
	d.typ("c")
	text := d.waitView("– Cancelled", "Power-cycle", "r retry from recovery")
	if !strings.Contains(text, "– Probe the board") && !strings.Contains(text, "– RCM boot") {
		t.Errorf("the stage where it stopped is not marked:\n%s", text)
	}
	d.waitAttempt(step.Flash, "cancelled", outcome(runrec.Cancelled))
	if n := len(d.steps(step.Flash)); n != 1 {
		t.Errorf("%d flash attempts, want 1", n)
	}
	// The card shows once the flash has returned, and it returns once
	// the helper has ended every process it started.
	for _, pid := range testkit.Marked(mark) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("process %d outlived the cancelled flash", pid)
	}
}

// A real board's flash holds the host's flash lock besides the state
// dir's; the simulated bench's takes only its state dir's, so the tests
// that flash it at once stay apart.
func TestOnlyARealBoardsFlashHoldsTheHostsLock(t *testing.T) {
	for _, simulated := range []bool{true, false} {
		b := flashBench(t, "success", 0)
		b.Sim = simulated
		f := newFlashScreen(newSession(b, t.TempDir(), "test"), DefaultStyles()).(*flashScreen)
		o, err := f.options()
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]string{true: "", false: flash.HostLockName}[simulated]; o.HostLock != want || o.Lock == "" {
			t.Errorf("simulated %v: host lock %q, state dir's %q; want host lock %q and the state dir's", simulated, o.HostLock, o.Lock, want)
		}
	}
}
