package deploy

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/safe"
)

// NixCLI is this machine's Nix, through the one Nix runner (nixrun: the
// flags every call needs, the run's modes, the tolerant log reader).
type NixCLI struct {
	// Nix is the run's Nix runner; nil runs nix from PATH through Runner.
	Nix    *nixrun.Nix
	Runner proc.Runner
}

func (n NixCLI) nix() *nixrun.Nix {
	if n.Nix != nil {
		return n.Nix
	}
	return &nixrun.Nix{Runner: n.Runner}
}

// StoreDir is where store paths live.
func StoreDir() string {
	if d := os.Getenv("NIX_STORE_DIR"); d != "" {
		return filepath.Clean(d)
	}
	return "/nix/store"
}

// Resolve follows links (./result) to the store path itself.
func (NixCLI) Resolve(path string) (string, error) {
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	p, _ = filepath.Abs(p)
	if filepath.Dir(p) != StoreDir() {
		return "", fmt.Errorf("%s is not a store path (it resolves to %s, outside %s)", path, p, StoreDir())
	}
	return p, nil
}

// maxStoreFile bounds ReadFile: it reads small files of a toplevel
// (`system`), never a payload.
const maxStoreFile = 1 << 20

// ReadFile reads a small file of a store path (at most 1 MiB).
func (NixCLI) ReadFile(path string) ([]byte, error) {
	return safe.ReadFile(path, maxStoreFile)
}

// Build builds a flake installable (no GC root) and returns its output
// path; log gets nix's stderr, line by line as nix printed it.
func (n NixCLI) Build(ctx context.Context, installable string, log io.Writer) (string, error) {
	// What a push builds is a board's system: every board jetup brings
	// up is aarch64-linux, and the Nix runner's PreBuild refuses it on a
	// host that cannot build that before nix evaluates anything.
	return n.BuildFor(ctx, installable, "aarch64-linux", log)
}

// BuildFor builds installable for system ("aarch64-linux"; "" when the
// caller cannot know it without evaluating, such as a fleet's x86_64 k3s
// server, which the aarch64 preflight must then not refuse).
func (n NixCLI) BuildFor(ctx context.Context, installable, system string, log io.Writer) (string, error) {
	return n.nix().Build(ctx, nixrun.Build{Installable: installable, Args: []string{"-v"}, Log: nixrun.Watch{Raw: log}, System: system})
}

// maxPathInfo bounds path-info's JSON: about 1 KiB a path, so room for
// closures far larger than any system's.
const maxPathInfo = 256 << 20

// PathInfo runs `nix path-info -r --json`. -S (closure sizes) is left out:
// the delta needs each path's own NAR size only, and -S sums a closure per
// path.
func (n NixCLI) PathInfo(ctx context.Context, path string) ([]byte, error) {
	return n.nix().Run(ctx, nixrun.Call{Args: []string{"path-info", "-r", "--json", path}, MaxStdout: maxPathInfo})
}

// Copy runs `nix copy`.
func (n NixCLI) Copy(ctx context.Context, req CopyRequest, log io.Writer) error {
	args := []string{"copy", "--to", req.To, "--log-format", "internal-json", "-v"}
	if req.NoCheckSigs {
		args = append(args, "--no-check-sigs")
	}
	_, err := n.nix().Run(ctx, nixrun.Call{Args: append(args, req.Paths...), Env: req.Env, Log: nixrun.Watch{Raw: log}, Background: req.Background})
	return err
}
