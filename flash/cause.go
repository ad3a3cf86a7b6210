package flash

// Cause says why a flash did not succeed. The ids are an interface: keep
// them exactly.
type Cause string

const (
	CauseNotRoot           Cause = "not-root"
	CauseNoRecoveryDevice  Cause = "no-recovery-device"
	CauseUSBTransport      Cause = "usb-transport"
	CauseRCMRejected       Cause = "rcm-rejected"
	CauseAppletLoop        Cause = "applet-loop"
	CauseGPTInitFailed     Cause = "gpt-init-failed"
	CauseGadgetNotDetected Cause = "gadget-not-detected"
	CauseDeviceWriteFailed Cause = "device-write-failed"
	CauseBoardspecMismatch Cause = "boardspec-mismatch"
	CauseDeviceTimeout     Cause = "device-timeout"
	CauseNetworkBlocked    Cause = "network-blocked"
	CauseSigningFailed     Cause = "signing-failed"
	CauseUnknown           Cause = "unknown"
)

// Causes lists every cause id.
var Causes = []Cause{CauseNotRoot, CauseNoRecoveryDevice, CauseUSBTransport, CauseRCMRejected, CauseAppletLoop,
	CauseGPTInitFailed, CauseGadgetNotDetected, CauseDeviceWriteFailed, CauseBoardspecMismatch, CauseDeviceTimeout,
	CauseNetworkBlocked, CauseSigningFailed, CauseUnknown}

// Every hint starts with what to do; the research behind each is in
// research/jetpack.md sections 3 and 6.
var causeText = map[Cause]struct{ what, hint string }{
	CauseNotRoot: {"the flash script did not run as root",
		"The flash needs root. jetup runs it through sudo: check that your user may use sudo (`sudo -v` in this terminal), then flash again. Run only the flash as root, not the whole of jetup."},
	CauseNoRecoveryDevice: {"no board in USB recovery mode",
		"Put the board in recovery mode (see the profile's procedure: jumper or button sequence, then power), connect its recovery USB port directly to this computer with a data cable, check `lsusb` shows 0955:xxxx \"APX\", then flash again."},
	CauseUSBTransport: {"USB transfer to the board failed",
		"USB trouble between this computer and the board: use a direct port (no hub, no dock), another USB data cable (USB-C to USB-C helped on AGX Orin), prefer a USB 3 port, turn USB autosuspend off (`jetup doctor --fix`), do not flash from a VM or WSL; then power-cycle the board into recovery mode and flash again."},
	CauseRCMRejected: {"the board rejected the RCM download",
		"Power-cycle the board into recovery mode again (it must be freshly in recovery for every attempt), and check the profile matches the module (devkit vs production module, carrier board, JetPack version); a fused board needs the right signing keys."},
	CauseAppletLoop: {"the board reset into a state the host cannot talk to",
		"The host kept polling a board that never answered (tegrarcm --isapplet/--ismb2 loop): this usually means the wrong module variant or carrier board configuration. Check the profile (custom carriers need their own flashScriptOverrides), power-cycle into recovery and flash again."},
	CauseGPTInitFailed: {"the legacy flash.sh could not read the partition table",
		"This is the legacy flash.sh failing on a second flash (jetpack-nixos #33): use the initrd flash script (the default `flash-<board>` output of current jetpack-nixos), power-cycle into recovery and flash again."},
	CauseGadgetNotDetected: {"the board's flash USB gadget never appeared",
		"The board was RCM-booted but its flash initrd never showed up as /dev/serial/by-id/usb-NixOS_serial_0-if00: check the cable is in the recovery USB port, that udev runs on this host, and that ModemManager is not grabbing ttyACM ports (`jetup doctor`). Watch the debug serial console to see what the board does, then power-cycle into recovery and flash again."},
	CauseDeviceWriteFailed: {"the board failed to write its boot firmware",
		"The board reported that writing its boot flash failed. Read the evidence lines, check the profile matches this module, power-cycle into recovery and flash again; if it repeats, watch the debug serial console during the flash."},
	CauseBoardspecMismatch: {"the flash script has no firmware for this module",
		"The script was built for another module or revision: pick the profile that matches the module on the board (check the SKU on its label: e.g. P3767-0003 vs -0005, super vs non-super, JetPack 5/6/7), rebuild the script and flash again."},
	CauseDeviceTimeout: {"no result from the device in time",
		"The board started flashing but never reported a result: watch its debug serial console to see where it stopped, check the USB cable and port, then power-cycle into recovery and flash again."},
	CauseNetworkBlocked: {"the host network blocked the flash",
		"This flow flashes over USB networking: allow NFS (port 2049 and rpcbind) on the usb0 interface in the firewall (ufw), disconnect any VPN, keep NetworkManager off the usb0 link, then power-cycle into recovery and flash again."},
	CauseSigningFailed: {"this computer could not prepare the signed boot images",
		"Nothing was sent to the board: building or signing the boot images failed on this computer (a missing file, a board configuration the BSP does not know, wrong keys). Read the lines before this one and the script's own log (OE4T: log.initrd-flash.<date>), fix the build or its configuration (a custom carrier needs its own), then flash again."},
	CauseUnknown: {"the flash failed for a reason jetup does not recognise",
		"Read the last lines of the log for the first error, power-cycle the board into recovery mode and flash again; keep the run record (`jetup diagnose` on the log) when asking for help."},
}

// What is a short phrase saying what the cause means.
func (c Cause) What() string { return causeText[c].what }

// Hint is the next step for the person.
func (c Cause) Hint() string { return causeText[c].hint }

// Known reports whether c is one of the cause ids.
func (c Cause) Known() bool { _, ok := causeText[c]; return ok }
