package sim

import "time"

// BootLine is one line a simulated board prints, After the previous one.
type BootLine struct {
	After time.Duration
	Text  string
}

// BoardAddress is the IPv4 address the simulated board prints: the address
// DESIGN.md gives the simulated SSH target, so the console step's fact
// carries on to the push step in the demo.
const BoardAddress = "192.168.55.1"

// NixOSBoot is a Jetson AGX Orin booting the jetpack-nixos installer, as
// its debug console shows it, at real-time pacing (about 45 s).
//
// It is COMPOSED, not captured: no single real transcript covers a whole
// boot. The marker lines are real: MB1/MB2 lines in the form the research
// gives ("[0000.061] I> MB1 (version: ...)", "I> Boot-mode : Coldboot"),
// "CPU switching to normal world boot", OP-TEE's "I/TC:" lines, the RCE
// firmware and "TCU early console enabled." from
// assets/transcripts/serial/serial-01, the jetpack-nixos UEFI banner with
// its 1980 build date, the "ESC   to enter Setup." menu with its dot
// countdown, the EFI stub lines and the NixOS greeting from serial-03,
// NixOS's generic "<<< NixOS Stage 1 >>>" / "<<< NixOS Stage 2 >>>", the
// installer's autologin (installation-device.nix). The kernel lines, the
// versions and the address line are made up in the real formats; the
// address line is what agetty prints for a "\4" in the getty help line.
var NixOSBoot = []BootLine{
	{0, "[0000.061] I> MB1 (version: 1.4.0.1-t234-54845784-08e631ca)"},
	{5 * time.Millisecond, "[0000.066] I> t234-A01-1-Silicon (0x12347) Prod"},
	{5 * time.Millisecond, "[0000.071] I> Boot-mode : Coldboot"},
	{20 * time.Millisecond, "[0000.091] I> Entry timestamp: 0x00000000"},
	{300 * time.Millisecond, "[0000.412] I> MB1 done"},
	{2500 * time.Millisecond, "[0003.421] I> MB2 (version: 0.0.0.0-t234-54845784-562369e5)"},
	{200 * time.Millisecond, "[0003.622] I> MB2 finished"},
	{400 * time.Millisecond, "NOTICE:  BL31: v2.8(release):e2e5c7e2a"},
	{10 * time.Millisecond, "NOTICE:  BL31: Built : 00:00:00, Jan  1 1980"},
	{300 * time.Millisecond, "I/TC: "},
	{10 * time.Millisecond, "I/TC: OP-TEE version: 4.2 (gcc version 13.3.0 (GCC)) #1 Thu Jan  1 00:00:00 UTC 1970 aarch64"},
	{10 * time.Millisecond, "I/TC: Primary CPU initializing"},
	{50 * time.Millisecond, "I/TC: Primary CPU switching to normal world boot"},
	{10 * time.Millisecond, "CPU switching to normal world boot"},
	{900 * time.Millisecond, "\x1b[0m\x1b[37m\x1b[40mJetson UEFI firmware (version 36.4.3-0a1b2c3d4e5f built on 1980-01-01T00:00:00+00:00)"},
	{200 * time.Millisecond, "I/TC: Reserved shared memory is disabled"},
	{10 * time.Millisecond, "I/TC: Dynamic shared memory is enabled"},
	{10 * time.Millisecond, "I/TC: Normal World virtualization support is disabled"},
	{10 * time.Millisecond, "I/TC: Asynchronous notifications are disabled"},
	{600 * time.Millisecond, "[ 6.318531] Camera-FW on t234-rce-safe started"},
	{40 * time.Millisecond, "TCU early console enabled."},
	{60 * time.Millisecond, "[ 6.380337] Camera-FW on t234-rce-safe ready SHA1=e2238c99 (crt 1.360 ms, total boot 63.229 ms)"},
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
	{800 * time.Millisecond, "[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x410fd421]"},
	{0, "[    0.000000] Linux version 6.6.64 (nixbld@localhost) (aarch64-unknown-linux-gnu-gcc (GCC) 13.3.0) #1-NixOS SMP PREEMPT"},
	{0, "[    0.000000] Machine model: NVIDIA Jetson AGX Orin Developer Kit"},
	{0, "[    0.000000] Kernel command line: console=tty0 console=ttyTCU0,115200 init=/nix/store/0000000000000000000000000000000-nixos-system-nixos-25.11/init"},
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
	{400 * time.Millisecond, "[  \x1b[0;32mOK\x1b[0m  ] Started \x1b[0;1;39mSerial Getty on ttyTCU0\x1b[0m."},
	{300 * time.Millisecond, "[  \x1b[0;32mOK\x1b[0m  ] Reached target \x1b[0;1;39mMulti-User System\x1b[0m."},
	{1500 * time.Millisecond, ""},
	{0, ""},
	{0, "<<< Welcome to NixOS 25.11.20260118.77ef7a2 (aarch64) - ttyTCU0 >>>"},
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

// shellPrompt is the installer's prompt, coloured as NixOS draws it.
const shellPrompt = "\x1b[1;32m[nixos@nixos:~]$\x1b[0m "
