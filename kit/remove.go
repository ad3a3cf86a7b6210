package kit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Removed is what `jetup kits rm` did.
type Removed struct {
	Kit string `json:"kit"`
	// Unpinned are the store paths no longer held by the kit (a garbage
	// collection frees them unless something else pins them).
	Unpinned []string `json:"unpinned"`
	// Size is the kit's size as its manifest recorded it (0 when it
	// could not be read).
	Size int64 `json:"size"`
	// Left are the files in the kit's directory jetup did not make and
	// so did not remove.
	Left []string `json:"left,omitempty"`
}

func (r Removed) Text() string {
	s := fmt.Sprintf("removed kit %s: %d path(s) no longer pinned", r.Kit, len(r.Unpinned))
	if r.Size > 0 {
		s += fmt.Sprintf(" (%s; nix-collect-garbage frees what nothing else pins)", Bytes(r.Size))
	}
	if len(r.Left) > 0 {
		s += fmt.Sprintf("\nleft in place, not made by jetup: %s", strings.Join(r.Left, ", "))
	}
	return s
}

// Remove removes kit name: its links (each only when it is a link into
// the store), its manifest and its staging links, then its directory when
// nothing else is in it. A kit whose manifest cannot be read is removed
// the same way: what is not a kit's is left and listed.
func Remove(state, name string) (*Removed, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	dir := Path(state, name)
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return nil, refuseUnknown(state, name)
	}
	unlock, err := lockKit(state, name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	r := &Removed{Kit: name}
	if m, err := ReadManifest(dir); err == nil {
		r.Size = m.Size
	}
	unpin := func(p string) {
		if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, StoreDir+"/") {
			if os.Remove(p) == nil {
				r.Unpinned = append(r.Unpinned, target)
			}
		}
	}
	for _, id := range ids {
		unpin(filepath.Join(dir, string(id)))
	}
	for _, sub := range []string{srcDir, filepath.Join(stagingDir, srcDir), stagingDir} {
		entries, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range entries {
			unpin(filepath.Join(dir, sub, e.Name()))
		}
		_ = os.Remove(filepath.Join(dir, sub)) // only when empty
	}
	_ = os.Remove(filepath.Join(dir, manifestFile))
	if err := os.Remove(dir); err != nil {
		r.Left = foreignEntries(dir)
	}
	return r, nil
}
