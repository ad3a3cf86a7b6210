package disklabel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// ISO reads files from an ISO 9660 file system (an installer ISO), by
// its Joliet names when it has them, else by its plain names (";1" and
// case dropped). Directories are read at most 1 MiB each.
type ISO struct {
	r      io.ReaderAt
	off    int64
	root   isoRec
	joliet bool
	Label  string
}

type isoRec struct {
	lba, size uint32
	dir       bool
	name      string
}

const maxISODir = 1 << 20

// OpenISO reads the volume descriptors of the file system at off.
func OpenISO(r io.ReaderAt, off int64) (*ISO, error) {
	iso := &ISO{r: r, off: off}
	b := make([]byte, 2048)
	found := false
	for s := int64(16); s < 32; s++ {
		if n, _ := r.ReadAt(b, off+s*2048); n < 2048 || string(b[1:6]) != "CD001" {
			return nil, errors.New("no ISO 9660 volume descriptor")
		}
		switch b[0] {
		case 1:
			iso.root, found = parseRec(b[156:190], false), true
			iso.Label = clean(string(b[40:72]))
		case 2:
			if esc := string(b[88:91]); esc == "%/@" || esc == "%/C" || esc == "%/E" {
				iso.root, iso.joliet = parseRec(b[156:190], true), true
			}
		case 255:
			if !found {
				return nil, errors.New("no primary volume descriptor")
			}
			return iso, nil
		}
	}
	return nil, errors.New("no volume descriptor set terminator in the first 32 sectors")
}

func parseRec(b []byte, joliet bool) isoRec {
	le := binary.LittleEndian
	rec := isoRec{lba: le.Uint32(b[2:]), size: le.Uint32(b[10:]), dir: b[25]&2 != 0}
	nl := int(b[32])
	if 33+nl > len(b) {
		return rec
	}
	name := b[33 : 33+nl]
	if joliet {
		u := make([]uint16, 0, nl/2)
		for i := 0; i+1 < len(name); i += 2 {
			u = append(u, binary.BigEndian.Uint16(name[i:]))
		}
		rec.name = string(utf16.Decode(u))
	} else {
		rec.name = strings.ToLower(string(name))
	}
	if i := strings.IndexByte(rec.name, ';'); i >= 0 {
		rec.name = rec.name[:i]
	}
	rec.name = clean(strings.TrimSuffix(rec.name, "."))
	return rec
}

func (iso *ISO) list(d isoRec) ([]isoRec, error) {
	size := min(int64(d.size), maxISODir)
	b := make([]byte, size)
	if n, _ := iso.r.ReadAt(b, iso.off+int64(d.lba)*2048); int64(n) < size {
		return nil, fmt.Errorf("directory at sector %d cannot be read", d.lba)
	}
	var out []isoRec
	for i := 0; i < len(b) && len(out) < maxDirEnts; {
		l := int(b[i])
		if l == 0 { // records never cross a sector: go to the next one
			i = (i/2048 + 1) * 2048
			continue
		}
		if l < 34 || i+l > len(b) {
			break
		}
		r := parseRec(b[i:i+l], iso.joliet)
		if b[i+32] == 1 && (b[i+33] == 0 || b[i+33] == 1) {
			r.name = "" // "." and ".."
		}
		if r.name != "" {
			out = append(out, r)
		}
		i += l
	}
	return out, nil
}

func (iso *ISO) lookup(path string) (isoRec, error) {
	cur := iso.root
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' }) {
		ents, err := iso.list(cur)
		if err != nil {
			return isoRec{}, err
		}
		found := false
		for _, e := range ents {
			if strings.EqualFold(e.name, part) {
				cur, found = e, true
				break
			}
		}
		if !found {
			return isoRec{}, ErrNotFound
		}
	}
	return cur, nil
}

// ReadDir lists a directory ("" is the root).
func (iso *ISO) ReadDir(path string) ([]DirEntry, error) {
	d, err := iso.lookup(path)
	if err != nil {
		return nil, err
	}
	if !d.dir {
		return nil, fmt.Errorf("%s is not a directory", path)
	}
	ents, err := iso.list(d)
	var out []DirEntry
	for _, e := range ents {
		out = append(out, DirEntry{Name: e.name, Dir: e.dir, Size: int64(e.size)})
	}
	return out, err
}

// ReadFile reads at most max bytes of the file at path.
func (iso *ISO) ReadFile(path string, max int64) ([]byte, error) {
	f, err := iso.lookup(path)
	if err != nil || f.dir {
		return nil, ErrNotFound
	}
	b := make([]byte, min(int64(f.size), max))
	n, _ := iso.r.ReadAt(b, iso.off+int64(f.lba)*2048)
	if n < len(b) {
		return nil, fmt.Errorf("%s cannot be read", path)
	}
	return b, nil
}
