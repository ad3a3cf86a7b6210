package disklabel

import (
	"encoding/binary"
	"fmt"
	"io"
)

// superblockRead is how much of a partition is read to find its file
// system: btrfs's superblock at 64 KiB is the furthest one looked for.
const superblockRead = 70 * 1024

// ProbeFS recognises the file system at off by its superblock, reading at
// most 70 KiB (never past size bytes). nil when none is recognised.
func ProbeFS(r io.ReaderAt, off, size int64) *FS {
	if off < 0 || size <= 0 {
		return nil
	}
	b := make([]byte, min(int64(superblockRead), size))
	n, _ := r.ReadAt(b, off)
	return probeBytes(b[:n])
}

// probeBytes looks at the first bytes of a file system. Every offset is
// checked against len(b) (the fuzz test feeds it anything).
func probeBytes(b []byte) *FS {
	le := binary.LittleEndian
	at := func(o int, s string) bool { return len(b) >= o+len(s) && string(b[o:o+len(s)]) == s }
	str := func(o, n int) string {
		if len(b) < o+n {
			return ""
		}
		return clean(string(b[o : o+n]))
	}
	u32 := func(o int) uint32 {
		if len(b) < o+4 {
			return 0
		}
		return le.Uint32(b[o:])
	}
	switch {
	case len(b) >= 1024+128 && le.Uint16(b[1024+56:]) == 0xef53:
		return ext(b)
	case at(0x52, "FAT32   ") && at(510, "\x55\xaa"):
		return &FS{Type: "vfat", Label: fatLabel(str(0x47, 11)), UUID: fatSerial(u32(0x43))}
	case (at(0x36, "FAT12   ") || at(0x36, "FAT16   ") || at(0x36, "FAT     ")) && at(510, "\x55\xaa"):
		return &FS{Type: "vfat", Label: fatLabel(str(0x2b, 11)), UUID: fatSerial(u32(0x27))}
	case at(3, "EXFAT   "):
		return &FS{Type: "exfat"}
	case at(3, "NTFS    "):
		return &FS{Type: "ntfs"}
	case at(0, "XFSB"):
		return &FS{Type: "xfs", Label: str(108, 12), UUID: uuid(b, 32)}
	case at(0, "hsqs") && len(b) >= 48:
		// squashfs 4: bytes_used at 40 is the image's length.
		return &FS{Type: "squashfs", Size: int64(min(le.Uint64(b[40:]), 1<<62))}
	case u32(1024) == 0xe0f5e1e2:
		return &FS{Type: "erofs", Label: str(1024+64, 16), UUID: uuid(b, 1024+48)}
	case u32(1024) == 0xf2f52010:
		return &FS{Type: "f2fs"}
	case at(0, "LUKS\xba\xbe"):
		return &FS{Type: "crypto_LUKS"}
	case at(0, "verity\x00\x00"):
		return &FS{Type: "DM_verity_hash"}
	case at(0, "{\"rootHash\""):
		return &FS{Type: "verity_hash_signature"}
	case at(65536+64, "_BHRfS_M"):
		return &FS{Type: "btrfs", Label: str(65536+299, 256), UUID: uuid(b, 65536+32)}
	case at(32768+1, "CD001"):
		return &FS{Type: "iso9660", Label: str(32768+40, 32)}
	}
	// Swap's signature ends the first page, whose size depends on the
	// machine that made it (4 KiB on x86, up to 64 KiB on arm64).
	for _, page := range []int{4096, 16384, 65536} {
		if at(page-10, "SWAPSPACE2") {
			return &FS{Type: "swap", Label: str(1024+28, 16), UUID: uuid(b, 1024+12)}
		}
	}
	return nil
}

// ext tells ext2, ext3 and ext4 apart by their feature flags.
func ext(b []byte) *FS {
	le := binary.LittleEndian
	sb := b[1024:]
	compat, incompat := le.Uint32(sb[92:]), le.Uint32(sb[96:])
	t := "ext2"
	if incompat&0x40 != 0 { // extents
		t = "ext4"
	} else if compat&0x4 != 0 { // journal
		t = "ext3"
	}
	fs := &FS{Type: t, Label: clean(string(sb[120:136])), UUID: uuid(sb, 104)}
	if logBS := le.Uint32(sb[24:]); logBS <= 6 { // 1 KiB to 64 KiB blocks
		fs.Size = int64(le.Uint32(sb[4:])) << (10 + logBS)
	}
	return fs
}

func iso9660(r io.ReaderAt, off int64) *FS {
	b := make([]byte, 2048)
	if n, _ := r.ReadAt(b, off+32768); n < len(b) || string(b[1:6]) != "CD001" {
		return nil
	}
	return &FS{Type: "iso9660", Label: clean(string(b[40:72]))}
}

func fatLabel(s string) string {
	if s == "NO NAME" {
		return ""
	}
	return s
}

func fatSerial(v uint32) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprintf("%04X-%04X", v>>16, v&0xffff)
}

// uuid formats 16 big-endian bytes at o ("" when absent or zero).
func uuid(b []byte, o int) string {
	if len(b) < o+16 {
		return ""
	}
	u := b[o : o+16]
	zero := true
	for _, c := range u {
		zero = zero && c == 0
	}
	if zero {
		return ""
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
