package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Target is the board to push to.
type Target struct {
	Host string
	Port int    // 22 when 0
	User string // root when ""
	// Identity is the private key file; "" uses ssh's defaults and agent.
	Identity string
}

// Addr is "host:port".
func (t Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.port())) }

func (t Target) port() int {
	if t.Port == 0 {
		return 22
	}
	return t.Port
}

func (t Target) user() string {
	if t.User == "" {
		return "root"
	}
	return t.User
}

// String is "user@host" or "user@host:port".
func (t Target) String() string {
	s := t.user() + "@" + t.Host
	if t.port() != 22 {
		s += ":" + strconv.Itoa(t.port())
	}
	return s
}

// Mode is how the system is activated.
type Mode string

const (
	// Auto picks installer when the board runs the live NixOS installer
	// (/nix/.ro-store) with a target mounted on /mnt, switch otherwise.
	Auto      Mode = ""
	Installer Mode = "installer" // nixos-install --system PATH --root /mnt
	Switch    Mode = "switch"    // profile, then switch-to-configuration switch
	Boot      Mode = "boot"      // profile, then switch-to-configuration boot
)

// ParseMode accepts the --mode values.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case Auto, Installer, Switch, Boot:
		return Mode(s), nil
	case "auto":
		return Auto, nil
	}
	return Auto, fmt.Errorf("unknown mode %q: use installer, switch or boot", s)
}

// HostKeyPrompt asks the person whether to trust a board's host key on
// first contact (the TUI). It returns true to pin the key.
type HostKeyPrompt func(ctx context.Context, k HostKey) (bool, error)

// Options for Push.
type Options struct {
	Target Target
	// Closure is a built system toplevel (a store path or a link to one).
	Closure string
	// Flake is REF#NAME, built with nix build when Closure is empty.
	Flake string
	Mode  Mode
	// KnownHosts is jetup's own known_hosts file (under the state dir).
	KnownHosts string
	// AcceptHostKey pins a new board's key when its SHA256 fingerprint is
	// this one (headless first contact).
	AcceptHostKey string
	// ConsoleHostKey is the fingerprint the board printed on its console,
	// seen by the console step: a key that matches it is trusted on first
	// contact, one that does not is refused.
	ConsoleHostKey string
	// ForgetHostKey drops the key pinned for this host first (the board
	// was reflashed or swapped); the new key then needs accepting.
	ForgetHostKey bool
	// Prompt asks about a new host key; nil refuses unknown keys unless
	// AcceptHostKey or ConsoleHostKey vouches for them.
	Prompt HostKeyPrompt
	// Compress compresses the ssh link (slow links).
	Compress bool
	// Reboot reboots the board after activation.
	Reboot bool
	// Retries is how many times a copy cut off by a lost connection is
	// resumed on a new connection before giving up.
	Retries int
	// Log receives every raw line (ssh and nix stderr, remote output).
	Log io.Writer
	// ProgressEvery is the minimum time between copy progress events
	// (250 ms when 0).
	ProgressEvery time.Duration
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

func itoa(n int) string { return strconv.Itoa(n) }
