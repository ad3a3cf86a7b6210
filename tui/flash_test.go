package tui

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/jetup/jetup/flash"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

// The test binary doubles as the flash helper, as jetup does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == flash.HelperArg {
		os.Exit(flash.HelperMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

const flashWait = 60 * time.Second

// toFlash starts the wizard on the simulated Orin Nano, passes the host
// check, takes the board the Recover screen finds and so reaches the flash.
func toFlash(t *testing.T, w, h int, outcome, speed string) (*Model, *teatest.TestModel, func(...string) string, func(string)) {
	t.Helper()
	testkit.NeedCommands(t, "sh", "sleep")
	t.Setenv("JETUP_SIM_FLASH", outcome)
	t.Setenv("JETUP_SIM_FLASH_SPEED", speed)
	b, _ := simBench(sim.USBConfig{Board: sim.RecoveryBoard})
	tm, scr, m := toRecover(t, w, h, "orin-nano-super-devkit", b)
	waitFor := func(want ...string) string { t.Helper(); return scr.WaitFor(t, flashWait, want...) }
	typ := func(s string) { tm.Type(s) }
	waitFor("enter: use this board for the flash step")
	press(tm, tea.KeyEnter)
	waitFor("▸ Flash")
	return m, tm, waitFor, typ
}

func TestFlashScreenSuccessAtBothSizes(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {200, 60}} {
		t.Run(strconv.Itoa(size[0]), func(t *testing.T) {
			m, _, waitFor, _ := toFlash(t, size[0], size[1], "success", "0.05")
			text := waitFor("▸ Flash", "Flash the boot firmware", "Probe the board", "RCM boot over USB", "c cancel flash")
			checkWidth(t, text, size[0])
			text = waitFor("✓ Flashed", "✓ Write the boot firmware", "step 14/14", "⏱")
			checkWidth(t, text, size[0])
			if size[0] == 200 && !strings.Contains(text, "│ Device reported flashing succeeded") {
				t.Errorf("no output tail at 200x60:\n%s", text)
			}
			// It moves on by itself: the board is booting.
			waitFor("✓ Flash", "▸ Write")
			rec := m.sess.Run.Snapshot()
			var fl *runrec.StepRecord
			for i := range rec.Steps {
				if rec.Steps[i].Step == step.Flash {
					fl = &rec.Steps[i]
				}
			}
			if fl == nil || fl.Outcome != runrec.Success || len(fl.Logs) != 1 || !strings.Contains(string(fl.Details), "success") {
				t.Fatalf("flash record %+v", fl)
			}
			raw, _ := os.ReadFile(filepath.Join(m.sess.Run.Dir(), fl.Logs[0]))
			if !bytes.Contains(raw, []byte("Flashing platform firmware successful")) {
				t.Errorf("raw log incomplete:\n%s", raw)
			}
		})
	}
}

func TestFlashScreenFailureCardAndRetryFromRecovery(t *testing.T) {
	m, tm, waitFor, typ := toFlash(t, 80, 24, "rcm-rejected", "0.02")
	text := waitFor("✗ Failed", "rcm-rejected: the board rejected", "Next: Power-cycle", "r retry from recovery", "✗ RCM boot over USB")
	checkWidth(t, text, 80)
	if strings.Contains(text, "c cancel") {
		t.Error("cancel offered after the end")
	}
	typ("r")
	waitFor("▸ Recover", "enter: use this board for the flash step")
	press(tm, tea.KeyEnter)
	waitFor("▸ Flash", "rcm-rejected: the board rejected")
	// Two attempts, each with its own log.
	deadline := time.Now().Add(flashWait)
	for {
		var flashes []runrec.StepRecord
		for _, s := range m.sess.Run.Snapshot().Steps {
			if s.Step == step.Flash {
				flashes = append(flashes, s)
			}
		}
		if len(flashes) == 2 && flashes[1].Outcome == runrec.Failed {
			if flashes[0].Cause != "rcm-rejected" || flashes[1].Logs[0] != "flash-2.log" || flashes[0].Next == "" {
				t.Errorf("attempts %+v", flashes)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("attempts %+v", flashes)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestFlashScreenCancelEndsEverything(t *testing.T) {
	mark := testkit.Mark(t)
	k, v, _ := strings.Cut(mark, "=")
	t.Setenv(k, v)
	m, _, waitFor, typ := toFlash(t, 80, 24, "success", "1")
	waitFor("▸ Probe the board")
	typ("c")
	text := waitFor("– Cancelled", "Power-cycle", "r retry from recovery")
	if !strings.Contains(text, "– Probe the board") && !strings.Contains(text, "– RCM boot") {
		t.Errorf("the stage where it stopped is not marked:\n%s", text)
	}
	for _, s := range m.sess.Run.Snapshot().Steps {
		if s.Step == step.Flash && s.Outcome != runrec.Cancelled {
			t.Errorf("recorded %s", s.Outcome)
		}
	}
	time.Sleep(200 * time.Millisecond)
	for _, pid := range testkit.Marked(mark) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("process %d outlived the cancelled flash", pid)
	}
}
