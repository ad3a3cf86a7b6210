package disklabel

import (
	"encoding/binary"
	"fmt"
	"io"
)

// mbr is the classic partition table in the first sector.
type mbr struct {
	signature uint32
	entries   [4]mbrEntry
	// protective is set when an entry is 0xEE: the MBR only guards a GPT.
	protective bool
}

type mbrEntry struct {
	active      bool
	typ         byte
	start, size uint32 // sectors
}

func (e mbrEntry) empty() bool { return e.typ == 0 || e.size == 0 }

func isExtended(t byte) bool { return t == 0x05 || t == 0x0f || t == 0x85 }

// parseMBR reads the first sector's table; nil without the 55 AA mark.
func parseMBR(head []byte) *mbr {
	if len(head) < 512 || head[510] != 0x55 || head[511] != 0xaa {
		return nil
	}
	m := &mbr{signature: binary.LittleEndian.Uint32(head[440:])}
	for i := range m.entries {
		e := head[446+16*i : 446+16*(i+1)]
		m.entries[i] = mbrEntry{active: e[0] == 0x80, typ: e[4],
			start: binary.LittleEndian.Uint32(e[8:]), size: binary.LittleEndian.Uint32(e[12:])}
		if e[4] == 0xee {
			m.protective = true
		}
	}
	return m
}

// hybrid reports whether a protective MBR also lists real partitions.
func (m *mbr) hybrid() bool {
	if m == nil || !m.protective {
		return false
	}
	for _, e := range m.entries {
		if !e.empty() && e.typ != 0xee {
			return true
		}
	}
	return false
}

// primaries are the four slots as partitions (extended containers left
// out), with sizes in bytes for the given sector size.
func (m *mbr) primaries(ss int64) []Partition {
	var out []Partition
	for i, e := range m.entries {
		if e.empty() || isExtended(e.typ) || e.typ == 0xee {
			continue
		}
		out = append(out, mbrPartition(i+1, e, 0, ss))
	}
	return out
}

func mbrPartition(index int, e mbrEntry, base uint64, ss int64) Partition {
	// uint32 sectors times 4096 fit in int64: no overflow to guard.
	return Partition{Index: index, Start: int64(base+uint64(e.start)) * ss, Size: int64(e.size) * ss,
		Type: fmt.Sprintf("%02x", e.typ), TypeName: mbrTypes[e.typ], Bootable: e.active}
}

// partitions lists the primaries and the logical partitions of the
// extended one, following the EBR chain at most maxLogical links and never
// the same sector twice.
func (m *mbr) partitions(r io.ReaderAt, size int64, d *Disk) []Partition {
	const ss = 512
	out := m.primaries(ss)
	for _, e := range m.entries {
		if e.empty() || !isExtended(e.typ) {
			continue
		}
		ext := uint64(e.start)
		next := uint64(0)
		seen := map[uint64]bool{}
		buf := make([]byte, 512)
		for n := 0; ; n++ {
			lba := ext + next
			if seen[lba] {
				d.problem("the extended partition's chain loops back to sector %d", lba)
				break
			}
			if n >= maxLogical {
				d.problem("the extended partition's chain has more than %d logical partitions", maxLogical)
				break
			}
			seen[lba] = true
			if size > 0 && int64(lba)*ss+512 > size {
				d.problem("logical partition %d's table at sector %d lies past the disk's end", 5+n, lba)
				break
			}
			if k, _ := r.ReadAt(buf, int64(lba)*ss); k < 512 || buf[510] != 0x55 || buf[511] != 0xaa {
				d.problem("logical partition %d's table at sector %d is unreadable or has no 55 AA mark", 5+n, lba)
				break
			}
			ebr := parseMBR(buf)
			if l := ebr.entries[0]; !l.empty() {
				out = append(out, mbrPartition(5+n, l, lba, ss))
			}
			link := ebr.entries[1]
			if link.empty() || !isExtended(link.typ) {
				break
			}
			next = uint64(link.start)
		}
		break // one extended partition per disk
	}
	return out
}

// mbrIsBootSector tells a FAT or NTFS boot sector on the whole disk (a
// "superfloppy" stick) from an MBR: both end in 55 AA.
func mbrIsBootSector(r io.ReaderAt, size int64) bool {
	fs := ProbeFS(r, 0, size)
	return fs != nil && fs.Type != "iso9660"
}

// mbrTypes names the MBR types a board's media carry.
var mbrTypes = map[byte]string{
	0x01: "FAT12", 0x04: "FAT16 <32M", 0x05: "Extended", 0x06: "FAT16", 0x07: "HPFS/NTFS/exFAT",
	0x0b: "W95 FAT32", 0x0c: "W95 FAT32 (LBA)", 0x0e: "W95 FAT16 (LBA)", 0x0f: "W95 Ext'd (LBA)",
	0x82: "Linux swap", 0x83: "Linux", 0x85: "Linux extended", 0x8e: "Linux LVM",
	0xda: "Non-FS data", 0xee: "GPT", 0xef: "EFI (FAT-12/16/32)", 0xfd: "Linux raid autodetect",
}
