package image

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/profiles"
)

func profile(t *testing.T, name string) *profiles.Profile {
	t.Helper()
	set, errs := profiles.Load(assets.Profiles(), "")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p, ok := set.Get(name)
	if !ok {
		t.Fatalf("no profile %s", name)
	}
	return p
}

func causes(fs []Finding) string {
	var out []string
	for _, f := range fs {
		c := f.Cause
		if f.Refuse {
			c += "!"
		}
		out = append(out, c)
	}
	return strings.Join(out, ",")
}

func inspect(t *testing.T, path string) *Report {
	t.Helper()
	rep, err := Inspect(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// A Pi 3B's boot ROM reads only an MBR: the repart image's pure GPT is
// refused, the same image with a hybrid MBR is not; the Pi SD image
// passes.
func TestPi3NeedsAnMBR(t *testing.T) {
	dir := t.TempDir()
	gpt := repartImage(t, dir)
	pi3 := profile(t, "rpi3b")
	if got := causes(CheckBoard(inspect(t, gpt), pi3)); !strings.Contains(got, "board-needs-mbr!") || !strings.Contains(got, "board-pi-model") {
		t.Errorf("pure GPT on a Pi 3: %s", got)
	}
	// A hybrid MBR: the ESP in slot 2 beside the protective entry.
	f, _ := os.OpenFile(gpt, os.O_RDWR, 0)
	_, _ = f.WriteAt([]byte{0, 0, 0, 0, 0x0c, 0, 0, 0, 0x00, 0x08, 0, 0, 0x00, 0x00, 0x01, 0x00}, 446+16)
	f.Close()
	if got := causes(CheckBoard(inspect(t, gpt), pi3)); strings.Contains(got, "board-needs-mbr") {
		t.Errorf("hybrid MBR refused: %s", got)
	}
	if got := causes(CheckBoard(inspect(t, piImage(t, dir)), pi3)); got != "" {
		t.Errorf("the Pi SD image: %s", got)
	}
}

// A Pi 4 image needs the Pi firmware or the RPi UEFI firmware.
func TestPi4NeedsFirmware(t *testing.T) {
	dir := t.TempDir()
	pi4 := profile(t, "rpi4")
	if got := causes(CheckBoard(inspect(t, repartImage(t, dir)), pi4)); got != "" {
		t.Errorf("the UEFI appliance: %s", got)
	}
	bare := filepath.Join(dir, "bare.img")
	run(t, dir, "truncate", "-s", "40M", bare)
	sfdisk(t, bare, "label: gpt\nstart=2048, size=32768, type=uefi, name=\"ESP\"\n")
	place(t, bare, fatWith(t, dir, 16, "EMPTY", map[string][]byte{"readme.txt": []byte("x")}), 2048)
	if got := causes(CheckBoard(inspect(t, bare), pi4)); got != "board-no-firmware!" {
		t.Errorf("no firmware: %s", got)
	}
}

// A Jetson installer ISO is checked by its kernel's version: JetPack 6
// boots Linux 5.15, a JetPack 5 ISO (5.10) is refused.
func TestJetsonISOOfAnotherJetPackIsRefused(t *testing.T) {
	testkit.NeedCommands(t, "xorriso")
	orin := profile(t, "orin-nano-devkit")
	for kernel, want := range map[string]string{"5.15.148": "", "5.10.216": "board-wrong-jetpack!"} {
		dir := t.TempDir()
		root := filepath.Join(dir, "iso")
		_ = os.MkdirAll(filepath.Join(root, "boot"), 0o755)
		_ = os.MkdirAll(filepath.Join(root, "EFI", "BOOT"), 0o755)
		image := append(make([]byte, 3<<20), []byte("Linux version "+kernel+" (nixbld@localhost) (aarch64-unknown-linux-gnu-gcc)")...)
		_ = os.WriteFile(filepath.Join(root, "boot", "Image"), image, 0o644)
		_ = os.WriteFile(filepath.Join(root, "EFI", "BOOT", "BOOTAA64.EFI"), []byte("MZ GNU GRUB"), 0o644)
		iso := filepath.Join(dir, "nixos-minimal-aarch64-linux.iso")
		run(t, dir, "xorriso", "-as", "mkisofs", "-quiet", "-V", "nixos-minimal-25.11-aarch64", "-J", "-R", "-o", iso, root)
		rep := inspect(t, iso)
		if got := causes(CheckBoard(rep, orin)); got != want {
			t.Errorf("kernel %s: %q, want %q\n%s", kernel, got, want, strings.Join(rep.Lines(), "\n"))
		}
	}
}
