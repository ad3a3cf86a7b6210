package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"time"
)

// ManifestFormat is the "format" of every manifest jetup reads and writes.
const ManifestFormat = "jetup-manifest/1"

// MaxManifest bounds a manifest read from a board or a file: 64 MiB holds
// some 400,000 paths, far more than any system.
const MaxManifest = 64 << 20

// Manifest is a board's store state: what the board prints with
// `sh BUNDLE --manifest` (and over SSH for `jetup manifest`), what the home
// mirror keeps for it, and what a bundle is made against.
type Manifest struct {
	Format string `json:"format"`
	// Fingerprint is the board's SSH host key (ed25519 first), the key
	// jetup pins: the board's identity at home and in a bundle's header.
	Fingerprint string `json:"fingerprint"`
	// HostKeys are the fingerprints of all its host keys.
	HostKeys []string `json:"host_keys,omitempty"`
	Hostname string   `json:"hostname,omitempty"`
	Arch     string   `json:"arch"` // uname -m
	Nix      string   `json:"nix,omitempty"`
	// Profile is the profile the manifest covers: the system's, or the
	// one a Nix-but-not-NixOS board updates (--profile-path).
	Profile string `json:"profile"`
	// Current is the profile's current target.
	Current string `json:"current,omitempty"`
	// Running is /run/current-system (NixOS), when it differs or the
	// profile is the system's.
	Running     string       `json:"running,omitempty"`
	Generations []Generation `json:"generations"`
	// Sequence is the last bundle the board applied (0: none).
	Sequence int64 `json:"sequence"`
	// Decoder is the delta decoder the board has ("zstd 1.5.4"), "" when
	// it has none and gets whole NARs.
	Decoder   string    `json:"decoder,omitempty"`
	FreeBytes int64     `json:"free_bytes"` // free on the board's /nix
	Time      time.Time `json:"time"`
	Paths     []Path    `json:"paths"`

	index map[string]int
}

// Generation is one generation of the profile.
type Generation struct {
	Number  int    `json:"number"`
	Path    string `json:"path"`
	Current bool   `json:"current,omitempty"`
}

// Path is one valid store path with its NAR's hash and size.
type Path struct {
	Path    string  `json:"path"`
	NarHash NarHash `json:"nar_hash"`
	NarSize int64   `json:"nar_size"`
}

var fingerprintRE = regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}$`)

// IsFingerprint reports whether s is an OpenSSH SHA256 key fingerprint.
func IsFingerprint(s string) bool { return fingerprintRE.MatchString(s) }

var (
	archRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,32}$`)
	textRE = regexp.MustCompile(`^[A-Za-z0-9._+ -]{0,128}$`)
)

// ParseManifest reads a manifest from a board or a file: everything in it
// is checked, since it becomes file names, shell words and the base of a
// bundle.
func ParseManifest(b []byte) (*Manifest, error) {
	if len(b) > MaxManifest {
		return nil, fmt.Errorf("manifest of %d bytes: more than the %d a board's manifest can be", len(b), MaxManifest)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a jetup manifest: %v", err)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) validate() error {
	switch {
	case m.Format != ManifestFormat:
		return fmt.Errorf("not a jetup manifest (format %.40q, want %q)", m.Format, ManifestFormat)
	case !IsFingerprint(m.Fingerprint):
		return fmt.Errorf("the manifest names no board: fingerprint %.60q is not SHA256:<43 characters>", m.Fingerprint)
	case !archRE.MatchString(m.Arch):
		return fmt.Errorf("the manifest's arch %.40q is not a machine name", m.Arch)
	case !textRE.MatchString(m.Hostname) || !textRE.MatchString(m.Nix) || !textRE.MatchString(m.Decoder):
		return fmt.Errorf("the manifest's hostname, nix or decoder has characters no board prints")
	case !isProfile(m.Profile):
		return fmt.Errorf("the manifest's profile %.80q is not under /nix/var/nix/profiles", m.Profile)
	case m.Current != "" && !IsStorePath(m.Current), m.Running != "" && !IsStorePath(m.Running):
		return fmt.Errorf("the manifest's current system is not a store path")
	case m.Sequence < 0:
		return fmt.Errorf("the manifest's sequence %d is negative", m.Sequence)
	}
	for _, k := range m.HostKeys {
		if !IsFingerprint(k) {
			return fmt.Errorf("host key fingerprint %.60q is not SHA256:<43 characters>", k)
		}
	}
	for _, g := range m.Generations {
		if g.Number <= 0 || !IsStorePath(g.Path) {
			return fmt.Errorf("generation %d (%.80q) is not a generation of a store path", g.Number, g.Path)
		}
	}
	m.index = make(map[string]int, len(m.Paths))
	for i, p := range m.Paths {
		if !IsStorePath(p.Path) {
			return fmt.Errorf("%.100q is not a store path", p.Path)
		}
		if p.NarSize <= 0 {
			return fmt.Errorf("%s: NAR size %d", p.Path, p.NarSize)
		}
		if _, dup := m.index[p.Path]; dup {
			return fmt.Errorf("%s is listed twice", p.Path)
		}
		m.index[p.Path] = i
	}
	return nil
}

var profileRE = regexp.MustCompile(`^/nix/var/nix/profiles/[A-Za-z0-9][A-Za-z0-9._+-]{0,100}(/[A-Za-z0-9][A-Za-z0-9._+-]{0,100}){0,3}$`)

// isProfile accepts a Nix profile path: under /nix/var/nix/profiles, plain
// names only (it becomes a shell word and the base of a link name).
func isProfile(p string) bool { return profileRE.MatchString(p) }

// IsProfile reports whether p is a profile path a bundle may set.
func IsProfile(p string) bool { return isProfile(p) }

// Has reports whether the board has p.
func (m *Manifest) Has(p string) bool {
	m.ensureIndex()
	_, ok := m.index[p]
	return ok
}

// Get returns p's entry.
func (m *Manifest) Get(p string) (Path, bool) {
	m.ensureIndex()
	i, ok := m.index[p]
	if !ok {
		return Path{}, false
	}
	return m.Paths[i], true
}

func (m *Manifest) ensureIndex() {
	if m.index != nil && len(m.index) == len(m.Paths) {
		return
	}
	m.index = make(map[string]int, len(m.Paths))
	for i, p := range m.Paths {
		m.index[p.Path] = i
	}
}

// Bytes is the sum of the NAR sizes.
func (m *Manifest) Bytes() int64 {
	var n int64
	for _, p := range m.Paths {
		n += p.NarSize
	}
	return n
}

// Sort orders paths and generations, so the same state is the same JSON.
func (m *Manifest) Sort() {
	sort.Slice(m.Paths, func(i, j int) bool { return m.Paths[i].Path < m.Paths[j].Path })
	sort.Slice(m.Generations, func(i, j int) bool { return m.Generations[i].Number < m.Generations[j].Number })
	m.index = nil
}

// Marshal is the manifest as jetup writes it.
func (m *Manifest) Marshal() []byte {
	b, _ := json.MarshalIndent(m, "", "  ")
	return append(b, '\n')
}

// ManifestHash names a manifest's exact bytes: "sha256:<hex>". A bundle's
// header carries the hash of the manifest it was made against.
func ManifestHash(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}
