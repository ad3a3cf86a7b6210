package main

import (
	"testing"

	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// The Recover step end to end in a real terminal: the simulated Orin Nano
// enters recovery mode a few seconds after the screen starts looking, the
// card shows it, and enter hands its usb_instance to the flash step.
func TestE2ERecoverFindsTheSimulatedBoard(t *testing.T) {
	state := t.TempDir()
	tm := newTmux(t, 80, 24, []string{"TERM=xterm-256color"}, "--sim", "--state-dir", state, "--profile", "orin-nano-devkit")
	tm.waitFor("▸ Check host", "12 checks:")
	tm.keys("Enter")
	tm.waitFor("▸ Recover", "1. Power the board off", "Waiting for the board on USB")
	tm.waitFor("✓ Board in recovery mode", "USB instance 1-2", "480 Mb/s (high speed)")
	tm.keys("Enter")
	tm.waitFor("✓ Recover", "▸ Flash")
	// The flash has started with the board: quitting asks first.
	tm.keys("q")
	tm.waitFor("Quit and stop it?")
	tm.keys("y")
	tm.waitFor("JETUP-EXIT=")

	runs, _, err := runrec.List(state)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %v %v", runs, err)
	}
	r := runs[0]
	if r.Facts[step.FactUSBInstance] != "1-2" || r.Facts[step.FactModule] != "Orin Nano 8GB (P3767-0003/-0005)" {
		t.Errorf("facts %v", r.Facts)
	}
}
