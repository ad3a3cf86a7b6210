package deploy

import (
	"context"
	"io"

	"golang.org/x/crypto/ssh"
)

// Edge is the push step's hardware edge: this machine's Nix store and the
// way to reach the board. bench.Real fills it with the Nix CLI and OpenSSH;
// sim.Bench with a simulated Jetson.
type Edge struct {
	Nix Nix
	SSH Dialer
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
}

// Dialer reaches boards.
type Dialer interface {
	// HostKey returns the host key the board at addr ("host:port")
	// offers, preferring the algorithms in prefer (those already pinned).
	HostKey(ctx context.Context, addr string, prefer []string) (ssh.PublicKey, error)
	// Dial opens the one connection that every later command shares; its
	// first session is the board shell (o.Script, see BoardScript). The
	// host key must match o.KnownHosts, strictly.
	Dial(ctx context.Context, t Target, o DialOptions) (Conn, error)
}

// DialOptions for Dialer.Dial.
type DialOptions struct {
	KnownHosts string    // jetup's known_hosts file
	Compress   bool      // compress the link
	Log        io.Writer // the ssh client's own messages; may be nil
	Script     string    // the board shell's script (POSIX sh)
}

// Conn is an open connection to the board and its board shell.
type Conn interface {
	// Output is the board shell's output (stdout and stderr together),
	// until the shell ends.
	Output() io.Reader
	// Send writes to the board shell's stdin.
	Send(s string) error
	// Wait waits for the board shell to end: nil when it exited 0, an
	// *ExitError, or ErrConnectionLost.
	Wait() error
	// StoreURL is the ssh-ng store URL of the board for nix copy, with
	// the given query (remote-store=...), and the environment nix needs
	// to use this connection.
	StoreURL(query string) (url string, env []string)
	// Alive reports whether the connection is still up.
	Alive() bool
	// Close ends the connection (and the board shell, if still waiting).
	Close() error
}

// ExitError is a remote command that ran and exited non-zero.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return "remote command exited with status " + itoa(e.Code) }
