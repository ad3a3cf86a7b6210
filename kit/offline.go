package kit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"sync"

	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
)

// NoRoute reports whether this host has no route to the outside: no
// default route in /proc/net/route nor in /proc/net/ipv6_route (the
// current network namespace's tables). Two small file reads, no probe:
// nothing waits on a timeout. A host whose tables cannot be read is not
// judged offline.
func NoRoute() bool {
	v4, err4 := os.ReadFile("/proc/net/route")
	v6, err6 := os.ReadFile("/proc/net/ipv6_route")
	if err4 != nil && err6 != nil {
		return false
	}
	return !defaultRoute4(v4) && !defaultRoute6(v6)
}

// defaultRoute4: a line whose Destination and Mask are 00000000, up
// (flag RTF_UP 0x1), on any interface.
//
//	Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
//	eth0	00000000	010200C0	0003	0	0	0	00000000	0	0	0
func defaultRoute4(table []byte) bool {
	for i, line := range bytes.Split(table, []byte("\n")) {
		f := bytes.Fields(line)
		if i == 0 || len(f) < 8 {
			continue
		}
		var flags uint64
		_, _ = fmt.Sscanf(string(f[3]), "%x", &flags)
		if string(f[1]) == "00000000" && string(f[7]) == "00000000" && flags&0x1 != 0 {
			return true
		}
	}
	return false
}

// defaultRoute6: destination ::/0, up, not a reject route (the kernel
// keeps an unreachable ::/0 on lo, flags 0x200), not on lo.
//
//	00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0
//	00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
func defaultRoute6(table []byte) bool {
	for _, line := range bytes.Split(table, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) < 10 {
			continue
		}
		var flags uint64
		_, _ = fmt.Sscanf(string(f[8]), "%x", &flags)
		const up, reject = 0x1, 0x200
		if string(f[0]) == "00000000000000000000000000000000" && string(f[1]) == "00" &&
			flags&up != 0 && flags&reject == 0 && string(f[9]) != "lo" {
			return true
		}
	}
	return false
}

// Resolver is the offline side of the kits: it gives each build its
// artifact from the newest whole kit, or refuses it. One per run; it
// inspects the kits once (nix path-info against this machine's store).
type Resolver struct {
	State string
	// Nix asks the store (never a cache) whether the kits are whole.
	Nix *nixrun.Nix
	// Profile is the board's profile: its kits are preferred, and the
	// refusals name it. Set it before the first Find, or with Use.
	Profile *profiles.Profile

	mu sync.Mutex // guards Profile once the run's steps may ask

	listMu sync.Mutex // one inspection at a time
	loaded bool
	all    []*Health
	err    error
}

// Found is an artifact taken from a kit.
type Found struct {
	Kit      string
	Artifact Artifact
}

func (r *Resolver) kits(ctx context.Context) ([]*Health, error) {
	r.listMu.Lock()
	defer r.listMu.Unlock()
	if !r.loaded || r.err != nil {
		r.all, r.err = List(ctx, r.Nix, r.State)
		r.loaded = true
	}
	return r.all, r.err
}

// Reload makes the next look-up inspect the kits again: a kit was
// prepared (the wizard's picker) since they were read.
func (r *Resolver) Reload() {
	r.listMu.Lock()
	r.loaded = false
	r.listMu.Unlock()
}

// Use makes p the board's profile from now on: the wizard learns it
// only when the person picks the board.
func (r *Resolver) Use(p *profiles.Profile) {
	r.mu.Lock()
	r.Profile = p
	r.mu.Unlock()
}

func (r *Resolver) profile() *profiles.Profile {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Profile
}

func (r *Resolver) profileName() string {
	if p := r.profile(); p != nil {
		return p.Name
	}
	return ""
}

// Find returns the artifact built from installable in the newest whole
// kit (the profile's kits first, then any other that holds the very same
// build), or the refusal that names what to prepare.
func (r *Resolver) Find(ctx context.Context, installable string) (*Found, error) {
	all, err := r.kits(ctx)
	if err != nil {
		return nil, step.Refuse(string(CauseState), "check the state directory", "cannot read the kits: %v", err)
	}
	want := canonical(installable)
	match := func(h *Health) (Artifact, bool) {
		for _, a := range h.Manifest.Artifacts {
			if a.Installable != "" && canonical(a.Installable) == want || canonical(a.Ref) == want {
				return a, true
			}
		}
		return Artifact{}, false
	}
	whole, broken := forProfile(all, r.profileName())
	var others []*Health
	for _, h := range all {
		if h.Whole() && h.Manifest.Profile != r.profileName() {
			others = append(others, h)
		}
	}
	sort.SliceStable(others, func(i, j int) bool { return others[i].Manifest.Created.After(others[j].Manifest.Created) })
	for _, h := range append(whole, others...) {
		if a, ok := match(h); ok {
			return &Found{Kit: h.Name, Artifact: a}, nil
		}
	}
	return nil, r.refusal(installable, broken, match)
}

// refusal says which artifact is missing, for which profile, and the
// prepare that puts it in a kit; a broken kit that held it is named.
func (r *Resolver) refusal(installable string, broken []*Health, match func(*Health) (Artifact, bool)) error {
	name := r.profileName()
	prep := "jetup prepare --profile " + name
	id := r.idOf(installable)
	var what string
	switch id {
	case Flash, Installer:
		what = fmt.Sprintf("the %s for %s", id.Title(), name)
	default:
		what = "the system " + installable
		prep += " --system " + shellQuote(installable)
	}
	if name == "" {
		prep = "jetup prepare --profile PROFILE"
		if id == System {
			prep += " --system " + shellQuote(installable)
		}
	}
	for _, h := range broken {
		if h.Manifest == nil {
			continue
		}
		if _, ok := match(h); ok {
			return step.Refuse(string(CauseNotInKit), "run `"+prep+"` while online",
				"%s is in kit %s, but the kit is broken (%s)", what, h.Name, h.Why())
		}
	}
	return step.Refuse(string(CauseNotInKit), "run `"+prep+"` while online", "%s is not in a kit", what)
}

// idOf names what an installable is for the profile.
func (r *Resolver) idOf(installable string) ID {
	if p := r.profile(); p != nil {
		c := canonical(installable)
		if p.Flash != nil && c == canonical(p.FlashRef()) {
			return Flash
		}
		if p.Installer.Flake != "" && c == canonical(p.InstallerRef()) {
			return Installer
		}
	}
	return System
}

// Prebuilt is the Nix runner's hook (nixrun.Nix.Prebuilt) offline: the
// artifact's store path from a kit, or the refusal before nix starts.
func (r *Resolver) Prebuilt(ctx context.Context, b nixrun.Build) (string, error) {
	f, err := r.Find(ctx, b.Installable)
	if err != nil {
		return "", err
	}
	return f.Artifact.StorePath, nil
}

// Need is the check a face makes before a step starts, offline: the
// profile's artifact id (its flash script or installer) from a kit, or
// the refusal (exit 2) in the words.
func (r *Resolver) Need(ctx context.Context, id ID) (*Found, error) {
	p := r.profile()
	ref := ""
	if p != nil {
		switch id {
		case Flash:
			ref = p.FlashRef()
		case Installer:
			ref = p.InstallerRef()
		}
	}
	if ref == "" || ref == "#" {
		return nil, step.Refuse(string(CauseNotInKit), "pass what the step needs yourself (--script, --image, --closure)",
			"offline, and the profile names no %s to take from a kit", id.Title())
	}
	return r.Find(ctx, ref)
}
