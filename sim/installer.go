package sim

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
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
	v, _ := in.once.LoadOrStore(inst.Kind, &builtImage{})
	b := v.(*builtImage)
	b.once.Do(func() { b.path, b.err = makeImage(inst.Kind) })
	if b.err == nil {
		sink.Emit(media.BuildProgress{At: time.Now(), Phase: media.PhaseBuild, Ref: ref,
			Progress: nixrun.Progress{Built: 2, Total: 2, Downloaded: 1, Downloads: 1, Done: true}})
	}
	return b.path, b.err
}

// makeImage writes the demo installer in the work directory.
func makeImage(kind string) (string, error) {
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
		copy(img[32768:], "\x01CD001\x01")
		copy(img[32768+40:], fmt.Sprintf("%-32s", "nixos-minimal-sim-aarch64"))
		mbr(img, [][3]uint32{{0, 0xcd, size / 512}})
		p := filepath.Join(dir, "nixos-minimal-sim-aarch64-linux.iso")
		return p, os.WriteFile(p, img, 0o644)
	}
	mbr(img, [][3]uint32{{16384, 0x0b, 61440}, {77824, 0x83, size/512 - 77824}})
	fat := img[16384*512:]
	copy(fat[0x36:], "FAT16   ")
	copy(fat[0x2b:], "FIRMWARE   ")
	fat[510], fat[511] = 0x55, 0xaa
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
