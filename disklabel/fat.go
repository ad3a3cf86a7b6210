package disklabel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// FAT reads files from a FAT12/16/32 file system (the Pi firmware
// partition, an ESP). It only reads, and bounds everything a hostile boot
// sector or table could inflate: the FAT it loads (at most 16 MiB), the
// length of a cluster chain (never more links than the file system has
// clusters, so a loop ends), a directory (at most 4096 entries), a file
// (the caller's limit).
//
// Why not github.com/diskfs/go-diskfs: its v1.9.4 reads FAT12/16/32, but
// allocates the FAT by the boot sector's sectors-per-FAT (up to 4 GiB
// from a crafted image) and follows cluster chains without a bound, so a
// chain that loops grows a slice until memory runs out.
type FAT struct {
	r        io.ReaderAt
	off      int64 // the file system's first byte on r
	bits     int   // 12, 16 or 32
	cluster  int64 // bytes per cluster
	dataOff  int64 // first data cluster (number 2), from off
	rootOff  int64 // FAT12/16 fixed root directory, from off
	rootLen  int64
	rootClus uint32 // FAT32 root directory cluster
	clusters uint32 // data clusters
	fat      []byte
	Label    string
}

// DirEntry is a file or directory in a FAT directory.
type DirEntry struct {
	Name  string `json:"name"`
	Dir   bool   `json:"dir,omitempty"`
	Size  int64  `json:"size"`
	first uint32
}

const (
	maxFATBytes = 16 << 20
	maxDirEnts  = 4096
)

// ErrNotFound is a path that is not in the file system.
var ErrNotFound = errors.New("no such file")

// OpenFAT reads the boot sector and the first FAT of the file system at
// off (size bytes).
func OpenFAT(r io.ReaderAt, off, size int64) (*FAT, error) {
	b := make([]byte, 512)
	if n, _ := r.ReadAt(b, off); n < 512 || b[510] != 0x55 || b[511] != 0xaa {
		return nil, errors.New("no FAT boot sector")
	}
	le := binary.LittleEndian
	bps, spc := int64(le.Uint16(b[11:])), int64(b[13])
	reserved, nfats, rootEnts := int64(le.Uint16(b[14:])), int64(b[16]), int64(le.Uint16(b[17:]))
	total := int64(le.Uint16(b[19:]))
	if total == 0 {
		total = int64(le.Uint32(b[32:]))
	}
	fatSecs := int64(le.Uint16(b[22:]))
	if fatSecs == 0 {
		fatSecs = int64(le.Uint32(b[36:]))
	}
	if bps < 512 || bps > 4096 || bps&(bps-1) != 0 || spc == 0 || spc&(spc-1) != 0 || reserved == 0 || nfats == 0 || nfats > 4 || fatSecs == 0 {
		return nil, fmt.Errorf("the FAT boot sector's geometry is invalid (%d bytes per sector, %d per cluster, %d reserved, %d FATs)", bps, spc, reserved, nfats)
	}
	f := &FAT{r: r, off: off, cluster: bps * spc}
	rootSecs := (rootEnts*32 + bps - 1) / bps
	f.rootOff = (reserved + nfats*fatSecs) * bps
	f.rootLen = rootEnts * 32
	f.dataOff = f.rootOff + rootSecs*bps
	if total*bps > size && size > 0 || f.dataOff >= total*bps {
		return nil, fmt.Errorf("the FAT boot sector says %d sectors, more than the partition holds", total)
	}
	f.clusters = uint32((total*bps - f.dataOff) / f.cluster)
	switch {
	case rootEnts == 0:
		f.bits, f.rootClus = 32, le.Uint32(b[44:])
		f.Label = fatLabel(clean(string(b[71:82])))
	case f.clusters < 4085:
		f.bits = 12
	default:
		f.bits = 16
	}
	if f.bits != 32 {
		f.Label = fatLabel(clean(string(b[43:54])))
	}
	need := (int64(f.clusters)+2)*int64(f.bits)/8 + 2
	if need > maxFATBytes || need > fatSecs*bps {
		return nil, fmt.Errorf("the FAT of %d clusters is larger than jetup reads (%d bytes) or than its %d sectors", f.clusters, maxFATBytes, fatSecs)
	}
	f.fat = make([]byte, need)
	if n, _ := r.ReadAt(f.fat, off+reserved*bps); int64(n) < need {
		return nil, errors.New("the FAT cannot be read")
	}
	return f, nil
}

// next is the cluster after c in its chain; 0 at the chain's end or on a
// value outside the file system.
func (f *FAT) next(c uint32) uint32 {
	var v uint32
	le := binary.LittleEndian
	switch f.bits {
	case 12:
		o := int(c) * 3 / 2
		if o+1 >= len(f.fat) {
			return 0
		}
		v = uint32(le.Uint16(f.fat[o:]))
		if c&1 == 1 {
			v >>= 4
		}
		v &= 0xfff
	case 16:
		if o := int(c) * 2; o+1 < len(f.fat) {
			v = uint32(le.Uint16(f.fat[o:]))
		}
	default:
		if o := int(c) * 4; o+3 < len(f.fat) {
			v = le.Uint32(f.fat[o:]) & 0x0fffffff
		}
	}
	if v < 2 || v >= f.clusters+2 {
		return 0
	}
	return v
}

// read reads up to max bytes of the chain starting at c.
func (f *FAT) read(c uint32, max int64) ([]byte, error) {
	var out []byte
	for steps := uint32(0); c >= 2 && int64(len(out)) < max; steps++ {
		if steps > f.clusters {
			return nil, errors.New("a cluster chain loops")
		}
		buf := make([]byte, min(f.cluster, max-int64(len(out))))
		if n, _ := f.r.ReadAt(buf, f.off+f.dataOff+int64(c-2)*f.cluster); n < len(buf) {
			return nil, fmt.Errorf("cluster %d cannot be read", c)
		}
		out = append(out, buf...)
		c = f.next(c)
	}
	return out, nil
}

// ReadDir lists the directory at path ("" or "/" is the root). Names are
// as stored (long names when present); lookups ignore case, as FAT does.
func (f *FAT) ReadDir(path string) ([]DirEntry, error) {
	var raw []byte
	var err error
	if f.bits != 32 {
		raw = make([]byte, min(f.rootLen, maxDirEnts*32))
		if n, _ := f.r.ReadAt(raw, f.off+f.rootOff); n < len(raw) {
			return nil, errors.New("the root directory cannot be read")
		}
	} else if raw, err = f.read(f.rootClus, maxDirEnts*32); err != nil {
		return nil, err
	}
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' }) {
		e, err := find(parseDir(raw), part)
		if err != nil {
			return nil, err
		}
		if !e.Dir {
			return nil, fmt.Errorf("%s is not a directory", part)
		}
		if raw, err = f.read(e.first, maxDirEnts*32); err != nil {
			return nil, err
		}
	}
	return parseDir(raw), nil
}

// ReadFile reads the file at path, at most max bytes.
func (f *FAT) ReadFile(path string, max int64) ([]byte, error) {
	dir, name := "", path
	if i := strings.LastIndex(path, "/"); i >= 0 {
		dir, name = path[:i], path[i+1:]
	}
	ents, err := f.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	e, err := find(ents, name)
	if err != nil || e.Dir {
		return nil, ErrNotFound
	}
	return f.read(e.first, min(e.Size, max))
}

func find(ents []DirEntry, name string) (DirEntry, error) {
	for _, e := range ents {
		if strings.EqualFold(e.Name, name) {
			return e, nil
		}
	}
	return DirEntry{}, ErrNotFound
}

// parseDir decodes 32-byte directory entries, long names included.
func parseDir(raw []byte) []DirEntry {
	var out []DirEntry
	var long []uint16
	le := binary.LittleEndian
	for i := 0; i+32 <= len(raw) && len(out) < maxDirEnts; i += 32 {
		e := raw[i : i+32]
		switch {
		case e[0] == 0:
			return out
		case e[0] == 0xe5:
			long = nil
			continue
		case e[11] == 0x0f: // a long-name piece, stored last piece first
			var part []uint16
			for _, o := range []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30} {
				c := le.Uint16(e[o:])
				if c == 0 || c == 0xffff {
					break
				}
				part = append(part, c)
			}
			if e[0]&0x40 != 0 {
				long = nil
			}
			long = append(part, long...)
			continue
		case e[11]&0x08 != 0: // volume label
			long = nil
			continue
		}
		name := shortName(e)
		if len(long) > 0 {
			name = clean(string(utf16.Decode(long)))
		}
		long = nil
		if name == "." || name == ".." || name == "" {
			continue
		}
		first := uint32(le.Uint16(e[26:])) | uint32(le.Uint16(e[20:]))<<16
		out = append(out, DirEntry{Name: name, Dir: e[11]&0x10 != 0, Size: int64(le.Uint32(e[28:])), first: first})
	}
	return out
}

// shortName is the 8.3 name with the case bits Windows NT set.
func shortName(e []byte) string {
	base, ext := strings.TrimRight(string(e[0:8]), " "), strings.TrimRight(string(e[8:11]), " ")
	if e[12]&0x08 != 0 {
		base = strings.ToLower(base)
	}
	if e[12]&0x10 != 0 {
		ext = strings.ToLower(ext)
	}
	if ext != "" {
		base += "." + ext
	}
	return clean(base)
}
