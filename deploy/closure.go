package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// StorePath is one path of a closure with its NAR size.
type StorePath struct {
	Path    string
	NarSize int64
}

// Closure is a system toplevel and every path it needs.
type Closure struct {
	Top   string
	Paths []StorePath // sorted by path
	Bytes int64       // sum of NAR sizes
	size  map[string]int64
}

// pathInfo is one entry of `nix path-info --json`. Extra keys are ignored.
type pathInfo struct {
	Path    string `json:"path"`
	NarSize int64  `json:"narSize"`
	Valid   *bool  `json:"valid"`
}

// ParsePathInfo reads `nix path-info -r --json` output in both shapes Nix
// has used: an array of objects with "path" (up to 2.18), and an object
// keyed by path whose value is null for an invalid path (2.19 on).
func ParsePathInfo(top string, b []byte) (*Closure, error) {
	b = bytes.TrimSpace(b)
	var infos []pathInfo
	switch {
	case len(b) > 0 && b[0] == '[':
		if err := json.Unmarshal(b, &infos); err != nil {
			return nil, fmt.Errorf("nix path-info output: %w", err)
		}
	case len(b) > 0 && b[0] == '{':
		var byPath map[string]*pathInfo
		if err := json.Unmarshal(b, &byPath); err != nil {
			return nil, fmt.Errorf("nix path-info output: %w", err)
		}
		for p, info := range byPath {
			if info == nil {
				f := false
				infos = append(infos, pathInfo{Path: p, Valid: &f})
				continue
			}
			info.Path = p
			infos = append(infos, *info)
		}
	default:
		return nil, fmt.Errorf("nix path-info printed no JSON: %.80q", b)
	}
	c := &Closure{Top: top, size: map[string]int64{}}
	for _, in := range infos {
		if in.Valid != nil && !*in.Valid {
			return nil, fmt.Errorf("%s is not valid in this machine's Nix store", in.Path)
		}
		if _, dup := c.size[in.Path]; dup || in.Path == "" {
			continue
		}
		c.size[in.Path] = in.NarSize
		c.Paths = append(c.Paths, StorePath{in.Path, in.NarSize})
		c.Bytes += in.NarSize
	}
	if _, ok := c.size[top]; !ok {
		return nil, fmt.Errorf("nix path-info did not list %s itself", top)
	}
	sort.Slice(c.Paths, func(i, j int) bool { return c.Paths[i].Path < c.Paths[j].Path })
	return c, nil
}

// Size is the NAR size of p, 0 when p is not in the closure.
func (c *Closure) Size(p string) int64 { return c.size[p] }

// Has reports whether p is in the closure.
func (c *Closure) Has(p string) bool { _, ok := c.size[p]; return ok }

// List is every path, one per line.
func (c *Closure) List() []string {
	out := make([]string, len(c.Paths))
	for i, p := range c.Paths {
		out[i] = p.Path
	}
	return out
}
