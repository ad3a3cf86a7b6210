package detect

import (
	"fmt"
	"strings"
)

// Device is a Jetson-related USB device, classified: one element of
// `jetup detect --json`. The first eight fields are the interface the
// issue fixes; the rest add detail.
type Device struct {
	// USBInstance is "<busnum>-<devpath>" ("1-8.4"), what flash.sh
	// --usb-instance takes.
	USBInstance string `json:"usb_instance"`
	// VendorID and ProductID are 4 lowercase hex digits.
	VendorID  string `json:"vendor_id"`
	ProductID string `json:"product_id"`
	Mode      Mode   `json:"mode"`
	// Module is the module (or device) name from the module table.
	Module string `json:"module"`
	// SoM is the jetpack-nixos som key; "" when unknown.
	SoM string `json:"som"`
	// Speed is the link speed in Mb/s as sysfs gives it (12, 480, 5000);
	// 0 when unknown.
	Speed float64 `json:"speed"`
	// Warnings say what is wrong and what to do next; never null.
	Warnings []Warning `json:"warnings"`

	// Node is the device node (/dev/bus/usb/001/005).
	Node         string `json:"node"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Product      string `json:"product,omitempty"`
	Serial       string `json:"serial,omitempty"`
	// Fits lists the som keys this id may mean (see Module.Fits).
	Fits []string `json:"fits,omitempty"`
	// Profiles names the known profiles whose recovery ids include this id.
	Profiles []string `json:"profiles,omitempty"`
	// CannotTell says what the id leaves open (carrier, super, SD or eMMC).
	CannotTell string `json:"cannot_tell,omitempty"`
	// Note is one more thing worth knowing (what the debug MCU can do).
	Note string `json:"note,omitempty"`
}

// Warning ids: stable, for scripts and for the TUI.
const (
	// WarnSlowLink: the board is linked at full (12 Mb/s) or low speed.
	WarnSlowLink = "full-speed"
	// WarnNoAccess: this user cannot open the device node.
	WarnNoAccess = "no-access"
	// WarnOtherModule: the module is not the one the profile is for.
	WarnOtherModule = "module-mismatch"
	// WarnSeveral: more than one board is in recovery mode.
	WarnSeveral = "several-boards"
	// WarnUnsupported: jetpack-nixos cannot flash this module.
	WarnUnsupported = "unsupported-module"
)

// Warning is something wrong with a device and the next step to take.
type Warning struct {
	ID      string `json:"id"`
	Warning string `json:"warning"`
	Next    string `json:"next"`
}

// Has reports whether the device carries the warning id.
func (d Device) Has(id string) bool {
	for _, w := range d.Warnings {
		if w.ID == id {
			return true
		}
	}
	return false
}

// ID is "vvvv:pppp".
func (d Device) ID() string { return d.VendorID + ":" + d.ProductID }

// SpeedText is "480 Mb/s (high speed)", or "speed unknown".
func (d Device) SpeedText() string {
	if d.Speed <= 0 {
		return "speed unknown"
	}
	name := map[float64]string{1.5: "low speed", 12: "full speed", 480: "high speed", 5000: "SuperSpeed",
		10000: "SuperSpeed+", 20000: "SuperSpeed+ 20G"}[d.Speed]
	s := fmt.Sprintf("%s Mb/s", strings.TrimSuffix(fmt.Sprintf("%.1f", d.Speed), ".0"))
	if name != "" {
		s += " (" + name + ")"
	}
	return s
}

// Line is the device on one line: "1-8.4  0955:7523  recovery  Orin Nano
// 8GB (P3767-0003/-0005)  480 Mb/s".
func (d Device) Line() string {
	speed := "speed unknown"
	if d.Speed > 0 {
		speed = fmt.Sprintf("%s Mb/s", strings.TrimSuffix(fmt.Sprintf("%.1f", d.Speed), ".0"))
	}
	return fmt.Sprintf("%s  %s  %s  %s  %s", d.USBInstance, d.ID(), d.Mode, d.Module, speed)
}
