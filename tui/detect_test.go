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

// toRecover starts the wizard for profile and passes the host check.
func toRecover(t *testing.T, w, h int, profile string, b hardware.Edges) (*teatest.TestModel, *testkit.Screen, *Model) {
	t.Helper()
	tm, scr, m := startWizard(t, w, h, Options{Profile: profile, Hardware: b})
	scr.WaitFor(t, wait, "11 checks:")
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, wait, "▸ Recover")
	return tm, scr, m
}

func checkWidth(t *testing.T, text string, w int) {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if n := len([]rune(l)); n > w {
			t.Errorf("line %d is %d columns wide (> %d): %q", i, n, w, l)
		}
	}
}

func recoverStep(t *testing.T, m *Model) runrec.StepRecord {
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
	for _, size := range [][2]int{{80, 24}, {200, 60}} {
		w, h := size[0], size[1]
		// The board enters recovery mode once the test has seen the
		// screen wait for it.
		b, usb := simBench(noBoardYet)
		tm, scr, m := toRecover(t, w, h, "orin-nano-devkit", b)
		text := scr.WaitFor(t, wait, "Put the board in USB recovery mode", "Connect: USB-C port of the Orin Nano devkit carrier",
			"1. Power the board off", "5. After flashing, remove the jumper",
			"Waiting for the board on USB (0955:7523, 0955:7623)")
		checkWidth(t, text, w)
		if w == 80 {
			// No room for both: the drawing is one key away.
			if strings.Contains(text, "FC REC  ") {
				t.Errorf("80x24 has no room for the drawing beside the steps:\n%s", text)
			}
			scr.WaitFor(t, wait, "d: show the drawing")
			tm.Type("d")
		}
		text = scr.WaitFor(t, wait, "Button header J14", "┌●┐ o     9  GND", "└●┘ o    10  FC REC")
		checkWidth(t, text, w)
		usb.Plug(sim.RecoveryBoard)

		text = scr.WaitFor(t, wait, "✓ Board in recovery mode", "Orin Nano 8GB (P3767-0003/-0005)",
			"USB instance 1-2 (/dev/bus/usb/001/007)", "480 Mb/s (high speed)", "0955:7523 · som orin-nano",
			"The id cannot tell", "enter: use this board for the flash step")
		checkWidth(t, text, w)
		if strings.Contains(text, "Waiting for the board") {
			t.Errorf("still waiting with the board there:\n%s", text)
		}
		press(tm, tea.KeyEnter)
		scr.WaitFor(t, wait, "✓ Recover", "▸ Flash")
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
}

func TestRecoverSeveralBoardsLetsThePersonChoose(t *testing.T) {
	b, usb := simBench(sim.USBConfig{Board: sim.RecoveryBoard})
	second := detect.Record{Bus: 3, Dev: 4, Path: "1", Vendor: 0x0955, Product: 0x7623, SpeedMbps: 12, Manufacturer: "NVIDIA Corp.", ProductName: "APX"}
	usb.Plug(second)
	tm, scr, m := toRecover(t, 80, 24, "orin-nano-devkit", b)
	text := scr.WaitFor(t, wait, "2 boards in recovery mode: choose the one to flash", "▸   1-2", "  ! 3-1", "Orin Nano 4GB")
	checkWidth(t, text, 80)
	press(tm, tea.KeyDown)
	text = scr.WaitFor(t, wait, "▸ ! 3-1", "USB instance 3-1", "12 Mb/s (full speed)", "! linked at 12 Mb/s", "→ connect the board straight")
	checkWidth(t, text, 80)
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, wait, "✓ Recover")
	if m.sess.Facts[step.FactUSBInstance] != "3-1" || m.sess.Facts[step.FactModule] != "Orin Nano 4GB (P3767-0004)" {
		t.Errorf("facts %v", m.sess.Facts)
	}
}

func TestRecoverBoardLeavingGoesBackToWaiting(t *testing.T) {
	b, usb := simBench(sim.USBConfig{Board: sim.RecoveryBoard})
	_, scr, _ := toRecover(t, 200, 60, "orin-nano-devkit", b)
	scr.WaitFor(t, wait, "✓ Board in recovery mode")
	usb.Unplug(sim.RecoveryBoard.Instance())
	text := scr.WaitFor(t, wait, "! The Orin Nano 8GB (P3767-0003/-0005) at 1-2 left recovery mode", "Waiting for the board on USB")
	if strings.Contains(text, "enter: use this board") {
		t.Errorf("no board, no continue:\n%s", text)
	}
}

func TestRecoverAccessWarningNamesDoctorFix(t *testing.T) {
	b, _ := simBench(sim.USBConfig{Board: sim.RecoveryBoard, Denied: map[string]bool{sim.RecoveryBoard.Node(): true}})
	_, scr, _ := toRecover(t, 80, 24, "orin-nano-devkit", b)
	text := scr.WaitFor(t, wait, "! device node /dev/bus/usb/001/007 is not", "jetup doctor --fix")
	checkWidth(t, text, 80)
}

// An AGX profile with an Orin Nano on the bench: the button drawing while
// waiting, then the mismatch, a confirmation, and the way to the right
// profile.
func TestRecoverOtherModuleOffersTheProfilesThatFit(t *testing.T) {
	b, usb := simBench(noBoardYet)
	tm, scr, m := toRecover(t, 200, 60, "orin-agx-devkit", b)
	scr.WaitFor(t, wait, "AGX Orin devkit buttons", "│ Force Recovery │", "Waiting for the board on USB (0955:7023, 0955:7223)")
	usb.Plug(sim.RecoveryBoard)
	firstRun := m.sess.Run
	scr.WaitFor(t, wait, "this board is Orin Nano 8GB (P3767-0003/-0005) (orin-nano), but profile orin-agx-devkit is for orin-agx",
		"switch profile to one for this module: orin-nano-devkit, orin-nano-super-devkit")
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, wait, "The orin-agx-devkit firmware is not for this Orin Nano 8GB", "y uses it anyway, p changes the profile")
	if _, done := m.sess.Facts[step.FactUSBInstance]; done {
		t.Fatal("enter on another module must ask first")
	}
	tm.Type("p")
	scr.WaitFor(t, wait, "Which board is on the bench?", "> orin-nano-devkit")
	rec, err := runrec.Load(firstRun.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != runrec.Cancelled || rec.Steps[len(rec.Steps)-1].Outcome != runrec.Skipped {
		t.Errorf("the first run must be closed: %s %+v", rec.Outcome, rec.Steps)
	}
	press(tm, tea.KeyEnter) // orin-nano-devkit: a new run, the host check again
	scr.WaitFor(t, wait, "Jetson Orin Nano Developer Kit", "11 checks:")
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, wait, "✓ Board in recovery mode", "0955:7523 · som orin-nano")
	if m.sess.Run == firstRun {
		t.Error("a new profile starts a new run record")
	}
}

// "y" continues with the other module when the person knows better.
func TestRecoverOtherModuleCanBeUsedAnyway(t *testing.T) {
	b, _ := simBench(sim.USBConfig{Board: sim.RecoveryBoard})
	tm, scr, m := toRecover(t, 80, 24, "orin-nx-devkit", b)
	scr.WaitFor(t, wait, "profile orin-nx-devkit is for orin-nx")
	press(tm, tea.KeyEnter)
	scr.WaitFor(t, wait, "y uses it anyway")
	tm.Type("y")
	scr.WaitFor(t, wait, "✓ Recover")
	if m.sess.Facts[step.FactUSBInstance] != "1-2" {
		t.Errorf("facts %v", m.sess.Facts)
	}
}

// countingUSB counts the polls of the bus.
type countingUSB struct {
	detect.Lister
	n atomic.Int64
}

func (c *countingUSB) List(ctx context.Context, note detect.Notef) ([]detect.Record, error) {
	c.n.Add(1)
	return c.Lister.List(ctx, note)
}

// Leaving the screen (s skips it) stops the watch: nothing polls the bus
// behind another step.
func TestRecoverStopsWatchingWhenLeft(t *testing.T) {
	b, usb := simBench(sim.USBConfig{Board: sim.RecoveryBoard, AppearAfter: time.Hour})
	c := &countingUSB{Lister: usb}
	b.USB = c
	tm, scr, _ := toRecover(t, 80, 24, "orin-nano-devkit", b)
	scr.WaitFor(t, wait, "Waiting for the board")
	time.Sleep(600 * time.Millisecond)
	if c.n.Load() < 2 {
		t.Fatalf("the screen is not polling: %d lists", c.n.Load())
	}
	tm.Type("s")
	scr.WaitFor(t, wait, "– Recover", "▸ Flash")
	time.Sleep(100 * time.Millisecond)
	before := c.n.Load()
	time.Sleep(700 * time.Millisecond)
	if after := c.n.Load(); after != before {
		t.Errorf("the bus is still polled after leaving the screen: %d -> %d", before, after)
	}
}
