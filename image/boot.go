package image

import (
	"bytes"
	"path"
	"regexp"
	"strings"

	"github.com/jetup/jetup/disklabel"
)

// bootOnFS finds the boot chain on one FAT or ISO file system: Raspberry
// Pi firmware (and what its config.txt starts: U-Boot, the RPi UEFI
// firmware), systemd-boot, UKIs, the EFI removable path, GRUB, extlinux.
func bootOnFS(fs fsReader, part int) []Boot {
	var out []Boot
	root, err := fs.ReadDir("")
	if err != nil {
		return nil
	}
	has := map[string]disklabel.DirEntry{}
	for _, e := range root {
		has[strings.ToLower(e.Name)] = e
	}
	// Pi firmware: bootcode.bin + start.elf boot a Pi 0-3; a Pi 4's
	// EEPROM loads start4.elf; the Pi 5 has no start*.elf at all.
	var models, files []string
	if _, ok := has["bootcode.bin"]; ok && anyOf(has, "start.elf", "start_x.elf", "start_cd.elf") {
		models = append(models, "pi3")
		files = append(files, "bootcode.bin", "start.elf")
	}
	if anyOf(has, "start4.elf", "start4x.elf", "start4cd.elf", "start4db.elf") {
		models = append(models, "pi4")
		files = append(files, "start4.elf")
	}
	if anyOf(has, "bcm2712-rpi-5-b.dtb") {
		models = append(models, "pi5")
	}
	cfg := map[string][]string{}
	if _, ok := has["config.txt"]; ok {
		if b, err := fs.ReadFile("config.txt", 64<<10); err == nil {
			cfg = parseConfigTxt(b)
		}
	}
	if len(models) > 0 {
		out = append(out, Boot{Kind: "pi-firmware", Partition: part, Models: models, Detail: strings.Join(files, ", ")})
	}
	for _, k := range cfg["kernel"] {
		if strings.Contains(strings.ToLower(k), "u-boot") {
			out = append(out, Boot{Kind: "u-boot", Partition: part, Path: k, Detail: "config.txt kernel=" + k})
		}
	}
	if len(cfg["kernel"]) == 0 {
		for name, e := range has {
			if strings.HasPrefix(name, "u-boot") && strings.HasSuffix(name, ".bin") {
				out = append(out, Boot{Kind: "u-boot", Partition: part, Path: e.Name})
			}
		}
	}
	if e, ok := has["rpi_efi.fd"]; ok {
		b := Boot{Kind: "rpi-uefi", Partition: part, Path: e.Name}
		if stub := cfg["armstub"]; len(stub) > 0 {
			b.Detail = "config.txt armstub=" + stub[0]
		} else {
			b.Detail = "config.txt has no armstub=RPI_EFI.fd: the firmware will not start it"
		}
		out = append(out, b)
	}
	// The EFI removable path: what UEFI firmware boots from a stick.
	if efiBoot, err := fs.ReadDir("EFI/BOOT"); err == nil {
		for _, e := range efiBoot {
			arch := removableArch(e.Name)
			if arch == "" {
				continue
			}
			b := Boot{Kind: "efi-removable", Partition: part, Path: "EFI/BOOT/" + e.Name, Arch: arch}
			head, _ := fs.ReadFile("EFI/BOOT/"+e.Name, 4<<20)
			switch {
			case bytes.Contains(head, []byte("#### LoaderInfo: systemd-boot")):
				b.Detail = "systemd-boot"
			case bytes.Contains(head, []byte("GNU GRUB")), bytes.Contains(head, []byte("grub_")):
				b.Detail = "GRUB"
			}
			out = append(out, b)
		}
	}
	if sd, err := fs.ReadDir("EFI/systemd"); err == nil {
		for _, e := range sd {
			if strings.HasPrefix(strings.ToLower(e.Name), "systemd-boot") {
				b := Boot{Kind: "systemd-boot", Partition: part, Path: "EFI/systemd/" + e.Name, Arch: removableArch(strings.TrimPrefix(strings.ToLower(e.Name), "systemd-"))}
				if head, err := fs.ReadFile(b.Path, 4<<20); err == nil {
					if m := sdbootVersion.FindSubmatch(head); m != nil {
						b.Version = string(m[1])
					}
				}
				out = append(out, b)
			}
		}
	}
	if ukis, err := fs.ReadDir("EFI/Linux"); err == nil {
		for _, e := range ukis {
			if e.Dir || !strings.HasSuffix(strings.ToLower(e.Name), ".efi") {
				continue
			}
			b := Boot{Kind: "uki", Partition: part, Path: "EFI/Linux/" + e.Name}
			if head, err := fs.ReadFile(b.Path, 8<<20); err == nil {
				b.Arch, b.Version, b.Detail = ukiInfo(head)
			}
			if _, v, ok := sysupdateName(strings.TrimSuffix(e.Name, path.Ext(e.Name))); ok && b.Version == "" {
				b.Version = v
			}
			out = append(out, b)
		}
	}
	if _, err := fs.ReadFile("extlinux/extlinux.conf", 1); err == nil {
		out = append(out, Boot{Kind: "extlinux", Partition: part, Path: "extlinux/extlinux.conf"})
	}
	if _, err := fs.ReadFile("boot/extlinux/extlinux.conf", 1); err == nil {
		out = append(out, Boot{Kind: "extlinux", Partition: part, Path: "boot/extlinux/extlinux.conf"})
	}
	return out
}

var sdbootVersion = regexp.MustCompile(`#### LoaderInfo: systemd-boot ([0-9A-Za-z.~_-]{1,40}) ####`)

func anyOf(has map[string]disklabel.DirEntry, names ...string) bool {
	for _, n := range names {
		if _, ok := has[n]; ok {
			return true
		}
	}
	return false
}

// removableArch is the machine of BOOTAA64.EFI, BOOTX64.EFI, ...
func removableArch(name string) string {
	switch strings.ToLower(strings.TrimSuffix(strings.ToLower(name), ".efi")) {
	case "bootaa64", "bootaa64-efi", "aa64", "bootaa64.efi":
		return "aarch64"
	case "bootx64", "x64":
		return "x86_64"
	case "bootia32", "ia32":
		return "i686"
	case "bootarm", "arm":
		return "armv7"
	case "bootriscv64", "riscv64":
		return "riscv64"
	}
	return ""
}

// parseConfigTxt reads the Raspberry Pi firmware's config.txt keys (every
// value of each key, whatever [section] it is in).
func parseConfigTxt(b []byte) map[string][]string {
	out := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		out[k] = append(out[k], strings.TrimSpace(v))
	}
	return out
}

// kernelOnISO finds the installer's kernel and its version from the
// banner inside it ("Linux version 5.15.148 ..."), reading at most 64 MiB
// of it: the Jetson check compares its series with the profile's JetPack.
func kernelOnISO(iso *disklabel.ISO) []Boot {
	ents, err := iso.ReadDir("boot")
	if err != nil {
		return nil
	}
	for _, e := range ents {
		n := strings.ToLower(e.Name)
		if e.Dir || !(n == "image" || n == "bzimage" || strings.HasPrefix(n, "vmlinuz") || strings.HasPrefix(n, "image-")) {
			continue
		}
		b := Boot{Kind: "linux", Path: "boot/" + e.Name}
		if data, err := iso.ReadFile(b.Path, 64<<20); err == nil {
			if m := linuxBanner.FindSubmatch(data); m != nil {
				b.Version = string(m[1])
			}
		}
		return []Boot{b}
	}
	return nil
}

var linuxBanner = regexp.MustCompile(`Linux version ([0-9]+\.[0-9]+(?:\.[0-9]+)?[0-9A-Za-z.+_-]{0,40})`)
