package deploy

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/jetup/jetup/step"
)

// connect trusts the board's host key and opens the shared connection.
// A pinned host goes straight to OpenSSH, which checks the key strictly; a
// new one has its key read first, and pinned only when the console, the
// --accept-host-key flag or the person vouches for it.
func (p *pusher) connect(ctx context.Context) error {
	p.phase(PhaseConnect, "connecting to %s", p.o.Target)
	kh := KnownHosts{File: p.o.KnownHosts}
	addr := p.o.Target.Addr()
	if p.o.ForgetHostKey {
		old, _ := kh.Pinned(addr)
		n, err := kh.Forget(addr)
		if err != nil {
			return step.Errorf("known-hosts", "check that "+p.o.KnownHosts+" is writable", "cannot forget the old key: %v", err)
		}
		if n > 0 && len(old) > 0 {
			p.sink.Emit(p.keyEvent(addr, old[0], KeyForgotten, ""))
		}
	}
	pinned, err := kh.Pinned(addr)
	if err != nil {
		return step.Errorf("known-hosts", "fix or remove "+p.o.KnownHosts, "jetup's known_hosts: %v", err)
	}
	if len(pinned) == 0 {
		if err := p.firstContact(ctx, kh, addr); err != nil {
			return err
		}
	}
	if err := p.dial(ctx); err != nil {
		return p.dialErr(ctx, addr, pinned, err)
	}
	if len(pinned) > 0 {
		ev := p.keyEvent(addr, pinned[0], KeyPinned, "")
		p.res.Fingerprint = ev.Fingerprint
		p.sink.Emit(ev)
	}
	return nil
}

// dial opens the connection with the board shell as its first session.
func (p *pusher) dial(ctx context.Context) error {
	var tok [16]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return err
	}
	p.gate = hex.EncodeToString(tok[:])
	conn, err := p.edge.SSH.Dial(ctx, p.o.Target, DialOptions{KnownHosts: p.o.KnownHosts, Compress: p.o.Compress,
		Log: p.log, Script: BoardScript(p.o.Mode, p.res.System, p.gate)})
	if err != nil {
		return err
	}
	p.conn = conn
	p.out = bufio.NewScanner(conn.Output())
	p.out.Buffer(make([]byte, 64*1024), 1<<20)
	return nil
}

func (p *pusher) keyEvent(addr string, k ssh.PublicKey, status, via string) HostKey {
	return HostKey{Event: "host_key", At: time.Now(), Host: knownhosts.Normalize(addr), Type: k.Type(),
		Fingerprint: Fingerprint(k), Status: status, Via: via}
}

// firstContact reads a new board's key and pins it if someone vouches.
func (p *pusher) firstContact(ctx context.Context, kh KnownHosts, addr string) error {
	key, err := p.edge.SSH.HostKey(ctx, addr, nil)
	if err != nil {
		return p.dialErr(ctx, addr, nil, err)
	}
	ev := p.keyEvent(addr, key, KeyNew, "")
	fp := ev.Fingerprint
	checkOnBoard := "compare it with what the board prints on its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub"
	// A fingerprint given for another of the board's keys (its RSA or
	// ECDSA key, printed last on the console) vouches as well: that key is
	// the one pinned, and OpenSSH then asks the board for it.
	for _, want := range []string{p.o.ConsoleHostKey, p.o.AcceptHostKey} {
		if want != "" && !SameFingerprint(fp, want) {
			if k := p.keyWithFingerprint(ctx, addr, want); k != nil {
				key, ev = k, p.keyEvent(addr, k, KeyNew, "")
				fp = ev.Fingerprint
			}
			break
		}
	}
	var via string
	switch {
	case p.o.ConsoleHostKey != "":
		if !SameFingerprint(fp, p.o.ConsoleHostKey) {
			p.sink.Emit(ev)
			return step.Refuse("host-key-mismatch", "check the address: the board's console shows it; something else may be answering there",
				"%s offers host key %s, but the board printed %s on its console", addr, fp, p.o.ConsoleHostKey)
		}
		via = "console"
	case p.o.AcceptHostKey != "":
		if !SameFingerprint(fp, p.o.AcceptHostKey) {
			p.sink.Emit(ev)
			return step.Refuse("host-key-mismatch", checkOnBoard+"; pass the fingerprint it prints",
				"%s offers host key %s, not %s given with --accept-host-key", addr, fp, p.o.AcceptHostKey)
		}
		via = "flag"
	case p.o.Prompt != nil:
		p.sink.Emit(ev)
		ok, err := p.o.Prompt(ctx, ev)
		if err != nil {
			return err
		}
		if !ok {
			return step.Refuse("host-key-rejected", "check the board's address and its key on its console, then push again",
				"you did not trust the host key %s of %s", fp, addr)
		}
		via = "person"
	default:
		p.sink.Emit(ev)
		return step.Refuse("host-key-unknown", checkOnBoard+", then run again with --accept-host-key "+fp,
			"first contact with %s: its host key is %s %s and jetup has not pinned it yet", addr, key.Type(), fp)
	}
	if err := kh.Pin(addr, key); err != nil {
		return step.Errorf("known-hosts", "check that "+p.o.KnownHosts+" is writable", "cannot pin the host key: %v", err)
	}
	ev.Status, ev.Via, ev.At = KeyAccepted, via, time.Now()
	p.res.Fingerprint = fp
	p.sink.Emit(ev)
	return nil
}

// keyWithFingerprint asks the board for each kind of host key it may have
// and returns the one with fingerprint fp, or nil.
func (p *pusher) keyWithFingerprint(ctx context.Context, addr, fp string) ssh.PublicKey {
	for _, algos := range [][]string{{ssh.KeyAlgoED25519}, {ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521},
		{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}} {
		if k, err := p.edge.SSH.HostKey(ctx, addr, algos); err == nil && SameFingerprint(Fingerprint(k), fp) {
			return k
		}
	}
	return nil
}

// dialErr says why the board could not be reached, in the person's terms.
func (p *pusher) dialErr(ctx context.Context, addr string, pinned []ssh.PublicKey, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var de *DialError
	if !errors.As(err, &de) {
		return &step.Error{Cause: "unreachable", Err: err, What: "cannot connect to " + addr,
			Next: "check that the board is up and reachable, then push again"}
	}
	switch de.Reason {
	case AuthRefused:
		return &step.Error{Cause: "auth-refused", What: fmt.Sprintf("the board refused the login as %s: %s", p.o.Target.user(), de.Detail),
			Next: "check --user (root; nixos on the installer) and --identity: the board needs your public key in that user's authorized_keys"}
	case HostKeyMismatch:
		return p.changedKey(ctx, addr, pinned, de)
	}
	return &step.Error{Cause: "unreachable", What: fmt.Sprintf("cannot reach the board at %s: %s", addr, de.Detail),
		Next: "check that the board is booted and on the network (the console step shows its address), the cable, and --host/--port"}
}

// changedKey refuses a board whose key differs from the pinned one, saying
// both fingerprints.
func (p *pusher) changedKey(ctx context.Context, addr string, pinned []ssh.PublicKey, de *DialError) error {
	old := "(none)"
	if len(pinned) > 0 {
		old = Fingerprint(pinned[0])
	}
	now := "(unreadable)"
	if key, err := p.edge.SSH.HostKey(ctx, addr, keyAlgorithms(pinned)); err == nil {
		ev := p.keyEvent(addr, key, KeyChanged, "")
		ev.Pinned = old
		p.sink.Emit(ev)
		now = ev.Fingerprint
	}
	return &step.Error{Cause: "host-key-changed", Code: step.ExitRefused,
		What: fmt.Sprintf("the board at %s offers host key %s, not %s that jetup pinned for it: refused (%s)", addr, now, old, de.Detail),
		Next: "if you reflashed or swapped the board, run again with --forget-host-key --accept-host-key " + now +
			" (in the wizard: f); if not, stop: another machine may be answering at this address"}
}
