package kit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jetup/jetup/safe"
)

// Version of the manifest format this jetup writes and reads.
const Version = 1

// Manifest is kit.json: what the kit holds and where it came from. Its
// JSON is the `jetup kits show --json` kit and an interface.
type Manifest struct {
	Version int       `json:"version"`
	Name    string    `json:"name"`
	Profile string    `json:"profile"`
	Created time.Time `json:"created"`
	// Jetup is the version that prepared it.
	Jetup     string     `json:"jetup_version,omitempty"`
	Artifacts []Artifact `json:"artifacts"`
	// Flakes are the flakes the artifacts come from, each with its lock
	// and the sources `nix flake archive` fetched (for offline
	// evaluation).
	Flakes []Flake `json:"flakes,omitempty"`
	// Size is what the kit holds in the store: the NAR size of every
	// path of every closure (sources included), each counted once.
	Size int64 `json:"size"`
}

// Artifact is one thing a step uses, pinned.
type Artifact struct {
	ID ID `json:"id"`
	// Ref is what it was asked as: the profile's FLAKE#ATTR, --system's
	// FLAKE#NAME, or --image's / --system's path.
	Ref string `json:"ref"`
	// Installable is what a step asks nix to build for it (Ref, with
	// --system's NAME expanded as the push expands it): what an offline
	// step is matched with. "" for a file or a path.
	Installable string `json:"installable,omitempty"`
	// Flake, Attribute and Lock: the flake part of the installable, its
	// attribute, and the flake's lock when it was built; what was built
	// is Lock.URL#Attribute.
	Flake     string `json:"flake,omitempty"`
	Attribute string `json:"attribute,omitempty"`
	Lock      *Lock  `json:"lock,omitempty"`
	// StorePath is the result; Link its GC root's name in the kit's
	// directory.
	StorePath string `json:"store_path"`
	Link      string `json:"link"`
	// File is the image inside StorePath an installer writes ("" when
	// the store path is the file itself).
	File        string    `json:"file,omitempty"`
	NarSize     int64     `json:"nar_size"`
	ClosureSize int64     `json:"closure_size"`
	BuiltAt     time.Time `json:"built_at"`
}

// Lock is a flake's locked identity, as `nix flake metadata` gives it.
type Lock struct {
	URL          string `json:"url"`                // the locked flake ref
	Revision     string `json:"revision,omitempty"` // git revision, when it has one
	NarHash      string `json:"nar_hash,omitempty"`
	LastModified int64  `json:"last_modified,omitempty"`
}

// Same reports whether two locks name the same source: the NAR hash when
// both have one (it covers flake.lock, so inputs too), else the revision.
func (l *Lock) Same(o *Lock) bool {
	if l == nil || o == nil {
		return l == o
	}
	if l.NarHash != "" && o.NarHash != "" {
		return l.NarHash == o.NarHash
	}
	return l.Revision != "" && l.Revision == o.Revision
}

// Short is the revision (12 characters) or the NAR hash, for people.
func (l *Lock) Short() string {
	switch {
	case l == nil:
		return ""
	case l.Revision != "":
		return l.Revision[:min(12, len(l.Revision))]
	case l.NarHash != "":
		return l.NarHash
	}
	return l.URL
}

// Flake is one flake of a kit and its archived sources.
type Flake struct {
	Flake   string   `json:"flake"`
	Lock    *Lock    `json:"lock"`
	Sources []Source `json:"sources"`
}

// Source is the flake itself ("" input) or one of its inputs in the store.
type Source struct {
	Input     string `json:"input"` // "nixpkgs", "jetpack/nixpkgs"; "" for the flake itself
	StorePath string `json:"store_path"`
	Link      string `json:"link"` // "src/source-2"
}

// Get returns the artifact with that id.
func (m *Manifest) Get(id ID) (Artifact, bool) {
	for _, a := range m.Artifacts {
		if a.ID == id {
			return a, true
		}
	}
	return Artifact{}, false
}

// roots are every path the kit pins, with its link.
func (m *Manifest) roots() []root {
	var out []root
	for _, a := range m.Artifacts {
		out = append(out, root{what: a.ID.Title(), path: a.StorePath, link: a.Link})
	}
	for _, f := range m.Flakes {
		for _, s := range f.Sources {
			what := "source of " + f.Flake
			if s.Input != "" {
				what = "input " + s.Input + " of " + f.Flake
			}
			out = append(out, root{what: what, path: s.StorePath, link: s.Link})
		}
	}
	return out
}

type root struct{ what, path, link string }

// maxManifest bounds what is read of a kit.json: a kit names a few
// artifacts and a few dozen sources.
const maxManifest = 4 << 20

// storePath is a top-level store path: /nix/store/<32 base-32 chars>-name.
var storePath = regexp.MustCompile(`^/nix/store/[0-9a-df-np-sv-z]{32}-[A-Za-z0-9+\-._?=]+$`)

// IsStorePath reports whether p is a top-level store path.
func IsStorePath(p string) bool { return storePath.MatchString(p) }

// ReadManifest reads and checks dir/kit.json. Everything in it is checked
// as if a stranger wrote it (a kit directory can be edited by hand): the
// file must be the user's and not writable by others, bounded, known
// fields only, the version this jetup writes, every path a store path,
// every link a plain name inside the kit. A missing file wraps
// fs.ErrNotExist.
func ReadManifest(dir string) (*Manifest, error) {
	file := filepath.Join(dir, manifestFile)
	if err := safe.CheckFile(file); err != nil {
		return nil, err
	}
	raw, err := safe.ReadFile(file, maxManifest)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s is not a kit manifest: %v", file, err)
	}
	if err := m.check(filepath.Base(dir)); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	return &m, nil
}

func (m *Manifest) check(name string) error {
	if m.Version != Version {
		return fmt.Errorf("version %d, this jetup reads version %d", m.Version, Version)
	}
	if m.Name != name {
		return fmt.Errorf("names kit %q, but is in the directory of kit %q", safe.Text(m.Name), name)
	}
	if err := safe.Name("profile", m.Profile); err != nil {
		return err
	}
	if len(m.Artifacts) == 0 {
		return errors.New("lists no artifact")
	}
	seen := map[ID]bool{}
	links := map[string]bool{}
	for _, a := range m.Artifacts {
		if !a.ID.known() || seen[a.ID] {
			return fmt.Errorf("artifact %q is unknown or listed twice", safe.Text(string(a.ID)))
		}
		seen[a.ID] = true
		if a.Link != string(a.ID) {
			return fmt.Errorf("the %s's link is %q, not %q", a.ID.Title(), safe.Text(a.Link), a.ID)
		}
		if !IsStorePath(a.StorePath) {
			return fmt.Errorf("the %s's store path %q is not a store path", a.ID.Title(), safe.Text(a.StorePath))
		}
		if a.File != "" && !localFile(a.File) {
			return fmt.Errorf("the %s's file %q is not a path inside its store path", a.ID.Title(), safe.Text(a.File))
		}
		links[a.Link] = true
	}
	for _, f := range m.Flakes {
		for _, s := range f.Sources {
			dir, base, ok := strings.Cut(s.Link, "/")
			if !ok || dir != srcDir || safe.Name("link", base) != nil || links[s.Link] {
				return fmt.Errorf("source link %q is not a new name under %s/", safe.Text(s.Link), srcDir)
			}
			links[s.Link] = true
			if !IsStorePath(s.StorePath) {
				return fmt.Errorf("source %q is not a store path", safe.Text(s.StorePath))
			}
		}
	}
	return nil
}

// localFile is a relative path that stays inside its directory.
func localFile(p string) bool {
	return p != "" && !filepath.IsAbs(p) && filepath.IsLocal(p) && safe.Text(p) == p
}

// write puts m in dir/kit.json atomically: a crash leaves the old manifest
// or the new one, never half of one.
func (m *Manifest) write(dir string) error {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".kit.json-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, manifestFile))
}

// isMissing reports a manifest that is not there.
func isMissing(err error) bool { return errors.Is(err, fs.ErrNotExist) }
