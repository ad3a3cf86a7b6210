// Package detect finds NVIDIA Jetson boards on USB: boards in recovery
// mode (the boot ROM's APX device the flash tools talk to) and the other
// Jetson devices worth naming (a booted L4T gadget, the AGX devkit debug
// MCU, a flash initrd's gadget). It never opens a device: it reads
// descriptors and sysfs attributes only, so it needs no permissions.
//
// # The hardware edge
//
// A Lister lists the host's USB devices as Records (bus, address, port
// path, ids, strings, speed). Two implementations give the same Record for
// the same device:
//
//   - Gousb (cgo builds): libusb descriptors through github.com/google/gousb,
//     strings from sysfs; falls back to Sysfs with a note when libusb
//     cannot start.
//   - Sysfs: /sys/bus/usb/devices, pure Go; its Dir can point at a fake
//     tree (tests, `jetup detect --sysfs DIR`).
//
// System() is the lister for this host; hardware.Edges.USB holds it (sim.USB
// in the simulated bench).
//
// # Finding the board to flash
//
// Scan lists once and classifies: Jetson devices only, named from the
// module table (Modules), each a Device with its usb_instance, ids, mode,
// module, som, speed and Warnings (each with the next step). Boards keeps
// the ones in recovery mode. Pick chooses the board to flash (the one at a
// given usb_instance, or the only one) and returns *step.Error with exit
// code 2 and a next step when there is none or several. Find is Scan plus
// Pick, for the flash command:
//
//	dev, err := detect.Find(ctx, b.USB, detect.Options{Profile: p, Profiles: set.All()}, instance, sink)
//	if err != nil {
//		return err // exit 2, "no-recovery-device" and how to get there
//	}
//	flashArgs = append(flashArgs, "--usb-instance", dev.USBInstance)
//
// # Watching
//
// Watch polls (every DefaultInterval) until its context ends and emits a
// Change for each device that appears or disappears (a JSON line of
// `jetup detect --watch`), a Snapshot of all devices after every change
// (what the TUI draws), Notes for the log, and a step.Warning if listing
// fails. WaitFor watches until a device matches, for a step that waits for
// a board to come back into recovery mode.
//
// # What an id cannot tell
//
// A recovery id names the module, not the carrier board, not super mode,
// not an SD-card Xavier NX from an eMMC one, not an industrial AGX Orin
// from a devkit one: Module.Fits lists every jetpack-nixos som key an id
// may mean and Module.CannotTell says what is left open. The profile the
// person picked settles it; a board whose id is not in the profile's
// recovery ids gets a WarnOtherModule warning naming the profiles that fit.
//
// # In detail
//
// flash/detect: finding boards on USB. `Lister` is the hardware edge
// (`List` records, `Access` to a device node); `Gousb` (cgo: libusb
// descriptors, never opening a device, strings from sysfs, falling back to
// `Sysfs` when gousb.NewContext panics) and `Sysfs` (pure Go,
// /sys/bus/usb/devices or a moved tree) give the same `Record` for the same
// device; `System()` picks. `Modules` is the module table (every recovery id
// with its module name, jetpack-nixos som keys it may mean and what it
// cannot tell; booted L4T, the AGX debug MCU and the jetpack-nixos flash
// gadget). `Scan` classifies into `Device`s (the `jetup detect --json`
// record) with `Warning`s that carry the next step; `Pick`/`Find` choose the
// board to flash and refuse with exit 2 (`no-recovery-device`,
// `several-recovery-devices`); `Watch` polls every 250 ms and emits `Change`
// (appear/disappear) and `Snapshot` events; `WaitFor` waits for a match.
// `fakesysfs` writes sysfs trees for tests and `--sysfs`. Imports `step`,
// `profiles`.
//
// # Why
//
//   - USB detection polls instead of listening to uevents: gousb has no
//     hotplug API, netlink uevents are missing in containers, and a poll of an
//     idle bus costs one directory read plus one lstat per device
//     (docs/BENCHMARKS.md). The sysfs lister is the same code on a real host
//     and in tests; gousb is kept because the issue asks for libusb's view,
//     and both must agree.
package detect
