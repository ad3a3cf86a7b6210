package bundle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// Info is one path of this machine's store, as `nix path-info --json`
// describes it.
type Info struct {
	Path       string
	NarHash    NarHash
	NarSize    int64
	References []string
}

type pathInfoJSON struct {
	Path       string   `json:"path"`
	NarHash    string   `json:"narHash"`
	NarSize    int64    `json:"narSize"`
	References []string `json:"references"`
	Valid      *bool    `json:"valid"`
}

// parsePathInfo reads `nix path-info --json` in both shapes Nix has
// printed: an array of objects with "path" (to 2.18) and an object keyed by
// path, null for an invalid one (2.19 on).
func parsePathInfo(b []byte) (map[string]Info, error) {
	b = bytes.TrimSpace(b)
	var list []pathInfoJSON
	switch {
	case len(b) > 0 && b[0] == '[':
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("nix path-info: %w", err)
		}
	case len(b) > 0 && b[0] == '{':
		var byPath map[string]*pathInfoJSON
		if err := json.Unmarshal(b, &byPath); err != nil {
			return nil, fmt.Errorf("nix path-info: %w", err)
		}
		for p, in := range byPath {
			if in == nil {
				f := false
				in = &pathInfoJSON{Valid: &f}
			}
			in.Path = p
			list = append(list, *in)
		}
	default:
		return nil, fmt.Errorf("nix path-info printed no JSON: %.80q", b)
	}
	out := make(map[string]Info, len(list))
	for _, in := range list {
		if in.Valid != nil && !*in.Valid {
			continue
		}
		if !IsStorePath(in.Path) {
			return nil, fmt.Errorf("nix path-info: %.100q is not a store path", in.Path)
		}
		h, err := ParseNarHash(in.NarHash)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", in.Path, err)
		}
		refs := make([]string, 0, len(in.References))
		for _, r := range in.References {
			if !IsStorePath(r) {
				r = "/nix/store/" + r // 2.19 on may print base names
			}
			refs = append(refs, r)
		}
		out[in.Path] = Info{Path: in.Path, NarHash: h, NarSize: in.NarSize, References: refs}
	}
	return out, nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
