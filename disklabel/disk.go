package disklabel

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Table kinds.
const (
	GPT  = "gpt"
	MBR  = "mbr"
	None = "none"
)

// Disk is what a disk or an image holds.
type Disk struct {
	// Table is "gpt", "mbr" or "none" (then FS may name a whole-disk file
	// system, as on an installer ISO).
	Table string `json:"table"`
	// SectorSize is the sector size the table was found with (512 or
	// 4096; 512 when there is no table).
	SectorSize int `json:"sector_size"`
	// DiskID is the GPT disk GUID or the MBR's 32-bit disk signature.
	DiskID     string      `json:"disk_id,omitempty"`
	Partitions []Partition `json:"partitions"`
	// HybridMBR is set on a GPT disk whose MBR lists partitions beside the
	// protective 0xEE entry (what a Raspberry Pi's boot ROM can read).
	HybridMBR bool `json:"hybrid_mbr,omitempty"`
	// MBR is the MBR's own entries on a GPT disk with a hybrid MBR.
	MBR []Partition `json:"mbr,omitempty"`
	// FS is a file system on the whole disk (an ISO 9660 installer; a
	// file system made on the raw device).
	FS *FS `json:"fs,omitempty"`
	// Problems says what is wrong with the table, each naming the entry:
	// a checksum that does not match, an entry past the disk's end,
	// overlapping partitions. Damaged is true when there are any.
	Problems []string `json:"problems,omitempty"`
	Damaged  bool     `json:"damaged,omitempty"`
}

// Partition is one partition table entry.
type Partition struct {
	// Index is the entry's number as the kernel names it (sdb1 is 1): the
	// MBR slot 1-4, logical partitions from 5, the GPT entry number.
	Index int   `json:"index"`
	Start int64 `json:"start"` // bytes from the disk's start
	Size  int64 `json:"size"`  // bytes
	// Type is the MBR type byte in hex ("0c") or the GPT type GUID;
	// TypeName says it in words where it is known ("EFI system").
	Type     string `json:"type"`
	TypeName string `json:"type_name,omitempty"`
	// Label is the GPT partition name (repart and sysupdate keep the
	// version here).
	Label string `json:"label,omitempty"`
	UUID  string `json:"uuid,omitempty"` // GPT unique partition GUID
	// Bootable is the MBR active flag, or GPT's legacy BIOS bootable
	// attribute.
	Bootable bool `json:"bootable,omitempty"`
	FS       *FS  `json:"fs,omitempty"`
}

// End is the first byte after the partition.
func (p Partition) End() int64 { return p.Start + p.Size }

// FS is a file system found by its superblock.
type FS struct {
	Type  string `json:"type"`
	Label string `json:"label,omitempty"`
	UUID  string `json:"uuid,omitempty"`
	// Size is the file system's own size where the superblock says it
	// (bytes), 0 when not read.
	Size int64 `json:"size,omitempty"`
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

// Bounds on what is read, so that no field of a disk decides an allocation.
const (
	// headRead is what is read of the disk's start in one go.
	headRead = 8192
	// maxEntryArray bounds the GPT entry array (count x size). The
	// specification's minimum is 16 KiB; no tool we know writes more than
	// 1 MiB (gdisk's largest table), so more is called damaged.
	maxEntryArray = 1 << 20
	// maxEntrySize bounds one GPT entry (128 x 2^n; real ones are 128).
	maxEntrySize = 4096
	// maxLogical bounds the MBR's chain of extended boot records.
	maxLogical = 128
)

// ErrUnreadable is returned when not even the first sectors can be read.
var ErrUnreadable = errors.New("cannot read the first sectors")

// Read reads the partition table of a disk or image of size bytes and the
// file system of each partition. It fails only when the first sectors
// cannot be read; a table it cannot trust is returned with Damaged set and
// its Problems, and what could be read of it.
func Read(r io.ReaderAt, size int64) (*Disk, error) { return ReadWith(r, size, Options{}) }

// Options tune Read for readers where a far read is costly.
type Options struct {
	// Stream: r decompresses forward (an image.zst), so the backup GPT at
	// the disk's end is read only when the primary is damaged.
	Stream bool
}

// ReadWith is Read with options. A size of 0 or less is unknown (a gzip
// image): then nothing is judged against the disk's end.
func ReadWith(r io.ReaderAt, size int64, o Options) (*Disk, error) {
	head := make([]byte, headRead)
	n, err := r.ReadAt(head, 0)
	if n < 512 {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	head = head[:n]
	d := &Disk{Table: None, SectorSize: 512, Partitions: []Partition{}}
	end := size
	if end <= 0 {
		end = math.MaxInt64
	}
	mbr := parseMBR(head)
	switch {
	case readGPT(r, size, head, mbr, d, o):
	case mbr != nil && !mbr.protective && !mbrIsBootSector(r, end):
		d.Table = MBR
		d.DiskID = fmt.Sprintf("%08x", mbr.signature)
		d.Partitions = mbr.partitions(r, size, d)
	}
	if d.Table != None {
		d.checkLayout(size)
		for i := range d.Partitions {
			p := &d.Partitions[i]
			if p.Start >= 0 && p.Start < end {
				p.FS = ProbeFS(r, p.Start, min(p.Size, end-p.Start))
			}
		}
	}
	if d.Table == None || iso9660(r, 0) != nil {
		// An isohybrid installer has an MBR (often a GPT too) and an ISO
		// 9660 file system on the whole disk.
		d.FS = ProbeFS(r, 0, end)
	}
	d.Damaged = len(d.Problems) > 0
	return d, nil
}

// problem records what is wrong with the table.
func (d *Disk) problem(format string, a ...any) {
	d.Problems = append(d.Problems, fmt.Sprintf(format, a...))
}

// checkLayout names entries that lie past the disk's end or overlap.
func (d *Disk) checkLayout(size int64) {
	ps := append([]Partition(nil), d.Partitions...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].Start < ps[j].Start })
	for i, p := range ps {
		if size > 0 && p.End() > size {
			d.problem("partition %d (%s) ends at byte %d, past the end of the %d-byte disk", p.Index, p.describe(), p.End(), size)
		}
		for _, q := range ps[i+1:] {
			if q.Start < p.End() && q.Size > 0 && p.Size > 0 {
				a, b := min(p.Index, q.Index), max(p.Index, q.Index)
				d.problem("partitions %d and %d overlap (bytes %d-%d)", a, b, q.Start, min(p.End(), q.End())-1)
			}
		}
	}
}

func (p Partition) describe() string {
	if p.Label != "" {
		return fmt.Sprintf("%q", p.Label)
	}
	if p.TypeName != "" {
		return p.TypeName
	}
	return "type " + p.Type
}

// Lines describes the contents for a confirmation, one line each.
func (d *Disk) Lines() []string {
	if d == nil {
		return []string{"(could not read what is on it)"}
	}
	var out []string
	if d.Damaged {
		out = append(out, fmt.Sprintf("a damaged %s partition table: %s", strings.ToUpper(d.Table), strings.Join(d.Problems, "; ")))
	}
	if d.Table == None || d.Table == "" {
		if d.FS != nil {
			return append(out, "whole disk: "+d.FS.String())
		}
		return append(out, "no partition table (empty, or data jetup does not recognise)")
	}
	for _, p := range d.Partitions {
		name := ""
		if p.Label != "" {
			name = fmt.Sprintf(" %q", p.Label)
		}
		out = append(out, fmt.Sprintf("partition %d: %s, %s%s", p.Index, humanBytes(p.Size), p.FS.String(), name))
	}
	if len(d.Partitions) == 0 && !d.Damaged {
		out = append(out, "an empty "+strings.ToUpper(d.Table)+" partition table")
	}
	if d.FS != nil {
		out = append(out, "whole disk: "+d.FS.String())
	}
	return out
}

// humanBytes is "16 GB" in decimal units, as disks are sold.
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
