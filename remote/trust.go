package remote

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/jetup/jetup/step"
)

// HostKeyPrompt asks the person whether to trust a board's host key on
// first contact (the TUI). It returns true to pin the key.
type HostKeyPrompt func(ctx context.Context, k HostKey) (bool, error)

// Trust is what decides which host key a board may have.
type Trust struct {
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
}

// Connect trusts the board's host key and opens the shared connection,
// its first session running o.Script. A pinned host goes straight to
// OpenSSH, which checks the key strictly; a new one has its key read
// first, and is pinned only when the console, --accept-host-key or the
// person vouches for it. It emits HostKey events and returns the
// connection and the fingerprint of the key it trusted. Errors are
// *step.Error with the cause ids push has always used (host-key-unknown,
// host-key-mismatch, host-key-rejected, host-key-changed, auth-refused,
// unreachable, known-hosts).
func Connect(ctx context.Context, d Dialer, t Target, tr Trust, o DialOptions, sink step.Sink) (Conn, string, error) {
	if err := t.Refusal(); err != nil {
		return nil, "", err
	}
	c := connector{d: d, t: t, tr: tr, sink: sink}
	o.KnownHosts = tr.KnownHosts
	kh := KnownHosts{File: tr.KnownHosts}
	addr := t.Addr()
	if tr.ForgetHostKey {
		old, _ := kh.Pinned(addr)
		n, err := kh.Forget(addr)
		if err != nil {
			return nil, "", step.Errorf(string(CauseKnownHosts), "check that "+tr.KnownHosts+" is writable", "cannot forget the old key: %v", err)
		}
		if n > 0 && len(old) > 0 {
			sink.Emit(keyEvent(addr, old[0], KeyForgotten, ""))
		}
	}
	pinned, err := kh.Pinned(addr)
	if err != nil {
		return nil, "", step.Errorf(string(CauseKnownHosts), "fix or remove "+tr.KnownHosts, "jetup's known_hosts: %v", err)
	}
	fp := ""
	if len(pinned) == 0 {
		if fp, err = c.firstContact(ctx, kh, addr); err != nil {
			return nil, "", err
		}
	}
	conn, err := d.Dial(ctx, t, o)
	if err != nil {
		return nil, "", c.dialErr(ctx, addr, pinned, err)
	}
	if len(pinned) > 0 {
		ev := keyEvent(addr, pinned[0], KeyPinned, "")
		fp = ev.Fingerprint
		sink.Emit(ev)
	}
	return conn, fp, nil
}

type connector struct {
	d    Dialer
	t    Target
	tr   Trust
	sink step.Sink
}

func keyEvent(addr string, k ssh.PublicKey, status, via string) HostKey {
	return HostKey{Event: "host_key", At: time.Now(), Host: knownhosts.Normalize(addr), Type: k.Type(),
		Fingerprint: Fingerprint(k), Status: status, Via: via}
}

// firstContact reads a new board's key and pins it if someone vouches.
func (c *connector) firstContact(ctx context.Context, kh KnownHosts, addr string) (string, error) {
	key, err := c.d.HostKey(ctx, addr, nil)
	if err != nil {
		return "", c.dialErr(ctx, addr, nil, err)
	}
	ev := keyEvent(addr, key, KeyNew, "")
	fp := ev.Fingerprint
	checkOnBoard := "compare it with what the board prints on its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub"
	// A fingerprint given for another of the board's keys (its RSA or
	// ECDSA key, printed last on the console) vouches as well: that key is
	// the one pinned, and OpenSSH then asks the board for it.
	for _, want := range []string{c.tr.ConsoleHostKey, c.tr.AcceptHostKey} {
		if want != "" && !SameFingerprint(fp, want) {
			if k := c.keyWithFingerprint(ctx, addr, want); k != nil {
				key, ev = k, keyEvent(addr, k, KeyNew, "")
				fp = ev.Fingerprint
			}
			break
		}
	}
	var via string
	switch {
	case c.tr.ConsoleHostKey != "":
		if !SameFingerprint(fp, c.tr.ConsoleHostKey) {
			c.sink.Emit(ev)
			return "", step.Refuse(string(CauseHostKeyMismatch), "check the address: the board's console shows it; something else may be answering there",
				"%s offers host key %s, but the board printed %s on its console", addr, fp, c.tr.ConsoleHostKey)
		}
		via = "console"
	case c.tr.AcceptHostKey != "":
		if !SameFingerprint(fp, c.tr.AcceptHostKey) {
			c.sink.Emit(ev)
			return "", step.Refuse(string(CauseHostKeyMismatch), checkOnBoard+"; pass the fingerprint it prints",
				"%s offers host key %s, not %s given with --accept-host-key", addr, fp, c.tr.AcceptHostKey)
		}
		via = "flag"
	case c.tr.Prompt != nil:
		c.sink.Emit(ev)
		ok, err := c.tr.Prompt(ctx, ev)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", step.Refuse(string(CauseHostKeyRejected), "check the board's address and its key on its console, then try again",
				"you did not trust the host key %s of %s", fp, addr)
		}
		via = "person"
	default:
		c.sink.Emit(ev)
		return "", step.Refuse(string(CauseHostKeyUnknown), checkOnBoard+", then run again with --accept-host-key "+fp,
			"first contact with %s: its host key is %s %s and jetup has not pinned it yet", addr, key.Type(), fp)
	}
	if err := kh.Pin(addr, key); err != nil {
		return "", step.Errorf(string(CauseKnownHosts), "check that "+c.tr.KnownHosts+" is writable", "cannot pin the host key: %v", err)
	}
	ev.Status, ev.Via, ev.At = KeyAccepted, via, time.Now()
	c.sink.Emit(ev)
	return fp, nil
}

// keyWithFingerprint asks the board for each kind of host key it may have
// and returns the one with fingerprint fp, or nil.
func (c *connector) keyWithFingerprint(ctx context.Context, addr, fp string) ssh.PublicKey {
	for _, algos := range [][]string{{ssh.KeyAlgoED25519}, {ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521},
		{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}} {
		if k, err := c.d.HostKey(ctx, addr, algos); err == nil && SameFingerprint(Fingerprint(k), fp) {
			return k
		}
	}
	return nil
}

// dialErr says why the board could not be reached, in the person's terms.
func (c *connector) dialErr(ctx context.Context, addr string, pinned []ssh.PublicKey, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var de *DialError
	if !errors.As(err, &de) {
		return &step.Error{Cause: string(CauseUnreachable), Err: err, What: "cannot connect to " + addr,
			Next: "check that the board is up and reachable, then try again"}
	}
	switch de.Reason {
	case AuthRefused:
		return &step.Error{Cause: string(CauseAuthRefused), What: fmt.Sprintf("the board refused the login as %s: %s", c.t.UserOrRoot(), de.Detail),
			Next: "check --user (root; nixos on the installer) and --identity: the board needs your public key in that user's authorized_keys"}
	case HostKeyMismatch:
		return c.changedKey(ctx, addr, pinned, de)
	}
	return &step.Error{Cause: string(CauseUnreachable), What: fmt.Sprintf("cannot reach the board at %s: %s", addr, de.Detail),
		Next: "check that the board is booted and on the network (the console step shows its address), the cable, and --host/--port"}
}

// changedKey refuses a board whose key differs from the pinned one, saying
// both fingerprints.
func (c *connector) changedKey(ctx context.Context, addr string, pinned []ssh.PublicKey, de *DialError) error {
	old := "(none)"
	if len(pinned) > 0 {
		old = Fingerprint(pinned[0])
	}
	now := "(unreadable)"
	if key, err := c.d.HostKey(ctx, addr, keyAlgorithms(pinned)); err == nil {
		ev := keyEvent(addr, key, KeyChanged, "")
		ev.Pinned = old
		c.sink.Emit(ev)
		now = ev.Fingerprint
	}
	return &step.Error{Cause: string(CauseHostKeyChanged), Code: step.ExitRefused,
		What: fmt.Sprintf("the board at %s offers host key %s, not %s that jetup pinned for it: refused (%s)", addr, now, old, de.Detail),
		Next: "if you reflashed or swapped the board, run again with --forget-host-key --accept-host-key " + now +
			" (in the wizard: f); if not, stop: another machine may be answering at this address"}
}

// Redial opens another connection to a board whose key is pinned already
// (a copy resumed after the link dropped); a failure is explained the way
// Connect explains it.
func Redial(ctx context.Context, d Dialer, t Target, tr Trust, o DialOptions, sink step.Sink) (Conn, error) {
	o.KnownHosts = tr.KnownHosts
	conn, err := d.Dial(ctx, t, o)
	if err != nil {
		c := connector{d: d, t: t, tr: tr, sink: sink}
		pinned, _ := KnownHosts{File: tr.KnownHosts}.Pinned(t.Addr())
		return nil, c.dialErr(ctx, t.Addr(), pinned, err)
	}
	return conn, nil
}
