package sim

import (
	"time"

	"github.com/jetup/jetup/profiles"
)

// BootLine is one line a simulated board prints, After the previous one.
type BootLine struct {
	After time.Duration
	Text  string
}

// BoardAddress is the IPv4 address the simulated board prints: the address
// DESIGN.md gives the simulated SSH target, so the console step's fact
// carries on to the push step in the demo.
const BoardAddress = "192.168.55.1"

// BootFor is the profile's board booting the NixOS installer, as its
// serial console shows it, at real-time pacing (about 45 s); nil is the
// default board (boards.go).
//
// It is COMPOSED, not captured: no single real transcript covers a whole
// boot. The marker lines are real: MB1/MB2 lines in the forms the captures
// in serialcon/testdata/real show (per SoC in boards.go), "CPU switching to
// normal world boot", OP-TEE's "I/TC:" lines, the RCE firmware and "TCU
// early console enabled." from assets/transcripts/serial/serial-01, the
// jetpack-nixos UEFI banner with its 1980 build date and the version of
// the profile's JetPack release, the "ESC   to enter Setup." menu with its
// dot countdown, the EFI stub lines and the NixOS greeting from serial-03,
// NixOS's generic "<<< NixOS Stage 1 >>>" / "<<< NixOS Stage 2 >>>", the
// installer's autologin (installation-device.nix). A Raspberry Pi boots
// through its own firmware (the Pi 4's EEPROM bootloader, from nixpkgs PR
// #112677) and U-Boot's extlinux menu as NixOS's SD image has it (nixpkgs
// #70320). The kernel's model, console and version are the profile's
// (profiles.Board, Console.KernelConsole, profiles.Releases); other
// kernel lines, versions and the address line are made up in the real
// formats; the address line is what agetty prints for a "\4" in the getty
// help line.
func BootFor(p *profiles.Profile) []BootLine {
	if p == nil {
		p = defaultProfile()
	}
	if p.Family == profiles.RaspberryPi {
		return append(piFirmware(p), nixosBoot(p, piKernel(p))...)
	}
	return append(jetsonFirmware(p), nixosBoot(p, jetsonKernel(p))...)
}

// firmwareHash stands for the 12 hex digits jetpack-nixos stamps into
// the UEFI version (pkgs/uefi-firmware/r36 biosVersion).
const firmwareHash = "0a1b2c3d4e5f"

func jetsonFirmware(p *profiles.Profile) []BootLine {
	c := chips[boardOf(p).Chip]
	rel, _ := p.Release()
	var out []BootLine
	for i, l := range c.mb1 {
		d := 5 * time.Millisecond
		if i == 0 {
			d = 0
		}
		out = append(out, BootLine{d, l})
	}
	out = append(out, BootLine{300 * time.Millisecond, "[0000.412] I> MB1 done"})
	for i, l := range c.mb2 {
		d := 100 * time.Millisecond
		if i == 0 {
			d = 2500 * time.Millisecond
		}
		out = append(out, BootLine{d, l})
	}
	out = append(out, []BootLine{
		{400 * time.Millisecond, "NOTICE:  BL31: v2.8(release):e2e5c7e2a"},
		{10 * time.Millisecond, "NOTICE:  BL31: Built : 00:00:00, Jan  1 1980"},
		{300 * time.Millisecond, "I/TC: "},
		{10 * time.Millisecond, "I/TC: OP-TEE version: 4.2 (gcc version 13.3.0 (GCC)) #1 Thu Jan  1 00:00:00 UTC 1970 aarch64"},
		{10 * time.Millisecond, "I/TC: Primary CPU initializing"},
		{50 * time.Millisecond, "I/TC: Primary CPU switching to normal world boot"},
		{10 * time.Millisecond, "CPU switching to normal world boot"},
		{900 * time.Millisecond, "\x1b[0m\x1b[37m\x1b[40mJetson UEFI firmware (version " + rel.L4T + "-" + firmwareHash + " built on 1980-01-01T00:00:00+00:00)"},
		{200 * time.Millisecond, "I/TC: Reserved shared memory is disabled"},
		{10 * time.Millisecond, "I/TC: Dynamic shared memory is enabled"},
		{10 * time.Millisecond, "I/TC: Normal World virtualization support is disabled"},
		{10 * time.Millisecond, "I/TC: Asynchronous notifications are disabled"},
	}...)
	if boardOf(p).Chip == "t234" { // Orin's camera firmware (serial-01)
		out = append(out, []BootLine{
			{600 * time.Millisecond, "[ 6.318531] Camera-FW on t234-rce-safe started"},
			{40 * time.Millisecond, "TCU early console enabled."},
			{60 * time.Millisecond, "[ 6.380337] Camera-FW on t234-rce-safe ready SHA1=e2238c99 (crt 1.360 ms, total boot 63.229 ms)"},
		}...)
	}
	out = append(out, []BootLine{
		{3 * time.Second, "ESC   to enter Setup."},
		{0, "F11   to enter Boot Manager Menu."},
		{0, "Enter to continue boot."},
		{0, "**  WARNING: Test Key is used.  **"},
		// The countdown: one dot a second on the same line.
		{time.Second, "\x00."}, {time.Second, "\x00."}, {time.Second, "\x00."}, {time.Second, "\x00."}, {time.Second, "\x00."},
		{time.Second, "\x00."},
		{800 * time.Millisecond, ""},
		{0, "Could not locate device tree fixup protocol, skipping."},
		{500 * time.Millisecond, "EFI stub: Booting Linux Kernel..."},
		{20 * time.Millisecond, "EFI stub: Using DTB from configuration table"},
		{20 * time.Millisecond, "EFI stub: Loaded initrd from LINUX_EFI_INITRD_MEDIA_GUID device path"},
		{300 * time.Millisecond, "EFI stub: Exiting boot services and installing virtual address map..."},
	}...)
	return out
}

// kernelBoot is what the kernel prints first: its CPU, version, the
// board's device tree model and its command line.
type kernelBoot struct {
	cpu, version, cmdline string
}

func jetsonKernel(p *profiles.Profile) kernelBoot {
	rel, _ := p.Release()
	cmd := "console=tty0 console=" + kernelConsole(p) + ",115200"
	if boardOf(p).Chip == "t264" { // research/jetpack.md 1.2: Thor's console and earlycon
		cmd += " earlycon=tegra_utc,mmio32,0xc5a0000"
	}
	return kernelBoot{cpu: chips[boardOf(p).Chip].cpu, version: rel.Kernel, cmdline: cmd}
}

// piChips is what a Raspberry Pi's SoC prints: its CPU id (Cortex-A72 on
// the Pi 4, A53 on the Pi 3) and whether an EEPROM bootloader speaks on
// the UART first (the Pi 4's does; the Pi 3's bootcode.bin is silent).
var piChips = map[string]struct {
	cpu    string
	eeprom bool
	dram   string
}{
	"bcm2711": {cpu: "[0x410fd083]", eeprom: true, dram: "3.9 GiB"},
	"bcm2837": {cpu: "[0x410fd034]", dram: "948 MiB"},
}

// piKernelVersion is the mainline kernel a NixOS SD image boots (made up
// in the real format).
const piKernelVersion = "6.12.41"

func piKernel(p *profiles.Profile) kernelBoot {
	// nixpkgs' sd-image-aarch64: ttyS0 and ttyAMA0 are both consoles.
	return kernelBoot{cpu: piChips[boardOf(p).Chip].cpu, version: piKernelVersion,
		cmdline: "console=" + kernelConsole(p) + ",115200n8 console=ttyAMA0,115200n8 console=tty0 loglevel=4"}
}

func piFirmware(p *profiles.Profile) []BootLine {
	b := boardOf(p)
	c := piChips[b.Chip]
	var out []BootLine
	if c.eeprom {
		out = append(out, []BootLine{
			{0, "PM_RSTS: 0x00001000"},
			{10 * time.Millisecond, "RPi: BOOTLOADER release VERSION:23a9f59b DATE: May 15 2020 TIME: 11:05:55 BOOTMODE: 0x00000006 part: 0 BUILD_TIMESTAMP=1589537152 0x1ca63f53 0x00c03111"},
			{10 * time.Millisecond, "uSD voltage 3.3V"},
			{200 * time.Millisecond, "Initialising SDRAM 'Micron' 16Gb x2 total-size: 32 Gbit 3200"},
			{100 * time.Millisecond, "Boot mode: SD (01) order f4"},
			{300 * time.Millisecond, "MBR: 0x00004000, 2097152 type: 0x0b"},
			{50 * time.Millisecond, "lba: 16384 oem: 'mkfs.fat' volume: ' FIRMWARE   '"},
		}...)
	}
	dtb := b.DTB
	out = append(out, []BootLine{
		{1500 * time.Millisecond, ""},
		{0, ""},
		{0, "U-Boot 2025.01 (Jan 06 2025 - 00:00:00 +0000)"},
		{0, ""},
		{100 * time.Millisecond, "DRAM:  " + c.dram},
		{50 * time.Millisecond, b.FirmwareModel},
		{200 * time.Millisecond, "MMC:   mmc@7e202000: 0, sdhci@7e300000: 1"},
		{100 * time.Millisecond, "Loading Environment from FAT... OK"},
		{0, "In:    serial"},
		{0, "Out:   serial"},
		{0, "Err:   serial"},
		{300 * time.Millisecond, "Net:   No ethernet found."},
		{0, "starting USB..."},
		{800 * time.Millisecond, "Hit any key to stop autoboot:  0 "},
		{1 * time.Second, "switch to partitions #0, OK"},
		{0, "mmc0 is current device"},
		{100 * time.Millisecond, "Scanning mmc 0:2..."},
		{100 * time.Millisecond, "Found /boot/extlinux/extlinux.conf"},
		{0, "Retrieving file: /boot/extlinux/extlinux.conf"},
		{0, "------------------------------------------------------------"},
		{0, "1:\tNixOS - Default"},
		{0, "Enter choice: 1:\tNixOS - Default"},
		{0, "Retrieving file: /boot/extlinux/../nixos/0000000000000000000000000000000-initrd-linux-" + piKernelVersion + "-initrd"},
		{1200 * time.Millisecond, "Retrieving file: /boot/extlinux/../nixos/0000000000000000000000000000000-linux-" + piKernelVersion + "-Image"},
		{1500 * time.Millisecond, "append: init=/nix/store/0000000000000000000000000000000-nixos-system-nixos-25.11/init " + piKernel(p).cmdline},
		{0, "Retrieving file: /boot/extlinux/../nixos/0000000000000000000000000000000-linux-" + piKernelVersion + "-dtbs/" + dtb},
		{200 * time.Millisecond, "## Flattened Device Tree blob at 02600000"},
		{0, "   Booting using the fdt blob at 0x2600000"},
		{300 * time.Millisecond, ""},
		{0, "Starting kernel ..."},
		{0, ""},
	}...)
	return out
}

// nixosBoot is Linux and the NixOS installer coming up on the console.
func nixosBoot(p *profiles.Profile, k kernelBoot) []BootLine {
	tty := kernelConsole(p)
	return []BootLine{
		{800 * time.Millisecond, "[    0.000000] Booting Linux on physical CPU 0x0000000000 " + k.cpu},
		{0, "[    0.000000] Linux version " + k.version + " (nixbld@localhost) (aarch64-unknown-linux-gnu-gcc (GCC) 13.3.0) #1-NixOS SMP PREEMPT"},
		{0, "[    0.000000] Machine model: " + boardOf(p).Model},
		{0, "[    0.000000] Kernel command line: " + k.cmdline + " init=/nix/store/0000000000000000000000000000000-nixos-system-nixos-25.11/init"},
		{1500 * time.Millisecond, "[    1.514127] Run /init as init process"},
		{100 * time.Millisecond, ""},
		{0, "<<< NixOS Stage 1 >>>"},
		{0, ""},
		{300 * time.Millisecond, "loading module dm_mod..."},
		{400 * time.Millisecond, "running udev..."},
		{600 * time.Millisecond, "Starting systemd-udevd version 256.8"},
		{2 * time.Second, "mounting tmpfs on /..."},
		{300 * time.Millisecond, "mounting /dev/root on /iso..."},
		{1500 * time.Millisecond, "mounting /mnt-root/iso/nix-store.squashfs on /nix/.ro-store..."},
		{800 * time.Millisecond, ""},
		{0, "<<< NixOS Stage 2 >>>"},
		{0, ""},
		{500 * time.Millisecond, "running activation script..."},
		{800 * time.Millisecond, "setting up /etc..."},
		{1500 * time.Millisecond, "starting systemd..."},
		{500 * time.Millisecond, ""},
		{0, "Welcome to \x1b[1mNixOS 25.11 (Xantusia)\x1b[0m!"},
		{0, ""},
		{400 * time.Millisecond, "[  \x1b[0;32mOK\x1b[0m  ] Created slice \x1b[0;1;39mSlice /system/getty\x1b[0m."},
		{300 * time.Millisecond, "[  \x1b[0;32mOK\x1b[0m  ] Reached target \x1b[0;1;39mLocal File Systems\x1b[0m."},
		{1200 * time.Millisecond, "[  \x1b[0;32mOK\x1b[0m  ] Started \x1b[0;1;39mDHCP Client\x1b[0m."},
		{900 * time.Millisecond, "[  \x1b[0;32mOK\x1b[0m  ] Started \x1b[0;1;39mSSH Daemon\x1b[0m."},
		{400 * time.Millisecond, "[  \x1b[0;32mOK\x1b[0m  ] Started \x1b[0;1;39mSerial Getty on " + tty + "\x1b[0m."},
		{300 * time.Millisecond, "[  \x1b[0;32mOK\x1b[0m  ] Reached target \x1b[0;1;39mMulti-User System\x1b[0m."},
		{1500 * time.Millisecond, ""},
		{0, ""},
		{0, "<<< Welcome to NixOS 25.11.20260118.77ef7a2 (aarch64) - " + tty + " >>>"},
		{0, "IPv4 address of eth0: " + BoardAddress},
		{0, ""},
		{0, "The \"nixos\" and \"root\" accounts have empty passwords."},
		{0, ""},
		{0, "To log in over ssh you must set a password for either \"nixos\" or \"root\""},
		{0, "with `passwd` (prefix with `sudo` for \"root\"), or add your public key to"},
		{0, "/home/nixos/.ssh/authorized_keys or /root/.ssh/authorized_keys."},
		{0, ""},
		{0, "Run 'nixos-help' for the NixOS manual."},
		{0, ""},
		{300 * time.Millisecond, "nixos login: nixos (automatic login)"},
		{0, ""},
		{400 * time.Millisecond, ""},
		{0, "\x00" + shellPrompt},
	}
}

// boardOf is the profile's board; a profile without one boots as the
// default board.
func boardOf(p *profiles.Profile) *profiles.Board {
	if p.Board != nil {
		if _, ok := chips[p.Board.Chip]; ok || p.Family == profiles.RaspberryPi {
			return p.Board
		}
	}
	return defaultProfile().Board
}

// kernelConsole is the board-side device Linux prints on.
func kernelConsole(p *profiles.Profile) string {
	if p.Console.KernelConsole != "" {
		return p.Console.KernelConsole
	}
	return "ttyTCU0"
}

// shellPrompt is the installer's prompt, coloured as NixOS draws it.
const shellPrompt = "\x1b[1;32m[nixos@nixos:~]$\x1b[0m "
