package media

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/step"
)

// craftGPTEntrySize gives both GPT headers on dev the entry size of issue
// 21 finding 2 (0xFFFFFF00) with header CRCs that match, so only the size
// bound stops a parser from allocating count x 4 GiB.
func craftGPTEntrySize(t *testing.T, dev string, size int64) {
	t.Helper()
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range []int64{512, size - 512} {
		h := make([]byte, 512)
		if _, err := f.ReadAt(h, off); err != nil || string(h[:8]) != "EFI PART" {
			t.Fatalf("no GPT header at %d: %v", off, err)
		}
		binary.LittleEndian.PutUint32(h[84:], 0xFFFFFF00)
		binary.LittleEndian.PutUint32(h[16:], 0)
		binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h[:binary.LittleEndian.Uint32(h[12:])]))
		if _, err := f.WriteAt(h, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// A crafted GPT on a real loop device (opened O_DIRECT, as Prepare opens a
// target): the old probe died with "runtime: out of memory" before the
// person confirmed anything; now the table is reported as damaged.
func TestCraftedGPTOnALoopDeviceIsReportedDamaged(t *testing.T) {
	testkit.NeedCommands(t, "sfdisk")
	dir := t.TempDir()
	img := makeSDImage(t, dir, 48)
	const size = 64 << 20
	dev := loopDevice(t, dir, size, 0)
	cmd := "printf 'label: gpt\\nsize=16M, type=uefi, name=\"ESP\"\\n' | sfdisk -q " + dev
	run(t, "sh", "-c", cmd)
	craftGPTEntrySize(t, dev, size)

	p, err := Prepare(context.Background(), hostEnv(), Request{Image: img, Target: dev, AllowFixed: true}, step.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := p.Contents
	if c == nil || c.Table != "gpt" || !c.Damaged || !strings.Contains(strings.Join(c.Problems, "\n"), "entry size 4294967040") {
		t.Fatalf("contents %+v", c)
	}
	summary := strings.Join(p.Summary(), "\n")
	if !strings.Contains(summary, "a damaged GPT partition table: the primary GPT header is damaged") {
		t.Errorf("summary:\n%s", summary)
	}
}
