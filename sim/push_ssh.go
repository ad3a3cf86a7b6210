package sim

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jetup/jetup/image"
	"github.com/jetup/jetup/remote"
)

// The simulated bench's SSH (the push step's Dialer edge): it reaches
// only the PushBoard, checks its host key against known_hosts as OpenSSH
// does, and hands out a connection whose board shell (push.go) answers
// jetup's board script.

// simSSH reaches the simulated board, and nothing else.
type simSSH struct{ b *PushBoard }

func (s *simSSH) reach(ctx context.Context, host string) error {
	if host != s.b.Host && host != s.b.Hostname {
		if err := s.b.wait(ctx, 3*time.Second); err != nil {
			return err
		}
		return &remote.DialError{Reason: remote.Unreachable, Detail: "ssh: connect to host " + host + " port 22: No route to host"}
	}
	return s.b.wait(ctx, 150*time.Millisecond)
}

func (s *simSSH) HostKey(ctx context.Context, addr string, _ []string) (ssh.PublicKey, error) {
	host, _, _ := net.SplitHostPort(addr)
	if err := s.reach(ctx, host); err != nil {
		return nil, err
	}
	return s.b.HostKey(), nil
}

// Dial checks the host key against known_hosts as OpenSSH does, and the
// user as the installer's sshd does (root, or nixos with sudo).
func (s *simSSH) Dial(ctx context.Context, t remote.Target, o remote.DialOptions) (remote.Conn, error) {
	if err := s.reach(ctx, t.Host); err != nil {
		return nil, err
	}
	pinned, err := remote.KnownHosts{File: o.KnownHosts}.Pinned(t.Addr())
	if err != nil {
		return nil, err
	}
	ok := false
	for _, k := range pinned {
		ok = ok || remote.Fingerprint(k) == s.b.Fingerprint()
	}
	if !ok {
		return nil, &remote.DialError{Reason: remote.HostKeyMismatch, Detail: "Host key verification failed."}
	}
	user := t.User
	if user == "" {
		user = "root"
	}
	if user != "root" && user != "nixos" {
		return nil, &remote.DialError{Reason: remote.AuthRefused, Detail: user + "@" + t.Host + ": Permission denied (publickey)."}
	}
	if err := s.b.wait(ctx, 250*time.Millisecond); err != nil {
		return nil, err
	}
	if strings.HasPrefix(o.Script, image.UpdateScriptTag) {
		return s.b.updateShell(ctx, o.Script), nil
	}
	if strings.HasPrefix(o.Script, verifyScriptTag) {
		return s.b.Verifier().Shell(ctx, o.Script), nil
	}
	return newSimConn(ctx, s.b, user, o.Script), nil
}

// simConn is the connection and its board shell: it answers jetup's board
// script as the board's sh would, reading the same input and gate.
type simConn struct {
	b      *PushBoard
	user   string
	token  string
	out    *io.PipeReader
	in     *io.PipeWriter
	done   chan struct{}
	err    error
	mu     sync.Mutex
	closed bool
}

func newSimConn(ctx context.Context, b *PushBoard, user, script string) *simConn {
	outR, outW := io.Pipe()
	inR, inW := io.Pipe()
	c := &simConn{b: b, user: user, token: scriptToken(script), out: outR, in: inW, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		err := c.shell(ctx, script, bufio.NewReader(inR), outW)
		c.b.gate(c.token).close(true) // the shell is gone: a waiting copy ends
		c.mu.Lock()
		if c.closed && err != nil {
			err = remote.ErrConnectionLost
		}
		c.err = err
		c.mu.Unlock()
		outW.CloseWithError(io.EOF)
	}()
	return c
}

// scriptToken is the gate token a board script names.
func scriptToken(script string) string {
	for _, l := range strings.Split(script, "\n") {
		if v, ok := strings.CutPrefix(l, "gate=/tmp/jetup-"); ok {
			return v
		}
	}
	return ""
}

func (c *simConn) Output() io.Reader { return c.out }

func (c *simConn) Send(s string) error {
	if _, err := io.WriteString(c.in, s); err != nil {
		return remote.ErrConnectionLost
	}
	return nil
}

func (c *simConn) Wait() error { <-c.done; return c.err }

func (c *simConn) Alive() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.closed
}

func (c *simConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.in.CloseWithError(io.EOF)
	c.out.CloseWithError(io.ErrClosedPipe)
	return nil
}

func (c *simConn) StoreURL(q string) (string, []string) {
	if q != "" {
		q = "?" + q
	}
	return "ssh-ng://jetup-board" + q, nil
}
