package sim

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
)

// Installer is the simulated `nix build` of a profile's installer: it
// prints the build lines nix prints and produces a real image, laid out
// like the real one (an isohybrid ISO for Jetsons, a zstd SD image with
// FIRMWARE and NIXOS_SD partitions for a Pi), small enough for a demo.
type Installer struct {
	// Pace is the pause between build lines.
	Pace time.Duration
	once sync.Map // kind -> *builtImage
}

type builtImage struct {
	once sync.Once
	path string
	err  error
}

// Build makes (once per kind) and returns the image.
func (in *Installer) Build(ctx context.Context, inst profiles.Installer, sink step.Sink) (string, error) {
	ref := inst.Flake + "#" + inst.Attribute
	lines := []string{
		"building '/nix/store/9x2k1m3v0y8c4q7s5b6n1d2f3g4h5j6k-" + inst.Attribute + ".drv'...",
		"copying path '/nix/store/k3l9m2n8b7v6c5x4z1a2s3d4f5g6h7j8-linux-6.6.52' from 'https://cache.nixos.org'...",
		"building the system configuration...",
		"Writing image, this may take a while...",
	}
	// The progress the Nix runner's tracker makes of such a build: two
	// derivations (the image and its system), one path from the cache.
	building := "building " + inst.Attribute
	progress := []nixrun.Progress{
		{Total: 2, Running: 1, Downloads: 1, Activity: building},
		{Total: 2, Running: 1, Downloaded: 1, Downloads: 1, Activity: "copying path linux-6.6.52 from https://cache.nixos.org"},
		{Built: 1, Total: 2, Running: 1, Downloaded: 1, Downloads: 1, Activity: building},
		{Built: 1, Total: 2, Running: 1, Downloaded: 1, Downloads: 1, Activity: building},
	}
	sink.Emit(step.Log{At: time.Now(), Line: "nix build " + ref})
	for i, l := range lines {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(in.Pace):
		}
		sink.Emit(step.Log{At: time.Now(), Line: l})
		sink.Emit(media.BuildProgress{At: time.Now(), Phase: media.PhaseBuild, Ref: ref, Progress: progress[i]})
	}
	v, _ := in.once.LoadOrStore(inst.Kind+"#"+inst.Attribute, &builtImage{})
	b := v.(*builtImage)
	b.once.Do(func() { b.path, b.err = makeImage(inst.Kind, simKernel(inst.Attribute)) })
	if b.err == nil {
		sink.Emit(media.BuildProgress{At: time.Now(), Phase: media.PhaseBuild, Ref: ref,
			Progress: nixrun.Progress{Built: 2, Total: 2, Downloaded: 1, Downloads: 1, Done: true}})
	}
	return b.path, b.err
}

// makeImage writes the demo installer in the work directory.
func makeImage(kind, kernel string) (string, error) {
	dir, err := workDir()
	if err != nil {
		return "", err
	}
	const size = 96 << 20
	img := make([]byte, size)
	rnd := rand.New(rand.NewSource(1))
	// Some "store paths": random data in a few runs, zeros between.
	for _, off := range []int{12 << 20, 40 << 20, 41 << 20, 70 << 20} {
		rnd.Read(img[off : off+(3<<20)])
	}
	if kind == "iso" {
		isoWithKernel(img, kernel)
		mbr(img, [][3]uint32{{0, 0xcd, size / 512}})
		p := filepath.Join(dir, "nixos-minimal-sim-"+kernel+"-aarch64-linux.iso")
		return p, os.WriteFile(p, img, 0o644)
	}
	mbr(img, [][3]uint32{{16384, 0x0b, 61440}, {77824, 0x83, size/512 - 77824}})
	PiFirmware(img[16384*512 : 16384*512+61440*512])
	ext := img[77824*512:]
	binary.LittleEndian.PutUint16(ext[1080:], 0xef53)
	binary.LittleEndian.PutUint32(ext[1024+96:], 0x40)
	copy(ext[1024+120:], "NIXOS_SD")
	p := filepath.Join(dir, "nixos-sd-image-sim-aarch64-linux.img.zst")
	// One frame with its content size, as zstd(1) writes for a file.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return "", err
	}
	defer enc.Close()
	return p, os.WriteFile(p, enc.EncodeAll(img, nil), 0o644)
}

// mbr writes a DOS partition table: {start sector, type, sectors}.
func mbr(img []byte, parts [][3]uint32) {
	for i, p := range parts {
		e := img[446+16*i:]
		e[4] = byte(p[1])
		binary.LittleEndian.PutUint32(e[8:], p[0])
		binary.LittleEndian.PutUint32(e[12:], p[2])
	}
	img[510], img[511] = 0x55, 0xaa
}

// PiFirmware formats part (at least 9 MiB) as the FAT16 firmware
// partition of a Raspberry Pi SD image: the Pi 3 and Pi 4 firmware files
// and a config.txt that starts U-Boot, as nixpkgs' sd-image has them.
func PiFirmware(part []byte) {
	fat16WithFiles(part, "FIRMWARE", map[string]string{
		"BOOTCODE.BIN": "", "START.ELF": "", "FIXUP.DAT": "", "START4.ELF": "", "FIXUP4.DAT": "",
		"CONFIG.TXT": "[pi3]\nkernel=u-boot-rpi3.bin\n[pi4]\nkernel=u-boot-rpi4.bin\n[all]\narm_64bit=1\n"})
}

// simKernel is the kernel an installer ISO of that jetpack-nixos attribute
// carries (JetPack 5 = Linux 5.10, 6 = 5.15, 7 = 6.8).
func simKernel(attr string) string {
	switch {
	case strings.HasSuffix(attr, "_jp5"):
		return "5.10.216"
	case strings.HasSuffix(attr, "_jp7"):
		return "6.8.12"
	}
	return "5.15.148"
}

// fat16WithFiles formats part as FAT16 (512-byte sectors, 4 per cluster,
// 512 root entries) with the files in its root directory, each in one
// cluster: the Pi firmware partition jetup inspect and the board check
// read.
func fat16WithFiles(part []byte, label string, files map[string]string) {
	le := binary.LittleEndian
	total := len(part) / 512
	const spc, reserved, rootEnts, fatSecs = 4, 1, 512, 64
	b := part[:512]
	copy(b, "\xeb\x3c\x90mkfs.fat")
	le.PutUint16(b[11:], 512)
	b[13] = spc
	le.PutUint16(b[14:], reserved)
	b[16] = 2
	le.PutUint16(b[17:], rootEnts)
	le.PutUint16(b[19:], uint16(total))
	b[21] = 0xf8
	le.PutUint16(b[22:], fatSecs)
	b[38] = 0x29
	copy(b[0x2b:], fmt.Sprintf("%-11s", label))
	copy(b[0x36:], "FAT16   ")
	b[510], b[511] = 0x55, 0xaa
	fat := part[reserved*512:]
	le.PutUint16(fat[0:], 0xfff8)
	le.PutUint16(fat[2:], 0xffff)
	root := part[(reserved+2*fatSecs)*512:]
	data := (reserved + 2*fatSecs + rootEnts*32/512) * 512
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		e := root[32*i:]
		base, ext, _ := strings.Cut(n, ".")
		copy(e[0:11], fmt.Sprintf("%-8s%-3s", base, ext))
		e[11] = 0x20
		if c := files[n]; c != "" {
			cl := 2 + i
			le.PutUint16(e[26:], uint16(cl))
			le.PutUint32(e[28:], uint32(len(c)))
			le.PutUint16(fat[2*cl:], 0xffff)
			copy(part[data+(cl-2)*spc*512:], c)
		}
	}
}

// isoWithKernel lays an ISO 9660 file system in img with /boot/Image
// carrying a Linux banner, as a NixOS aarch64 installer ISO holds its
// kernel.
func isoWithKernel(img []byte, kernel string) {
	le, be := binary.LittleEndian, binary.BigEndian
	rec := func(b []byte, lba, size uint32, dir bool, name string) int {
		n := 33 + len(name)
		if n%2 == 1 {
			n++
		}
		b[0] = byte(n)
		le.PutUint32(b[2:], lba)
		be.PutUint32(b[6:], lba)
		le.PutUint32(b[10:], size)
		be.PutUint32(b[14:], size)
		if dir {
			b[25] = 2
		}
		le.PutUint16(b[28:], 1)
		be.PutUint16(b[30:], 1)
		b[32] = byte(len(name))
		copy(b[33:], name)
		return n
	}
	sec := func(n int) []byte { return img[n*2048 : (n+1)*2048] }
	pvd := sec(16)
	copy(pvd, "\x01CD001\x01")
	copy(pvd[40:], fmt.Sprintf("%-32s", "nixos-minimal-sim-aarch64"))
	rec(pvd[156:], 20, 2048, true, "\x00")
	copy(sec(17), "\xffCD001\x01")
	root := sec(20)
	o := rec(root, 20, 2048, true, "\x00")
	o += rec(root[o:], 20, 2048, true, "\x01")
	rec(root[o:], 21, 2048, true, "BOOT")
	banner := "Linux version " + kernel + " (nixbld@localhost) (aarch64-unknown-linux-gnu-gcc (GCC) 13.3.0)"
	boot := sec(21)
	o = rec(boot, 21, 2048, true, "\x00")
	o += rec(boot[o:], 20, 2048, true, "\x01")
	rec(boot[o:], 22, uint32(len(banner)), false, "IMAGE;1")
	copy(sec(22), banner)
}
