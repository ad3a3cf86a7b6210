package sim

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// The simulated board's flash runs. They are COMPOSED, not recorded: the
// stored transcripts (assets/transcripts/flash) are excerpts, so each run
// here strings together the exact lines research/jetpack.md sections 1.3
// and 3 quote (NVIDIA flash.sh and tegraflash.py, the jetpack-nixos initrd
// script and its expect/tio wrapper, the device's flash-from-device, and
// NVIDIA's l4t_initrd_flash for the network case) with realistic pacing and
// the real exit codes. Partition names, sizes and paths are plausible
// stand-ins.

// replayLine is one piece of output: after Delay (at speed 1), Text and,
// unless NoEOL, a newline.
type replayLine struct {
	Delay time.Duration
	Text  string
	NoEOL bool
}

// flashRun is a whole run of the flash script.
type flashRun struct {
	lines []replayLine
	// end: "exit" (with code), "console" (the device's shell: the script
	// waits for the keyboard as expect's interact does; Ctrl-C exits 1 with
	// "Flashing may have failed"), "loop" (the applet poll never ends).
	end  string
	code int
}

// FlashOutcomes are the runs the simulated board can do: "success" and one
// per cause id. JETUP_SIM_FLASH picks one.
func FlashOutcomes() []string {
	var out []string
	for k := range defaultRuns() {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type runBuilder struct{ lines []replayLine }

func (b *runBuilder) add(delay time.Duration, lines ...string) *runBuilder {
	for i, l := range lines {
		d := time.Duration(0)
		if i == 0 {
			d = delay
		}
		b.lines = append(b.lines, replayLine{Delay: d, Text: l})
	}
	return b
}

func (b *runBuilder) raw(delay time.Duration, text string) *runBuilder {
	b.lines = append(b.lines, replayLine{Delay: delay, Text: text, NoEOL: true})
	return b
}

// tegra adds tegraflash step lines "[ t.tttt ] text", one every step.
func (b *runBuilder) tegra(start float64, step time.Duration, texts ...string) *runBuilder {
	t := start
	for _, s := range texts {
		b.lines = append(b.lines, replayLine{Delay: step, Text: fmt.Sprintf("[ %8.4f ] %s", t, s)})
		t += step.Seconds() * 1.37
	}
	return b
}

const (
	ms  = time.Millisecond
	sec = time.Second
	wd  = "/tmp/tmp.Q2l8xKd4vN"
)

// banner is flash.sh's start: its L4T release, the board configuration
// and the BCT files it copies, all the profile's own (boards.go).
func banner(fb flashBoard) *runBuilder {
	b := &runBuilder{}
	b.add(300*ms,
		"###############################################################################",
		"# L4T BSP Information:",
		fmt.Sprintf("# R%s , REVISION: %s", fb.l4tMajor, fb.l4tRevision),
		"# User release: 0.0",
		"###############################################################################",
	).add(400*ms,
		"# Target Board Information:",
		fmt.Sprintf("# Name: %s, Board Family: %s, SoC: Tegra %s,", fb.target, fb.family, fb.soc),
		"# OpMode: production, Boot Authentication: , NV,",
		"# Disk encryption: disabled ,",
		"###############################################################################",
	).add(200*ms,
		fmt.Sprintf("copying emc_fuse_dev_params(%s/bootloader/%s/BCT/%s-br-bct-diag-boot.dts)... done.", wd, fb.family, fb.tegra),
		fmt.Sprintf("copying device_config(%s/bootloader/%s/BCT/%s-mb1-bct-device-%s.dts)... done.", wd, fb.family, fb.tegra, fb.moduleBase),
		fmt.Sprintf("copying misc_config(%s/bootloader/%s/BCT/%s-mb1-bct-misc-%s.dts)... done.", wd, fb.family, fb.tegra, fb.moduleBase),
	)
	return b
}

func probeStart(fb flashBoard) *runBuilder {
	b := banner(fb)
	b.add(300*ms,
		fmt.Sprintf(`./tegraflash.py --chip %s --applet "%s/bootloader/mb1_%s_prod.bin" --skipuid --cfg readinfo_%s_min_prod.xml --dev_params %s-br-bct-diag-boot.dts --device_config %s-mb1-bct-device-%s.dts --misc_config %s-mb1-bct-misc-%s.dts --bins "mb2_applet applet_%s.bin" --cmd "dump eeprom cvm cvm.bin; dump custinfo custinfo_out.bin; reboot recovery"`,
			fb.chipID, wd, fb.chip, fb.chip, fb.tegra, fb.tegra, fb.moduleBase, fb.tegra, fb.moduleBase, fb.chip),
		"Welcome to Tegra Flash", "version 1.0.0", "Type ? or help for help and q or quit to exit", "Use ! to execute system commands", "",
	)
	b.tegra(0.0087, 150*ms, "Generating RCM messages",
		fmt.Sprintf("tegrahost_v2 --chip %s 0 --magicid MB1B --appendsigheader mb1_%s_prod.bin zerosbk", fb.chipID, fb.chip),
		"Boot Rom communication",
		fmt.Sprintf("tegrarcm_v2 --new_session --chip %s 0 --uid --download bct_br br_bct_BR.bct --download mb1 mb1_%s_prod_aligned_sigheader.bin.encrypt --download psc_bl1 psc_bl1_%s_prod_aligned_sigheader.bin.encrypt --download bct_mb1 mb1_bct_MB1_sigheader.bct.encrypt", fb.chipID, fb.chip, fb.chip),
		"BR_CID: "+fb.brCID)
	return b
}

func probed(fb flashBoard) *runBuilder {
	b := probeStart(fb)
	b.tegra(0.8017, 250*ms, "Sending bct_br", "Sending mb1", "Sending psc_bl1", "Sending bct_mb1", "Boot Rom communication completed",
		"tegrarcm_v2 --isapplet", "Sending mb2_applet", "tegrarcm_v2 --ismb2", "Reading EEPROM",
		fmt.Sprintf("tegrarcm_v2 --oem platformdetails eeprom cvm %s/bootloader/cvm.bin --chip %s 0", wd, fb.chipID), "Rebooting to recovery mode")
	b.add(1200*ms,
		fmt.Sprintf("Board ID(%s) version(%s) sku(%s) revision(%s)", fb.boardID, fb.fab, fb.sku, fb.rev),
		fmt.Sprintf("Chip SKU(00:00:00:%s) ramcode(00:00:00:00) fuselevel(fuselevel_production) board_FAB(%s)", fb.chipSKU, fb.fab),
		"emc_opt_disable_fuse:(0)",
	)
	return b
}

func rcmStart(fb flashBoard) *runBuilder {
	b := probed(fb)
	b.add(800*ms, "*** Flashing target device started. ***",
		fmt.Sprintf(`./tegraflash.py --bl uefi_jetson_with_dtb_sigheader.bin.encrypt --bct br_bct_BR.bct --securedev --bldtb %s --applet rcm_2_signed.rcm --applet_softfuse rcm_1_signed.rcm --chip %s --cmd "rcmboot"`, fb.dtb, fb.chipID),
		"Welcome to Tegra Flash", "version 1.0.0", "Type ? or help for help and q or quit to exit", "Use ! to execute system commands", "")
	b.tegra(0.0102, 200*ms, "Boot Rom communication", "Sending bct_br", "Sending mb1", "Sending psc_bl1", "Sending bct_mb1")
	return b
}

func rcmBooted(fb flashBoard) *runBuilder {
	b := rcmStart(fb)
	b.tegra(1.0781, 500*ms, "Boot Rom communication completed", "tegrarcm_v2 --isapplet", "Sending bootloader and pre-requisite binaries",
		"Sending mb2", "Sending psc_fw", "Sending mts_mce", "Sending tos", "Sending eks", "Sending bpmp_fw", "Sending bpmp_fw_dtb",
		"Sending uefi", "Sending kernel", "Sending kernel_dtb", "RCM-boot started")
	b.add(300*ms, fmt.Sprintf("*** The target %s has been flashed successfully. ***", fb.family), "",
		"Jetson device should now be flashing and will reboot when complete.")
	return b
}

// waitDots prints the script's wait line with a dot every 0.5 s.
func (b *runBuilder) waitDots(n int) *runBuilder {
	b.raw(100*ms, "Waiting up to 240s for Jetson device to appear via USB")
	for i := 0; i < n; i++ {
		b.raw(500*ms, ".")
	}
	return b.raw(0, "\n")
}

func connected(fb flashBoard) *runBuilder {
	b := rcmBooted(fb).waitDots(14)
	b.add(200*ms, "connecting to /dev/serial/by-id/usb-NixOS_serial_0-if00")
	return b
}

// partitions of the boot flash's flash.idx (13 entries + the erase = 14
// steps); the chip and board names are filled in per board.
var partitions = []struct{ file, part string }{
	{"br_bct_BR.bct", "BCT"},
	{"mb1_%[1]s_prod_aligned_sigheader.bin.encrypt", "A_mb1"},
	{"psc_bl1_%[1]s_prod_aligned_sigheader.bin.encrypt", "A_psc_bl1"},
	{"mb1_cold_boot_bct_MB1_sigheader.bct.encrypt", "A_MB1_BCT"},
	{"mem_coldboot_sigheader.bct.encrypt", "A_MEM_BCT"},
	{"nvdec_%[1]s_prod_sigheader.fw.encrypt", "A_nvdec"},
	{"mb2_%[1]s_with_mb2_cold_boot_bct_MB2_sigheader.bin.encrypt", "A_mb2"},
	{"xusb_%[1]s_prod_sigheader.bin.encrypt", "A_xusb-fw"},
	{"bpmp_%[1]s_prod_sigheader.bin.encrypt", "A_bpmp-fw"},
	{"%[2]s-bpmp-%[3]s_with_odm_sigheader.dtb.encrypt", "A_bpmp-fw-dtb"},
	{"uefi_jetson_with_dtb_sigheader.bin.encrypt", "A_cpu-bootloader"},
	{"tos-optee_%[1]s_sigheader.img.encrypt", "A_secure-os"},
	{"", "A_reserved_on_boot"},
}

func (b *runBuilder) deviceSteps(fb flashBoard, upTo int) *runBuilder {
	steps := len(partitions) + 1
	b.add(600*ms, "boardspec: "+fb.boardspec+"-"+fb.target+"-")
	// Where the boot firmware lives (research/jetpack.md 1.3 step 6): the
	// QSPI flash, or an AGX Xavier's eMMC boot partitions.
	first := "Erasing /dev/mtd0, this may take a while without any output..."
	if fb.bootFlash == "emmc" {
		first = "Erasing /dev/mmcblk0boot0, this may take a while without any output..."
	}
	b.add(400*ms, fmt.Sprintf("Step 1/%d... %s", steps, first))
	offset := 0
	for i, p := range partitions {
		if i+2 > upTo {
			break
		}
		delay := 700 * ms
		if i == 0 {
			delay = 6 * sec // the erase prints nothing for a while
		}
		if p.file == "" {
			b.add(delay, fmt.Sprintf("Step %d/%d... Skipping flash.idx entry:%s (devnum=3, instnum=0) (offset=%d)", i+2, steps, p.part, offset))
			continue
		}
		file := fmt.Sprintf(p.file, fb.chip, fb.tegra, fb.bpmpBoard)
		size := 4096 << (i % 9)
		b.add(delay, fmt.Sprintf("Step %d/%d... Writing %s (size=%d) to %s (offset=%d)", i+2, steps, file, size, p.part, offset))
		if p.part == "BCT" {
			b.add(100*ms, fmt.Sprintf("Writing %s to BCT+1 (offset=16384)", file), fmt.Sprintf("Writing %s to BCT+2 (offset=32768)", file))
		}
		offset += 262144
	}
	return b
}

func (b *runBuilder) done(end string, code int) flashRun {
	return flashRun{lines: b.lines, end: end, code: code}
}

func (b *runBuilder) console(after ...string) flashRun {
	b.add(300*ms, after...)
	b.add(200*ms, "Entering console")
	b.add(300*ms, "/bin/sh: can't access tty; job control turned off", "~ # ")
	return b.done("console", 1)
}

// runsFor composes every run for one board.
func runsFor(fb flashBoard) map[string]flashRun {
	return map[string]flashRun{
		"success": connected(fb).deviceSteps(fb, len(partitions)+1).add(500*ms,
			"Finished flashing device",
			"Flashing platform firmware successful. Rebooting now.",
			"Device reported flashing succeeded. Device should be rebooting.").done("exit", 0),

		"not-root": (&runBuilder{}).add(200*ms, "flash.sh requires root privilege").done("exit", 1),

		"no-recovery-device": probeStart(fb).add(2*sec,
			"Error: probing the target board failed.",
			"       Make sure the target board is connected through",
			"       USB port and is in recovery mode.").done("exit", 1),

		"usb-transport": probeStart(fb).tegra(0.8017, 500*ms, "Sending bct_br", "ERROR: might be timeout in USB write.").add(100*ms,
			"Error: Return value 3",
			fmt.Sprintf("Command tegrarcm_v2 --new_session --chip %s 0 --uid --download bct_br br_bct_BR.bct --download mb1 mb1_%s_prod_aligned_sigheader.bin.encrypt --download psc_bl1 psc_bl1_%s_prod_aligned_sigheader.bin.encrypt --download bct_mb1 mb1_bct_MB1_sigheader.bct.encrypt", fb.chipID, fb.chip, fb.chip),
			"Reading board information failed.").done("exit", 1),

		"rcm-rejected": probed(fb).add(800*ms, "*** Flashing target device started. ***").tegra(0.0102, 300*ms, "Boot Rom communication").add(1*sec,
			"Error: Return value 8",
			"Command tegrarcm_v2 --download bct_bootrom br_bct_BR.bct --download bct_mb1 mb1_bct_MB1_sigheader.bct.encrypt --download bct_mem mem_rcm_sigheader.bct.encrypt",
			"Failed flashing "+fb.family+".").done("exit", 1),

		// The host polls a board that reset into a state it cannot talk
		// to (jetpack-nixos #29); the real loop never ends.
		"applet-loop": probeStart(fb).tegra(0.8017, 300*ms, "Sending bct_br", "Sending mb1", "Boot Rom communication completed").done("loop", 1),

		// The legacy flash.sh writing the boot flash itself, the second
		// time on an Orin NX (jetpack-nixos #33).
		"gpt-init-failed": probed(fb).add(800*ms, "*** Flashing target device started. ***").tegra(0.0102, 400*ms,
			"Boot Rom communication", "Sending bct_br", "Sending mb1", "Sending bootloader and pre-requisite binaries", "Sending mb2", "Sending cpubl",
			"tegradevflash_v2 --pt flash.xml.bin --create", "E> NV3P_SERVER: Failed to initialize partition table from GPT.").add(200*ms,
			"Error: Return value 4",
			"Command tegradevflash_v2 --pt flash.xml.bin --create",
			"Failed flashing "+fb.family+".").done("exit", 1),

		"gadget-not-detected": rcmBooted(fb).waitDots(40).add(100*ms,
			"Jetson device not detected, please monitor the serial port or wait 5-15 minutes").done("exit", 2),

		"device-write-failed": connected(fb).deviceSteps(fb, 7).add(1500*ms,
			"mtd_debug: write: Input/output error").console("Flashing platform firmware unsuccessful."),

		"boardspec-mismatch": connected(fb).add(1500*ms,
			"Could not find a matching boardspec in signed firmware directory for: "+fb.boardspec+"-"+fb.target+"-",
			"Are you sure you created the right signed firmware for this type of device?").console("Flashing platform firmware unsuccessful."),

		// The device goes quiet during the erase; expect gives up after
		// 900 s (compressed here).
		"device-timeout": connected(fb).deviceSteps(fb, 3).add(20*sec,
			"connection to device timed out",
			"Flashing may have failed").done("exit", 1),

		// NVIDIA's l4t_initrd_flash (USB network + NFS), not jetpack-nixos:
		// jetup runs whatever --script it is given.
		"network-blocked": (&runBuilder{}).add(300*ms, "Step 1: Build the flashing environment").add(3*sec, "Finish creating flash environment.",
			"Step 2: Boot the device with flash initrd image", "Entering RCM boot").tegra(0.0102, 500*ms, "Boot Rom communication", "Sending bct_br",
			"Sending mb1", "RCM-boot started").add(500*ms, "Step 3: Start the flashing process").add(2*sec,
			"Waiting for target to boot-up...").add(2*sec, "Waiting for target to boot-up...").add(2*sec,
			"Waiting for target to boot-up...").add(2*sec, "Device ping failed after RCM boot.").done("exit", 1),

		// OE4T meta-tegra's initrd-flash failing to sign before anything
		// reaches the board (OE4T/meta-tegra#1530, verbatim but for the
		// timestamps and the machine name, the board's own).
		"signing-failed": (&runBuilder{}).add(200*ms, "Starting at 2026-01-18T09:12:04",
			"Machine:      "+fb.machine,
			"Rootfs device: nvme0n1p1",
			"Found Jetson device in recovery mode at USB 1-2").add(300*ms,
			"== Step 1: Signing binaries at 2026-01-18T09:12:04+00:00 ==").add(2*sec,
			"cp: cannot stat 'signed/*': No such file or directory",
			"cp: cannot stat 'signed/flash.xml.tmp': No such file or directory",
			"sed: can't read flash.xml.tmp: No such file or directory",
			"./initrd-flash: line 292: flash.idx: No such file or directory",
			"ERR: no SPI or eMMC boot partition entries found",
			"ERR: signing failed at 2026-01-18T09:12:06+00:00").done("exit", 1),

		"unknown": banner(fb).add(500*ms,
			"cp: cannot stat 'bootloader/uefi_jetson.bin': No such file or directory").done("exit", 1),
	}
}

// replayData renders a run as the replay script's data: one record per
// line, "DELAY<TAB>KIND<TAB>TEXT" with the delay in seconds at speed and
// KIND "l" for a line or "n" for text without a newline.
func replayData(r flashRun, speed float64) string {
	var b strings.Builder
	for _, l := range r.lines {
		d := l.Delay.Seconds() * speed
		kind := "l"
		text := l.Text
		if l.NoEOL {
			kind = "n"
			if text == "\n" {
				kind, text = "l", ""
			}
		}
		fmt.Fprintf(&b, "%.3f\t%s\t%s\n", d, kind, text)
	}
	return b.String()
}
