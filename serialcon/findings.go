package serialcon

import (
	"strings"
	"time"
)

// Finding ids: an interface (`jetup console --json`), keep them.
const (
	FindingExtlinuxFallback  = "extlinux-fallback"
	FindingUEFIAssert        = "uefi-assert"
	FindingUEFIException     = "uefi-exception"
	FindingKernelPanic       = "kernel-panic"
	FindingBootFirmwareError = "boot-firmware-error"
	FindingFDTInvalid        = "fdt-invalid"
	FindingInitrdLoadFailed  = "initrd-load-failed"
	FindingStage1Failed      = "nixos-stage-1-failed"
	FindingUBootNoFDT        = "u-boot-no-fdt"
)

// findingRule is one dead end: any of pats in a line (all of them when
// all is set) means it. The sources are the real captures in
// testdata/real (each names its thread) and research/jetpack.md 4-5.
type findingRule struct {
	id   string
	pats []string
	all  bool
	what string
	next string
}

var findingRules = []findingRule{
	{id: FindingExtlinuxFallback,
		pats: []string{"L4TLauncher: Unable to process extlinux config", "L4TLauncher: Unable to boot via extlinux",
			"Failed to open boot\\extlinux\\extlinux.conf", "Failed to Authenticate boot\\extlinux\\extlinux.conf",
			"ProcessExtLinuxConfig: Unable to find partition info"},
		what: "L4TLauncher could not use /boot/extlinux/extlinux.conf and falls back to the kernel partition",
		next: "The board is not booting the kernel and options of the installed system: check that the root file system L4TLauncher reads has /boot/extlinux/extlinux.conf and is ext4 without newer features its reader lacks (orphan_file, metadata_csum_seed), or boot through the ESP (jetpack-nixos systems boot with systemd-boot); then reboot and watch again."},
	{id: FindingUEFIAssert, pats: []string{"ASSERT [", "ASSERT_EFI_ERROR"},
		what: "the UEFI firmware hit an internal error (ASSERT) and resets the board",
		next: "Unplug every USB device but the console and the installer (a webcam makes R36.4's XhciDxe assert), power-cycle and watch again; if it repeats, flash the firmware again (jetup flash) from the same JetPack as the system."},
	{id: FindingUEFIException, pats: []string{"Synchronous Exception at"},
		what: "the UEFI firmware crashed (synchronous exception)",
		next: "Power-cycle and watch again without extra USB devices; if it repeats, flash the firmware again (jetup flash) with the profile that matches this module and JetPack."},
	{id: FindingBootFirmwareError, pats: []string{"] C> "},
		what: "the boot firmware in the module's QSPI failed before UEFI (MB1/MB2 critical error)",
		next: "Flash the boot firmware again (jetup flash) with the profile that matches this module and carrier board; if it stops at the same line again, check the carrier's power supply and, on a custom carrier, its board configuration."},
	{id: FindingBootFirmwareError, pats: []string{"] E> Task ", " failed"}, all: true,
		what: "the boot firmware in the module's QSPI failed before UEFI (an MB1/MB2 task failed)",
		next: "Flash the boot firmware again (jetup flash) with the profile that matches this module and carrier board; if it stops at the same line again, check the carrier's power supply and, on a custom carrier, its board configuration."},
	{id: FindingFDTInvalid, pats: []string{"EFI stub: ERROR: Invalid header detected on UEFI supplied FDT"},
		what: "the firmware gave Linux no usable device tree",
		next: "The UEFI firmware and the installer do not belong together: flash the firmware from the same jetpack-nixos and JetPack major as the installer (jetup flash), then boot it again; on firmware 35.3.1 an Orin also needs an NVMe drive fitted to see USB boot devices (jetpack-nixos #111)."},
	{id: FindingInitrdLoadFailed, pats: []string{"EFI stub: ERROR: Failed to load initrd"},
		what: "the boot entry's initrd could not be loaded",
		next: "The boot medium is incomplete or damaged: write the installer again (jetup write) and boot it, or rebuild the system's boot entry."},
	{id: FindingKernelPanic, pats: []string{"Kernel panic - not syncing"},
		what: "Linux stopped (kernel panic)",
		next: "Read the lines just before the panic: \"VFS: Unable to mount root fs\" means the root device was not found, \"Attempted to kill init\" means the initrd's init failed. Check the kernel and the firmware are from the same JetPack major (JetPack 5 firmware cannot boot a JetPack 6 kernel), write the installer again and boot it."},
	{id: FindingStage1Failed, pats: []string{"An error occurred in stage 1 of the boot process"},
		what: "NixOS's initrd could not mount the root file system",
		next: "The system's root device (fileSystems.\"/\") is not on this board or not readable: check the disk the system was installed to is fitted, or boot the installer and install again."},
	{id: FindingUBootNoFDT, pats: []string{"Did not find a cmdline Flattened Device Tree"},
		what: "U-Boot found no device tree for the kernel",
		next: "The SD image does not carry a device tree for this Raspberry Pi model (or the firmware partition is stale): write an image built for this model (jetup write) and boot again."},
}

// findings reports each dead end a line shows, once per boot.
func (w *Watcher) findings(line string, at time.Time) {
	for _, r := range findingRules {
		if w.found[r.id] || !matchFinding(line, r) {
			continue
		}
		w.found[r.id] = true
		what := r.what
		if r.id == FindingKernelPanic {
			if _, why, ok := strings.Cut(line, "not syncing:"); ok && strings.TrimSpace(why) != "" {
				what += ": " + clip(why)
			}
		}
		w.emit(Finding{Finding: r.id, Stage: w.stage, Line: clip(line), What: what, Next: r.next, At: at})
	}
}

func matchFinding(line string, r findingRule) bool {
	for _, p := range r.pats {
		hit := strings.Contains(line, p)
		if r.all && !hit {
			return false
		}
		if !r.all && hit {
			return true
		}
	}
	return r.all
}
