package tui

import "strings"

// Drawings of the recovery controls, by the profile's recovery.controls.
// Marks are symbols, never colour alone, so they read the same under
// NO_COLOR. Each is at most 56 columns: it fits the 80-column wizard.
var recoveryDrawings = map[string]string{
	// P3768 (Orin Nano/NX devkit) J14: a 2x6 header, odd pins on one row.
	// Only pins 9 and 10 are drawn with names: the others are not
	// confirmed in the sources (research/jetpack.md 4).
	"j14-header": strings.Join([]string{
		"Button header J14, under the module (2 x 6 pins)",
		"",
		"   1  3  5  7  9 11",
		"   o  o  o  o ┌●┐ o     9  GND",
		"   o  o  o  o └●┘ o    10  FC REC",
		"   2  4  6  8 10 12",
		"",
		"┌●┐ jumper (or a wire) across pins 9 and 10,",
		"└●┘ then power on. The pins are labelled on the carrier.",
	}, "\n"),
	"agx-orin-buttons": strings.Join([]string{
		"AGX Orin devkit buttons, left to right",
		"",
		" ┌───────┐  ┌────────────────┐  ┌───────┐",
		" │ Power │  │ Force Recovery │  │ Reset │",
		" └───────┘  └────────────────┘  └───────┘",
		"    (2)          (1) hold           (2')",
		"",
		"Off: (1) hold Force Recovery, (2) press and release",
		"     Power, (3) release Force Recovery after 2 s.",
		"On:  the same with Reset (2') instead of Power.",
	}, "\n"),
	"agx-xavier-buttons": strings.Join([]string{
		"AGX Xavier devkit buttons, left to right",
		"",
		" ┌───────┐  ┌────────────────┐  ┌───────┐",
		" │ Power │  │ Force Recovery │  │ Reset │",
		" └───────┘  └────────────────┘  └───────┘",
		"    (1)        (2) hold (4)         (3)",
		"",
		"(1) power on, (2) hold Force Recovery, (3) press and",
		"release Reset, (4) release Force Recovery after 2 s.",
	}, "\n"),
	"thor-buttons": strings.Join([]string{
		"AGX Thor devkit: the order (positions: quick-start guide)",
		"",
		" ┌────────────────┐      ┌───────┐",
		" │ Force Recovery │  +   │ Power │  (Reset if it is on)",
		" └────────────────┘      └───────┘",
		"     (1) hold            (2) press, release",
		"",
		"(3) release Force Recovery after 2 s. With the debug",
		"port connected: boardctl -t topo recovery does it all.",
	}, "\n"),
}
