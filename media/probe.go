package media

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// Contents is what a disk holds now, read from its partition table and
// file-system superblocks: what a write will erase.
type Contents struct {
	// Table is "gpt", "mbr" or "" (none; then FS may name a whole-disk
	// file system, as on an installer ISO).
	Table      string       `json:"table,omitempty"`
	Partitions []ProbedPart `json:"partitions,omitempty"`
	FS         *FS          `json:"fs,omitempty"`
}

// ProbedPart is one partition table entry.
type ProbedPart struct {
	Number int    `json:"number"`
	Start  int64  `json:"start"`
	Size   int64  `json:"size"`
	Type   string `json:"type"`           // "0c", "ef", GPT type name or GUID
	Name   string `json:"name,omitempty"` // GPT partition name
	FS     *FS    `json:"fs,omitempty"`
}

// FS is a file system found by its superblock.
type FS struct {
	Type  string `json:"type"`
	Label string `json:"label,omitempty"`
}

// String is "ext4 \"NIXOS_SD\"".
func (f *FS) String() string {
	if f == nil {
		return "unknown data"
	}
	if f.Label == "" {
		return f.Type
	}
	return fmt.Sprintf("%s %q", f.Type, f.Label)
}

// Lines describes the contents for a confirmation, one line each.
func (c *Contents) Lines() []string {
	if c == nil {
		return []string{"(could not read what is on it)"}
	}
	var out []string
	if c.Table == "" {
		if c.FS != nil {
			return []string{"whole disk: " + c.FS.String()}
		}
		return []string{"no partition table (empty, or data jetup does not recognise)"}
	}
	for _, p := range c.Partitions {
		name := ""
		if p.Name != "" {
			name = fmt.Sprintf(" %q", p.Name)
		}
		out = append(out, fmt.Sprintf("partition %d: %s, %s%s", p.Number, HumanBytes(p.Size), p.FS.String(), name))
	}
	if len(out) == 0 {
		out = append(out, "an empty "+strings.ToUpper(c.Table)+" partition table")
	}
	return out
}

// Probe reads the partition table and the file systems of a disk.
func Probe(r io.ReaderAt, size int64, sector int) *Contents {
	if sector <= 0 {
		sector = 512
	}
	c := &Contents{}
	head := make([]byte, 4096)
	if _, err := readAligned(r, head, 0); err != nil {
		return nil
	}
	if gpt := probeGPT(r, size); gpt != nil {
		c.Table, c.Partitions = "gpt", gpt
	} else if head[510] == 0x55 && head[511] == 0xaa && probeFS(r, 0, size) == nil {
		c.Table = "mbr"
		for i := 0; i < 4; i++ {
			e := head[446+16*i : 446+16*(i+1)]
			typ := e[4]
			start := int64(binary.LittleEndian.Uint32(e[8:])) * int64(sector)
			n := int64(binary.LittleEndian.Uint32(e[12:])) * int64(sector)
			if typ == 0 || n == 0 {
				continue
			}
			c.Partitions = append(c.Partitions, ProbedPart{Number: i + 1, Start: start, Size: n, Type: fmt.Sprintf("%02x", typ)})
		}
	}
	for i := range c.Partitions {
		p := &c.Partitions[i]
		if p.Start < size {
			p.FS = probeFS(r, p.Start, p.Size)
		}
	}
	if c.Table == "" || (c.Table == "mbr" && iso9660(r, 0) != nil) {
		// An isohybrid installer has an MBR and an ISO 9660 file system
		// on the whole disk.
		c.FS = probeFS(r, 0, size)
	}
	return c
}

// readAligned reads len(p) bytes at off through a 4096-aligned window, for
// devices opened with O_DIRECT.
func readAligned(r io.ReaderAt, p []byte, off int64) (int, error) {
	start := off &^ 4095
	end := (off + int64(len(p)) + 4095) &^ 4095
	buf, unmap, err := alignedBuffers(1, int(end-start))
	if err != nil {
		return 0, err
	}
	defer unmap()
	n, err := r.ReadAt(buf[0], start)
	if n < int(off-start)+len(p) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	return copy(p, buf[0][off-start:]), nil
}

var gptTypes = map[string]string{
	"c12a7328-f81f-11d2-ba4b-00a0c93ec93b": "EFI system",
	"0fc63daf-8483-4772-8e79-3d69d8477de4": "Linux filesystem",
	"ebd0a0a2-b9e5-4433-87c0-68b6b72699c7": "Microsoft basic data",
	"0657fd6d-a4ab-43c4-84e5-0933c84b4f4f": "Linux swap",
	"21686148-6449-6e6f-744e-656564454649": "BIOS boot",
	"e6d6d379-f507-44c2-a23c-238f2a3df928": "Linux LVM",
	"4f68bce3-e8cd-4db1-96e7-fbcaf984b709": "Linux root (x86-64)",
	"b921b045-1df0-41c3-af44-4c6f280d3fae": "Linux root (ARM64)",
}

func guid(b []byte) string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint16(b[4:]),
		binary.LittleEndian.Uint16(b[6:]), b[8:10], b[10:16])
}

// probeGPT reads a GPT header at LBA 1 for 512- or 4096-byte sectors.
func probeGPT(r io.ReaderAt, size int64) []ProbedPart {
	for _, ss := range []int64{512, 4096} {
		h := make([]byte, 92)
		if _, err := readAligned(r, h, ss); err != nil || string(h[:8]) != "EFI PART" {
			continue
		}
		lba := int64(binary.LittleEndian.Uint64(h[72:]))
		count := int(binary.LittleEndian.Uint32(h[80:]))
		esize := int(binary.LittleEndian.Uint32(h[84:]))
		if esize < 128 || count > 1024 || lba*ss >= size {
			return nil
		}
		table := make([]byte, count*esize)
		if _, err := readAligned(r, table, lba*ss); err != nil {
			return nil
		}
		out := []ProbedPart{}
		for i := 0; i < count; i++ {
			e := table[i*esize : (i+1)*esize]
			if bytes.Equal(e[:16], make([]byte, 16)) {
				continue
			}
			first, last := int64(binary.LittleEndian.Uint64(e[32:])), int64(binary.LittleEndian.Uint64(e[40:]))
			t := guid(e[:16])
			if n, ok := gptTypes[t]; ok {
				t = n
			}
			u := make([]uint16, 36)
			for k := range u {
				u[k] = binary.LittleEndian.Uint16(e[56+2*k:])
			}
			name := strings.TrimRight(string(utf16.Decode(u)), "\x00")
			out = append(out, ProbedPart{Number: i + 1, Start: first * ss, Size: (last - first + 1) * ss, Type: t, Name: name})
		}
		return out
	}
	return nil
}

// probeFS recognises the file systems an installer stick or SD card holds
// by their superblocks.
func probeFS(r io.ReaderAt, off, size int64) *FS {
	b := make([]byte, 70*1024)
	n, _ := readAligned(r, b[:min(int64(len(b)), max(size, 4096))], off)
	b = b[:n]
	at := func(o int, s string) bool { return len(b) >= o+len(s) && string(b[o:o+len(s)]) == s }
	str := func(o, n int) string {
		if len(b) < o+n {
			return ""
		}
		return strings.TrimSpace(strings.TrimRight(string(b[o:o+n]), "\x00"))
	}
	switch {
	case len(b) > 1080 && binary.LittleEndian.Uint16(b[1080:]) == 0xef53:
		incompat := binary.LittleEndian.Uint32(b[1024+96:])
		compat := binary.LittleEndian.Uint32(b[1024+92:])
		t := "ext2"
		if incompat&0x40 != 0 { // extents
			t = "ext4"
		} else if compat&0x4 != 0 { // journal
			t = "ext3"
		}
		return &FS{Type: t, Label: str(1024+120, 16)}
	case at(0x52, "FAT32   "):
		return &FS{Type: "vfat", Label: fatLabel(str(0x47, 11))}
	case at(0x36, "FAT12   "), at(0x36, "FAT16   "), at(0x36, "FAT     "):
		return &FS{Type: "vfat", Label: fatLabel(str(0x2b, 11))}
	case at(3, "EXFAT   "):
		return &FS{Type: "exfat"}
	case at(3, "NTFS    "):
		return &FS{Type: "ntfs"}
	case at(0, "XFSB"):
		return &FS{Type: "xfs", Label: str(108, 12)}
	case at(0, "hsqs"):
		return &FS{Type: "squashfs"}
	case at(0, "LUKS\xba\xbe"):
		return &FS{Type: "crypto_LUKS"}
	case at(4096-10, "SWAPSPACE2"):
		return &FS{Type: "swap", Label: str(1024+28, 16)}
	case at(65536+64, "_BHRfS_M"):
		return &FS{Type: "btrfs", Label: str(65536+299, 64)}
	}
	return iso9660(r, off)
}

func iso9660(r io.ReaderAt, off int64) *FS {
	b := make([]byte, 2048)
	if _, err := readAligned(r, b, off+32768); err != nil || string(b[1:6]) != "CD001" {
		return nil
	}
	return &FS{Type: "iso9660", Label: strings.TrimSpace(string(b[40:72]))}
}

func fatLabel(s string) string {
	if s == "NO NAME" {
		return ""
	}
	return s
}
