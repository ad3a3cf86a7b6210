package detect

import "strings"

// Mode is what a Jetson-related USB device is doing. The values are part of
// the --json interface.
type Mode string

const (
	// Recovery: the boot ROM's APX device, waiting for the flash tools.
	Recovery Mode = "recovery"
	// BootedL4T: stock L4T (Ubuntu) running, with NVIDIA's USB device-mode
	// gadget (network, serial, storage). jetpack-nixos has no such gadget.
	BootedL4T Mode = "booted-l4t"
	// DebugMCU: the AGX Orin / AGX Thor devkit's debug MCU ("TOPO"): serial
	// ports and power, reset and recovery control.
	DebugMCU Mode = "debug-mcu"
	// FlashGadget: a flash initrd running on the board during a flash's
	// device phase (jetpack-nixos: a USB serial gadget).
	FlashGadget Mode = "flash-gadget"
)

// Module is one row of the module table: a USB id and what it says about
// the board.
type Module struct {
	// ID is "vvvv:pppp", lowercase hex.
	ID   string
	Mode Mode
	// Name is the module as people call it ("Orin Nano 8GB (P3767-0003)").
	Name string
	// SoM is the jetpack-nixos som key (hardware.nvidia-jetpack.som) the id
	// most likely means; "" when jetpack-nixos has none for it.
	SoM string
	// Fits lists every som key a board showing this id may need (SoM
	// first): the id cannot tell them apart.
	Fits []string
	// CannotTell says what the id leaves open; the person must say it by
	// picking the profile.
	CannotTell string
	// Note is one more thing worth knowing about this device.
	Note string
	// Manufacturer and Product, when set, must equal the device's string
	// descriptors: 1d6b:0104 is the Linux Foundation's generic composite
	// gadget id, only the strings make it the jetpack-nixos flash gadget.
	Manufacturer, Product string
}

// What no recovery id can tell (research/jetpack.md 2.1).
const (
	orinNXCannotTell   = "the carrier board (Orin Nano devkit P3768, Xavier NX devkit P3509 or another) and super mode"
	orinNanoCannotTell = "the devkit module (P3767-0005) from a production one, the carrier board, and super mode"
	orinAGXCannotTell  = "the industrial module (P3701-0008, whose own id is not documented) and super mode (JetPack 7)"
	thorCannotTell     = "which Thor module (T5000 devkit module or T4000)"
	noJetpackNixOS     = "jetpack-nixos does not support this module (JetPack 4 and older): jetup cannot flash it"
)

// Modules is the module table (research/jetpack.md 2.1, 2.2 and 2.3, from
// NVIDIA's l4t_initrd_flash.sh, OE4T's find-jetson-usb.sh and udev rules).
// Keep it in step with assets/profiles (recovery.usb_ids): a test checks
// that every profile's recovery id is here and fits the profile's som.
var Modules = []Module{
	{ID: "0955:7023", Mode: Recovery, Name: "AGX Orin (P3701-0000/-0005)", SoM: "orin-agx", Fits: []string{"orin-agx", "orin-agx-industrial"}, CannotTell: orinAGXCannotTell},
	{ID: "0955:7223", Mode: Recovery, Name: "AGX Orin 32GB (P3701-0004)", SoM: "orin-agx", Fits: []string{"orin-agx", "orin-agx-industrial"}, CannotTell: orinAGXCannotTell},
	{ID: "0955:7323", Mode: Recovery, Name: "Orin NX 16GB (P3767-0000)", SoM: "orin-nx", Fits: []string{"orin-nx"}, CannotTell: orinNXCannotTell},
	{ID: "0955:7423", Mode: Recovery, Name: "Orin NX 8GB (P3767-0001)", SoM: "orin-nx", Fits: []string{"orin-nx"}, CannotTell: orinNXCannotTell},
	{ID: "0955:7523", Mode: Recovery, Name: "Orin Nano 8GB (P3767-0003/-0005)", SoM: "orin-nano", Fits: []string{"orin-nano"}, CannotTell: orinNanoCannotTell},
	{ID: "0955:7623", Mode: Recovery, Name: "Orin Nano 4GB (P3767-0004)", SoM: "orin-nano", Fits: []string{"orin-nano"}, CannotTell: "the carrier board and super mode"},
	{ID: "0955:7019", Mode: Recovery, Name: "AGX Xavier (P2888)", SoM: "xavier-agx", Fits: []string{"xavier-agx"}, CannotTell: "the memory size (P2888-0001/-0004/-0005) and the carrier board"},
	{ID: "0955:7819", Mode: Recovery, Name: "AGX Xavier Industrial (P2888-0008)", SoM: "xavier-agx-industrial", Fits: []string{"xavier-agx-industrial"}, CannotTell: "the carrier board"},
	{ID: "0955:7919", Mode: Recovery, Name: "AGX Xavier Industrial (P2888-0008)", SoM: "xavier-agx-industrial", Fits: []string{"xavier-agx-industrial"}, CannotTell: "the carrier board"},
	{ID: "0955:7e19", Mode: Recovery, Name: "Xavier NX (P3668)", SoM: "xavier-nx", Fits: []string{"xavier-nx", "xavier-nx-emmc"}, CannotTell: "an SD-card module (P3668-0000) from an eMMC one (P3668-0001), and the carrier board"},
	{ID: "0955:7c18", Mode: Recovery, Name: "TX2 or TX2 NX", Note: noJetpackNixOS},
	{ID: "0955:7418", Mode: Recovery, Name: "TX2 4GB", Note: noJetpackNixOS},
	{ID: "0955:7018", Mode: Recovery, Name: "TX2i", Note: noJetpackNixOS},
	{ID: "0955:7f21", Mode: Recovery, Name: "Jetson Nano", Note: noJetpackNixOS},
	{ID: "0955:7721", Mode: Recovery, Name: "TX1", Note: noJetpackNixOS},
	{ID: "0955:7026", Mode: Recovery, Name: "AGX Thor (devkit module)", SoM: "thor-agx", Fits: []string{"thor-agx", "thor-agx-t4000"}, CannotTell: thorCannotTell},
	{ID: "0955:7226", Mode: Recovery, Name: "AGX Thor (unlabelled id)", SoM: "thor-agx", Fits: []string{"thor-agx", "thor-agx-t4000"}, CannotTell: thorCannotTell},
	{ID: "0955:7326", Mode: Recovery, Name: "AGX Thor (P3834-0001)", SoM: "thor-agx", Fits: []string{"thor-agx", "thor-agx-t4000"}, CannotTell: thorCannotTell},

	{ID: "0955:7020", Mode: BootedL4T, Name: "Jetson running L4T (USB device mode)",
		CannotTell: "which module: stock L4T shows one id for all",
		Note:       "the board runs NVIDIA's L4T, not recovery mode: put it in recovery mode to flash it"},
	{ID: "0955:7045", Mode: DebugMCU, Name: "AGX devkit debug MCU (TOPO)",
		Note: "the AGX Orin/Thor devkit's debug port: its first serial port is the console, and `boardctl -t topo recovery` (package board-automation) puts the board in recovery mode without the buttons"},
	{ID: "1d6b:0104", Mode: FlashGadget, Name: "jetpack-nixos flash initrd (USB serial)", Manufacturer: "NixOS", Product: "serial",
		Note: "a jetpack-nixos flash is in its device phase; its console is /dev/serial/by-id/usb-NixOS_serial_0-if00"},
	{ID: "0955:7035", Mode: FlashGadget, Name: "NVIDIA l4t_initrd_flash initrd (USB network and storage)",
		Note: "NVIDIA's initrd flash (not jetpack-nixos) is in its device phase"},
}

// Lookup finds the table row for a device: by id, and by strings where the
// row asks for them. ok is false for devices that are not Jetson-related.
func Lookup(r Record) (Module, bool) {
	id := r.ID()
	for _, m := range Modules {
		if m.ID != id {
			continue
		}
		if m.Manufacturer != "" && m.Manufacturer != r.Manufacturer {
			continue
		}
		if m.Product != "" && m.Product != r.ProductName {
			continue
		}
		return m, true
	}
	return Module{}, false
}

// ModuleByID returns the row for "vvvv:pppp" (case-insensitive), ignoring
// string conditions.
func ModuleByID(id string) (Module, bool) {
	id = strings.ToLower(id)
	for _, m := range Modules {
		if m.ID == id {
			return m, true
		}
	}
	return Module{}, false
}

// FitsSoM reports whether a board showing this row's id may be som.
func (m Module) FitsSoM(som string) bool {
	for _, s := range m.Fits {
		if s == som {
			return true
		}
	}
	return false
}
