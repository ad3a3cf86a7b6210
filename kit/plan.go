package kit

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
)

// SystemRef is what --system names: a flake's NixOS configuration, or a
// system already built.
type SystemRef struct {
	// Ref is --system as given: FLAKE#NAME, or a path (a store path, or a
	// link to one such as ./result).
	Ref string
	// Installable is FLAKE#NAME expanded the way the push step builds it
	// (nixosConfigurations.NAME.config.system.build.toplevel); the CLI
	// fills it with deploy's own expansion, so the kit and the push ask
	// for the same build. Empty for a path.
	Installable string
}

// item is one artifact to prepare.
type item struct {
	id    ID
	ref   string // as asked
	flake string // the flake part ("" for a file or path)
	attr  string // the attribute part
	// installable is what a step asks for; build is what nix builds (the
	// installable with the flake locked).
	installable string
	build       string
	file        string // --image: the file to add to the store
	path        string // --system PATH: the store path itself
	output      string // installer: the profile's output glob
}

// plan lists what the profile's steps use, in the order a bring-up
// needs them: the flash script when the profile flashes, the installer
// when it writes one (or --image), the system when --system is given.
func plan(p *profiles.Profile, sys *SystemRef, image string) ([]item, error) {
	var items []item
	if p.HasStep(step.Flash) && p.Flash != nil && p.Flash.Flake != "" && p.Flash.Attribute != "" {
		items = append(items, flakeItem(Flash, p.FlashRef(), ""))
	}
	switch {
	case image != "":
		abs, err := filepath.Abs(image)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(abs)
		if err != nil || !fi.Mode().IsRegular() {
			why := "is not a regular file"
			if err != nil {
				why = err.Error()
			}
			return nil, step.Refuse(string(CauseBadImage), "pass --image the installer image file (.iso, .img, .img.zst)", "--image %s: %s", image, why)
		}
		items = append(items, item{id: Installer, ref: abs, file: abs})
	case p.HasStep(step.Write) && p.Installer.Flake != "" && p.Installer.Attribute != "":
		items = append(items, flakeItem(Installer, p.InstallerRef(), p.Installer.Output))
	}
	if sys != nil && sys.Ref != "" {
		it, err := systemItem(*sys)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		return nil, step.Refuse(string(CauseNothing),
			"give --system FLAKE#NAME (or a built system's path) or --image FILE, or pick a profile whose steps flash or write (`jetup profiles show "+p.Name+"`)",
			"%s has no step that builds anything (steps: %s) and no --system or --image was given: nothing to prepare", p.Name, p.StepList())
	}
	return items, nil
}

func flakeItem(id ID, ref, output string) item {
	flake, attr, _ := strings.Cut(ref, "#")
	return item{id: id, ref: ref, flake: flake, attr: attr, installable: ref, output: output}
}

func systemItem(s SystemRef) (item, error) {
	if strings.Contains(s.Ref, "#") {
		inst := s.Installable
		if inst == "" {
			inst = s.Ref
		}
		flake, attr, _ := strings.Cut(inst, "#")
		if flake == "" || attr == "" {
			return item{}, step.Refuse(string(CauseBadSystem), "pass --system FLAKE#NAME, NAME one of the flake's nixosConfigurations", "--system %q names no flake or no configuration", s.Ref)
		}
		return item{id: System, ref: s.Ref, flake: flake, attr: attr, installable: inst}, nil
	}
	p, err := ResolveStorePath(s.Ref)
	if err != nil {
		return item{}, step.Refuse(string(CauseBadSystem), "pass --system FLAKE#NAME, or the store path of a built system (or a link to it, like ./result)", "--system %s: %v", s.Ref, err)
	}
	return item{id: System, ref: s.Ref, path: p}, nil
}

// ResolveStorePath turns a path (a store path, a path inside one, or a
// link to one such as ./result) into its top-level store path.
func ResolveStorePath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	rest, ok := strings.CutPrefix(real, StoreDir+"/")
	if !ok {
		return "", &notInStore{real}
	}
	top, _, _ := strings.Cut(rest, "/")
	sp := StoreDir + "/" + top
	if !IsStorePath(sp) {
		return "", &notInStore{real}
	}
	return sp, nil
}

type notInStore struct{ p string }

func (e *notInStore) Error() string { return e.p + " is not in " + StoreDir }

// canonical is a flake installable made comparable: a local path flake
// ("." , "./boards", "/home/me/boards", "path:./x") becomes absolute, so
// `.#lab` asked offline from the flake's directory matches the kit made
// from there.
func canonical(installable string) string {
	flake, attr, ok := strings.Cut(installable, "#")
	if !ok {
		return installable
	}
	scheme, rest, hasScheme := strings.Cut(flake, ":")
	switch {
	case !hasScheme && (strings.HasPrefix(flake, ".") || strings.HasPrefix(flake, "/")):
		if abs, err := filepath.Abs(flake); err == nil {
			flake = abs
		}
	case hasScheme && (scheme == "path" || scheme == "git+file") && !strings.HasPrefix(rest, "/"):
		path, query, _ := strings.Cut(rest, "?")
		if abs, err := filepath.Abs(path); err == nil {
			flake = scheme + ":" + abs
			if query != "" {
				flake += "?" + query
			}
		}
	}
	return flake + "#" + attr
}
