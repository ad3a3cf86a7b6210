package bundle

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// The header names what the bundle is for and what it holds, and the board
// trusts it only once its own nix has checked its signature: it travels as
// a one-file "store path" in a small binary cache of its own
// (jetup-bundle/header/ in the tar), its narinfo signed by `nix store sign`
// with the bundle's key. `nix store verify` on the board checks the
// signature against the board's trusted keys and the content against the
// signed NarHash; `nix store cat` reads it. The path is never imported. It
// is not content-addressed on purpose: Nix trusts a content-addressed path
// without any signature.

// HeaderFormat is the bundle format.
const HeaderFormat = "jetup-bundle/1"

// Header is what the signed header says.
type Header struct {
	Format       string
	Sequence     int64
	Board        string // the host key fingerprint of the board it is for
	Target       string
	Profile      string
	System       string // the target's `system` ("" for a profile that is not NixOS's)
	BaseManifest string // ManifestHash of the manifest it was made against
	ScriptSize   int64  // bytes of the sh script before the tar
	HeaderSize   int64  // bytes of the tar's header members
	TotalSize    int64
	SplitSize    int64
	NarSize      int64 // NAR bytes the board imports
	FileSize     int64 // bytes unpacked from the tar
	Made         string
	Parts        []Part
	// Paths are sent, in any order (nix copy sorts them).
	Paths []string
	// Bases are the paths the bundle builds on and does not carry: what
	// the sent paths refer to, the target when it is not sent, the bases
	// of deltas. The board checks they are valid right after the header,
	// before it reads the rest, so a bundle made for another state of the
	// board is refused at once (and again from the signed narinfos'
	// References once unpacked).
	Bases  []string
	Deltas []Delta
	// Decoder is the zstd the bundle ships (a path it sends), "" when the
	// board decodes deltas with its own.
	Decoder string
}

// Part is one checked range of the bundle: with --split, the bytes of one
// part file after the header; without, everything after the header.
type Part struct {
	Index       int
	Start, Size int64
	SHA256      string // hex
}

// Delta is a path sent as a zstd patch against a path the board has.
type Delta struct {
	Path, Base string
}

// Text is the header as the board reads it: "key value" lines.
func (h *Header) Text() string {
	var b strings.Builder
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s %v\n", k, v) }
	kv("format", h.Format)
	kv("sequence", h.Sequence)
	kv("board", h.Board)
	kv("target", h.Target)
	kv("profile", h.Profile)
	if h.System != "" {
		kv("system", h.System)
	}
	kv("base_manifest", h.BaseManifest)
	kv("script_size", h.ScriptSize)
	kv("header_size", h.HeaderSize)
	kv("total_size", h.TotalSize)
	kv("split_size", h.SplitSize)
	kv("nar_size", h.NarSize)
	kv("file_size", h.FileSize)
	kv("made", h.Made)
	for _, p := range h.Parts {
		fmt.Fprintf(&b, "part %d %d %d %s\n", p.Index, p.Start, p.Size, p.SHA256)
	}
	for _, p := range sorted(h.Paths) {
		kv("path", p)
	}
	for _, p := range sorted(h.Bases) {
		kv("base", p)
	}
	for _, d := range h.Deltas {
		fmt.Fprintf(&b, "delta %s %s\n", d.Path, d.Base)
	}
	if h.Decoder != "" {
		kv("decoder", h.Decoder)
	}
	return b.String()
}

func sorted(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}

// ParseHeader reads a header's text (jetup apply and the tests read what
// the board reads).
func ParseHeader(text string) (*Header, error) {
	h := &Header{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 4096), 1<<16)
	num := func(v string) int64 { n, _ := strconv.ParseInt(v, 10, 64); return n }
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case "format":
			h.Format = v
		case "sequence":
			h.Sequence = num(v)
		case "board":
			h.Board = v
		case "target":
			h.Target = v
		case "profile":
			h.Profile = v
		case "system":
			h.System = v
		case "base_manifest":
			h.BaseManifest = v
		case "script_size":
			h.ScriptSize = num(v)
		case "header_size":
			h.HeaderSize = num(v)
		case "total_size":
			h.TotalSize = num(v)
		case "split_size":
			h.SplitSize = num(v)
		case "nar_size":
			h.NarSize = num(v)
		case "file_size":
			h.FileSize = num(v)
		case "made":
			h.Made = v
		case "part":
			f := strings.Fields(v)
			if len(f) != 4 {
				return nil, fmt.Errorf("bad part line %q", v)
			}
			i, _ := strconv.Atoi(f[0])
			h.Parts = append(h.Parts, Part{Index: i, Start: num(f[1]), Size: num(f[2]), SHA256: f[3]})
		case "path":
			h.Paths = append(h.Paths, v)
		case "base":
			h.Bases = append(h.Bases, v)
		case "decoder":
			h.Decoder = v
		case "delta":
			p, base, _ := strings.Cut(v, " ")
			h.Deltas = append(h.Deltas, Delta{Path: p, Base: base})
		}
	}
	if h.Format != HeaderFormat {
		return nil, fmt.Errorf("not a jetup bundle header (format %q)", h.Format)
	}
	return h, sc.Err()
}

// headerPath is the header's store path: its name says which bundle, its
// hash part comes from the text (so two headers never share a narinfo).
func headerPath(h *Header) string {
	sum := sha256.Sum256([]byte(h.Text()))
	return fmt.Sprintf("/nix/store/%s-jetup-bundle-%d", nix32(sum[:20]), h.Sequence)
}

// narOfFile is the NAR serialisation of one regular file, as
// `nix-store --dump FILE` writes it.
func narOfFile(content []byte) []byte {
	var b bytes.Buffer
	str := func(s []byte) {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		b.Write(n[:])
		b.Write(s)
		if pad := (8 - len(s)%8) % 8; pad > 0 {
			b.Write(make([]byte, pad))
		}
	}
	for _, s := range []string{"nix-archive-1", "(", "type", "regular", "contents"} {
		str([]byte(s))
	}
	str(content)
	str([]byte(")"))
	return b.Bytes()
}

// headerCache is the signed narinfo and the zstd NAR of the header path:
// file names (relative to the cache) and contents. The NAR is compressed
// as the body's are (the board's nix reads zstd caches already): its lists
// of store paths shrink to a third. The narinfo's Sig is ed25519 over
// Nix's fingerprint of the path (ValidPathInfo::fingerprint:
// "1;PATH;NARHASH;NARSIZE;REFERENCES"), as `nix store sign` makes it,
// without a nix process per try of the bundle's layout; the board's own
// nix checks it.
func headerCache(path string, text string, key nixSecret) (narinfoName string, narinfo []byte, narName string, file []byte) {
	nar := narOfFile([]byte(text))
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	file = enc.EncodeAll(nar, nil)
	narSum, fileSum := sha256.Sum256(nar), sha256.Sum256(file)
	narHash := "sha256:" + nix32(narSum[:])
	narName = "nar/" + nix32(fileSum[:]) + ".nar.zst"
	fingerprint := fmt.Sprintf("1;%s;%s;%d;", path, narHash, len(nar))
	narinfo = []byte(fmt.Sprintf("StorePath: %s\nURL: %s\nCompression: zstd\nFileHash: sha256:%s\nFileSize: %d\nNarHash: %s\nNarSize: %d\nReferences: \nSig: %s\n",
		path, narName, nix32(fileSum[:]), len(file), narHash, len(nar), key.sign(fingerprint)))
	return HashPart(path) + ".narinfo", narinfo, narName, file
}
