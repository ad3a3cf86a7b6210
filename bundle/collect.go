package bundle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
)

// CollectOptions read a board's manifest over SSH.
type CollectOptions struct {
	Target remote.Target
	remote.Trust
	// Profile is the profile the manifest covers (the system's when "").
	Profile string
	// From says why it is read ("ssh" for jetup manifest, "push" after a
	// push), kept in board.json.
	From string
	Log  io.Writer
}

// Collected is a manifest read and recorded.
type Collected struct {
	Event    string    `json:"event"` // "manifest"
	Board    Board     `json:"board"`
	Manifest *Manifest `json:"-"`
	Bytes    int       `json:"bytes"`
}

// Text is the verdict line.
func (c Collected) Text() string {
	return fmt.Sprintf("recorded the manifest of %s (%s): %d paths, %s of NAR, current %s",
		orDash(c.Board.Hostname), c.Board.Fingerprint, len(c.Manifest.Paths), MiB(c.Manifest.Bytes()), shortPath(c.Manifest.Current))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Collect reads the board's manifest over SSH (its host key pinned as push
// pins it) and records it in the mirror.
func Collect(ctx context.Context, d remote.Dialer, m Mirror, o CollectOptions, sink step.Sink) (*Collected, error) {
	if o.Profile != "" && !IsProfile(o.Profile) {
		return nil, step.Refuse("usage", "pass a profile under /nix/var/nix/profiles (e.g. /nix/var/nix/profiles/system)", "--profile-path %q is not a Nix profile", o.Profile)
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	conn, fp, err := remote.Connect(ctx, d, o.Target, o.Trust, remote.DialOptions{Log: log, Script: ManifestScript(o.Profile)}, sink)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	raw, err := io.ReadAll(io.LimitReader(conn.Output(), MaxManifest+1<<20))
	if err == nil {
		err = conn.Wait()
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	body, ok := between(raw, manifestBegin, manifestEnd)
	switch {
	case !ok && err != nil:
		if errors.Is(err, remote.ErrConnectionLost) {
			return nil, &step.Error{Cause: "connection-lost", Err: err, What: "the connection to the board dropped while it listed its store",
				Next: "check the link to the board and run jetup manifest again"}
		}
		return nil, &step.Error{Cause: "manifest-failed", Err: err, What: "the board's manifest script failed",
			Next: "log in (ssh " + o.Target.String() + ") and check that sh and nix-store work"}
	case !ok || bytes.Contains(body, []byte("jetup:manifest-failed")):
		return nil, step.Errorf("manifest-failed", "log in (ssh "+o.Target.String()+") and check the store: nix-store --verify",
			"the board could not list its store (nix-store -qR failed)")
	}
	man, err := ParseManifest(body)
	if err != nil {
		return nil, step.Errorf("bad-manifest", "check the board's /etc/ssh host keys and its nix-store; the raw output is in the log", "the board's manifest: %v", err)
	}
	fmt.Fprintf(log, "manifest: %d bytes, %d paths\n", len(body), len(man.Paths))
	if !hasKey(man, fp) {
		return nil, step.Errorf("host-key-not-in-manifest", "the board's sshd must use the keys in /etc/ssh (ssh_host_*_key), which a bundle checks it against",
			"the board offered host key %s over SSH, but its /etc/ssh lists %v", fp, man.HostKeys)
	}
	bd, err := m.Record(body, Seen{From: o.From, Host: o.Target.Host, Port: o.Target.PortOr22()})
	if err != nil {
		return nil, step.Errorf("state-dir", "check that the state dir is writable", "recording the manifest: %v", err)
	}
	c := &Collected{Event: "manifest", Board: *bd, Manifest: man, Bytes: len(body)}
	return c, nil
}

func hasKey(m *Manifest, fp string) bool {
	if remote.SameFingerprint(m.Fingerprint, fp) {
		return true
	}
	for _, k := range m.HostKeys {
		if remote.SameFingerprint(k, fp) {
			return true
		}
	}
	return false
}

// between is what lies between the lines begin and end.
func between(b []byte, begin, end string) ([]byte, bool) {
	i := bytes.Index(b, []byte(begin+"\n"))
	if i < 0 {
		return nil, false
	}
	rest := b[i+len(begin)+1:]
	j := bytes.LastIndex(rest, []byte(end+"\n"))
	if j < 0 {
		return nil, false
	}
	return rest[:j], true
}

// MiB renders a byte count for people.
func MiB(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// shortPath is a store path without its hash, for lines people read.
func shortPath(p string) string {
	if IsStorePath(p) {
		return NameOf(p)
	}
	if p == "" {
		return "-"
	}
	return p
}
