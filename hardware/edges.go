package hardware

import (
	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/doctor"
	"github.com/jetup/jetup/flash"
	"github.com/jetup/jetup/flash/detect"
	"github.com/jetup/jetup/image"
	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/serialcon"
	"github.com/jetup/jetup/verify"
)

// Edges is every hardware edge.
type Edges struct {
	// Sim is true when every part is simulated (--sim).
	Sim bool
	// Runner starts external programs (nix, ssh, the flash script, xz).
	Runner proc.Runner
	// Unprivileged starts what never needs root (the decompressors): run
	// as root under sudo, as the person who ran sudo; nil is Runner.
	Unprivileged proc.Runner
	// Nix runs every nix call of the run (flash's build, the installer
	// build, the push's build, path-info and copy): one value, so a mode
	// set on it before the steps start (offline, the user to build as)
	// reaches them all.
	Nix *nixrun.Nix
	// Host is what doctor checks and fixes.
	Host doctor.Host
	// USB lists the host's USB devices, to find boards in recovery mode.
	USB detect.Lister
	// Flash is where the flash script comes from and what it needs (root,
	// USB autosuspend off); the simulated one also finds its board.
	Flash flash.Edge
	// Disks are the block devices installers are written to.
	Disks media.Edge
	// Installer builds the profile's installer image.
	Installer media.Builder
	// Serial lists and opens the serial ports (the board's console).
	Serial serialcon.Ports
	// Push is the push step's edge: this machine's Nix and the way to the
	// board.
	Push deploy.Edge
	// Verify is the verify step's edge: the same SSH as push's.
	Verify verify.Edge
	// Update is jetup update's edge: the same SSH, and gpgv/openssl.
	Update image.Edge
	// NextBoard gives the edges of the bench's next board: on the
	// simulated bench a new board at the same address (a console that
	// boots again, a host key of its own) while the board before keeps
	// its edges. nil on real hardware, where the person swaps the board.
	NextBoard func() Edges
}

// Real is this machine. Under sudo, what needs no root runs as the person
// who ran sudo (proc.Invoking): the installer's build and the
// decompressors; root opens and writes the disk.
func Real() Edges {
	// A board's system (aarch64-linux) is refused before evaluation on a
	// host that cannot build it (doctor's aarch64-builder check).
	nix := &nixrun.Nix{Runner: proc.Host{}, PreBuild: doctor.AArch64Preflight(doctor.OSHost{})}
	invoking := proc.Invoking()
	return Edges{Runner: proc.Host{}, Unprivileged: proc.Host{User: invoking}, Nix: nix, Host: doctor.OSHost{}, USB: detect.System(), Flash: flash.Host{},
		Disks: media.System{Runner: proc.Host{}}, Installer: media.NixBuilder{Nix: nix, Runner: proc.Host{}, User: invoking}, Serial: serialcon.System{},
		Push:   deploy.Edge{Nix: deploy.NixCLI{Nix: nix, Runner: proc.Host{}}, SSH: remote.OpenSSH{Runner: proc.Host{}}},
		Verify: verify.Edge{SSH: remote.OpenSSH{Runner: proc.Host{}}},
		Update: image.Edge{SSH: remote.OpenSSH{Runner: proc.Host{}}, Runner: proc.Host{}}}
}

// UnprivilegedRunner is Unprivileged, or Runner when there is none.
func (e Edges) UnprivilegedRunner() proc.Runner {
	if e.Unprivileged != nil {
		return e.Unprivileged
	}
	return e.Runner
}
