package disklabel

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"strings"
	"testing"
	"unicode/utf16"
)

// testPart is a GPT entry for gptImage, in sectors.
type testPart struct {
	typ         string
	first, last uint64
	name        string
}

const (
	espGUID   = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
	linuxGUID = "0fc63daf-8483-4772-8e79-3d69d8477de4"
)

// gptImage builds a GPT disk of the given sectors in Go, as sfdisk lays
// it out: protective MBR, primary header at 1, 128 entries of 128 bytes at
// 2, the backup entries and header at the end. Tests craft damage on it.
func gptImage(sectors, ss int64, parts []testPart) []byte {
	return gptImageN(sectors, ss, 128, parts)
}

// gptImageN is gptImage with count entries (small images for the fuzzer).
func gptImageN(sectors, ss int64, count uint32, parts []testPart) []byte {
	img := make([]byte, sectors*ss)
	mbr := img[446:462]
	mbr[4] = 0xee
	binary.LittleEndian.PutUint32(mbr[8:], 1)
	binary.LittleEndian.PutUint32(mbr[12:], uint32(min(sectors-1, 0xffffffff)))
	img[510], img[511] = 0x55, 0xaa
	entrySectors := (uint64(count)*128 + uint64(ss) - 1) / uint64(ss)
	last := uint64(sectors - 1)
	entries := make([]byte, count*128)
	for i, p := range parts {
		e := entries[i*128:]
		putGUID(e, p.typ)
		putGUID(e[16:], fmt.Sprintf("01234567-89ab-cdef-0123-%012x", i+1))
		binary.LittleEndian.PutUint64(e[32:], p.first)
		binary.LittleEndian.PutUint64(e[40:], p.last)
		for k, c := range utf16.Encode([]rune(p.name)) {
			binary.LittleEndian.PutUint16(e[56+2*k:], c)
		}
	}
	copy(img[2*ss:], entries)
	copy(img[int64(last-entrySectors)*ss:], entries)
	writeHeader(img, ss, count, 1, last, 2+entrySectors, last-entrySectors-1, 2)
	writeHeader(img, ss, count, last, 1, 2+entrySectors, last-entrySectors-1, last-entrySectors)
	return img
}

func writeHeader(img []byte, ss int64, count uint32, lba, backup, firstUsable, lastUsable, entriesLBA uint64) {
	h := img[int64(lba)*ss : int64(lba)*ss+92]
	copy(h, "EFI PART")
	le := binary.LittleEndian
	le.PutUint32(h[8:], 0x00010000)
	le.PutUint32(h[12:], 92)
	le.PutUint64(h[24:], lba)
	le.PutUint64(h[32:], backup)
	le.PutUint64(h[40:], firstUsable)
	le.PutUint64(h[48:], lastUsable)
	putGUID(h[56:], "11111111-2222-3333-4444-555555555555")
	le.PutUint64(h[72:], entriesLBA)
	le.PutUint32(h[80:], count)
	le.PutUint32(h[84:], 128)
	refreshGPT(img, ss, lba)
}

// refreshGPT recomputes the CRC32s of the header at lba and of its
// entries (as far as they are in the image), so a crafted field passes the
// checks a careless parser relies on.
func refreshGPT(img []byte, ss int64, lba uint64) {
	le := binary.LittleEndian
	h := img[int64(lba)*ss:]
	entriesLBA, count, esize := le.Uint64(h[72:]), uint64(le.Uint32(h[80:])), uint64(le.Uint32(h[84:]))
	if start, n := entriesLBA*uint64(ss), count*esize; n <= 1<<20 && start+n <= uint64(len(img)) {
		le.PutUint32(h[88:], crc32.ChecksumIEEE(img[start:start+n]))
	}
	le.PutUint32(h[16:], 0)
	le.PutUint32(h[16:], crc32.ChecksumIEEE(h[:le.Uint32(h[12:])]))
}

func putGUID(b []byte, s string) {
	raw, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(raw) != 16 {
		panic("bad guid " + s)
	}
	le := binary.LittleEndian
	le.PutUint32(b, binary.BigEndian.Uint32(raw))
	le.PutUint16(b[4:], binary.BigEndian.Uint16(raw[4:]))
	le.PutUint16(b[6:], binary.BigEndian.Uint16(raw[6:]))
	copy(b[8:16], raw[8:])
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func sfdisk(t *testing.T, img, script string) {
	t.Helper()
	cmd := exec.Command("sfdisk", "-q", img)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
}

func readFile(t *testing.T, path string) *Disk {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	d, err := Read(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return d
}
