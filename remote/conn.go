package remote

import (
	"context"
	"errors"
	"io"
	"strconv"

	"golang.org/x/crypto/ssh"
)

// Dialer reaches boards.
type Dialer interface {
	// HostKey returns the host key the board at addr ("host:port")
	// offers, preferring the algorithms in prefer (those already pinned).
	HostKey(ctx context.Context, addr string, prefer []string) (ssh.PublicKey, error)
	// Dial opens the one connection that every later command shares; its
	// first session runs o.Script. The host key must match o.KnownHosts,
	// strictly.
	Dial(ctx context.Context, t Target, o DialOptions) (Conn, error)
}

// DialOptions for Dialer.Dial.
type DialOptions struct {
	KnownHosts string    // jetup's known_hosts file
	Compress   bool      // compress the link
	Log        io.Writer // the ssh client's own messages; may be nil
	Script     string    // the first session's script (POSIX sh)
}

// Conn is an open connection to the board and the session running the
// script it was dialled with.
type Conn interface {
	// Output is the script's output (stdout and stderr together), until
	// it ends.
	Output() io.Reader
	// Send writes to the script's stdin.
	Send(s string) error
	// Wait waits for the script to end: nil when it exited 0, an
	// *ExitError, or ErrConnectionLost.
	Wait() error
	// StoreURL is the ssh-ng store URL of the board for nix copy, with
	// the given query (remote-store=...), and the environment nix needs
	// to use this connection.
	StoreURL(query string) (url string, env []string)
	// Alive reports whether the connection is still up.
	Alive() bool
	// Close ends the connection (and the script, if still running).
	Close() error
}

// ExitError is a remote command that ran and exited non-zero.
type ExitError struct{ Code int }

func (e *ExitError) Error() string {
	return "remote command exited with status " + strconv.Itoa(e.Code)
}

// ErrConnectionLost is returned by Conn methods when the link dropped.
var ErrConnectionLost = errors.New("the ssh connection to the board was lost")

// DialReason says why a connection could not be opened.
type DialReason string

const (
	Unreachable     DialReason = "unreachable"      // no route, refused, timed out, no such host
	AuthRefused     DialReason = "auth-refused"     // the board refused the key or user
	HostKeyMismatch DialReason = "host-key-changed" // OpenSSH refused the host key
)

// DialError is a connection that could not be opened.
type DialError struct {
	Reason DialReason
	Detail string // the ssh client's own words
}

func (e *DialError) Error() string { return string(e.Reason) + ": " + e.Detail }
