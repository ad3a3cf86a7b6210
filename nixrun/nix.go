package nixrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jetup/jetup/proc"
)

// Nix runs the nix command. One value is shared by every step of a run
// (hardware.Edges.Nix), so a mode set on it before the steps start reaches
// every nix call; a nil *Nix runs nix from PATH on this machine.
type Nix struct {
	// Runner starts nix; nil is proc.Host{}.
	Runner proc.Runner
	// Offline adds --offline and empties the substituters on every call,
	// so nothing waits for a network timeout (issue 20's field kit).
	Offline bool
	// User, when set, runs nix as that user instead of as jetup: under
	// sudo, the person who ran it (proc.Invoking), so a build does not
	// run as root (issue 21, finding 11). Out-links must then be where
	// that user can write. A Build or Call may name its own.
	User *User
	// Env is added to the environment of every call.
	Env []string
	// PreBuild is asked before every build, before nix evaluates
	// anything; an error stops the build and is returned as it is (a
	// *step.Error keeps its cause and next step). The place for checks
	// such as "can this host build aarch64-linux" (issue 14).
	PreBuild func(ctx context.Context, b Build) error
	// Prebuilt is asked after PreBuild: a store path it returns stands
	// for the build's result, and nix builds that path instead of the
	// installable (nothing is evaluated; the out-link is made as usual).
	// "" builds as usual; an error refuses the build. Offline, the field
	// kit answers here (issue 20): the step takes its artifact from a
	// kit, or is refused before nix starts.
	Prebuilt func(ctx context.Context, b Build) (string, error)
	// Observe, when set, is told of every nix call when it ends: what it
	// was and how long it took (a run's record of where time went; the
	// offline benchmark's slowest call).
	Observe func(Stat)
}

// Stat is one nix call, ended.
type Stat struct {
	Args []string // the whole command line after "nix", common flags included
	Took time.Duration
	Err  error
}

// User is who nix runs as: proc's, so every command jetup starts as
// another user is started the same way.
type User = proc.User

// ErrNotInstalled is returned (wrapped) when there is no nix on PATH.
var ErrNotInstalled = errors.New("nix is not installed")

// backgroundNice is a Background call's niceness: below everything
// else, yet not idle (nice 19 would starve it on a busy host, and nodes
// wait for it in the end).
const backgroundNice = 10

// features: Debian's Nix 2.8 needs them named on every call.
var features = []string{"--extra-experimental-features", "nix-command flakes"}

func (n *Nix) get() Nix {
	if n == nil {
		return Nix{Runner: proc.Host{}}
	}
	c := *n
	if c.Runner == nil {
		c.Runner = proc.Host{}
	}
	return c
}

// found tells whether the Runner finds program name.
func (n Nix) found(name string) bool {
	_, err := n.Runner.LookPath(name)
	return err == nil
}

// Args is the whole argument list of a nix call (after "nix"): the common
// flags every call gets, then args.
func (n *Nix) Args(args ...string) []string { return n.args(false, args) }

// offlineFlags keep a call from reaching any network: cached flake
// inputs are used as they are, and no binary cache is asked.
var offlineFlags = []string{"--offline", "--option", "substituters", ""}

func (n *Nix) args(local bool, args []string) []string {
	c := n.get()
	a := append([]string{}, features...)
	if c.Offline || local {
		a = append(a, offlineFlags...)
	}
	return append(a, args...)
}

// LookPath finds nix, or returns an error wrapping ErrNotInstalled.
func (n *Nix) LookPath() (string, error) {
	p, err := n.get().Runner.LookPath("nix")
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNotInstalled, err)
	}
	return p, nil
}

// command is `nix ARGS...` as every call starts it: the common flags, the
// environment, the user (the call's own, else the Nix's).
func (n *Nix) command(ctx context.Context, call Call) *exec.Cmd {
	c := n.get()
	name, args := "nix", n.args(call.Local, call.Args)
	if call.Background && c.found("nice") && c.found("nix") {
		// (Without nix, nix runs plainly: its error is then ErrNotInstalled.)
		name, args = "nice", append([]string{"-n", strconv.Itoa(backgroundNice), "nix"}, args...)
	}
	cmd := c.Runner.Command(ctx, name, args...)
	env, as := call.Env, call.User
	if extra := append(append([]string{}, c.Env...), env...); len(extra) > 0 {
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.Env = append(cmd.Env, extra...)
	}
	if as == nil {
		as = c.User
	}
	as.Apply(cmd)
	return cmd
}

// Call is one nix command.
type Call struct {
	// Args follow the common flags: "path-info", "-r", "--json", PATH.
	Args []string
	// Env is added to this call's environment (NIX_SSHOPTS).
	Env []string
	// Log is what to do with nix's stderr.
	Log Watch
	// Stdout, when set, takes all of stdout instead (a NAR from
	// `nix store dump-path`); Run then returns no bytes.
	Stdout io.Writer
	// MaxStdout is how much of stdout is kept (1 MiB when 0); more is
	// an error, never a truncated answer.
	MaxStdout int
	// Background runs nix at a lower CPU priority (nice -n 10): work
	// that nothing waits on yet, such as a fleet's copy to its binary
	// cache while the nodes connect, yields the CPU to what is waited on.
	Background bool
	// User runs this call as that user (nil: the Nix's User).
	User *User
	// Local asks only this machine's store, online or not: a question
	// such as "is this path still valid" must not wait on a binary cache
	// (nix path-info asks the substituters about a missing path).
	Local bool
}

// Run runs one nix command and returns its stdout. Its stderr goes
// through a Log made from c.Log; a failure is an *Error with the errors
// nix printed. A cancelled ctx returns ctx.Err().
func (n *Nix) Run(ctx context.Context, c Call) ([]byte, error) {
	return n.run(ctx, c, NewLog(c.Log))
}

func (n *Nix) run(ctx context.Context, c Call, lg *Log) ([]byte, error) {
	if c.MaxStdout <= 0 {
		c.MaxStdout = 1 << 20
	}
	cmd := n.command(ctx, c)
	stdout := &proc.CappedBuffer{Max: c.MaxStdout}
	// Writers, not pipes: os/exec copies both to EOF in its own
	// goroutines, and neither writer ever fails, so nix never blocks on
	// a full pipe whatever it prints.
	cmd.Stdout, cmd.Stderr = stdout, lg
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	}
	start := time.Now()
	err := cmd.Run()
	lg.Close()
	if obs := n.get().Observe; obs != nil {
		obs(Stat{Args: n.args(c.Local, c.Args), Took: time.Since(start), Err: err})
	}
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		if errors.Is(err, exec.ErrNotFound) {
			err = fmt.Errorf("%w: %v", ErrNotInstalled, err)
		}
		return nil, &Error{Args: c.Args, Err: err, Messages: lg.Errors()}
	case stdout.Full():
		return nil, &Error{Args: c.Args, Err: fmt.Errorf("nix printed more than %d bytes on stdout", c.MaxStdout)}
	}
	return stdout.Bytes(), nil
}

// Error is a nix command that failed, with the errors it printed.
type Error struct {
	Args     []string // after the common flags
	Err      error
	Messages []string // errors nix printed, colour codes gone, the last few
}

func (e *Error) Error() string {
	if len(e.Messages) > 0 {
		return strings.Join(e.Messages, "; ")
	}
	return fmt.Sprintf("nix %s: %v", strings.Join(e.Args[:min(len(e.Args), 2)], " "), e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Reason is the most useful line of nix's complaint: the first line of
// its last "error: ..." (without the prefix), else its last message, else
// how the command ended.
func (e *Error) Reason() string {
	for i := len(e.Messages) - 1; i >= 0; i-- {
		first, _, _ := strings.Cut(strings.TrimSpace(e.Messages[i]), "\n")
		if rest, ok := strings.CutPrefix(first, "error:"); ok {
			return strings.TrimSpace(rest)
		}
	}
	if n := len(e.Messages); n > 0 {
		first, _, _ := strings.Cut(strings.TrimSpace(e.Messages[n-1]), "\n")
		return first
	}
	var ee *exec.ExitError
	if errors.As(e.Err, &ee) {
		return fmt.Sprintf("exit status %d", ee.ExitCode())
	}
	if e.Err == nil {
		return "failed"
	}
	return e.Err.Error()
}

// ReasonOf is Reason for an *Error, err.Error() for anything else.
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason()
	}
	return err.Error()
}
