package image

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
)

func run(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func sfdisk(t testing.TB, img, script string) {
	t.Helper()
	cmd := exec.Command("sfdisk", "-q", img)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
}

// fatWith makes a FAT file system image of mib MiB holding files (path ->
// content), with mkfs.vfat and mtools, as the Pi firmware partition and
// ESPs are made.
func fatWith(t testing.TB, dir string, mib int, label string, files map[string][]byte) string {
	t.Helper()
	testkit.NeedCommands(t, "mkfs.vfat", "mcopy", "mmd")
	img := filepath.Join(dir, label+".fat")
	run(t, dir, "mkfs.vfat", "-C", "-n", label, img, strconv.Itoa(mib*1024))
	made := map[string]bool{}
	for p, data := range files {
		parts := strings.Split(p, "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/")
			if !made[d] {
				run(t, dir, "mmd", "-i", img, "::"+d)
				made[d] = true
			}
		}
		src := filepath.Join(dir, "src-"+strings.ReplaceAll(p, "/", "_"))
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, dir, "mcopy", "-i", img, src, "::"+p)
	}
	return img
}

// place copies a file system image into the disk image at a sector.
func place(t testing.TB, img, part string, sector int) {
	t.Helper()
	run(t, filepath.Dir(img), "dd", "if="+part, "of="+img, "bs=512", "seek="+strconv.Itoa(sector), "conv=notrunc", "status=none")
}

// fakeUKI is a PE file as ukify lays one out: an arm64 COFF header and
// the .osrel and .uname sections systemd-stub reads.
func fakeUKI(osrel, uname string) []byte {
	b := make([]byte, 0x400)
	copy(b, "MZ")
	binary.LittleEndian.PutUint32(b[0x3c:], 0x40)
	copy(b[0x40:], "PE\x00\x00")
	binary.LittleEndian.PutUint16(b[0x44:], 0xaa64)
	binary.LittleEndian.PutUint16(b[0x46:], 2)
	sec := func(i int, name string, data string) {
		s := b[0x58+40*i:]
		copy(s, name)
		ptr := 0x200 + 0x100*i
		binary.LittleEndian.PutUint32(s[8:], uint32(len(data)))
		binary.LittleEndian.PutUint32(s[16:], uint32(len(data)))
		binary.LittleEndian.PutUint32(s[20:], uint32(ptr))
		copy(b[ptr:], data)
	}
	sec(0, ".osrel", osrel)
	sec(1, ".uname", uname)
	return append(b, bytes.Repeat([]byte{0x90}, 4096)...)
}
