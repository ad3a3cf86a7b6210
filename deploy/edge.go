package deploy

import (
	"context"
	"io"

	"github.com/jetup/jetup/remote"
)

// Edge is the push step's hardware edge: this machine's Nix store and the
// way to reach the board. bench.Real fills it with the Nix CLI and OpenSSH;
// sim.Hardware with a simulated Jetson.
type Edge struct {
	Nix Nix
	SSH remote.Dialer
}

// Nix is this machine's Nix. Every method that runs nix passes the
// internal-json log (and any other stderr line) to log as it comes.
type Nix interface {
	// Resolve turns a --closure argument (a store path, or a symlink to
	// one such as ./result) into the store path.
	Resolve(path string) (string, error)
	// ReadFile reads a file inside a store path (the toplevel's `system`).
	ReadFile(path string) ([]byte, error)
	// Build builds a flake installable and returns its output path.
	Build(ctx context.Context, installable string, log io.Writer) (string, error)
	// PathInfo returns the JSON of `nix path-info -r --json PATH`.
	PathInfo(ctx context.Context, path string) ([]byte, error)
	// Copy runs `nix copy --to URL PATHS` with env added (NIX_SSHOPTS).
	Copy(ctx context.Context, req CopyRequest, log io.Writer) error
}

// CopyRequest is one `nix copy`.
type CopyRequest struct {
	To    string   // store URL: ssh-ng://alias?..., file:///dir?compression=zstd
	Paths []string // what to copy (its closure is copied)
	Env   []string // extra environment (NIX_SSHOPTS=-F config)
	// NoCheckSigs is set when the receiving side writes as root: the paths
	// are ours and unsigned.
	NoCheckSigs bool
	// Background runs the copy at a lower CPU priority (nixrun.Call).
	Background bool
}
