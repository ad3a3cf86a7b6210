package tui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/jetup/jetup/flash/detect"
	"github.com/jetup/jetup/hardware"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

// simBench is the simulated bench with its USB bus set up by cfg.
func simBench(cfg sim.USBConfig) (hardware.Edges, *sim.USB) {
	b := sim.Hardware()
	usb := sim.NewUSB(cfg)
	b.USB = usb
	return b, usb
}

// noBoardYet is a bus the board never enters on its own: the test plugs
// it in (sim.USB.Plug) once it has seen what it waits for.
var noBoardYet = sim.USBConfig{Board: sim.RecoveryBoard, AppearAfter: 24 * time.Hour}

// toRecover starts the wizard for profile in a real program and passes
// the host check.
func toRecover(t *testing.T, w, h int, profile string, b hardware.Edges) (*teatest.TestModel, *testkit.Screen, *Model) {
	t.Helper()
	tm, scr, m := startWizard(t, w, h, Options{Profile: profile, Hardware: b})
	scr.WaitFor(t, wait, "12 checks:")
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, wait, "▸ Recover")
	return tm, scr, m
}

// onRecover opens the wizard on the Recover step of profile.
func onRecover(t *testing.T, w, h int, profile string, b hardware.Edges) *driver {
	t.Helper()
	d := driveStep(t, w, h, Options{Profile: profile, Hardware: b}, step.Detect)
	d.waitView("▸ Recover")
	return d
}

func checkWidth(t *testing.T, text string, w int) {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if n := len([]rune(l)); n > w {
			t.Errorf("line %d is %d columns wide (> %d): %q", i, n, w, l)
		}
	}
}

func recoverStep(t testing.TB, m *Model) runrec.StepRecord {
	t.Helper()
	for _, s := range m.sess.Run.Snapshot().Steps {
		if s.Step == step.Detect {
			return s
		}
	}
	t.Fatal("no detect step in the run record")
	return runrec.StepRecord{}
}

// The procedure and the J14 drawing while waiting, then the board card;
// continue passes usb_instance and module on.
func TestRecoverWaitsThenShowsTheBoard(t *testing.T) {
	t.Parallel()
	for _, size := range [][2]int{{80, 24}, {200, 60}} {
		b, usb := simBench(noBoardYet)
		recoverWaitsThenShowsTheBoard(t, onRecover(t, size[0], size[1], "orin-nano-devkit", b), usb, size[0])
	}
}

// The Recover screen's walk through a real program, from the host check
// on.
func TestRecoverWalk(t *testing.T) {
	t.Parallel()
	b, usb := simBench(noBoardYet)
	tm, scr, m := toRecover(t, 80, 24, "orin-nano-devkit", b)
	recoverWaitsThenShowsTheBoard(t, &program{t: t, tm: tm, scr: scr, m: m}, usb, 80)
}

// recoverWaitsThenShowsTheBoard: the board enters recovery mode once the
// screen shows the procedure and the drawing.
func recoverWaitsThenShowsTheBoard(t *testing.T, u ui, usb *sim.USB, w int) {
	t.Helper()
	text := u.waitView("Put the board in USB recovery mode", "Connect: USB-C port of the Orin Nano devkit carrier",
		"1. Power the board off", "5. After flashing, remove the jumper",
		"Waiting for the board on USB (0955:7523, 0955:7623)")
	checkWidth(t, text, w)
	if w == 80 {
		// No room for both: the drawing is one key away.
		if strings.Contains(text, "FC REC  ") {
			t.Errorf("80x24 has no room for the drawing beside the steps:\n%s", text)
		}
		u.waitView("d: show the drawing")
		u.typ("d")
	}
	text = u.waitView("Button header J14", "┌●┐ o     9  GND", "└●┘ o    10  FC REC")
	checkWidth(t, text, w)
	usb.Plug(sim.RecoveryBoard)

	text = u.waitView("✓ Board in recovery mode", "Orin Nano 8GB (P3767-0003/-0005)",
		"USB instance 1-2 (/dev/bus/usb/001/007)", "480 Mb/s (high speed)", "0955:7523 · som orin-nano",
		"The id cannot tell", "enter: use this board for the flash step")
	checkWidth(t, text, w)
	if strings.Contains(text, "Waiting for the board") {
		t.Errorf("still waiting with the board there:\n%s", text)
	}
	u.key(tea.KeyEnter)
	u.waitView("✓ Recover", "▸ Flash")
	m := u.model()
	if m.sess.Facts[step.FactUSBInstance] != "1-2" || m.sess.Facts[step.FactModule] != "Orin Nano 8GB (P3767-0003/-0005)" {
		t.Errorf("facts %v", m.sess.Facts)
	}
	st := recoverStep(t, m)
	if st.Outcome != runrec.Success || st.Summary != "Orin Nano 8GB (P3767-0003/-0005) in recovery mode at 1-2" || len(st.Logs) != 1 {
		t.Errorf("run record %+v", st)
	}
	log, _ := os.ReadFile(filepath.Join(m.sess.Run.Dir(), st.Logs[0]))
	if !strings.Contains(string(log), "+ 1-2  0955:7523  recovery  Orin Nano 8GB") {
		t.Errorf("the log lacks the appear line:\n%s", log)
	}
	if rec := m.sess.Run.Snapshot(); rec.Facts[step.FactUSBInstance] != "1-2" {
		t.Errorf("run facts %v", rec.Facts)
	}
}

func TestRecoverSeveralBoardsLetsThePersonChoose(t *testing.T) {
	t.Parallel()
	b, usb := simBench(sim.USBConfig{Board: sim.RecoveryBoard})
	second := detect.Record{Bus: 3, Dev: 4, Path: "1", Vendor: 0x0955, Product: 0x7623, SpeedMbps: 12, Manufacturer: "NVIDIA Corp.", ProductName: "APX"}
	usb.Plug(second)
	d := onRecover(t, 80, 24, "orin-nano-devkit", b)
	text := d.waitView("2 boards in recovery mode: choose the one to flash", "▸   1-2", "  ! 3-1", "Orin Nano 4GB")
	checkWidth(t, text, 80)
	d.key(tea.KeyDown)
	text = d.waitView("▸ ! 3-1", "USB instance 3-1", "12 Mb/s (full speed)", "! linked at 12 Mb/s", "→ connect the board straight")
	checkWidth(t, text, 80)
	d.key(tea.KeyUp) // and back: the list wraps neither way wrongly
	d.waitView("▸   1-2", "USB instance 1-2")
	d.key(tea.KeyUp)
	d.waitView("▸ ! 3-1")
	d.key(tea.KeyEnter)
	d.waitView("✓ Recover")
	if d.m.sess.Facts[step.FactUSBInstance] != "3-1" || d.m.sess.Facts[step.FactModule] != "Orin Nano 4GB (P3767-0004)" {
		t.Errorf("facts %v", d.m.sess.Facts)
	}
}

func TestRecoverBoardLeavingGoesBackToWaiting(t *testing.T) {
	t.Parallel()
	b, usb := simBench(sim.USBConfig{Board: sim.RecoveryBoard})
	d := onRecover(t, 200, 60, "orin-nano-devkit", b)
	d.waitView("✓ Board in recovery mode")
	usb.Unplug(sim.RecoveryBoard.Instance())
	text := d.waitView("! The Orin Nano 8GB (P3767-0003/-0005) at 1-2 left recovery mode", "Waiting for the board on USB")
	if strings.Contains(text, "enter: use this board") {
		t.Errorf("no board, no continue:\n%s", text)
	}
	d.key(tea.KeyEnter) // nothing to continue with
	if d.m.sess.Facts[step.FactUSBInstance] != "" {
		t.Errorf("enter without a board passed one on: %v", d.m.sess.Facts)
	}
}

func TestRecoverAccessWarningNamesDoctorFix(t *testing.T) {
	t.Parallel()
	b, _ := simBench(sim.USBConfig{Board: sim.RecoveryBoard, Denied: map[string]bool{sim.RecoveryBoard.Node(): true}})
	d := onRecover(t, 80, 24, "orin-nano-devkit", b)
	text := d.waitView("! device node /dev/bus/usb/001/007 is not", "jetup doctor --fix")
	checkWidth(t, text, 80)
}

// An AGX profile with an Orin Nano on the bench: the button drawing while
// waiting, then the mismatch, a confirmation, and the way to the right
// profile.
func TestRecoverOtherModuleOffersTheProfilesThatFit(t *testing.T) {
	t.Parallel()
	b, usb := simBench(noBoardYet)
	d := onRecover(t, 200, 60, "orin-agx-devkit", b)
	d.waitView("AGX Orin devkit buttons", "│ Force Recovery │", "Waiting for the board on USB (0955:7023, 0955:7223)")
	usb.Plug(sim.RecoveryBoard)
	firstRun := d.m.sess.Run
	d.waitView("this board is Orin Nano 8GB (P3767-0003/-0005) (orin-nano), but profile orin-agx-devkit is for orin-agx",
		"switch profile to one for this module: orin-nano-devkit, orin-nano-super-devkit")
	d.key(tea.KeyEnter)
	d.waitView("The orin-agx-devkit firmware is not for this Orin Nano 8GB", "y uses it anyway, p changes the profile")
	if _, done := d.m.sess.Facts[step.FactUSBInstance]; done {
		t.Fatal("enter on another module must ask first")
	}
	d.typ("p")
	d.waitView("Which board is on the bench?", "> orin-nano-devkit")
	rec, err := runrec.Load(firstRun.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != runrec.Cancelled || rec.Steps[len(rec.Steps)-1].Outcome != runrec.Skipped {
		t.Errorf("the first run must be closed: %s %+v", rec.Outcome, rec.Steps)
	}
	d.key(tea.KeyEnter) // orin-nano-devkit: a new run, the host check again
	d.waitView("Jetson Orin Nano Developer Kit", "12 checks:")
	d.key(tea.KeyEnter)
	d.waitView("✓ Board in recovery mode", "0955:7523 · som orin-nano")
	if d.m.sess.Run == firstRun {
		t.Error("a new profile starts a new run record")
	}
}

// "y" continues with the other module when the person knows better.
func TestRecoverOtherModuleCanBeUsedAnyway(t *testing.T) {
	t.Parallel()
	b, _ := simBench(sim.USBConfig{Board: sim.RecoveryBoard})
	d := onRecover(t, 80, 24, "orin-nx-devkit", b)
	d.waitView("profile orin-nx-devkit is for orin-nx")
	d.typ("y") // not before enter has asked
	if _, done := d.m.sess.Facts[step.FactUSBInstance]; done {
		t.Fatal("y before the question used the other module")
	}
	d.key(tea.KeyEnter)
	d.waitView("y uses it anyway")
	d.typ("y")
	d.waitView("✓ Recover")
	if d.m.sess.Facts[step.FactUSBInstance] != "1-2" {
		t.Errorf("facts %v", d.m.sess.Facts)
	}
}

// countingUSB tells the test of every poll of the bus, and notes one that
// comes after the watch was seen to end.
type countingUSB struct {
	detect.Lister
	polls chan struct{}
	ended atomic.Bool
	late  atomic.Int64
}

func (c *countingUSB) List(ctx context.Context, note detect.Notef) ([]detect.Record, error) {
	if c.ended.Load() {
		c.late.Add(1)
	}
	select {
	case c.polls <- struct{}{}:
	default:
	}
	return c.Lister.List(ctx, note)
}

// Leaving the screen (s skips it) stops the watch: nothing polls the bus
// behind another step.
func TestRecoverStopsWatchingWhenLeft(t *testing.T) {
	t.Parallel()
	b, usb := simBench(noBoardYet)
	c := &countingUSB{Lister: usb, polls: make(chan struct{}, 1)}
	b.USB = c
	d := onRecover(t, 80, 24, "orin-nano-devkit", b)
	d.waitView("Waiting for the board")
	watch := d.m.active().screen.(*recoverScreen).task
	for i := 0; i < 2; i++ {
		select {
		case <-c.polls:
		case <-time.After(waitBound):
			t.Fatalf("the screen is not polling the bus (%d polls seen)", i)
		}
	}
	d.typ("s")
	d.waitView("– Recover", "▸ Flash")
	select {
	case <-watch.ended:
	case <-time.After(waitBound):
		t.Fatal("the bus watch still runs after the screen was left")
	}
	c.ended.Store(true)
	t.Cleanup(func() {
		if n := c.late.Load(); n != 0 {
			t.Errorf("the bus was polled %d times after the watch ended", n)
		}
	})
}
