package disklabel

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"strings"
	"unicode/utf16"
)

// gptHeader is the part of a GPT header that is used, after its checks.
type gptHeader struct {
	lba                   uint64 // where this header is
	backup                uint64 // where the other one should be
	firstUsable, lastUsab uint64
	diskGUID              string
	entriesLBA            uint64
	count, esize          uint32
	entriesCRC            uint32
}

// readGPT looks for a GPT with 512- and 4096-byte sectors: the primary
// header at LBA 1, else the backup at the disk's last LBA. It fills d and
// returns true when a GPT (even a damaged one) is there.
func readGPT(r io.ReaderAt, size int64, head []byte, m *mbr, d *Disk, o Options) bool {
	for _, ss := range []int64{512, 4096} {
		sector := readSector(r, head, ss, ss)
		if sector == nil || string(sector[:8]) != "EFI PART" {
			continue
		}
		d.Table, d.SectorSize = GPT, int(ss)
		h, why := parseGPTHeader(sector, 1, ss, size)
		var parts []Partition
		if why == "" {
			parts, why = readEntries(r, h, ss, size)
		}
		if why == "" {
			useGPT(d, h, parts, ss, m)
			if lba := h.backup; size > 0 && !o.Stream && (lba > uint64(size/ss) || backupMissing(r, lba, ss, size)) {
				d.problem("the backup GPT header (sector %d) is missing or damaged; the primary is fine (gdisk's w, or sfdisk --relocate gpt-bak-std, writes it again)", lba)
			}
			return true
		}
		d.problem("the primary GPT header is damaged: %s", why)
		if bh, parts, ok := readBackup(r, h, ss, size); ok {
			useGPT(d, bh, parts, ss, m)
			d.problem("the backup GPT header at sector %d is intact and was read instead", bh.lba)
		}
		return true
	}
	// No primary header: a backup alone still says the disk was GPT (on a
	// stream, looked for only when the MBR says GPT).
	for _, ss := range []int64{512, 4096} {
		if o.Stream && (m == nil || !m.protective) {
			break
		}
		if bh, parts, ok := readBackup(r, nil, ss, size); ok {
			d.Table, d.SectorSize = GPT, int(ss)
			d.problem("the primary GPT header is missing (sector 1 holds no \"EFI PART\")")
			useGPT(d, bh, parts, ss, m)
			d.problem("the backup GPT header at sector %d is intact and was read instead", bh.lba)
			return true
		}
	}
	if m != nil && m.protective && !m.hybrid() {
		d.Table = GPT
		d.problem("the MBR is a protective one (type ee) but no GPT header was found")
		return true
	}
	return false
}

func useGPT(d *Disk, h *gptHeader, parts []Partition, ss int64, m *mbr) {
	d.DiskID, d.Partitions = h.diskGUID, parts
	if m.hybrid() {
		d.HybridMBR, d.MBR = true, m.primaries(512)
	}
	for _, p := range parts {
		first, last := uint64(p.Start/ss), uint64(p.End()/ss)-1
		if first < h.firstUsable || last > h.lastUsab {
			d.problem("partition %d (%s) lies outside the usable sectors %d-%d", p.Index, p.describe(), h.firstUsable, h.lastUsab)
		}
	}
}

// readSector returns the sector at off, from head when it is there.
func readSector(r io.ReaderAt, head []byte, off, ss int64) []byte {
	if off+ss <= int64(len(head)) {
		return head[off : off+ss]
	}
	b := make([]byte, ss)
	if n, _ := r.ReadAt(b, off); int64(n) < ss {
		return nil
	}
	return b
}

// backupMissing reports whether no intact header is at lba.
func backupMissing(r io.ReaderAt, lba uint64, ss, size int64) bool {
	b := readSector(r, nil, int64(lba)*ss, ss)
	if b == nil || string(b[:8]) != "EFI PART" {
		return true
	}
	_, why := parseGPTHeader(b, lba, ss, size)
	return why != ""
}

// readBackup reads the backup header named by the primary (when its field
// is sane) or at the disk's last sector.
func readBackup(r io.ReaderAt, primary *gptHeader, ss, size int64) (*gptHeader, []Partition, bool) {
	if size <= 0 || size/ss < 3 {
		return nil, nil, false
	}
	last := uint64(size/ss) - 1
	lbas := []uint64{last}
	if primary != nil && primary.backup != last && primary.backup > 1 && primary.backup < last {
		lbas = append(lbas, primary.backup)
	}
	for _, lba := range lbas {
		b := readSector(r, nil, int64(lba)*ss, ss)
		if b == nil || string(b[:8]) != "EFI PART" {
			continue
		}
		h, why := parseGPTHeader(b, lba, ss, size)
		if why != "" {
			continue
		}
		if parts, why := readEntries(r, h, ss, size); why == "" {
			return h, parts, true
		}
	}
	return nil, nil, false
}

// parseGPTHeader checks a header read from sector lba: its own CRC32, that
// it says it is where it was read, and every size and sector number it
// gives. The reason is "" when the header can be trusted.
func parseGPTHeader(b []byte, lba uint64, ss, size int64) (*gptHeader, string) {
	le := binary.LittleEndian
	hsize := le.Uint32(b[12:])
	if hsize < 92 || int64(hsize) > ss {
		return nil, fmt.Sprintf("its header size %d is not within 92-%d", hsize, ss)
	}
	sum := le.Uint32(b[16:])
	c := append([]byte(nil), b[:hsize]...)
	copy(c[16:20], []byte{0, 0, 0, 0})
	if got := crc32.ChecksumIEEE(c); got != sum {
		return nil, fmt.Sprintf("its CRC32 is %08x, the header says %08x", got, sum)
	}
	h := &gptHeader{lba: le.Uint64(b[24:]), backup: le.Uint64(b[32:]), firstUsable: le.Uint64(b[40:]),
		lastUsab: le.Uint64(b[48:]), diskGUID: guid(b[56:72]), entriesLBA: le.Uint64(b[72:]),
		count: le.Uint32(b[80:]), esize: le.Uint32(b[84:]), entriesCRC: le.Uint32(b[88:])}
	maxLBA := uint64(math.MaxInt64 / ss)
	if size > 0 {
		maxLBA = uint64(size/ss) - 1
	}
	switch {
	case h.lba != lba:
		return nil, fmt.Sprintf("it says it is at sector %d but was read at sector %d", h.lba, lba)
	case h.esize < 128 || h.esize > maxEntrySize || h.esize&(h.esize-1) != 0:
		return nil, fmt.Sprintf("its partition entry size %d is not a power of two within 128-%d", h.esize, maxEntrySize)
	case uint64(h.count)*uint64(h.esize) > maxEntryArray:
		return nil, fmt.Sprintf("its %d entries of %d bytes exceed the %d bytes any partitioning tool writes", h.count, h.esize, maxEntryArray)
	case h.entriesLBA < 2, h.entriesLBA > maxLBA:
		return nil, fmt.Sprintf("its partition entries are at sector %d, outside the disk", h.entriesLBA)
	case h.firstUsable > h.lastUsab || h.lastUsab > maxLBA:
		return nil, fmt.Sprintf("its usable sectors %d-%d do not fit the disk's %d sectors", h.firstUsable, h.lastUsab, maxLBA+1)
	}
	if end := h.entriesLBA*uint64(ss) + uint64(h.count)*uint64(h.esize); size > 0 && end > uint64(size) {
		return nil, fmt.Sprintf("its partition entries end at byte %d, past the disk's end", end)
	}
	return h, ""
}

// readEntries reads the entry array (bounded by parseGPTHeader), checks its
// CRC32 and lists the used entries.
func readEntries(r io.ReaderAt, h *gptHeader, ss, size int64) ([]Partition, string) {
	n := int(h.count) * int(h.esize)
	table := make([]byte, n)
	if k, _ := r.ReadAt(table, int64(h.entriesLBA)*ss); k < n {
		return nil, fmt.Sprintf("its partition entries at sector %d cannot be read", h.entriesLBA)
	}
	if got := crc32.ChecksumIEEE(table); got != h.entriesCRC {
		return nil, fmt.Sprintf("the partition entries' CRC32 is %08x, the header says %08x", got, h.entriesCRC)
	}
	out := []Partition{}
	var zero [16]byte
	maxLBA := uint64(math.MaxInt64/ss) - 1
	for i := 0; i < int(h.count); i++ {
		e := table[i*int(h.esize) : (i+1)*int(h.esize)]
		if bytes.Equal(e[:16], zero[:]) {
			continue
		}
		le := binary.LittleEndian
		first, last := le.Uint64(e[32:]), le.Uint64(e[40:])
		p := Partition{Index: i + 1, Type: guid(e[:16]), UUID: guid(e[16:32]), Label: utf16Name(e[56:128]),
			Bootable: le.Uint64(e[48:])&4 != 0}
		p.TypeName = gptTypes[p.Type]
		if first > last || last > maxLBA {
			return nil, fmt.Sprintf("entry %d (%s) runs from sector %d to %d", p.Index, p.describe(), first, last)
		}
		p.Start, p.Size = int64(first)*ss, int64(last-first+1)*ss
		out = append(out, p)
	}
	return out, ""
}

// guid formats a GPT GUID (mixed-endian) as text.
func guid(b []byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8:10], b[10:16])
}

// utf16Name decodes a GPT partition name up to its first NUL.
func utf16Name(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return clean(string(utf16.Decode(u)))
}

// clean drops control characters from a name read from a disk, so that no
// escape sequence in a label ever reaches a terminal.
func clean(s string) string {
	s = strings.TrimRight(s, "\x00")
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) || r == '\ufffd' {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "")))
}
