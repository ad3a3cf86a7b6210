package image

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/proc"
)

// piImage is a Raspberry Pi SD image as nixpkgs' sd-image makes one: an
// MBR, a FAT "FIRMWARE" partition with the Pi 3 and Pi 4 firmware files
// and U-Boot started by config.txt, and an ext4 root.
func piImage(t testing.TB, dir string) string {
	t.Helper()
	testkit.NeedCommands(t, "sfdisk", "mkfs.ext4")
	img := filepath.Join(dir, "sd.img")
	run(t, dir, "truncate", "-s", "80M", img)
	sfdisk(t, img, "label: dos\nstart=16384, size=65536, type=c, bootable\nstart=81920, type=83\n")
	fw := fatWith(t, dir, 32, "FIRMWARE", map[string][]byte{
		"bootcode.bin": []byte("bootcode"), "start.elf": []byte("start"), "fixup.dat": []byte("f"),
		"start4.elf": []byte("start4"), "fixup4.dat": []byte("f4"), "u-boot-rpi4.bin": []byte("u-boot"),
		"u-boot-rpi3.bin": []byte("u-boot"), "bcm2711-rpi-4-b.dtb": []byte("dtb"),
		"config.txt": []byte("[pi3]\nkernel=u-boot-rpi3.bin\n[pi4]\nkernel=u-boot-rpi4.bin\nenable_gic=1\n[all]\narm_64bit=1\n"),
	})
	place(t, img, fw, 16384)
	run(t, dir, "mkfs.ext4", "-q", "-F", "-L", "NIXOS_SD", "-E", "offset="+itoa(81920*512), img, "39M")
	return img
}

// repartImage is the Pi 4 UEFI appliance layout systemd-repart makes: a
// GPT with an ESP holding the RPi4 UEFI firmware, systemd-boot on the
// removable path and a UKI named <id>_<version>.efi; a squashfs
// nix-store_<version> partition; an empty A/B slot.
func repartImage(t testing.TB, dir string) string {
	t.Helper()
	testkit.NeedCommands(t, "sfdisk", "mksquashfs")
	img := filepath.Join(dir, "appliance.raw")
	run(t, dir, "truncate", "-s", "100M", img)
	sfdisk(t, img, `label: gpt
start=2048, size=65536, type=uefi, name="ESP"
size=32768, type=b0e01050-ee5f-4390-949a-9101b17104e9, name="nix-store_1.2.3"
size=32768, type=b0e01050-ee5f-4390-949a-9101b17104e9, name="_empty"
`)
	sdboot := append([]byte("MZ stub #### LoaderInfo: systemd-boot 256.7 #### "), make([]byte, 1024)...)
	esp := fatWith(t, dir, 32, "ESP", map[string][]byte{
		"RPI_EFI.fd": []byte("edk2"), "config.txt": []byte("armstub=RPI_EFI.fd\nenable_gic=1\n"),
		"start4.elf": []byte("start4"), "fixup4.dat": []byte("f"), "bcm2711-rpi-4-b.dtb": []byte("dtb"),
		"EFI/BOOT/BOOTAA64.EFI":            sdboot,
		"EFI/systemd/systemd-bootaa64.efi": sdboot,
		"EFI/Linux/appliance_1.2.3.efi":    fakeUKI("ID=nixos\nPRETTY_NAME=\"NixOS appliance\"\nIMAGE_VERSION=1.2.3\n", "6.6.31"),
		"loader/loader.conf":               []byte("timeout 0\n"),
	})
	place(t, img, esp, 2048)
	src := filepath.Join(dir, "store")
	_ = os.MkdirAll(filepath.Join(src, "nix", "store"), 0o755)
	_ = os.WriteFile(filepath.Join(src, "nix", "store", "hello"), []byte("hello"), 0o644)
	sq := filepath.Join(dir, "store.sqsh")
	run(t, dir, "mksquashfs", src, sq, "-quiet", "-noappend")
	place(t, img, sq, 2048+65536)
	return img
}

func TestPiSDImage(t *testing.T) {
	dir := t.TempDir()
	img := piImage(t, dir)
	rep, err := Inspect(context.Background(), img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Table != "mbr" || len(rep.Partitions) != 2 || !rep.OK() {
		t.Fatalf("%+v", rep)
	}
	if p := rep.Partitions[0]; p.FS != "vfat" || p.FSLabel != "FIRMWARE" || p.Start != 16384*512 || p.Type != "0c" {
		t.Errorf("firmware partition %+v", p)
	}
	if p := rep.Partitions[1]; p.FS != "ext4" || p.FSLabel != "NIXOS_SD" {
		t.Errorf("root %+v", p)
	}
	text := strings.Join(rep.Lines(), "\n")
	for _, want := range []string{"pi-firmware (boots pi3, pi4", "u-boot u-boot-rpi3.bin", "u-boot u-boot-rpi4.bin"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in\n%s", want, text)
		}
	}
	if rep.Has("rpi-uefi") || rep.Has("efi-removable") {
		t.Errorf("found what is not there: %+v", rep.Boot)
	}
}

func TestRepartApplianceImage(t *testing.T) {
	dir := t.TempDir()
	img := repartImage(t, dir)
	rep, err := Inspect(context.Background(), img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkAppliance(t, rep)
}

func checkAppliance(t *testing.T, rep *Report) {
	t.Helper()
	if rep.Table != "gpt" || len(rep.Partitions) != 3 || !rep.OK() {
		t.Fatalf("%+v", rep)
	}
	if p := rep.Partitions[1]; p.FS != "squashfs" || p.Label != "nix-store_1.2.3" || p.TypeName != "Linux /usr (ARM-64)" {
		t.Errorf("store partition %+v", p)
	}
	boot := map[string]Boot{}
	for _, b := range rep.Boot {
		boot[b.Kind] = b
	}
	if b := boot["rpi-uefi"]; b.Path != "RPI_EFI.fd" || b.Detail != "config.txt armstub=RPI_EFI.fd" {
		t.Errorf("rpi-uefi %+v", b)
	}
	if b := boot["efi-removable"]; b.Arch != "aarch64" || b.Detail != "systemd-boot" || b.Path != "EFI/BOOT/BOOTAA64.EFI" {
		t.Errorf("removable %+v", b)
	}
	if b := boot["systemd-boot"]; b.Version != "256.7" {
		t.Errorf("systemd-boot %+v", b)
	}
	if b := boot["uki"]; b.Version != "1.2.3" || b.Arch != "aarch64" || b.Detail != "NixOS appliance, Linux 6.6.31" {
		t.Errorf("uki %+v", b)
	}
	s := rep.Sysupdate
	if s == nil || s.EmptySlots != 1 || len(s.Partitions) != 1 || s.Partitions[0].Name != "nix-store" || s.Partitions[0].Version != "1.2.3" {
		t.Errorf("sysupdate %+v", s)
	}
}

// A compressed image goes through write's own decompressors (zstd in Go,
// xz through xz -dc) and reads the same.
func TestCompressedImagesThroughWritesDecompressors(t *testing.T) {
	testkit.NeedCommands(t, "zstd", "xz", "gzip")
	dir := t.TempDir()
	img := repartImage(t, dir)
	for _, c := range [][]string{{"zstd", "-q", "-k"}, {"xz", "-k", "-T2"}, {"gzip", "-k"}} {
		out := img + map[string]string{"zstd": ".zst", "xz": ".xz", "gzip": ".gz"}[c[0]]
		if b, err := exec.Command(c[0], append(c[1:], img)...).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, b)
		}
		rep, err := Inspect(context.Background(), out, Options{Runner: proc.Host{}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Compression != map[string]string{"zstd": "zstd", "xz": "xz", "gzip": "gzip"}[c[0]] {
			t.Errorf("compression %q", rep.Compression)
		}
		checkAppliance(t, rep)
	}
}

// Bad input: an overlapping table is named; exit 1 in the CLI.
func TestOverlappingTableIsNamed(t *testing.T) {
	dir := t.TempDir()
	img := piImage(t, dir)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Entry 2 starts inside entry 1 (sector 70000 < 16384+65536).
	_, _ = f.WriteAt([]byte{0x70, 0x11, 0x01, 0x00}, 446+16+8)
	f.Close()
	rep, err := Inspect(context.Background(), img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Problems[0].Entry != "partition table" || !strings.Contains(rep.Problems[0].What, "partitions 1 and 2 overlap") {
		t.Fatalf("%+v", rep.Problems)
	}
}

// A truncated compressed image says so, naming where it broke.
func TestTruncatedCompressedImage(t *testing.T) {
	testkit.NeedCommands(t, "zstd")
	dir := t.TempDir()
	img := repartImage(t, dir)
	run(t, dir, "zstd", "-q", "-k", img)
	st, _ := os.Stat(img + ".zst")
	if err := os.Truncate(img+".zst", st.Size()/10); err != nil {
		t.Fatal(err)
	}
	rep, err := Inspect(context.Background(), img+".zst", Options{})
	if err != nil {
		t.Fatalf("the start is there, inspect should report: %v", err)
	}
	all := ""
	for _, p := range rep.Problems {
		all += p.Entry + ": " + p.What + "\n"
	}
	if !strings.Contains(all, "truncated") {
		t.Errorf("problems:\n%s\n%s", all, strings.Join(rep.Lines(), "\n"))
	}
}
