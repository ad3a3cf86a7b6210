package kit

import (
	"path/filepath"
	"strings"

	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// ID names an artifact of a kit; it is also its link's name in the kit's
// directory and the JSON value. The ids are an interface.
type ID string

const (
	Flash     ID = "flash"     // the jetpack-nixos flash script
	Installer ID = "installer" // the installer image (a build, or --image)
	System    ID = "system"    // a NixOS system toplevel (--system)
)

// ids in the order a bring-up uses them.
var ids = []ID{Flash, Installer, System}

// Title is how an artifact is named to a person.
func (id ID) Title() string {
	switch id {
	case Flash:
		return "flash script"
	case Installer:
		return "installer"
	case System:
		return "system"
	}
	return string(id)
}

func (id ID) known() bool {
	for _, k := range ids {
		if k == id {
			return true
		}
	}
	return false
}

// StoreDir is the Nix store every path of a kit is in.
const StoreDir = "/nix/store"

// Files in a kit's directory besides the artifact links.
const (
	manifestFile = "kit.json"
	srcDir       = "src"      // the flakes' sources and inputs
	stagingDir   = ".staging" // a prepare's links before it commits
)

// Dir is where the kits are kept: STATE/kits.
func Dir(state string) string { return filepath.Join(state, "kits") }

// Path is kit name's directory. The name must have passed CheckName.
func Path(state, name string) string { return filepath.Join(Dir(state), name) }

// CheckName applies the one rule for names that become paths (safe.Name):
// a kit's name is a directory under the state dir. The error is a
// refusal (exit 2).
func CheckName(name string) error {
	if err := safe.Name("kit", name); err != nil {
		return step.Refuse(string(CauseBadName), "pick a name of letters, digits, '.', '_' and '-' (`jetup kits` lists the kits)", "%v", err)
	}
	if strings.HasPrefix(name, ".") {
		return step.Refuse(string(CauseBadName), "pick a name that starts with a letter or digit", "bad kit name %q", name)
	}
	return nil
}

// Cause ids of the kit's errors (the step.Error cause).
type Cause string

const (
	CauseBadName      Cause = "bad-kit-name"       // --name is not a safe name
	CauseNothing      Cause = "nothing-to-prepare" // the profile has no step that builds, and no --system or --image
	CauseUnknownKit   Cause = "unknown-kit"        // kits show/rm of a kit that is not there
	CauseUnreadable   Cause = "kit-unreadable"     // kit.json missing, edited by hand, or not ours
	CauseBusy         Cause = "kit-busy"           // another jetup prepares or removes this kit
	CauseFlake        Cause = "flake-unreadable"   // nix flake metadata failed: no such flake, no network
	CauseEval         Cause = "does-not-evaluate"  // the installable does not evaluate
	CauseDiskTooSmall Cause = "disk-too-small"     // not enough free space in the store for what is to be fetched
	CauseBuildFailed  Cause = "build-failed"       // nix build failed
	CauseBadSystem    Cause = "bad-system"         // --system is neither FLAKE#NAME nor a store path
	CauseBadImage     Cause = "bad-image"          // --image cannot be read
	CauseNotInKit     Cause = "not-in-kit"         // offline: the step's artifact is in no whole kit
	CauseState        Cause = "state-dir"          // the kits directory cannot be used
	CauseNoNix        Cause = "no-nix"             // nix is not installed
)
