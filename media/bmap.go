package media

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// Bmap is bmaptool's block map: which blocks of the image hold data, with
// a checksum per range. Only those are written (and read back).
type Bmap struct {
	Path         string  `json:"path"`
	Version      string  `json:"version"`
	ImageSize    int64   `json:"image_size"`
	BlockSize    int64   `json:"block_size"`
	BlocksCount  int64   `json:"blocks_count"`
	MappedBlocks int64   `json:"mapped_blocks"`
	ChecksumType string  `json:"checksum_type"`
	Ranges       []Range `json:"-"`
}

// Range is blocks First..Last (inclusive) and their checksum.
type Range struct {
	First, Last int64
	Checksum    string
}

// MappedBytes is how much will be written.
func (b *Bmap) MappedBytes() int64 {
	var n int64
	for _, r := range b.Ranges {
		n += b.span(r).n
	}
	return n
}

type span struct{ off, n int64 }

// span is the byte range of r, cut at the image's end.
func (b *Bmap) span(r Range) span {
	off := r.First * b.BlockSize
	end := min((r.Last+1)*b.BlockSize, b.ImageSize)
	return span{off, end - off}
}

func (b *Bmap) newHash() hash.Hash {
	if b.ChecksumType == "sha1" {
		return sha1.New()
	}
	return sha256.New()
}

type bmapXML struct {
	Version      string `xml:"version,attr"`
	ImageSize    string `xml:"ImageSize"`
	BlockSize    string `xml:"BlockSize"`
	BlocksCount  string `xml:"BlocksCount"`
	Mapped       string `xml:"MappedBlocksCount"`
	ChecksumType string `xml:"ChecksumType"`
	FileChecksum string `xml:"BmapFileChecksum"`
	FileSHA1     string `xml:"BmapFileSHA1"`
	Ranges       []struct {
		Chksum string `xml:"chksum,attr"`
		SHA1   string `xml:"sha1,attr"`
		Text   string `xml:",chardata"`
	} `xml:"BlockMap>Range"`
}

// FindBmap returns the .bmap for the image: the --bmap path, else
// IMAGE.bmap or the uncompressed name's .bmap beside it; "" when none.
func FindBmap(im *Image, flag string) string {
	if flag != "" {
		return flag
	}
	name := im.Path
	for _, ext := range []string{"", ".zst", ".xz", ".gz", ".bz2"} {
		if ext != "" && !strings.HasSuffix(name, ext) {
			continue
		}
		base := strings.TrimSuffix(name, ext)
		// ISAR names its images NAME.wic (or NAME.wic.img) beside
		// NAME.wic.bmap.
		for _, p := range []string{base + ".bmap", strings.TrimSuffix(base, ".img") + ".bmap"} {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	return ""
}

// maxBmap bounds a .bmap file: about 100 bytes a range, so room for far
// more ranges than any image has.
const maxBmap = 64 << 20

// LoadBmap reads and checks a .bmap: the file's own checksum, the sizes,
// and that the ranges are in order inside the image.
func LoadBmap(path string) (*Bmap, error) {
	bad := func(format string, a ...any) error {
		return step.Refuse("bmap-invalid", "make it again with `bmaptool create`, or leave it out with --no-bmap",
			"%s: "+format, append([]any{filepath.Base(path)}, a...)...)
	}
	raw, err := safe.ReadFile(path, maxBmap)
	if errors.Is(err, safe.ErrTooLarge) {
		return nil, step.Refuse("bmap-invalid", "make it again with `bmaptool create`, or leave it out with --no-bmap", "%v: not a bmap file", err)
	}
	if err != nil {
		return nil, step.Refuse("bmap-missing", "check the --bmap path, or leave it out", "cannot read the bmap: %v", err)
	}
	var x bmapXML
	if err := xml.Unmarshal(raw, &x); err != nil {
		return nil, bad("not a bmap file (%v)", err)
	}
	num := func(s string) int64 { n, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64); return n }
	b := &Bmap{Path: path, Version: x.Version, ImageSize: num(x.ImageSize), BlockSize: num(x.BlockSize),
		BlocksCount: num(x.BlocksCount), MappedBlocks: num(x.Mapped), ChecksumType: strings.TrimSpace(x.ChecksumType)}
	major, _, _ := strings.Cut(b.Version, ".")
	fileSum := strings.TrimSpace(x.FileChecksum)
	switch {
	case major == "1":
		b.ChecksumType, fileSum = "sha1", strings.TrimSpace(x.FileSHA1)
	case major == "2":
		if b.ChecksumType != "sha256" && b.ChecksumType != "sha1" {
			return nil, bad("checksum type %q is not supported", b.ChecksumType)
		}
	default:
		return nil, bad("version %q is not supported (jetup reads 1.x and 2.x)", b.Version)
	}
	if b.BlockSize <= 0 || b.ImageSize <= 0 {
		return nil, bad("no image or block size")
	}
	if fileSum != "" {
		zeroed := strings.Replace(string(raw), fileSum, strings.Repeat("0", len(fileSum)), 1)
		h := b.newHash()
		h.Write([]byte(zeroed))
		if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(fileSum) {
			return nil, bad("the file's own checksum does not match: it was changed or damaged")
		}
	}
	for _, r := range x.Ranges {
		first, last, isRange := strings.Cut(strings.TrimSpace(r.Text), "-")
		f, err1 := strconv.ParseInt(first, 10, 64)
		l := f
		var err2 error
		if isRange {
			l, err2 = strconv.ParseInt(last, 10, 64)
		}
		if err1 != nil || err2 != nil || l < f {
			return nil, bad("bad range %q", r.Text)
		}
		sum := r.Chksum
		if sum == "" {
			sum = r.SHA1
		}
		b.Ranges = append(b.Ranges, Range{First: f, Last: l, Checksum: strings.ToLower(strings.TrimSpace(sum))})
	}
	sort.Slice(b.Ranges, func(i, j int) bool { return b.Ranges[i].First < b.Ranges[j].First })
	var mapped int64
	for i, r := range b.Ranges {
		if i > 0 && r.First <= b.Ranges[i-1].Last {
			return nil, bad("ranges %d and %d overlap", i, i+1)
		}
		if r.First*b.BlockSize >= b.ImageSize {
			return nil, bad("range %d-%d lies past the image's end", r.First, r.Last)
		}
		mapped += r.Last - r.First + 1
	}
	if b.MappedBlocks != 0 && mapped != b.MappedBlocks {
		return nil, bad("it lists %d mapped blocks but its ranges hold %d", b.MappedBlocks, mapped)
	}
	return b, nil
}

// checkImage refuses a bmap made for another image size.
func (b *Bmap) checkImage(im *Image) error {
	if im.Size > 0 && im.Size != b.ImageSize {
		return step.Refuse("bmap-mismatch", "pass the .bmap made for this image (--bmap), or leave it out with --no-bmap",
			"%s is for a %d-byte image, but %s is %d bytes", filepath.Base(b.Path), b.ImageSize, im.Name, im.Size)
	}
	return nil
}

// String is "1.0 GiB image, 410.0 MiB mapped (40%)".
func (b *Bmap) String() string {
	m := b.MappedBytes()
	return fmt.Sprintf("%s image, %s mapped (%.0f%%)", HumanIEC(b.ImageSize), HumanIEC(m), 100*float64(m)/float64(b.ImageSize))
}
