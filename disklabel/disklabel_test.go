package disklabel

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
)

// A GPT made by sfdisk with file systems made by their own tools at the
// partitions' offsets: every partition is found with its label and file
// system, and the table is not called damaged.
func TestSfdiskGPTWithRealFileSystems(t *testing.T) {
	testkit.NeedCommands(t, "sfdisk", "mkfs.vfat", "mkfs.ext4", "mksquashfs", "mkfs.erofs")
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	run(t, "truncate", "-s", "96M", img)
	sfdisk(t, img, `label: gpt
start=2048, size=32768, type=uefi, name="ESP"
size=16384, type=linux, name="nix-store_1.2.3"
size=16384, type=linux, name="_empty"
size=16384, type=linux, name="data"
size=8192, type=linux, name="ero"
`)
	run(t, "mkfs.vfat", "-F", "32", "-n", "ESP", "--offset", "2048", img, "16384")
	run(t, "mkfs.ext4", "-q", "-F", "-L", "data", "-E", "offset="+strconv.Itoa(67584*512), img, "8M")
	src := filepath.Join(dir, "src")
	_ = os.MkdirAll(src, 0o755)
	_ = os.WriteFile(filepath.Join(src, "hello"), []byte("hi"), 0o644)
	sq := filepath.Join(dir, "store.sqsh")
	run(t, "mksquashfs", src, sq, "-quiet", "-noappend")
	run(t, "dd", "if="+sq, "of="+img, "bs=512", "seek=34816", "conv=notrunc", "status=none")
	ero := filepath.Join(dir, "ero.img")
	run(t, "mkfs.erofs", ero, src) // erofs-utils 1.5 (Debian 12) has no -L
	run(t, "dd", "if="+ero, "of="+img, "bs=512", "seek=83968", "conv=notrunc", "status=none")

	d := readFile(t, img)
	if d.Table != GPT || d.Damaged || len(d.Partitions) != 5 {
		t.Fatalf("%+v", d)
	}
	want := []struct{ label, typeName, fs, fsLabel string }{
		{"ESP", "EFI System", "vfat", "ESP"},
		{"nix-store_1.2.3", "Linux filesystem", "squashfs", ""},
		{"_empty", "Linux filesystem", "", ""},
		{"data", "Linux filesystem", "ext4", "data"},
		{"ero", "Linux filesystem", "erofs", ""},
	}
	for i, w := range want {
		p := d.Partitions[i]
		fs, fsl := "", ""
		if p.FS != nil {
			fs, fsl = p.FS.Type, p.FS.Label
		}
		if p.Index != i+1 || p.Label != w.label || p.TypeName != w.typeName || fs != w.fs || fsl != w.fsLabel {
			t.Errorf("partition %d: %+v fs %+v, want %+v", i+1, p, p.FS, w)
		}
	}
	if d.Partitions[0].Start != 2048*512 || d.Partitions[0].Size != 32768*512 {
		t.Errorf("ESP at %d size %d", d.Partitions[0].Start, d.Partitions[0].Size)
	}
	if d.Partitions[1].FS.Size == 0 {
		t.Error("squashfs bytes_used not read")
	}
}

// The MBR of a Raspberry Pi SD image (sfdisk): FAT firmware partition and
// an ext4 root; a logical partition in an extended one is found too.
func TestSfdiskMBRWithLogicalPartitions(t *testing.T) {
	testkit.NeedCommands(t, "sfdisk", "mkfs.vfat")
	img := filepath.Join(t.TempDir(), "sd.img")
	run(t, "truncate", "-s", "40M", img)
	sfdisk(t, img, `label: dos
start=2048, size=16384, type=c, bootable
size=8192, type=83
size=2048, type=83
size=32768, type=5
size=8192, type=83
size=4096, type=82
`)
	run(t, "mkfs.vfat", "-F", "32", "-n", "FIRMWARE", "--offset", "2048", img, "8192")
	d := readFile(t, img)
	if d.Table != MBR || d.Damaged {
		t.Fatalf("%+v", d)
	}
	var idx []int
	for _, p := range d.Partitions {
		idx = append(idx, p.Index)
	}
	if fmt.Sprint(idx) != "[1 2 3 5 6]" || !d.Partitions[0].Bootable || d.Partitions[0].FS.String() != `vfat "FIRMWARE"` {
		t.Fatalf("partitions %v: %+v", idx, d.Partitions)
	}
	if p := d.Partitions[4]; p.Type != "82" || p.TypeName != "Linux swap" || p.Start != (2048+16384+8192+2048+2048+8192+2048)*512 {
		t.Errorf("logical 6: %+v", p)
	}
}

// Issue 21 finding 2: an entry size of 0xFFFFFF00 with a header CRC that
// matches made the old probe allocate count*esize and die. Now the header
// is called damaged, the backup is read instead, and nothing big is made.
func TestHugeGPTEntrySizeIsDamagedNotFatal(t *testing.T) {
	img := gptImage(2048, 512, []testPart{{espGUID, 40, 100, "ESP"}, {linuxGUID, 101, 2000, "root"}})
	binary.LittleEndian.PutUint32(img[512+84:], 0xFFFFFF00)
	binary.LittleEndian.PutUint32(img[512+80:], 1024)
	refreshGPT(img, 512, 1)
	d, err := Read(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	if d.Table != GPT || !d.Damaged || !strings.Contains(strings.Join(d.Problems, "\n"), "entry size 4294967040") {
		t.Fatalf("%+v", d)
	}
	if len(d.Partitions) != 2 || d.Partitions[1].Label != "root" || !strings.Contains(strings.Join(d.Problems, "\n"), "backup GPT header at sector 2047") {
		t.Errorf("the backup was not used: %+v", d)
	}
	// Both headers crafted: damaged, nothing listed.
	last := int64(2047) * 512
	binary.LittleEndian.PutUint32(img[last+84:], 0xFFFFFF00)
	refreshGPT(img, 512, 2047)
	d, _ = Read(bytes.NewReader(img), int64(len(img)))
	if !d.Damaged || len(d.Partitions) != 0 || !strings.Contains(d.Lines()[0], "damaged GPT") {
		t.Errorf("%+v %q", d, d.Lines())
	}
}

func TestGPTChecksumsAreChecked(t *testing.T) {
	cases := map[string]struct {
		spoil func(img []byte)
		want  string
	}{
		"header crc":  {func(img []byte) { img[512+40]++ }, "the primary GPT header is damaged: its CRC32 is"},
		"entries crc": {func(img []byte) { img[1024+56] = 'X' }, "the partition entries' CRC32 is"},
		"count overflow": {func(img []byte) {
			binary.LittleEndian.PutUint32(img[512+80:], 0xFFFFFFFF)
			refreshGPT(img, 512, 1)
		}, "entries of 128 bytes exceed"},
		"entries past the end": {func(img []byte) {
			binary.LittleEndian.PutUint64(img[512+72:], 1<<62)
			refreshGPT(img, 512, 1)
		}, "outside the disk"},
		"wrong lba": {func(img []byte) {
			binary.LittleEndian.PutUint64(img[512+24:], 7)
			refreshGPT(img, 512, 1)
		}, "it says it is at sector 7"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			img := gptImage(2048, 512, []testPart{{espGUID, 40, 100, "ESP"}})
			c.spoil(img)
			d, _ := Read(bytes.NewReader(img), int64(len(img)))
			all := strings.Join(d.Problems, "\n")
			if !d.Damaged || !strings.Contains(all, c.want) {
				t.Fatalf("problems %q, want %q", all, c.want)
			}
			if len(d.Partitions) != 1 || d.Partitions[0].Label != "ESP" {
				t.Errorf("backup not used: %+v", d.Partitions)
			}
		})
	}
}

// Overlapping entries and entries outside the usable area are named.
func TestOverlapAndOutOfRangeAreNamed(t *testing.T) {
	img := gptImage(2048, 512, []testPart{{espGUID, 40, 1000, "ESP"}, {linuxGUID, 900, 1900, "root"}, {linuxGUID, 2040, 2046, "tail"}})
	d, _ := Read(bytes.NewReader(img), int64(len(img)))
	all := strings.Join(d.Problems, "\n")
	if !d.Damaged || !strings.Contains(all, "partitions 1 and 2 overlap (bytes 460800-512511)") || !strings.Contains(all, `partition 3 ("tail") lies outside the usable sectors`) {
		t.Fatalf("%q", all)
	}
	// An MBR whose second entry starts inside the first.
	m := make([]byte, 4<<20)
	putMBR(m, 0, 0x0c, 2048, 1000)
	putMBR(m, 1, 0x83, 2500, 100)
	putMBR(m, 2, 0x83, 2000, 1<<30)
	m[510], m[511] = 0x55, 0xaa
	d, _ = Read(bytes.NewReader(m), int64(len(m)))
	all = strings.Join(d.Problems, "\n")
	if d.Table != MBR || !strings.Contains(all, "partitions 1 and 2 overlap") || !strings.Contains(all, "partition 3 (Linux) ends at byte") {
		t.Fatalf("%+v", d)
	}
}

// An extended partition whose chain points back at itself ends with a
// problem, not a loop.
func TestMBRExtendedChainLoop(t *testing.T) {
	m := make([]byte, 4<<20)
	putMBR(m, 0, 0x05, 2048, 4096)
	m[510], m[511] = 0x55, 0xaa
	ebr := m[2048*512:]
	putMBR(ebr, 0, 0x83, 1, 10)
	putMBR(ebr, 1, 0x05, 0, 100) // the next EBR is this one
	ebr[510], ebr[511] = 0x55, 0xaa
	d, _ := Read(bytes.NewReader(m), int64(len(m)))
	if !strings.Contains(strings.Join(d.Problems, "\n"), "loops back to sector 2048") || len(d.Partitions) != 1 {
		t.Fatalf("%+v", d)
	}
}

// A GPT disk whose MBR also lists the firmware partition (what a Pi 3's
// boot ROM needs) is a hybrid; a protective-only MBR is not.
func TestHybridMBR(t *testing.T) {
	img := gptImage(2048, 512, []testPart{{espGUID, 40, 100, "ESP"}})
	d, _ := Read(bytes.NewReader(img), int64(len(img)))
	if d.HybridMBR || d.Damaged {
		t.Fatalf("pure GPT called hybrid: %+v", d)
	}
	putMBR(img, 1, 0x0c, 40, 61)
	d, _ = Read(bytes.NewReader(img), int64(len(img)))
	if !d.HybridMBR || len(d.MBR) != 1 || d.MBR[0].Start != 40*512 || d.Table != GPT {
		t.Fatalf("%+v", d)
	}
}

// A stick formatted without a table (mkfs.vfat on the whole device) ends
// in 55 AA like an MBR; it is a whole-disk file system, not a table.
func TestSuperfloppyIsNotAnMBR(t *testing.T) {
	testkit.NeedCommands(t, "mkfs.vfat")
	img := filepath.Join(t.TempDir(), "stick.img")
	run(t, "truncate", "-s", "33M", img)
	run(t, "mkfs.vfat", "-F", "32", "-n", "STICK", img)
	d := readFile(t, img)
	if d.Table != None || d.FS == nil || d.FS.Label != "STICK" || d.Lines()[0] != `whole disk: vfat "STICK"` {
		t.Fatalf("%+v %q", d, d.Lines())
	}
}

// Labels from a disk never carry control characters to a terminal.
func TestLabelsAreCleaned(t *testing.T) {
	img := gptImage(2048, 512, []testPart{{espGUID, 40, 100, "E\x1b]52;c;aGk=\x07SP\x1b[2J"}})
	d, _ := Read(bytes.NewReader(img), int64(len(img)))
	if l := d.Partitions[0].Label; strings.ContainsAny(l, "\x1b\x07") {
		t.Fatalf("label %q", l)
	}
}

func putMBR(b []byte, slot int, typ byte, start, size uint32) {
	e := b[446+16*slot:]
	e[4] = typ
	binary.LittleEndian.PutUint32(e[8:], start)
	binary.LittleEndian.PutUint32(e[12:], size)
}
