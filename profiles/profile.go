package profiles

import (
	"fmt"
	"strings"

	"github.com/jetup/jetup/step"
)

// Family of a board.
type Family string

const (
	Jetson      Family = "jetson"
	RaspberryPi Family = "raspberry-pi"
)

// Profile is one board. The YAML keys are the file format; the JSON keys are
// the `jetup profiles --json` format. Keep both stable.
type Profile struct {
	Name string `yaml:"name" json:"name"`
	// Base names a profile this one starts from; only the keys it sets
	// replace the base's (user profiles for custom carriers).
	Base         string    `yaml:"base,omitempty" json:"base,omitempty"`
	Title        string    `yaml:"title" json:"title"`
	Family       Family    `yaml:"family" json:"family"`
	SoM          string    `yaml:"som,omitempty" json:"som,omitempty"`
	CarrierBoard string    `yaml:"carrier_board,omitempty" json:"carrier_board,omitempty"`
	JetPack      int       `yaml:"jetpack,omitempty" json:"jetpack,omitempty"`
	Super        bool      `yaml:"super,omitempty" json:"super"`
	Steps        []step.ID `yaml:"steps" json:"steps"`
	Recovery     *Recovery `yaml:"recovery,omitempty" json:"recovery,omitempty"`
	Console      Console   `yaml:"console" json:"console"`
	Flash        *Flash    `yaml:"flash,omitempty" json:"flash,omitempty"`
	Installer    Installer `yaml:"installer" json:"installer"`
	// Image is what an image written for this board must hold: the write
	// step checks it (jetup inspect's report against these rules).
	Image  *ImageRules `yaml:"image,omitempty" json:"image,omitempty"`
	Verify *Verify     `yaml:"verify,omitempty" json:"verify,omitempty"`
	Board  *Board      `yaml:"board,omitempty" json:"board,omitempty"`
	Traps  []Trap      `yaml:"traps,omitempty" json:"traps,omitempty"`
	Notes  []string    `yaml:"notes,omitempty" json:"notes,omitempty"`

	// Source is where the profile came from: "embedded:<file>" or a path.
	Source string `yaml:"-" json:"source"`
}

// USBID is a USB vendor:product id with what it means.
type USBID struct {
	ID   string `yaml:"id" json:"id"` // "0955:7523", lowercase hex
	Name string `yaml:"name" json:"name"`
}

// Vendor is the 4-digit vendor part of the id.
func (u USBID) Vendor() string { v, _, _ := strings.Cut(u.ID, ":"); return v }

// Product is the 4-digit product part of the id.
func (u USBID) Product() string { _, p, _ := strings.Cut(u.ID, ":"); return p }

// Recovery is how the board enters USB recovery mode and what it shows then.
type Recovery struct {
	// USBIDs the board may show in recovery mode (several modules fit one
	// carrier).
	USBIDs []USBID `yaml:"usb_ids" json:"usb_ids"`
	// Controls selects the drawing the TUI shows: "j14-header",
	// "agx-orin-buttons", "agx-xavier-buttons", "thor-buttons" or "none".
	Controls string `yaml:"controls" json:"controls"`
	// Port is the board's USB port to connect to the host.
	Port string `yaml:"port" json:"port"`
	// Procedure is the ordered list of things to do.
	Procedure []string `yaml:"procedure" json:"procedure"`
}

// Console is the board's debug serial console.
type Console struct {
	// Connection says where to plug in.
	Connection string `yaml:"connection" json:"connection"`
	// Bridges are the USB-serial chips the console may appear through.
	Bridges []USBID `yaml:"bridges" json:"bridges"`
	// Devices are the host device names it usually gets.
	Devices []string `yaml:"devices" json:"devices"`
	Baud    int      `yaml:"baud" json:"baud"`
	// KernelConsole is the board-side device Linux prints on.
	KernelConsole string `yaml:"kernel_console,omitempty" json:"kernel_console,omitempty"`
}

// Flash is where the flash script comes from.
type Flash struct {
	Flake     string `yaml:"flake" json:"flake"`
	Attribute string `yaml:"attribute" json:"attribute"`
	// Script is the executable expected in result/bin; its name is not the
	// attribute (flash-orin-nano-super-devkit builds
	// initrd-flash-orin-nano-devkit).
	Script string `yaml:"script" json:"script"`
}

// Installer is the media the board boots to install NixOS.
type Installer struct {
	Kind      string `yaml:"kind" json:"kind"` // "iso" or "sd-image"
	Flake     string `yaml:"flake" json:"flake"`
	Attribute string `yaml:"attribute" json:"attribute"`
	// Output is a glob inside the build result for the file to write.
	Output string `yaml:"output" json:"output"`
}

// Verify is what the verify step checks on this board besides what every
// board has: the GPU's device nodes and a CUDA sample.
type Verify struct {
	// SoC is the Tegra chip ("tegra234"), as the board's device tree
	// names it ("nvidia,tegra234" in /proc/device-tree/compatible).
	SoC string `yaml:"soc" json:"soc"`
	// GPU names the GPU for people ("Orin") and GPUDriver its kernel
	// driver ("nvgpu", "openrm").
	GPU       string `yaml:"gpu" json:"gpu"`
	GPUDriver string `yaml:"gpu_driver" json:"gpu_driver"`
	// GPUDevices are the device nodes the driver makes: paths or globs
	// under /dev, each must match at least one node.
	GPUDevices []string `yaml:"gpu_devices" json:"gpu_devices"`
	// CUDASample is a command run on the board when installed
	// (jetpack-nixos' cuda-test runs deviceQuery).
	CUDASample string `yaml:"cuda_sample,omitempty" json:"cuda_sample,omitempty"`
}

// ImageRules are what the board's boot ROM and firmware need from an image.
// A rule the board cannot boot without is a refusal (--ignore-board-check
// overrides it); the others are warnings.
type ImageRules struct {
	// Table "mbr": the boot ROM reads only an MBR (a hybrid MBR beside a
	// GPT is fine); a pure GPT is refused.
	Table string `yaml:"table,omitempty" json:"table,omitempty"`
	// BootAny: the image must carry at least one of these boot parts
	// (inspect's kinds: pi-firmware, rpi-uefi, efi-removable, ...).
	BootAny []string `yaml:"boot_any,omitempty" json:"boot_any,omitempty"`
	// PiModel is the model the Pi firmware must boot ("pi3", "pi4"); a
	// firmware for other models only is a warning.
	PiModel string `yaml:"pi_model,omitempty" json:"pi_model,omitempty"`
	// Arch is the machine of the EFI binaries (aarch64); another is a
	// warning.
	Arch string `yaml:"arch,omitempty" json:"arch,omitempty"`
	// Kernel is the Linux series of the profile's JetPack, as an installer
	// ISO's kernel reports it ("5.15" for JetPack 6 / L4T R36); another
	// series is refused: that JetPack's firmware cannot boot it.
	Kernel string `yaml:"kernel,omitempty" json:"kernel,omitempty"`
}

// HasStep reports whether the step applies to this board.
func (p *Profile) HasStep(id step.ID) bool {
	for _, s := range p.Steps {
		if s == id {
			return true
		}
	}
	return false
}

// FlashRef is the flake reference of the flash script ("flake#attribute").
func (p *Profile) FlashRef() string {
	if p.Flash == nil {
		return ""
	}
	return p.Flash.Flake + "#" + p.Flash.Attribute
}

// InstallerRef is the flake reference of the installer.
func (p *Profile) InstallerRef() string {
	return p.Installer.Flake + "#" + p.Installer.Attribute
}

// RecoveryModule returns the module name for a recovery-mode product id
// ("7523") if this profile lists it.
func (p *Profile) RecoveryModule(product string) (string, bool) {
	if p.Recovery == nil {
		return "", false
	}
	for _, u := range p.Recovery.USBIDs {
		if strings.EqualFold(u.Product(), product) {
			return u.Name, true
		}
	}
	return "", false
}

// StepList renders the steps as "detect, flash, ...".
func (p *Profile) StepList() string {
	s := make([]string, len(p.Steps))
	for i, id := range p.Steps {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}

// Describe is a short multi-line text for `jetup profiles show`.
func (p *Profile) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", p.Name, p.Title)
	if p.Family == Jetson {
		fmt.Fprintf(&b, "  SoM %s on carrier %s, JetPack %d", p.SoM, p.CarrierBoard, p.JetPack)
		if p.Super {
			b.WriteString(", super mode")
		}
		b.WriteString("\n")
	}
	if p.Board != nil {
		fmt.Fprintf(&b, "  board: %s\n", p.Board.describe())
	}
	fmt.Fprintf(&b, "  steps: %s\n", p.StepList())
	if r := p.Recovery; r != nil {
		b.WriteString("  recovery-mode USB ids:\n")
		for _, u := range r.USBIDs {
			fmt.Fprintf(&b, "    %s  %s\n", u.ID, u.Name)
		}
		fmt.Fprintf(&b, "  enter recovery (connect %s):\n", r.Port)
		for i, s := range r.Procedure {
			fmt.Fprintf(&b, "    %d. %s\n", i+1, s)
		}
	}
	c := p.Console
	fmt.Fprintf(&b, "  console: %s, %d baud", c.Connection, c.Baud)
	if len(c.Devices) > 0 {
		fmt.Fprintf(&b, ", usually %s", strings.Join(c.Devices, " or "))
	}
	b.WriteString("\n")
	for _, u := range c.Bridges {
		fmt.Fprintf(&b, "    bridge %s  %s\n", u.ID, u.Name)
	}
	if p.Flash != nil {
		fmt.Fprintf(&b, "  flash script: nix build %s  (runs result/bin/%s)\n", p.FlashRef(), p.Flash.Script)
	}
	fmt.Fprintf(&b, "  installer (%s): nix build %s  (writes result/%s)\n", p.Installer.Kind, p.InstallerRef(), p.Installer.Output)
	if vf := p.Verify; vf != nil {
		fmt.Fprintf(&b, "  verify: %s GPU (%s): %s", vf.GPU, vf.GPUDriver, strings.Join(vf.GPUDevices, " "))
		if vf.CUDASample != "" {
			fmt.Fprintf(&b, "; CUDA sample %s", vf.CUDASample)
		}
		b.WriteString("\n")
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	fmt.Fprintf(&b, "  source: %s\n", p.Source)
	return b.String()
}
