package profiles

import (
	"fmt"
	"strings"
)

// Board is what the hardware says about itself: the names its firmware,
// flash tools and kernel print. jetup checks a console or a flash log
// against them, and the simulated bench prints them, so each profile's
// board is the one the person has on the bench. The values come from
// research/jetpack.md 1.2 (flash targets, board ids), the kernels' device
// trees (the model strings) and OE4T meta-tegra's machine files (module,
// carrier, device tree blob); each profile file names its sources.
type Board struct {
	// Chip is the SoC: t194 (Xavier), t234 (Orin), t264 (Thor), bcm2837
	// (Pi 3), bcm2711 (Pi 4).
	Chip string `yaml:"chip" json:"chip"`
	// Module and Carrier are the NVIDIA part numbers ("P3767-0005" on
	// "P3768-0000").
	Module  string `yaml:"module,omitempty" json:"module,omitempty"`
	Carrier string `yaml:"carrier,omitempty" json:"carrier,omitempty"`
	// Target is the flash.sh board configuration the flash script uses
	// (flashScriptOverrides.targetBoard): "jetson-orin-nano-devkit-super".
	Target string `yaml:"target,omitempty" json:"target,omitempty"`
	// Boardspec is the module's id as flash-from-device matches it:
	// board id, fab, SKU, revision, fuse level, chip revision.
	Boardspec string `yaml:"boardspec,omitempty" json:"boardspec,omitempty"`
	// DTB is the kernel device tree the firmware passes.
	DTB string `yaml:"dtb,omitempty" json:"dtb,omitempty"`
	// Model is the device tree's model: the kernel's "Machine model:".
	Model string `yaml:"model" json:"model"`
	// FirmwareModel is how the boot firmware names the board when it
	// does (U-Boot's "RPI 4 Model B (0xc03111)").
	FirmwareModel string `yaml:"firmware_model,omitempty" json:"firmware_model,omitempty"`
	// BootFlash is where the boot firmware lives: "qspi" (Orin, Thor,
	// Xavier NX) or "emmc" (AGX Xavier: its boot partitions).
	BootFlash string `yaml:"boot_flash,omitempty" json:"boot_flash,omitempty"`
}

// BoardID is the module's board id, fab, SKU and revision from Boardspec
// ("3767", "300", "0005", "L.3").
func (b *Board) BoardID() (id, fab, sku, rev string) {
	f := strings.SplitN(b.Boardspec, "-", 5)
	for len(f) < 4 {
		f = append(f, "")
	}
	return f[0], f[1], f[2], f[3]
}

// Release is one JetPack major's Jetson Linux (L4T) release as
// jetpack-nixos packages it: the firmware's version and the kernel's.
type Release struct {
	JetPack int
	L4T     string // "36.4.3": the UEFI firmware reports it (with a build hash)
	Kernel  string // the NVIDIA kernel of that release
}

// Releases are the JetPack majors jetpack-nixos builds (research/jetpack.md
// 1.1-1.2: JP5 = L4T R35 for Xavier and Orin, JP6 = R36 for Orin, JP7 = R38
// for Thor and Orin). L4T versions: jetpack-nixos #262 (35.6.0), #319
// (36.4.3), PR #345 (38.2.0); kernels: NVIDIA's Jetson Linux release notes
// for those releases (5.10, 5.15, 6.8 series).
var Releases = map[int]Release{
	5: {JetPack: 5, L4T: "35.6.0", Kernel: "5.10.216-tegra"},
	6: {JetPack: 6, L4T: "36.4.3", Kernel: "5.15.148-tegra"},
	7: {JetPack: 7, L4T: "38.2.0", Kernel: "6.8.12-tegra"},
}

// Release is the profile's JetPack release; false for a board without one.
func (p *Profile) Release() (Release, bool) {
	r, ok := Releases[p.JetPack]
	return r, ok
}

// describeBoard is Describe's line about the hardware.
func (b *Board) describe() string {
	var parts []string
	if b.Module != "" {
		s := "module " + b.Module
		if b.Carrier != "" {
			s += " on carrier " + b.Carrier
		}
		parts = append(parts, s)
	}
	if b.Target != "" {
		parts = append(parts, "flash target "+b.Target)
	}
	if b.Model != "" {
		parts = append(parts, fmt.Sprintf("Linux says %q", b.Model))
	}
	return strings.Join(parts, ", ")
}
