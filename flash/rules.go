package flash

import "sync"

// effect is what one marker line tells about a run.
type effect struct {
	stage    Stage // the run has reached at least this stage
	cause    Cause // a failure with this cause ("" for none)
	strength int   // 1 weak (generic), 2 typical, 3 decisive: the strongest failure decides the cause
	hint     string

	prefix  bool // the pattern must start the line
	success bool // the script's own success verdict: the run succeeded
	// weakSuccess is a closing line a script prints whatever happened on
	// the device (OE4T's "Successfully finished at" follows "Final status:
	// FAILED"): a success only when no failure stands.
	weakSuccess bool
	// final marks the script's own failure verdict ("Final status:
	// FAILED", "Flashing may have failed", the device's console): nothing
	// later in the same run makes it a success or a retry.
	final bool
	// progress is a line only a board that answered prints ("Bootloader
	// version", "Saved platform info"): a failure before it was retried.
	progress   bool
	legacyDone bool // flash.sh's own success line: final for the legacy script, a milestone for RCM boot
	newAttempt bool // a fresh run starts here (a later attempt in the same log)
	console    bool // the device dropped into its interactive console: the script now waits forever
	rcmMode    bool // the run RCM-boots a flasher instead of writing over USB
	evidence   bool // supports a failure reported just before (the failing command)
	loop       bool // one poll of the tegrarcm applet loop
	tegraflash bool // a tegraflash.py invocation: the first is the probe, later ones the RCM boot
}

type rule struct {
	pat string
	effect
}

// loopLimit is how many applet polls make a loop: a healthy tegraflash run
// asks once or twice, a board that never answers is asked for ever.
const loopLimit = 12

// stuckLimit is when a live run is ended: the loop polls about twice a
// second, so this is half a minute of a board that does not answer.
const stuckLimit = 60

// rules are the markers of jetpack-nixos's initrd and legacy scripts (both
// start with NVIDIA flash.sh), NVIDIA's l4t_initrd_flash and OE4T's
// initrd-flash, from research/jetpack.md sections 1.3 and 3 and the scripts'
// sources. Patterns are case-sensitive, as the tools print them.
var rules = []rule{
	// A run starts.
	{pat: "L4T BSP Information:", effect: effect{stage: StageStart, newAttempt: true}},
	{pat: "Target Board Information:", effect: effect{stage: StageStart}},
	{pat: "Starting at ", effect: effect{stage: StageStart, newAttempt: true, prefix: true}},             // OE4T
	{pat: "Step 1: Build the flashing environment", effect: effect{stage: StageStart, newAttempt: true}}, // NVIDIA
	{pat: "Signing binaries", effect: effect{stage: StageStart}},                                         // OE4T step 1

	// Board probe.
	{pat: "tegraflash.py ", effect: effect{tegraflash: true}},
	{pat: "Welcome to Tegra Flash", effect: effect{stage: StageProbe}},
	{pat: "Found Jetson device in recovery mode", effect: effect{stage: StageProbe}}, // OE4T

	// RCM boot.
	{pat: "*** Flashing target device started. ***", effect: effect{stage: StageRCMBoot}},
	{pat: "Sending bootloader and pre-requisite binaries", effect: effect{stage: StageRCMBoot}},
	{pat: "RCM-boot started", effect: effect{stage: StageRCMBoot, rcmMode: true}},
	{pat: "Entering RCM boot", effect: effect{stage: StageRCMBoot, rcmMode: true}},                               // NVIDIA
	{pat: "Step 2: Boot the device with flash initrd image", effect: effect{stage: StageRCMBoot, rcmMode: true}}, // NVIDIA
	{pat: "Boot Jetson via RCM", effect: effect{stage: StageRCMBoot, rcmMode: true}},                             // OE4T
	{pat: "has been flashed successfully", effect: effect{stage: StageRCMBoot, legacyDone: true}},

	// Legacy flash.sh writes over USB itself.
	{pat: "Writing partition ", effect: effect{stage: StageFlashing}},
	{pat: "Flashing completed", effect: effect{stage: StageFlashing}},

	// Waiting for the flasher on the device.
	{pat: "Jetson device should now be flashing", effect: effect{stage: StageWaitDevice}},
	{pat: "for Jetson device to appear via USB", effect: effect{stage: StageWaitDevice}},
	{pat: "Waiting for target to boot-up", effect: effect{stage: StageWaitDevice}},      // NVIDIA
	{pat: "Waiting for device to expose ssh", effect: effect{stage: StageWaitDevice}},   // NVIDIA
	{pat: "Step 3: Start the flashing process", effect: effect{stage: StageWaitDevice}}, // NVIDIA
	{pat: "Sending flash sequence commands", effect: effect{stage: StageWaitDevice}},    // OE4T
	{pat: "Waiting for USB storage device", effect: effect{stage: StageWaitDevice}},     // OE4T

	// The device writes.
	{pat: "connecting to /dev/serial/by-id/", effect: effect{stage: StageFlashing}},
	{pat: "boardspec: ", effect: effect{stage: StageFlashing, prefix: true}},
	{pat: "Finished flashing device", effect: effect{stage: StageFlashing}},
	{pat: "Writing partitions on", effect: effect{stage: StageFlashing}},  // OE4T step 4
	{pat: "Run command: flash on ", effect: effect{stage: StageFlashing}}, // NVIDIA
	{pat: "Starting to flash the ", effect: effect{stage: StageFlashing}}, // NVIDIA

	// Success.
	{pat: "Flashing platform firmware successful", effect: effect{success: true}},
	{pat: "Device reported flashing succeeded", effect: effect{success: true}},
	{pat: "Successfully finished at", effect: effect{weakSuccess: true}}, // OE4T, printed after "Final status: FAILED" too
	{pat: "Final status: SUCCESS", effect: effect{success: true}},        // OE4T: the device's own status
	{pat: "Flash is successful", effect: effect{success: true}},          // NVIDIA
	{pat: "Flash complete (SUCCESS)", effect: effect{success: true}},     // NVIDIA

	// The board answered: a failure before these lines was retried
	// (tegraflash polls again after "USB communication failed", checks the
	// applet after "BootRom is not running").
	{pat: "Bootloader version ", effect: effect{progress: true}},
	{pat: "Applet version ", effect: effect{progress: true}}, // "MB2 Applet version 01.00.0000" too
	{pat: "Saved platform info in", effect: effect{progress: true}},
	{pat: "Boot Rom communication completed", effect: effect{progress: true}},

	// Failures.
	{pat: "flash.sh requires root privilege", effect: effect{cause: CauseNotRoot, strength: 3}},
	{pat: "sudo: a password is required", effect: effect{cause: CauseNotRoot, strength: 3,
		hint: "sudo asked for a password nobody could type: run `sudo -v` in this terminal (or start the flash from a terminal so jetup can ask), then flash again."}},
	{pat: "sudo: a terminal is required", effect: effect{cause: CauseNotRoot, strength: 3,
		hint: "sudo needs a terminal to ask for your password: start jetup from a terminal, or run `sudo -v` first, then flash again."}},
	{pat: "is not in the sudoers file", effect: effect{cause: CauseNotRoot, strength: 3,
		hint: "Your user may not use sudo: ask an administrator to allow it (or to run the flash as root), then flash again."}},

	{pat: "Error: probing the target board failed", effect: effect{stage: StageProbe, cause: CauseNoRecoveryDevice, strength: 3}},
	{pat: "Make sure the target board is connected through", effect: effect{stage: StageProbe, cause: CauseNoRecoveryDevice, strength: 2}},
	{pat: "ERR: Device not found at", effect: effect{stage: StageProbe, cause: CauseNoRecoveryDevice, strength: 3}}, // OE4T
	{pat: "No devices to flash", effect: effect{stage: StageProbe, cause: CauseNoRecoveryDevice, strength: 3}},      // NVIDIA
	{pat: "too many devices in RCM mode", effect: effect{stage: StageProbe, cause: CauseNoRecoveryDevice, strength: 3,
		hint: "Several boards are in recovery mode: pass --usb-instance with the one to flash (`jetup detect` lists them), or unplug the others, then flash again."}},

	{pat: "ERROR: might be timeout in USB write", effect: effect{stage: StageProbe, cause: CauseUSBTransport, strength: 3}},
	{pat: "Error: Return value 3", effect: effect{stage: StageProbe, cause: CauseUSBTransport, strength: 2}},

	{pat: "Return value 8", effect: effect{stage: StageProbe, cause: CauseRCMRejected, strength: 2}},
	{pat: "ERR: RCM boot failed at", effect: effect{stage: StageRCMBoot, cause: CauseRCMRejected, strength: 3}}, // OE4T
	{pat: "Reading board information failed", effect: effect{stage: StageProbe, cause: CauseRCMRejected, strength: 1,
		hint: "The board did not answer the probe: power-cycle it into recovery mode again (a board must be freshly in recovery for every attempt), use a direct USB port and a data cable, then flash again."}},
	{pat: "BootRom is not running", effect: effect{stage: StageProbe, cause: CauseRCMRejected, strength: 1, // tegraflash then asks the applet: a retry if it answers
		hint: "The board's boot ROM was not waiting for the host: the board is not freshly in recovery mode (or another flash already started it). Power-cycle it into recovery mode, flash one board per run (or pass --usb-instance), then flash again."}},
	{pat: "Boot Rom communication failed", effect: effect{stage: StageProbe, cause: CauseUSBTransport, strength: 2}},
	{pat: "ERR: chip_info.bin_bak missing", effect: effect{stage: StageProbe, cause: CauseRCMRejected, strength: 2, // OE4T
		hint: "The board did not give its chip information when asked (the host log usually shows a USB timeout): power-cycle it into recovery mode again, use a direct USB port and a data cable, then flash again."}},
	{pat: "ERR: could not retrieve board information", effect: effect{stage: StageProbe, cause: CauseRCMRejected, strength: 2}}, // OE4T
	{pat: "Failed flashing ", effect: effect{stage: StageRCMBoot, cause: CauseUnknown, strength: 1}},
	{pat: "Command tegrarcm_v2", effect: effect{evidence: true}},
	{pat: "Command tegradevflash_v2", effect: effect{evidence: true}},

	{pat: "USB communication failed", effect: effect{stage: StageProbe, cause: CauseAppletLoop, strength: 2}},
	{pat: "CPU Bootloader is not running on device", effect: effect{stage: StageProbe, cause: CauseAppletLoop, strength: 2}},
	{pat: "Cannot Open USB", effect: effect{stage: StageProbe, cause: CauseAppletLoop, strength: 1}},
	{pat: "None of the bootloaders are running on device", effect: effect{stage: StageProbe, cause: CauseAppletLoop, strength: 3,
		hint: "The board reset and no boot loader answered the host: the debug serial console shows why (often the carrier board's configuration or the module's memory). Pick the profile for this module and carrier, power-cycle into recovery and flash again."}},
	{pat: "Applet/MB2 is not running on device", effect: effect{stage: StageProbe, cause: CauseAppletLoop, strength: 1}},
	{pat: "Error: failed to get storage info", effect: effect{stage: StageProbe, cause: CauseAppletLoop, strength: 2,
		hint: "The flasher on the board never answered the storage query: modules without eMMC (Orin Nano, Orin NX) cannot be written by the legacy flash.sh; use the initrd flash script (the default flash-<board> of current jetpack-nixos), power-cycle into recovery and flash again."}},
	{pat: "--isapplet", effect: effect{loop: true}},
	{pat: "--ismb2", effect: effect{loop: true}},
	{pat: "--iscpubl", effect: effect{loop: true}},

	{pat: "NV3P_SERVER: Failed to initialize partition table from GPT", effect: effect{stage: StageFlashing, cause: CauseGPTInitFailed, strength: 3}},

	{pat: "Jetson device not detected", effect: effect{stage: StageWaitDevice, cause: CauseGadgetNotDetected, strength: 3, final: true}},
	{pat: "Connection to device failed", effect: effect{stage: StageFlashing, cause: CauseGadgetNotDetected, strength: 2,
		hint: "The flash gadget's serial port appeared but could not be used: stop ModemManager (it grabs new ttyACM ports; `jetup doctor --fix` adds a udev rule), check the cable, then power-cycle into recovery and flash again."}},
	{pat: "connection to device timed out", effect: effect{stage: StageFlashing, cause: CauseDeviceTimeout, strength: 3}},
	{pat: "ERR: failed to retrieve device status at", effect: effect{stage: StageFlashing, cause: CauseDeviceTimeout, strength: 2}}, // OE4T
	{pat: "Error: Timeout", effect: effect{stage: StageWaitDevice, cause: CauseDeviceTimeout, strength: 2}},                         // NVIDIA

	{pat: "Flashing platform firmware unsuccessful", effect: effect{stage: StageFlashing, cause: CauseDeviceWriteFailed, strength: 2, final: true}},
	{pat: "Entering console", effect: effect{stage: StageFlashing, cause: CauseDeviceWriteFailed, strength: 2, console: true}},
	{pat: "Flashing may have failed", effect: effect{cause: CauseDeviceWriteFailed, strength: 1, final: true}},
	{pat: "Flash complete (WITH FAILURES)", effect: effect{stage: StageFlashing, cause: CauseDeviceWriteFailed, strength: 2, final: true}}, // NVIDIA
	{pat: "Final status: FAILED", effect: effect{stage: StageFlashing, cause: CauseDeviceWriteFailed, strength: 1, final: true,
		hint: "The device reported that its flash failed: read the device-side logs the script saved (device-logs-<date>) and the lines before this one, then power-cycle into recovery and flash again."}}, // OE4T
	{pat: "ERR: write failure to", effect: effect{stage: StageFlashing, cause: CauseDeviceWriteFailed, strength: 3}}, // OE4T
	{pat: "ERR: could not find ", effect: effect{stage: StageFlashing, cause: CauseDeviceWriteFailed, strength: 2,
		hint: "The flasher on the board did not find the storage it should write (NVMe, SD card or eMMC): check the drive is seated and matches the profile, then power-cycle into recovery and flash again."}},
	{pat: "ERR: SPI boot device, but mtd0 device does not exist", effect: effect{stage: StageFlashing, cause: CauseDeviceWriteFailed, strength: 3,
		hint: "The board's QSPI boot flash (mtd0) is not visible to the flasher: check the profile matches this module (and its JetPack version), then power-cycle into recovery and flash again."}},
	{pat: "ERR: eMMC boot device, but mmcblk0boot", effect: effect{stage: StageFlashing, cause: CauseDeviceWriteFailed, strength: 3,
		hint: "The module's eMMC boot partitions are not visible to the flasher: check the profile matches this module (SD-card vs eMMC module), then power-cycle into recovery and flash again."}},
	{pat: "ERR: unknown boot device type", effect: effect{stage: StageFlashing, cause: CauseDeviceWriteFailed, strength: 3}},
	{pat: "ERR: could not retrieve file size", effect: effect{stage: StageFlashing, cause: CauseDeviceWriteFailed, strength: 2}},
	{pat: "ERR: boot partition size not set", effect: effect{stage: StageFlashing, cause: CauseDeviceWriteFailed, strength: 2}},

	{pat: "Could not find a matching boardspec", effect: effect{stage: StageFlashing, cause: CauseBoardspecMismatch, strength: 3}},
	{pat: "Are you sure you created the right signed firmware", effect: effect{stage: StageFlashing, cause: CauseBoardspecMismatch, strength: 3}},

	{pat: "Device ping failed after RCM boot", effect: effect{stage: StageWaitDevice, cause: CauseNetworkBlocked, strength: 2,
		hint: "The flash initrd (0955:7035) never answered over the USB network: allow NFS and the usb0 link in the firewall, disconnect VPNs, keep NetworkManager off usb0, check the cable; then power-cycle into recovery and flash again."}},
	{pat: "NFS port is blocked by UFW", effect: effect{cause: CauseNetworkBlocked, strength: 3}},
	{pat: "VPN connection is detected", effect: effect{cause: CauseNetworkBlocked, strength: 1}},
	// l4t_initrd_flash's wait_for_ssh: "Waiting for device to expose ssh ......" then "Timeout".
	{pat: "...Timeout", effect: effect{stage: StageWaitDevice, cause: CauseNetworkBlocked, strength: 2,
		hint: "The flash initrd booted but this computer could not reach it over the USB network: flash from a real machine (not a VM), turn off USB disk automount and NetworkManager on the usb0 link, allow it in the firewall, disconnect VPNs; then power-cycle into recovery and flash again."}},
	{pat: "the host cannot connect to its ssh server", effect: effect{stage: StageWaitDevice, cause: CauseNetworkBlocked, strength: 3}},
	{pat: "SSH is not ready", effect: effect{stage: StageWaitDevice, cause: CauseNetworkBlocked, strength: 1}},

	// Host-side preparation failed: nothing reached the board. Weak, so
	// that a board that did not answer the board-info read (the usual
	// reason OE4T's signing step fails) names the cause.
	{pat: "ERR: signing failed at", effect: effect{stage: StageStart, cause: CauseSigningFailed, strength: 1}},                           // OE4T
	{pat: "ERR: no SPI or eMMC boot partition entries found", effect: effect{stage: StageStart, cause: CauseSigningFailed, strength: 2}}, // OE4T
	{pat: "ERR: could not create RCM boot blob", effect: effect{stage: StageStart, cause: CauseSigningFailed, strength: 2}},              // OE4T
	{pat: "ERR: could not create command package", effect: effect{stage: StageStart, cause: CauseSigningFailed, strength: 2}},            // OE4T
	{pat: "ERR: preparing QSPI partitions failed", effect: effect{stage: StageStart, cause: CauseSigningFailed, strength: 2}},            // OE4T, Thor
	{pat: "ERR: preparing external partitions failed", effect: effect{stage: StageStart, cause: CauseSigningFailed, strength: 2}},        // OE4T, Thor
	{pat: "ERR: preparing RCM boot blob", effect: effect{stage: StageStart, cause: CauseSigningFailed, strength: 2}},                     // OE4T, Thor
}

var (
	// ruleMatcher is built on first use, not at start-up: `jetup version`
	// does not pay for the 64 KiB table.
	ruleMatcher  = sync.OnceValue(func() *matcher { return newMatcher(rulePatterns()) })
	bannerRuleID = ruleIndex("L4T BSP Information:")
	boardRuleID  = ruleIndex("Target Board Information:")
)

func rulePatterns() []string {
	p := make([]string, len(rules))
	for i, r := range rules {
		p[i] = r.pat
	}
	return p
}

func ruleIndex(pat string) int {
	for i, r := range rules {
		if r.pat == pat {
			return i
		}
	}
	panic("flash: no rule " + pat)
}
