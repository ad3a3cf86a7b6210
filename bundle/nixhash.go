package bundle

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Nix prints a NAR hash as "sha256:" and 52 characters of its own base32
// (nix-store -q --hash, narinfo files, nix 2.8's path-info --json), newer
// Nix as SRI ("sha256-" and base64). A manifest made on the board and a
// path-info made at home must compare equal whatever the Nix versions, so
// hashes are compared as bytes and written in the narinfo form.

const nix32Chars = "0123456789abcdfghijklmnpqrsvwxyz"

// nix32 encodes b as Nix's base32: the last bits first, no padding.
func nix32(b []byte) string {
	n := (len(b)*8-1)/5 + 1
	out := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		bit := i * 5
		j, k := bit/8, bit%8
		c := int(b[j]) >> k
		if j+1 < len(b) {
			c |= int(b[j+1]) << (8 - k)
		}
		out[n-1-i] = nix32Chars[c&0x1f]
	}
	return string(out)
}

// unnix32 decodes Nix's base32 into size bytes.
func unnix32(s string, size int) ([]byte, error) {
	if len(s) != (size*8-1)/5+1 {
		return nil, fmt.Errorf("%d characters of base32 for %d bytes", len(s), size)
	}
	out := make([]byte, size)
	for n := 0; n < len(s); n++ {
		c := strings.IndexByte(nix32Chars, s[len(s)-n-1])
		if c < 0 {
			return nil, fmt.Errorf("%q is not Nix base32", s[len(s)-n-1])
		}
		bit := n * 5
		i, j := bit/8, bit%8
		out[i] |= byte(c << j)
		if i+1 < size {
			out[i+1] |= byte(c >> (8 - j))
		} else if c>>(8-j) != 0 {
			return nil, fmt.Errorf("base32 overflows %d bytes", size)
		}
	}
	return out, nil
}

// NarHash is a SHA-256 NAR hash.
type NarHash [sha256.Size]byte

// String is the narinfo form, "sha256:" and Nix base32.
func (h NarHash) String() string { return "sha256:" + nix32(h[:]) }

// ParseNarHash reads "sha256:<nix32>", "sha256:<hex>" or "sha256-<base64>".
func ParseNarHash(s string) (NarHash, error) {
	var h NarHash
	var raw []byte
	var err error
	switch {
	case strings.HasPrefix(s, "sha256:") && len(s) == 7+52:
		raw, err = unnix32(s[7:], sha256.Size)
	case strings.HasPrefix(s, "sha256:") && len(s) == 7+64:
		raw, err = hex.DecodeString(s[7:])
	case strings.HasPrefix(s, "sha256-"):
		raw, err = base64.StdEncoding.DecodeString(s[7:])
	default:
		return h, fmt.Errorf("%.80q is not a sha256 NAR hash", s)
	}
	if err != nil || len(raw) != sha256.Size {
		return h, fmt.Errorf("%.80q is not a sha256 NAR hash", s)
	}
	copy(h[:], raw)
	return h, nil
}

// MarshalText writes the narinfo form.
func (h NarHash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads any form ParseNarHash reads.
func (h *NarHash) UnmarshalText(b []byte) error {
	v, err := ParseNarHash(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

// storePathRE is a store path: the store, 32 characters of Nix base32,
// and a name of the characters Nix allows (not starting with a dot).
var storePathRE = regexp.MustCompile(`^/nix/store/[0-9abcdfghijklmnpqrsvwxyz]{32}-[A-Za-z0-9+\-_?=][A-Za-z0-9+\-._?=]{0,210}$`)

// IsStorePath reports whether p is a store path (nothing below one). A
// path that came from a board or a file is checked with it before it
// reaches a shell line or a file name.
func IsStorePath(p string) bool { return storePathRE.MatchString(p) }

// HashPart is the store path's 32-character hash: the name of its narinfo.
func HashPart(p string) string { return strings.TrimPrefix(p, "/nix/store/")[:32] }

// NameOf is the store path's name, after the hash.
func NameOf(p string) string { return strings.TrimPrefix(p, "/nix/store/")[33:] }
