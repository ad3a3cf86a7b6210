package image

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/jetup/jetup/step"
)

// SWU is an SWUpdate bundle: a cpio archive in the "crc" format (070702),
// sw-description first (and sw-description.sig when signed), then the
// files it lists, each with its sha256.
type SWU struct {
	Version               string     `json:"version"`
	HardwareCompatibility []string   `json:"hardware_compatibility"`
	Images                []SWUImage `json:"images"`
	// Signed is true when the bundle carries sw-description.sig;
	// Signature says whether it was checked.
	Signed    bool   `json:"signed"`
	Signature string `json:"signature"`

	description []byte // sw-description as in the bundle
	sig         []byte
	entries     map[string]cpioEntry
	size        int64
}

// SWUImage is one file sw-description lists (under images, files or
// scripts).
type SWUImage struct {
	Filename string `json:"filename"`
	SHA256   string `json:"sha256"`
	// OK is true when the bundle holds the file and its sha256 matches.
	OK      bool   `json:"ok"`
	Missing bool   `json:"missing,omitempty"`
	Actual  string `json:"actual_sha256,omitempty"`
	Type    string `json:"type,omitempty"`
	Device  string `json:"device,omitempty"`
	Section string `json:"section"` // images, files or scripts
}

type cpioEntry struct {
	size   int64
	sha256 string
	cut    bool // the bundle ends inside it (reported already)
}

var errEntryCut = errors.New("the file ends inside this entry")

const (
	maxCPIOName    = 4096
	maxDescription = 1 << 20
	maxSigFile     = 64 << 10
	maxCPIOEntries = 10000
)

// InspectSWU reads the whole bundle once: every entry's header, sha256 and
// cpio CRC, then sw-description.
func InspectSWU(path string) (*Report, error) {
	rep := &Report{File: path, Kind: KindSWU, Table: "none", Partitions: []Partition{}, Boot: []Boot{}, Problems: []Problem{}}
	s, err := readSWU(path, rep)
	if err != nil {
		return nil, err
	}
	rep.SWU = s
	return rep, nil
}

func readSWU(path string, rep *Report) (*SWU, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, step.Refuse("image-unreadable", "check the path and the file's permissions", "%v", err)
	}
	defer f.Close()
	st, _ := f.Stat()
	s := &SWU{entries: map[string]cpioEntry{}, size: st.Size(), HardwareCompatibility: []string{}, Images: []SWUImage{}}
	rd := bufio.NewReaderSize(f, 1<<20)
	var off int64
	for n := 0; ; n++ {
		if n >= maxCPIOEntries {
			rep.problem("cpio", "more than %d entries", maxCPIOEntries)
			break
		}
		name, size, check, crcFormat, err := cpioHeader(rd, &off, s.size)
		if errors.Is(err, errEntryCut) {
			rep.problem(name, "the bundle ends inside %s: %v (truncated download?)", name, err)
			s.entries[name] = cpioEntry{cut: true}
			break
		}
		if err != nil {
			if n == 0 {
				return nil, step.Refuse("swu-format", "an SWUpdate bundle is a cpio archive made with `cpio -o -H crc`", "%s: %v", path, err)
			}
			rep.problem("cpio", "the archive breaks after %d entries, at byte %d: %v (truncated?)", n, off, err)
			break
		}
		if name == "TRAILER!!!" {
			break
		}
		if n == 0 && name != "sw-description" {
			rep.problem(name, "the first entry is %q: SWUpdate reads sw-description first and refuses this bundle", name)
		}
		h := sha256.New()
		var keep []byte
		if name == "sw-description" || name == "sw-description.sig" {
			limit := int64(maxDescription)
			if name == "sw-description.sig" {
				limit = maxSigFile
			}
			if size > limit {
				rep.problem(name, "it is %d bytes; jetup reads at most %d", size, limit)
			} else {
				keep = make([]byte, 0, size)
			}
		}
		sum, got, err := copyEntry(rd, size, h, &keep)
		off += got
		if err != nil {
			rep.problem(name, "the bundle ends inside %s: %d of its %d bytes are there (truncated download?)", name, got, size)
			s.entries[name] = cpioEntry{size: got, cut: true}
			break
		}
		if crcFormat && sum != check {
			rep.problem(name, "its cpio checksum is %08x, the header says %08x", sum, check)
		}
		if err := skipPad(rd, &off); err != nil {
			rep.problem(name, "the bundle ends after %s", name)
			break
		}
		s.entries[name] = cpioEntry{size: size, sha256: hex.EncodeToString(h.Sum(nil))}
		switch name {
		case "sw-description":
			s.description = keep
		case "sw-description.sig":
			s.sig, s.Signed = keep, true
		}
	}
	if s.description == nil {
		rep.problem("sw-description", "the bundle has no sw-description")
		return s, nil
	}
	s.parseDescription(rep)
	s.Signature = "none: the bundle is not signed"
	if s.Signed {
		s.Signature = "present, not checked (pass --verify-key to check it)"
	}
	return s, nil
}

// cpioHeader reads a newc/crc header and the name after it.
func cpioHeader(rd *bufio.Reader, off *int64, fileSize int64) (name string, size int64, check uint32, crc bool, err error) {
	h := make([]byte, 110)
	if _, err := io.ReadFull(rd, h); err != nil {
		return "", 0, 0, false, fmt.Errorf("no cpio header (%v)", err)
	}
	*off += 110
	magic := string(h[:6])
	if magic != "070702" && magic != "070701" {
		return "", 0, 0, false, fmt.Errorf("cpio magic %q is not 070702 (crc) or 070701 (newc)", clean(magic))
	}
	field := func(i int) (uint64, error) { return strconv.ParseUint(string(h[6+8*i:14+8*i]), 16, 32) }
	fsz, err1 := field(6)
	nsz, err2 := field(11)
	chk, err3 := field(12)
	if err := errors.Join(err1, err2, err3); err != nil {
		return "", 0, 0, false, fmt.Errorf("a cpio header field is not hex")
	}
	if nsz == 0 || nsz > maxCPIOName {
		return "", 0, 0, false, fmt.Errorf("a name of %d bytes", nsz)
	}
	nb := make([]byte, nsz)
	if _, err := io.ReadFull(rd, nb); err != nil {
		return "", 0, 0, false, fmt.Errorf("the entry's name is cut off")
	}
	*off += int64(nsz)
	name = clean(strings.TrimRight(string(nb), "\x00"))
	if rest := fileSize - *off; int64(fsz) > rest {
		return name, 0, 0, false, fmt.Errorf("%w: its header says %d bytes, %d remain in the file", errEntryCut, fsz, max(rest, 0))
	}
	if err := skipPad(rd, off); err != nil {
		return "", 0, 0, false, err
	}
	return name, int64(fsz), uint32(chk), magic == "070702", nil
}

func skipPad(rd *bufio.Reader, off *int64) error {
	if p := (4 - *off%4) % 4; p > 0 {
		if _, err := rd.Discard(int(p)); err != nil {
			return err
		}
		*off += p
	}
	return nil
}

// copyEntry hashes size bytes and sums them as the crc format does (the
// plain sum of the bytes, modulo 2^32); keep, when not nil, gets them too.
func copyEntry(rd *bufio.Reader, size int64, w io.Writer, keep *[]byte) (uint32, int64, error) {
	var sum uint32
	buf := make([]byte, 256<<10)
	var got int64
	for got < size {
		n, err := rd.Read(buf[:min(int64(len(buf)), size-got)])
		for _, c := range buf[:n] {
			sum += uint32(c)
		}
		_, _ = w.Write(buf[:n])
		if *keep != nil || cap(*keep) > 0 {
			*keep = append(*keep, buf[:n]...)
		}
		got += int64(n)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return sum, got, err
		}
	}
	return sum, got, nil
}

// parseDescription reads version, hardware-compatibility and every listed
// file from sw-description and checks each file's sha256 against the
// bundle.
func (s *SWU) parseDescription(rep *Report) {
	root, err := parseLibconfig(string(s.description))
	if err != nil {
		rep.problem("sw-description", "it cannot be parsed: %v", err)
		return
	}
	sw, ok := root.get("software")
	if !ok || sw.Kind != 'g' {
		rep.problem("sw-description", "it has no software = { ... } group")
		return
	}
	if v, ok := sw.get("version"); ok {
		s.Version = clean(v.Str)
	}
	s.walk(sw, rep, 0)
	for i := range s.Images {
		im := &s.Images[i]
		e, ok := s.entries[im.Filename]
		switch {
		case !ok:
			im.Missing = true
			rep.problem(im.Filename, "sw-description lists %s but the bundle has no such file", im.Filename)
		case e.cut:
		case im.SHA256 == "":
			rep.problem(im.Filename, "sw-description gives no sha256 for %s: SWUpdate refuses unsigned-hash entries when built with signing", im.Filename)
		default:
			im.Actual = e.sha256
			im.OK = strings.EqualFold(e.sha256, im.SHA256)
			if !im.OK {
				rep.problem(im.Filename, "its sha256 is %s, sw-description says %s", e.sha256, im.SHA256)
			}
		}
	}
}

// walk collects hardware-compatibility and the images/files/scripts
// entries anywhere under software (board and selection sub-groups
// included, as SWUpdate allows).
func (s *SWU) walk(g cfgValue, rep *Report, depth int) {
	if depth > 8 {
		return
	}
	for _, st := range g.Settings {
		switch {
		case st.Name == "hardware-compatibility":
			for _, it := range st.Value.Items {
				s.HardwareCompatibility = appendNew(s.HardwareCompatibility, clean(it.Str))
			}
		case st.Name == "images" || st.Name == "files" || st.Name == "scripts":
			for _, it := range st.Value.Items {
				fn, _ := it.get("filename")
				if fn.Str == "" {
					continue // bootenv-style entries carry no file
				}
				im := SWUImage{Filename: clean(fn.Str), Section: st.Name}
				if v, ok := it.get("sha256"); ok {
					im.SHA256 = strings.ToLower(clean(v.Str))
				}
				if v, ok := it.get("type"); ok {
					im.Type = clean(v.Str)
				}
				if v, ok := it.get("device"); ok {
					im.Device = clean(v.Str)
				}
				s.Images = append(s.Images, im)
			}
		case st.Value.Kind == 'g':
			s.walk(st.Value, rep, depth+1)
		}
	}
}

func appendNew(l []string, s string) []string {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
}
