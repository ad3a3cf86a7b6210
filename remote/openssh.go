package remote

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jetup/jetup/proc"
)

// OpenSSH reaches boards with the system's OpenSSH client. Dial starts one
// ControlMaster connection; the probe, `nix copy` and the activation all
// run through it, so a link with high latency pays for one handshake, and
// every one of them checks the host key against jetup's known_hosts with
// StrictHostKeyChecking=yes. The host key of a new board is read with
// golang.org/x/crypto/ssh (no login is attempted).
type OpenSSH struct {
	Runner proc.Runner
}

const (
	sshAlias       = "jetup-board"
	connectTimeout = 10 * time.Second
	readyTimeout   = 45 * time.Second
)

// HostKey reads the host key the board offers, without logging in.
func (o OpenSSH) HostKey(ctx context.Context, addr string, prefer []string) (ssh.PublicKey, error) {
	d := net.Dialer{Timeout: connectTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &DialError{Reason: Unreachable, Detail: err.Error()}
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(connectTimeout))
	}
	var key ssh.PublicKey
	errGot := errors.New("host key read")
	cfg := &ssh.ClientConfig{
		User:              "jetup",
		HostKeyAlgorithms: keyAlgorithms(nil),
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
			key = k
			return errGot
		},
	}
	if len(prefer) > 0 {
		cfg.HostKeyAlgorithms = prefer
	}
	_, _, _, err = ssh.NewClientConn(conn, addr, cfg)
	if key != nil {
		return key, nil
	}
	return nil, &DialError{Reason: Unreachable, Detail: "no ssh server answered at " + addr + ": " + err.Error()}
}

// Dial starts the ControlMaster connection, its own session running the
// board shell, and waits until the login is through.
func (o OpenSSH) Dial(ctx context.Context, t Target, do DialOptions) (Conn, error) {
	if _, err := o.Runner.LookPath("ssh"); err != nil {
		return nil, &DialError{Reason: Unreachable, Detail: "no ssh client on this machine (install openssh-client)"}
	}
	dir, err := os.MkdirTemp("", "jetup-ssh-")
	if err != nil {
		return nil, err
	}
	c := &sshConn{o: o, log: do.Log, dir: dir, config: filepath.Join(dir, "config"), exited: make(chan struct{})}
	config, err := sshConfig(t, do.KnownHosts, filepath.Join(dir, "cm"), do.Compress)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := os.WriteFile(c.config, []byte(config), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := c.start(ctx, do); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// sshConfig is the client configuration every ssh of one push uses. The
// host key rules are fixed here and cannot be loosened by a user's
// ~/.ssh/config (-F replaces it). Every value is checked first (Target.Check
// and checkPath): a newline in one would be a directive of its own.
func sshConfig(t Target, knownHosts, controlPath string, compress bool) (string, error) {
	if err := t.Check(); err != nil {
		return "", fmt.Errorf("refused: %w", err)
	}
	if err := errors.Join(checkPath("known_hosts", knownHosts), checkPath("control path", controlPath)); err != nil {
		return "", fmt.Errorf("refused: %w", err)
	}
	// Quoted, and % doubled: these options expand %-tokens.
	q := func(s string) string { return `"` + strings.ReplaceAll(s, "%", "%%") + `"` }
	var b strings.Builder
	fmt.Fprintf(&b, "Host %s\n", sshAlias)
	fmt.Fprintf(&b, "  HostName %s\n  Port %d\n  User %s\n", t.Host, t.PortOr22(), t.UserOrRoot())
	if t.Identity != "" {
		fmt.Fprintf(&b, "  IdentityFile %s\n  IdentitiesOnly yes\n", q(t.Identity))
	}
	fmt.Fprintf(&b, "  UserKnownHostsFile %s\n", q(knownHosts))
	b.WriteString("  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  UpdateHostKeys no\n  CheckHostIP no\n")
	b.WriteString("  BatchMode yes\n  PasswordAuthentication no\n  KbdInteractiveAuthentication no\n")
	fmt.Fprintf(&b, "  ControlPath %s\n  ControlMaster no\n", q(controlPath))
	fmt.Fprintf(&b, "  ConnectTimeout %d\n  ServerAliveInterval 5\n  ServerAliveCountMax 6\n", int(connectTimeout.Seconds()))
	if compress {
		b.WriteString("  Compression yes\n")
	} else {
		b.WriteString("  Compression no\n")
	}
	b.WriteString("  ForwardAgent no\n  ForwardX11 no\n  RequestTTY no\n  LogLevel ERROR\n")
	return b.String(), nil
}

type sshConn struct {
	o       OpenSSH
	log     io.Writer
	dir     string
	config  string
	master  *exec.Cmd
	stdin   io.WriteCloser
	out     *bufio.Reader
	stdout  *os.File      // read end of the master's stdout
	exited  chan struct{} // closed when the master exits
	waitErr error
	once    sync.Once
	sendMu  sync.Mutex

	mu     sync.Mutex
	stderr strings.Builder // the master's stderr, for classifying failures
}

// readyMarker is printed by LocalCommand once the master is logged in and
// its control socket listens, before any of the session's output.
const readyMarker = "jetup-master-ready"

// drainAfterExit bounds how long Output still reads after ssh exited.
const drainAfterExit = 30 * time.Second

// maxStderr bounds what is kept of the ssh client's stderr.
const maxStderr = 64 << 10

// start runs `ssh -M ... sh -c SCRIPT` and waits for the marker.
func (c *sshConn) start(ctx context.Context, do DialOptions) error {
	c.master = c.o.Runner.Command(ctx, "ssh", "-F", c.config, "-M", "-o", "ControlMaster=yes",
		"-o", "PermitLocalCommand=yes", "-o", "LocalCommand=echo "+readyMarker, sshAlias, "sh -c "+ShellQuote(do.Script))
	// Our own pipe, not StdoutPipe: exec's Wait closes a StdoutPipe as
	// soon as ssh exits, and on a busy host the board shell's last lines
	// (its "jetup:rc=" verdict) were still unread in it and lost. This
	// pipe is read to EOF; Wait never closes it.
	stdout, w, err := os.Pipe()
	if err != nil {
		return err
	}
	c.stdout = stdout
	c.master.Stdout = w
	if c.stdin, err = c.master.StdinPipe(); err != nil {
		w.Close()
		return err
	}
	c.master.Stderr = proc.NewLineWriter(func(l string) {
		c.mu.Lock()
		// Only the last words classify a failure: keep at most 64 KiB.
		if c.stderr.Len()+len(l) > maxStderr {
			rest := c.stderr.String()
			rest = rest[min(len(rest), len(rest)/2+len(l)):]
			c.stderr.Reset()
			c.stderr.WriteString(rest)
		}
		c.stderr.WriteString(l[:min(len(l), maxStderr/2)] + "\n")
		c.mu.Unlock()
		if c.log != nil {
			fmt.Fprintln(c.log, "ssh: "+l)
		}
	})
	err = c.master.Start()
	w.Close() // ssh holds the write end now; EOF comes when it exits
	if err != nil {
		return err
	}
	c.out = bufio.NewReaderSize(stdout, 64*1024)
	ready := make(chan struct{})
	go func() {
		// Lines before the marker, cut at 4 KiB: what follows the marker
		// stays buffered in c.out for Output.
		sc := proc.NewLineScanner(c.out, 4<<10)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == readyMarker {
				close(ready)
				return
			}
		}
	}()
	go func() {
		c.waitErr = c.master.Wait()
		// What ssh wrote before it exited is in the pipe, to be read
		// however slowly; the deadline only ends a wait on a descendant
		// that kept the write end open (none should), so it is generous.
		_ = stdout.SetReadDeadline(time.Now().Add(drainAfterExit))
		close(c.exited)
	}()
	select {
	case <-ready:
		return nil
	case <-c.exited:
		return classifySSH(c.masterStderr())
	case <-time.After(readyTimeout):
		return &DialError{Reason: Unreachable, Detail: "no ssh login within " + readyTimeout.String()}
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *sshConn) masterStderr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.TrimSpace(c.stderr.String())
}

// classifySSH turns the ssh client's words into a DialError.
func classifySSH(stderr string) *DialError {
	s := strings.ToLower(stderr)
	has := func(subs ...string) bool {
		for _, x := range subs {
			if strings.Contains(s, strings.ToLower(x)) {
				return true
			}
		}
		return false
	}
	detail := lastLines(stderr, 3)
	switch {
	case has("remote host identification has changed", "host key verification failed", "host key for", "no matching host key"):
		return &DialError{Reason: HostKeyMismatch, Detail: detail}
	case has("permission denied", "too many authentication failures", "no more authentication methods"):
		return &DialError{Reason: AuthRefused, Detail: detail}
	}
	if detail == "" {
		detail = "ssh exited without saying why"
	}
	return &DialError{Reason: Unreachable, Detail: detail}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}

func (c *sshConn) Alive() bool {
	select {
	case <-c.exited:
		return false
	default:
		return c.master != nil && c.master.Process != nil
	}
}

func (c *sshConn) Output() io.Reader { return c.out }

// Send writes to the board shell's stdin.
func (c *sshConn) Send(s string) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if _, err := io.WriteString(c.stdin, s); err != nil {
		return ErrConnectionLost
	}
	return nil
}

// Wait waits for the master, which ends with the board shell.
func (c *sshConn) Wait() error {
	<-c.exited
	var ee *exec.ExitError
	switch {
	case c.waitErr == nil:
		return nil
	case errors.As(c.waitErr, &ee) && ee.ExitCode() != 255 && ee.ExitCode() >= 0:
		return &ExitError{Code: ee.ExitCode()}
	}
	return ErrConnectionLost
}

func (c *sshConn) StoreURL(query string) (string, []string) {
	u := "ssh-ng://" + sshAlias
	if query != "" {
		u += "?" + query
	}
	return u, []string{"NIX_SSHOPTS=-F " + c.config}
}

// Close ends the master (SIGTERM to its group) and removes the config.
func (c *sshConn) Close() error {
	c.once.Do(func() {
		if c.stdin != nil {
			_ = c.stdin.Close()
		}
		if c.master != nil && c.master.Process != nil {
			_ = syscall.Kill(-c.master.Process.Pid, syscall.SIGTERM)
			select {
			case <-c.exited:
			case <-time.After(proc.Grace):
				_ = syscall.Kill(-c.master.Process.Pid, syscall.SIGKILL)
				<-c.exited
			}
		}
		if c.stdout != nil {
			_ = c.stdout.Close()
		}
		os.RemoveAll(c.dir)
	})
	return nil
}

// ShellQuote quotes s for a POSIX shell.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
