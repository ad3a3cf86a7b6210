package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// The whole wizard against the simulated bench, from the profile picker to
// the summary, in a real terminal; then the run record.
func TestWizardEndToEndInTmux(t *testing.T) {
	state := t.TempDir()
	tm := newTmux(t, 80, 24, []string{"TERM=xterm-256color"}, "--sim", "--state-dir", state)
	tm.pickThroughHostCheck("rpi4")
	// Each key once its screen is up: a key sent while the previous
	// screen is still shown would land on the next one.
	tm.writeTheInstaller()
	tm.waitFor("▸ Watch", "enter continue")
	tm.keys("Enter")
	tm.waitFor("▸ Push", "Push the system to the board")
	tm.keys("s") // enter would start a push; its screen has its own tests
	tm.waitFor("▸ Verify", "Verify the board", "enter verify")
	tm.keys("s") // nothing was pushed: the checks wait for enter, s walks past
	tm.waitFor("▸ Summary", "Run record:")
	tm.keys("Enter")
	tm.waitFor("JETUP-EXIT=0")

	runs, _, err := runrec.List(state)
	if err != nil || len(runs) != 1 {
		for _, r := range runs {
			t.Logf("run %s outcome %s steps %d", r.ID, r.Outcome, len(r.Steps))
		}
		t.Fatalf("want exactly one run record, got %d (%v)", len(runs), err)
	}
	r := runs[0]
	if r.Kind != "wizard" || r.Profile != "rpi4" || !r.Sim || r.Outcome != runrec.Success || r.Ended == nil {
		t.Errorf("run record %+v", r)
	}
	var steps []string
	for _, s := range r.Steps {
		steps = append(steps, string(s.Step))
	}
	if got := strings.Join(steps, ","); got != "doctor,write,console,push,verify" {
		t.Errorf("steps %s", got)
	}
}

// A Jetson through the flash step in a real terminal: the real binary is
// its own flash helper, the simulated board fails (the card with the next
// step), retry goes back to recovery; the failed attempt is in the record.
func TestWizardFlashInTmux(t *testing.T) {
	state := t.TempDir()
	tm := newTmux(t, 80, 24, []string{"TERM=xterm-256color", "JETUP_SIM_FLASH=usb-transport", "JETUP_SIM_FLASH_SPEED=0.05"},
		"--sim", "--state-dir", state, "--profile", "orin-nano-super-devkit")
	tm.waitFor("▸ Check host", "12 checks:")
	tm.keys("Enter")
	tm.waitFor("▸ Recover", "enter: use this board")
	tm.keys("Enter")
	tm.waitFor("✗ Failed", "usb-transport:", "Next: USB trouble", "r retry from recovery")
	tm.keys("r")
	tm.waitFor("▸ Recover", "enter: use this board")
	tm.keys("q")
	tm.waitFor("JETUP-EXIT=")

	runs, _, _ := runrec.List(state)
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	var flashes []runrec.StepRecord
	for _, s := range runs[0].Steps {
		if s.Step == "flash" {
			flashes = append(flashes, s)
		}
	}
	if len(flashes) != 1 || flashes[0].Outcome != runrec.Failed || flashes[0].Cause != "usb-transport" || len(flashes[0].Logs) != 1 {
		t.Errorf("flash attempts %+v", flashes)
	}
}

// Quitting while the flash runs asks first, then ends the flash helper, the
// script and everything it started: nothing the wizard started is left.
func TestQuitWhileFlashingLeavesNoProcess(t *testing.T) {
	state := t.TempDir()
	mark := testkit.Mark(t)
	tm := newTmux(t, 80, 24, []string{"TERM=xterm-256color", mark, "JETUP_SIM_FLASH_SPEED=1"},
		"--sim", "--state-dir", state, "--profile", "orin-nano-devkit")
	tm.waitFor("▸ Check host", "12 checks:")
	tm.keys("Enter")
	tm.waitFor("enter: use this board")
	tm.keys("Enter")
	tm.waitFor("▸ Probe the board")
	// jetup, its flash helper, the script and its sleep at the least.
	if n := len(testkit.Marked(mark)); n < 3 {
		t.Fatalf("only %d marked processes while flashing: the test would prove nothing", n)
	}
	tm.keys("q")
	tm.waitFor("Quit and stop it?")
	tm.keys("y")
	tm.waitFor("JETUP-EXIT=")
	// The pane's shell carries the mark too; it waits in `sleep 30` now.
	// What jetup ended may take a moment to exit: each is awaited through
	// its pidfd.
	cmdline := func(pid int) string {
		raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		return strings.ReplaceAll(string(raw), "\x00", " ")
	}
	var ours []int
	for _, pid := range testkit.Marked(mark) {
		if c := cmdline(pid); !strings.HasPrefix(c, "bash ") && !strings.HasPrefix(c, "sleep 30") {
			ours = append(ours, pid)
		}
	}
	var left []string
	for _, pid := range testkit.WaitGone(ours, time.Minute) {
		left = append(left, fmt.Sprintf("%d %s", pid, cmdline(pid)))
	}
	if len(left) > 0 {
		t.Fatalf("left behind after quitting mid-flash:\n%s", strings.Join(left, "\n"))
	}
	runs, _, _ := runrec.List(state)
	if len(runs) != 1 || runs[0].Outcome != runrec.Cancelled {
		t.Fatalf("run record %+v", runs)
	}
	last := runs[0].Steps[len(runs[0].Steps)-1]
	if last.Step != "flash" || last.Outcome == runrec.Running || last.Outcome == runrec.Success {
		t.Errorf("the flash attempt is recorded as %s", last.Outcome)
	}
}

// A Jetson from the box to a pushed system in a real terminal, at 20 times
// the demo's pace: pick the board, check the host, recover, flash, write the
// installer, watch it boot to the shell and set up SSH from the console (k),
// push with the host key vouched by the console, summary. Then the record.
func TestJetsonFlowEndToEndInTmux(t *testing.T) {
	home := sshHomeFor(t)
	state := t.TempDir()
	tm := newTmux(t, 80, 24, []string{"TERM=xterm-256color", "HOME=" + home, "SSH_AUTH_SOCK="},
		"--sim", "--sim-speed", "20", "--state-dir", state)
	tm.pickThroughHostCheck("orin-nano-super-devkit")
	tm.recoverThroughVerify()
	tm.waitFor("▸ Summary", "192.168.55.1", "all 8 checks passed", "In all")
	tm.keys("Enter")
	tm.waitFor("JETUP-EXIT=0")

	runs, _, err := runrec.List(state)
	if err != nil || len(runs) != 1 {
		t.Fatalf("want one run record, got %d (%v)", len(runs), err)
	}
	r := runs[0]
	if r.Profile != "orin-nano-super-devkit" || r.Outcome != runrec.Success || !r.Sim {
		t.Errorf("run %s profile %s outcome %s", r.ID, r.Profile, r.Outcome)
	}
	var got []string
	for _, s := range r.Steps {
		got = append(got, string(s.Step)+":"+string(s.Outcome))
	}
	want := "doctor:success detect:success flash:success write:success console:success push:success verify:success"
	if strings.Join(got, " ") != want {
		t.Errorf("steps %s\nwant  %s", strings.Join(got, " "), want)
	}
	for _, k := range []string{step.FactUSBInstance, step.FactModule, step.FactIP, step.FactHostname, step.FactHostKey} {
		if r.Facts[k] == "" {
			t.Errorf("fact %s not recorded (facts %v)", k, r.Facts)
		}
	}
	for _, log := range []string{"flash.log", "console.raw", "console.log", "verify.log"} {
		if st, err := os.Stat(filepath.Join(state, "runs", r.ID, log)); err != nil || st.Size() == 0 {
			t.Errorf("log %s: %v", log, err)
		}
	}
}
