package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/jetup/jetup/flash"
	"github.com/jetup/jetup/profiles"
)

// FlashEdge is the simulated board for the flash step. Instead of a nix
// build it hands out a real shell script that replays a composed run
// (flashruns.go) with its pacing and exit code, hang at "Entering console"
// included; jetup runs it through the same helper, pty and classifier as a
// real flash. It needs no root and leaves USB autosuspend alone.
//
// JETUP_SIM_FLASH picks what the board does: "success" (the default) or a
// cause id (FlashOutcomes); "no-recovery-device" also keeps the board off
// the bus FlashUSB simulates. The pacing follows the bench's speed (at 1 a
// realistic half-minute run); JETUP_SIM_FLASH_SPEED overrides it for tests. JETUP_SIM_FLASH_SUDO=1 makes the
// script need root as the real one does, so a person who is not root sees
// jetup's sudo prompt.
type FlashEdge struct {
	Outcome string
	Speed   float64
	Root    bool

	once sync.Once
	dir  string
	err  error
}

// NewFlashEdge reads JETUP_SIM_FLASH and the bench's speed;
// JETUP_SIM_FLASH_SPEED, a test knob, scales the flash's pauses alone
// (0: none at all).
func NewFlashEdge() *FlashEdge {
	e := &FlashEdge{Outcome: os.Getenv("JETUP_SIM_FLASH"), Speed: 1 / Speed(), Root: os.Getenv("JETUP_SIM_FLASH_SUDO") == "1"}
	if s, err := strconv.ParseFloat(os.Getenv("JETUP_SIM_FLASH_SPEED"), 64); err == nil && s >= 0 {
		e.Speed = s
	}
	return e
}

func (e *FlashEdge) outcome() string {
	if e.Outcome == "" {
		return "success"
	}
	return e.Outcome
}

// NeedsRoot: the simulated script needs no root unless asked to.
func (e *FlashEdge) NeedsRoot() bool { return e.Root }

// Autosuspend: the host's USB settings are left alone.
func (e *FlashEdge) Autosuspend() string { return "" }

// FlashUSB is the simulated bus for a headless `jetup --sim flash`: the
// board of recovery id ("0955:7523") is in recovery mode already, unless
// JETUP_SIM_FLASH=no-recovery-device says it is not there at all.
func FlashUSB(id string) *USB {
	u := DemoUSBFor(id)
	u.cfg.AppearAfter = 0
	if os.Getenv("JETUP_SIM_FLASH") == string(flash.CauseNoRecoveryDevice) {
		u.cfg.AppearAfter = 1 << 62
	}
	return u
}

// Script writes the replay script for the profile and returns its path.
func (e *FlashEdge) Script(_ context.Context, p *profiles.Profile) (string, error) {
	runs := defaultRuns()
	if p != nil && p.Family != profiles.Jetson {
		return "", fmt.Errorf("the simulated %s has no flash step", p.Title)
	}
	// The board on the bench is the profile's: its flash log names its
	// own target, module and release (a profile without board data
	// plays the default board).
	if fb, ok := flashBoardFor(p); ok {
		runs = runsFor(fb)
	}
	run, ok := runs[e.outcome()]
	if !ok {
		return "", fmt.Errorf("JETUP_SIM_FLASH=%q: the simulated board knows %s", e.Outcome, strings.Join(FlashOutcomes(), ", "))
	}
	e.once.Do(func() {
		var base string
		if base, e.err = workDir(); e.err == nil {
			e.dir, e.err = os.MkdirTemp(base, "flash-")
		}
	})
	if e.err != nil {
		return "", e.err
	}
	name := "initrd-flash-sim"
	if p != nil && p.Flash != nil && p.Flash.Script != "" {
		name = p.Flash.Script
	}
	dir, err := os.MkdirTemp(e.dir, e.outcome()+"-")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "flash.replay"), []byte(replayData(run, e.Speed)), 0o644); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, []byte(replayScript(run, e.Speed)), 0o755)
}

// replayScript is a POSIX shell script that plays flash.replay next to it.
func replayScript(r flashRun, speed float64) string {
	half := fmt.Sprintf("%.3f", 0.5*speed)
	// A run that ends at the console takes the Ctrl-C from the start: jetup
	// may send it as soon as "Entering console" is out, before the replay
	// loop is done.
	trap := ""
	if r.end == "console" {
		trap = `trap 'printf "\nFlashing may have failed\n"; exit 1' INT` + "\n"
	}
	return `#!/bin/sh
# jetup --sim: a simulated jetpack-nixos flash script. It replays a composed
# run (see sim/flashruns.go in jetup) with its pacing and exit code.
data="$(dirname "$0")/flash.replay"
` + trap + `while IFS='	' read -r d k t; do
  case "$d" in 0.000) ;; *) sleep "$d" ;; esac
  if [ "$k" = n ]; then printf '%s' "$t"; else printf '%s\n' "$t"; fi
done < "$data"
case ` + r.end + ` in
console)
  # Like expect's interact after "Entering console": wait for the keyboard;
  # Ctrl-C ends it as the real script does (the trap is set above).
  while :; do sleep 1; done ;;
loop)
  # tegrarcm polls a board that never answers (jetpack-nixos #29).
  n=2
  while :; do
    printf '[ %4d.1000 ] tegrarcm_v2 --isapplet\n' "$n"
    sleep ` + half + `
    printf '[ %4d.6000 ] USB communication failed.Check if device is in recovery\n' "$n"
    sleep ` + half + `
    n=$((n + 1))
  done ;;
esac
exit ` + strconv.Itoa(r.code) + `
`
}
