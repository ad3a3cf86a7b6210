package kit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/step"
)

// Health is what a kit holds and whether it is whole.
type Health struct {
	Name string `json:"name"`
	Dir  string `json:"dir"`
	// Manifest is nil when kit.json could not be read; Unreadable says
	// why.
	Manifest   *Manifest `json:"manifest,omitempty"`
	Unreadable string    `json:"unreadable,omitempty"`
	// Problems are what keeps the kit from being whole: a link missing,
	// moved or never registered as a GC root, a path gone from the store.
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one thing wrong with a kit.
type Problem struct {
	What string `json:"what"` // "flash script", "input nixpkgs of github:…"
	Path string `json:"path,omitempty"`
	Why  string `json:"why"`
}

func (p Problem) String() string { return p.What + ": " + p.Why }

// Whole reports a kit that can be used: its manifest read, every path
// pinned and in the store.
func (h *Health) Whole() bool { return h.Manifest != nil && len(h.Problems) == 0 }

// State is "whole", "broken" or "unreadable".
func (h *Health) State() string {
	switch {
	case h.Manifest == nil:
		return "unreadable"
	case len(h.Problems) > 0:
		return "broken"
	}
	return "whole"
}

// Why is the first reason the kit cannot be used, "" when whole.
func (h *Health) Why() string {
	switch {
	case h.Manifest == nil:
		return h.Unreadable
	case len(h.Problems) > 0:
		s := h.Problems[0].String()
		if n := len(h.Problems) - 1; n > 0 {
			s += fmt.Sprintf(" (and %d more)", n)
		}
		return s
	}
	return ""
}

// gcAuto is where nix registers indirect roots: a link named after the
// root's path, pointing to it.
const gcAuto = "/nix/var/nix/gcroots/auto"

// Inspect reads kit name and checks it is whole: each link is where the
// manifest says, points to its path and is registered as a GC root (a
// kit directory copied by hand is not); each path is valid in the store
// and every path of its closure is on disk. The checks ask only this
// machine's store (nix path-info, never a binary cache), so they cost the
// same offline. An error is returned only for a kit that is not there.
func Inspect(ctx context.Context, nx *nixrun.Nix, state, name string) (*Health, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	dir := Path(state, name)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, step.Refuse(string(CauseUnknownKit), "`jetup kits` lists the kits", "there is no kit %s in %s", name, Dir(state))
	}
	h := &Health{Name: name, Dir: dir}
	m, err := ReadManifest(dir)
	if err != nil {
		if isMissing(err) {
			err = fmt.Errorf("%s has no %s (a prepare that never finished, or a directory made by hand)", dir, manifestFile)
		}
		h.Unreadable = err.Error()
		return h, nil
	}
	h.Manifest = m
	h.Problems = checkLinks(dir, m.roots())
	h.Problems = append(h.Problems, checkStore(ctx, nx, m.roots())...)
	return h, nil
}

// checkLinks checks each root's link and its registration.
func checkLinks(dir string, roots []root) []Problem {
	registered, canTell := autoRoots()
	var out []Problem
	for _, r := range roots {
		link := filepath.Join(dir, r.link)
		target, err := os.Readlink(link)
		switch {
		case errors.Is(err, os.ErrNotExist):
			out = append(out, Problem{What: r.what, Path: r.path, Why: fmt.Sprintf("its link %s is missing, so nothing pins %s", r.link, r.path)})
			continue
		case err != nil:
			out = append(out, Problem{What: r.what, Path: r.path, Why: fmt.Sprintf("%s is not a link made by jetup", r.link)})
			continue
		case target != r.path:
			out = append(out, Problem{What: r.what, Path: r.path, Why: fmt.Sprintf("its link %s points to %s, not to the kit's %s", r.link, target, r.path)})
			continue
		}
		if canTell && !registered[link] && !registered[realPath(link)] {
			out = append(out, Problem{What: r.what, Path: r.path,
				Why: fmt.Sprintf("its link %s is not registered as a GC root (a kit copied by hand?): a garbage collection may remove %s", r.link, r.path)})
		}
	}
	return out
}

// realPath is p with the symbolic links of its directory resolved.
func realPath(p string) string {
	d, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		return p
	}
	return filepath.Join(d, filepath.Base(p))
}

// autoRoots are the link paths nix's indirect roots name; false when the
// directory cannot be read (then registration is not judged).
func autoRoots() (map[string]bool, bool) {
	entries, err := os.ReadDir(gcAuto)
	if err != nil {
		return nil, false
	}
	out := make(map[string]bool, len(entries))
	for _, e := range entries {
		if t, err := os.Readlink(filepath.Join(gcAuto, e.Name())); err == nil {
			out[t] = true
		}
	}
	return out, true
}

// checkStore asks the store about every root (valid or not), then lists
// the closures of the valid ones and looks for each path on disk (a path
// removed by hand is still valid in nix's database).
func checkStore(ctx context.Context, nx *nixrun.Nix, roots []root) []Problem {
	var paths []string
	whatOf := map[string]string{}
	for _, r := range roots {
		if _, dup := whatOf[r.path]; !dup {
			paths = append(paths, r.path)
			whatOf[r.path] = r.what
		}
	}
	infos, err := pathInfos(ctx, nx, paths, false)
	if err != nil {
		return []Problem{{What: "store", Why: "nix path-info failed: " + nixrun.ReasonOf(err)}}
	}
	var out []Problem
	var valid []string
	for _, i := range infos {
		if i.valid() {
			valid = append(valid, i.Path)
			continue
		}
		out = append(out, Problem{What: whatOf[i.Path], Path: i.Path, Why: i.Path + " is no longer in the store"})
	}
	if len(valid) == 0 {
		return out
	}
	closure, err := pathInfos(ctx, nx, valid, true)
	if err != nil {
		return append(out, Problem{What: "store", Why: "nix path-info -r failed: " + nixrun.ReasonOf(err)})
	}
	for _, i := range closure {
		if _, err := os.Lstat(i.Path); err != nil {
			what := whatOf[i.Path]
			if what == "" {
				what = "a path of the kit's closures"
			}
			out = append(out, Problem{What: what, Path: i.Path, Why: i.Path + " is missing from disk (removed by hand?)"})
		}
	}
	return out
}

// List inspects every kit under the state dir, by name. A kit that cannot
// be read is listed as such, never dropped.
func List(ctx context.Context, nx *nixrun.Nix, state string) ([]*Health, error) {
	entries, err := os.ReadDir(Dir(state))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Health
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || CheckName(e.Name()) != nil {
			continue
		}
		h, err := Inspect(ctx, nx, state, e.Name())
		if err != nil {
			continue
		}
		out = append(out, h)
	}
	return out, nil
}

// forProfile splits the kits made for profile into the whole ones,
// newest first, and the broken ones (unreadable kits, whose profile is
// unknown, count as broken for every profile).
func forProfile(all []*Health, profile string) (whole, broken []*Health) {
	for _, h := range all {
		switch {
		case h.Manifest == nil:
			broken = append(broken, h)
		case h.Manifest.Profile != profile:
		case h.Whole():
			whole = append(whole, h)
		default:
			broken = append(broken, h)
		}
	}
	sort.SliceStable(whole, func(i, j int) bool { return whole[i].Manifest.Created.After(whole[j].Manifest.Created) })
	return whole, broken
}

// Newest is the newest whole kit for profile, nil when there is none.
func Newest(ctx context.Context, nx *nixrun.Nix, state, profile string) (*Health, error) {
	all, err := List(ctx, nx, state)
	if err != nil {
		return nil, err
	}
	whole, _ := forProfile(all, profile)
	if len(whole) == 0 {
		return nil, nil
	}
	return whole[0], nil
}

// Age is how long ago the kit was made, for people: "3 days", "5 min".
func Age(t time.Time, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

func refuseUnknown(state, name string) error {
	return step.Refuse(string(CauseUnknownKit), "`jetup kits` lists the kits", "there is no kit %s in %s", name, Dir(state))
}

// VerifyContents reads every path of the kit's closures back and checks
// it against the NAR hash nix recorded (nix store verify -r --no-trust):
// slow (every byte), and the only check that sees a file changed inside
// the store. It returns the paths nix found modified, or its error.
func VerifyContents(ctx context.Context, nx *nixrun.Nix, m *Manifest) ([]string, error) {
	args := []string{"store", "verify", "-r", "--no-trust"}
	for _, r := range m.roots() {
		args = append(args, r.path)
	}
	var bad []string
	_, err := nx.Run(ctx, nixrun.Call{Args: args, Local: true, Log: nixrun.Watch{Line: func(l nixrun.Line) {
		if msg := l.Message(); strings.Contains(msg, "was modified!") || strings.Contains(msg, "is not valid") {
			bad = append(bad, msg)
		}
	}}})
	if err != nil && len(bad) == 0 {
		return nil, err
	}
	return bad, nil
}
