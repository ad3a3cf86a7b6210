package sim

import (
	"strings"
	"sync"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/profiles"
)

// The simulated bench is the board the profile names: its flash log and
// its boot say what that board's tools and firmware say. The board's own
// names (flash target, module and carrier, device tree and its model,
// kernel console, JetPack release) come from the profile
// (profiles.Board, profiles.Releases); what depends only on the SoC is in
// chips below.

// chip is what a Tegra SoC's tools and boot firmware print the same on
// every board that has it. Sources: research/jetpack.md 1.4 (chip ids),
// the real captures in serialcon/testdata/real and
// assets/transcripts/serial (MB1 banners and lines, the TX2-era t194
// "prd-version" form), tegraflash's file names in flash/testdata/real.
type chip struct {
	id     string         // tegraflash --chip
	soc    string         // flash.sh's "SoC: Tegra 234"
	family map[int]string // flash.sh's board family by JetPack: t186ref up to R35
	brCID  string
	sku    string // Chip SKU's last byte
	mb1    []string
	mb2    []string
	cpu    string // the kernel's "Booting Linux on physical CPU 0x0 [...]"
}

var chips = map[string]chip{
	"t194": {id: "0x19", soc: "194", family: map[int]string{5: "t186ref"}, brCID: "0x88021911641f6c0c1c00000003fe0180", sku: "D0",
		mb1: []string{"[0000.033] I> MB1 (prd-version: 1.5.1.3-t194-41334769-d2a21c57)", "[0000.038] I> Boot-mode: Coldboot",
			"[0000.041] I> Chip revision : A02P", "[0000.065] I> Boot-device: QSPI"},
		mb2: []string{"[0001.949] I> Welcome to NVDisp-Init"},
		cpu: "[0x4e2f0040]"},
	"t234": {id: "0x23", soc: "234", family: map[int]string{5: "t186ref", 6: "generic", 7: "generic"}, brCID: "0x80012344705DD5032800000010FD8240", sku: "D6",
		mb1: []string{"[0000.061] I> MB1 (version: 1.4.0.1-t234-54845784-08e631ca)", "[0000.066] I> t234-A01-1-Silicon (0x12347) Prod",
			"[0000.071] I> Boot-mode : Coldboot", "[0000.091] I> Task: SE error check"},
		mb2: []string{"I> MB2 (version: 0.0.0.0-t234-54845784-562369e5)", "I> Task: ARI update carveout TZDRAM (0x50002050)"},
		cpu: "[0x410fd421]"},
	"t264": {id: "0x26", soc: "264", family: map[int]string{7: "generic"}, brCID: "0x9001264470102A4E1C00000008FF8340", sku: "A0",
		mb1: []string{"[0000.055] I> MB1 (version: 1.0.0.0-t264-0000000-00000000)", "[0000.060] I> t264-A01-1-Silicon Prod",
			"[0000.066] I> Boot-mode : Coldboot"},
		mb2: []string{"[0008.125] I> Task: Prepare Hafnium params", "[0008.131] I> BL32 EP param-hdr (type: 0x1, version: 0x1, size: 0x58, attr: 0x0)"},
		cpu: "[0x410fd801]"},
}

// flashBoard is everything a flash log names about the board.
type flashBoard struct {
	target, family, soc, chipID, chip, tegra string
	l4tMajor, l4tRevision                    string
	moduleBase                               string // "p3767-0000": the BCT files are per module family
	bpmpBoard                                string // "3767-0000-3768-0000"
	dtb, boardspec, machine, bootFlash       string
	boardID, fab, sku, rev, chipSKU, brCID   string
}

// flashBoardFor reads a Jetson profile's board; false for a board without
// a flash step.
func flashBoardFor(p *profiles.Profile) (flashBoard, bool) {
	if p == nil || p.Family != profiles.Jetson || p.Board == nil {
		return flashBoard{}, false
	}
	b := p.Board
	c, ok := chips[b.Chip]
	rel, relOK := p.Release()
	if !ok || !relOK {
		return flashBoard{}, false
	}
	major, rev, _ := strings.Cut(rel.L4T, ".")
	fb := flashBoard{target: b.Target, family: c.family[p.JetPack], soc: c.soc, chipID: c.id, chip: b.Chip, tegra: "tegra" + c.soc,
		l4tMajor: major, l4tRevision: rev, dtb: b.DTB, boardspec: b.Boardspec, bootFlash: b.BootFlash,
		chipSKU: c.sku, brCID: c.brCID}
	if fb.family == "" {
		fb.family = "generic"
	}
	fb.boardID, fb.fab, fb.sku, fb.rev = b.BoardID()
	mod, car := strings.ToLower(b.Module), strings.ToLower(b.Carrier)
	if base, _, ok := strings.Cut(mod, "-"); ok {
		fb.moduleBase = base + "-0000"
	}
	fb.bpmpBoard = strings.TrimPrefix(mod, "p") + "-" + strings.TrimPrefix(car, "p")
	fb.machine = car + "-" + mod // OE4T's MACHINE naming: carrier-module
	return fb, true
}

// defaultProfile is the board a simulated flash plays when no profile is
// given (`jetup --sim flash --script`): the Orin Nano Super devkit, the
// board the demo starts with.
var defaultProfile = sync.OnceValue(func() *profiles.Profile {
	set, _ := profiles.Load(assets.Profiles(), "")
	p, ok := set.Get("orin-nano-super-devkit")
	if !ok {
		panic("sim: the embedded profiles lost orin-nano-super-devkit")
	}
	return p
})

var defaultRuns = sync.OnceValue(func() map[string]flashRun {
	fb, _ := flashBoardFor(defaultProfile())
	return runsFor(fb)
})

// embeddedProfiles are the profiles the bench can be (tests walk them).
func embeddedProfiles() []*profiles.Profile {
	set, _ := profiles.Load(assets.Profiles(), "")
	return set.All()
}
