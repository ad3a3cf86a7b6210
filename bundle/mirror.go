package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jetup/jetup/safe"
	"golang.org/x/sys/unix"
)

// Mirror is the home mirror of the boards' stores: under the state dir,
// boards/<fingerprint>/ holds board.json (what is known of the board),
// manifest.json (its store state, exactly as the board printed it or as
// jetup derived it from a receipt), bundles/<seq>.json (what each bundle
// sent) and receipts/<seq>.json. The directory is keyed by the board's
// pinned host key, so a board that changes address is the same board and
// a reflashed one (a new key) starts afresh.
type Mirror struct {
	Dir string // <state-dir>/boards
}

// MirrorIn is the mirror under a state dir.
func MirrorIn(stateDir string) Mirror { return Mirror{Dir: filepath.Join(stateDir, "boards")} }

// Board is what the mirror knows of one board: `jetup boards`' row.
type Board struct {
	Fingerprint string `json:"fingerprint"`
	// Host is the address it was last reached at over SSH ("" for a board
	// known only from files).
	Host     string `json:"host,omitempty"`
	Port     int    `json:"port,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	Arch     string `json:"arch,omitempty"`
	Profile  string `json:"profile,omitempty"`
	Current  string `json:"current,omitempty"`
	// ManifestHash names manifest.json's bytes; ManifestTime is when the
	// board made it (or when the receipt it was derived from was made).
	ManifestHash string    `json:"manifest_hash,omitempty"`
	ManifestTime time.Time `json:"manifest_time"`
	// ManifestFrom says how it came: ssh, push, file, receipt.
	ManifestFrom string `json:"manifest_from,omitempty"`
	Paths        int    `json:"paths"`
	Decoder      string `json:"decoder,omitempty"`
	// Applied is the last bundle sequence the board reported applied;
	// Issued the last one jetup wrote for it.
	Applied int64     `json:"applied"`
	Issued  int64     `json:"issued"`
	Updated time.Time `json:"updated"`
}

// slug is the fingerprint as a directory name (base64's / and + replaced).
func slug(fp string) string {
	return strings.NewReplacer("/", "_", "+", "-").Replace(strings.TrimPrefix(fp, "SHA256:"))
}

func (m Mirror) dir(fp string) string { return filepath.Join(m.Dir, slug(fp)) }

// ensure makes the board's directory (0700, like the state dir).
func (m Mirror) ensure(fp string) (string, error) {
	if !IsFingerprint(fp) {
		return "", fmt.Errorf("%.60q is not a host key fingerprint", fp)
	}
	d := m.dir(fp)
	for _, sub := range []string{"bundles", "receipts"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o700); err != nil {
			return "", err
		}
	}
	return d, nil
}

// lock holds the board's lock file until the returned func is called:
// two jetups writing bundles for one board must not take one sequence.
func (m Mirror) lock(fp string) (func(), error) {
	d, err := m.ensure(fp)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(d, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// writeFile writes atomically (a crash leaves the old file or the new).
func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ErrUnknownBoard is returned when the mirror has no such board.
var ErrUnknownBoard = errors.New("no manifest recorded for this board")

// Load reads a board's record.
func (m Mirror) Load(fp string) (*Board, error) {
	if !IsFingerprint(fp) {
		return nil, fmt.Errorf("%.60q is not a host key fingerprint", fp)
	}
	b, err := safe.ReadFile(filepath.Join(m.dir(fp), "board.json"), 1<<20)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrUnknownBoard
	}
	if err != nil {
		return nil, err
	}
	var bd Board
	if err := json.Unmarshal(b, &bd); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(m.dir(fp), "board.json"), err)
	}
	if bd.Fingerprint != fp {
		return nil, fmt.Errorf("%s names board %s", filepath.Join(m.dir(fp), "board.json"), bd.Fingerprint)
	}
	return &bd, nil
}

func (m Mirror) save(bd *Board) error {
	b, _ := json.MarshalIndent(bd, "", "  ")
	return writeFile(filepath.Join(m.dir(bd.Fingerprint), "board.json"), append(b, '\n'))
}

// Manifest reads the board's manifest: its bytes (the hash a bundle
// names) and what they say.
func (m Mirror) Manifest(fp string) ([]byte, *Manifest, error) {
	if !IsFingerprint(fp) {
		return nil, nil, fmt.Errorf("%.60q is not a host key fingerprint", fp)
	}
	b, err := safe.ReadFile(filepath.Join(m.dir(fp), "manifest.json"), MaxManifest)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, ErrUnknownBoard
	}
	if err != nil {
		return nil, nil, err
	}
	man, err := ParseManifest(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", filepath.Join(m.dir(fp), "manifest.json"), err)
	}
	return b, man, nil
}

// Seen says where a manifest came from.
type Seen struct {
	From string // ssh, push, file, receipt
	Host string // the address it was read at ("" from a file)
	Port int
}

// Record keeps a manifest as the board's current state. raw must parse
// (ParseManifest); it is kept byte for byte.
func (m Mirror) Record(raw []byte, seen Seen) (*Board, error) {
	man, err := ParseManifest(raw)
	if err != nil {
		return nil, err
	}
	unlock, err := m.lock(man.Fingerprint)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return m.record(raw, man, seen)
}

func (m Mirror) record(raw []byte, man *Manifest, seen Seen) (*Board, error) {
	bd, err := m.Load(man.Fingerprint)
	if errors.Is(err, ErrUnknownBoard) {
		bd, err = &Board{Fingerprint: man.Fingerprint}, nil
	}
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(m.dir(man.Fingerprint), "manifest.json"), raw); err != nil {
		return nil, err
	}
	if seen.Host != "" {
		bd.Host, bd.Port = seen.Host, seen.Port
	}
	bd.Hostname, bd.Arch, bd.Profile, bd.Current = man.Hostname, man.Arch, man.Profile, man.Current
	bd.ManifestHash, bd.ManifestTime, bd.ManifestFrom = ManifestHash(raw), man.Time, seen.From
	bd.Paths, bd.Decoder = len(man.Paths), man.Decoder
	if man.Sequence > bd.Applied {
		bd.Applied = man.Sequence
	}
	bd.Updated = time.Now().UTC()
	return bd, m.save(bd)
}

// List is every board the mirror knows, most recently updated first.
func (m Mirror) List() ([]Board, error) {
	ents, err := os.ReadDir(m.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Board
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		b, err := safe.ReadFile(filepath.Join(m.Dir, e.Name(), "board.json"), 1<<20)
		if err != nil {
			continue
		}
		var bd Board
		if json.Unmarshal(b, &bd) != nil || !IsFingerprint(bd.Fingerprint) || slug(bd.Fingerprint) != e.Name() {
			continue
		}
		out = append(out, bd)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Updated.After(out[j].Updated) })
	return out, nil
}

// Find looks a board up by its fingerprint, or by the host it was last
// reached at (with or without :port).
func (m Mirror) Find(hostOrFP string) (*Board, error) {
	if strings.HasPrefix(hostOrFP, "SHA256:") {
		return m.Load(hostOrFP)
	}
	all, err := m.List()
	if err != nil {
		return nil, err
	}
	host, port := hostOrFP, 0
	if h, p, ok := strings.Cut(hostOrFP, ":"); ok && !strings.Contains(p, ":") {
		if n, err := strconv.Atoi(p); err == nil {
			host, port = h, n
		}
	}
	var found []Board
	for _, b := range all {
		if b.Host == host && (port == 0 || b.Port == port || b.Port == 0 && port == 22) {
			found = append(found, b)
		}
	}
	switch len(found) {
	case 0:
		return nil, ErrUnknownBoard
	case 1:
		return &found[0], nil
	}
	return nil, fmt.Errorf("%d boards were last seen at %s: name one by its fingerprint (jetup boards lists them)", len(found), hostOrFP)
}
