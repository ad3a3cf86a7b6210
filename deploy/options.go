package deploy

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jetup/jetup/remote"
)

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

// Options for Push.
type Options struct {
	Target remote.Target
	// Closure is a built system toplevel (a store path or a link to one).
	Closure string
	// Flake is REF#NAME, built with nix build when Closure is empty.
	Flake string
	Mode  Mode
	// Trust is jetup's known_hosts and who may vouch for a new key.
	remote.Trust
	// Compress compresses the ssh link (slow links).
	Compress bool
	// Reboot reboots the board after activation (no confirm-or-rollback
	// then: it covers the live switch only).
	Reboot bool
	// ConfirmTimeout: after a switch the board waits this long for jetup
	// to reach it again and its health check to pass, else it switches
	// back to the previous generation by itself (0: DefaultConfirmTimeout;
	// negative: no confirm-or-rollback).
	ConfirmTimeout time.Duration
	// Health is a command that must succeed on the board after a switch
	// (besides systemd's own state).
	Health string
	// Retries is how many times a copy cut off by a lost connection is
	// resumed on a new connection before giving up.
	Retries int
	// SkipIfCurrent stops after preflight, with nothing sent and nothing
	// activated, when the board already runs the system (switch: the
	// running system and the profile are it; boot: the profile is it).
	// Result.Current says so. A fleet's re-run uses it.
	SkipIfCurrent bool
	// BeforeActivate, when set, is called once the paths are on the
	// board, right before its system is activated; an error stops the
	// push with nothing activated. The func it returns is called when the
	// activation has ended. A fleet hands a k3s agent its join token here
	// and holds the server's limit of concurrent joins.
	BeforeActivate func(ctx context.Context) (after func(), err error)
	// Cache, when set, has the board substitute the system's missing
	// paths from a binary cache (nix copy --from, run on the board)
	// instead of this machine sending them: a fleet puts each path in
	// the cache once, whatever the number of boards.
	Cache *Cache
	// Log receives every raw line (ssh and nix stderr, remote output)
	// that no event carries: the caller tees the events' text into it
	// too (runrec.Log.Tee), so each line is there once.
	Log io.Writer
	// ProgressEvery is the minimum time between copy progress events
	// (250 ms when 0).
	ProgressEvery time.Duration
}

// Cache is a binary cache a board substitutes from.
type Cache struct {
	// URL is the cache as the board reaches it (http://, https://, s3://,
	// file:// on the board...).
	URL string
	// Keys are the cache's public keys (NAME:BASE64), trusted for this
	// copy only: a path without a signature by one of them is refused.
	Keys []string
	// Ready, when set, is closed once the system is in the cache (a fleet
	// copies it there while its boards are reached and checked): the
	// board's fetch waits for it, then Uploaded says whether the copy
	// failed (its error ends the push with nothing fetched or activated).
	Ready    <-chan struct{}
	Uploaded func() error
}
