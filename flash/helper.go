package flash

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// HelperArg is the first argument that turns the jetup binary into the
// flash helper (cmd/jetup registers it as a hidden command).
//
// Why a helper: the script must run as root under a pty. `sudo -n` in a new
// session on a new pty does not see the credential `sudo -v` cached for the
// person's terminal (sudoers keeps one record per terminal), and with
// Debian's `Defaults use_pty` a sudo started on the person's terminal sends
// the command's output to that terminal instead of to jetup. So jetup runs
// `sudo -n jetup __flash-helper -- SCRIPT...` with plain pipes, in its own
// session, and the helper, now root, puts the script on a fresh pty
// (creack/pty), relays the output, turns USB autosuspend off and back on,
// and ends every process the script started, however the run ends.
const HelperArg = "__flash-helper"

// Helper is the command that starts the helper: the jetup binary and
// HelperArg, or a test binary that calls HelperMain.
type Helper struct {
	Path string
	Args []string
}

// SelfHelper is this program as the helper: the jetup binary handles
// HelperArg first thing in main (tests do it in TestMain).
func SelfHelper() (Helper, error) {
	exe, err := os.Executable()
	if err != nil {
		return Helper{}, fmt.Errorf("cannot find jetup's own binary to start the flash helper: %w", err)
	}
	return Helper{Path: exe, Args: []string{HelperArg}}, nil
}

type helperOptions struct {
	autosuspend string
	grace       time.Duration
	env         []string
	argv        []string
}

func parseHelperArgs(args []string) (helperOptions, error) {
	o := helperOptions{grace: 2 * time.Second}
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			o.argv = args[1:]
			break
		}
		if len(args) < 2 {
			return o, fmt.Errorf("%s needs a value", a)
		}
		v := args[1]
		switch a {
		case "--autosuspend":
			o.autosuspend = v
		case "--grace":
			d, err := time.ParseDuration(v)
			if err != nil {
				return o, err
			}
			o.grace = d
		case "--env":
			if !strings.Contains(v, "=") {
				return o, fmt.Errorf("--env %q is not NAME=VALUE", v)
			}
			o.env = append(o.env, v)
		default:
			return o, fmt.Errorf("unknown option %s", a)
		}
		args = args[2:]
	}
	if len(o.argv) == 0 {
		return o, errors.New("no script given after --")
	}
	return o, nil
}

// HelperMain runs the flash script on a pty and returns its exit status
// (128+n when a signal ended it). Output goes to stdout; the helper's own
// notes go to stderr as "jetup: ..." lines before and after the run.
func HelperMain(args []string) int {
	o, err := parseHelperArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "jetup: flash helper: %v\n", err)
		return 125
	}
	// A parent that dies (jetup killed, sudo killed) ends the run; orphans
	// of the script become our children so none is missed at the end.
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGTERM), 0, 0, 0)
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGPIPE)
	if os.Getppid() == 1 {
		return 128 + int(unix.SIGTERM)
	}

	restore := autosuspendOff(o.autosuspend)
	defer restore()

	cmd := exec.Command(o.argv[0], o.argv[1:]...)
	cmd.Env = append(os.Environ(), o.env...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		fmt.Fprintf(os.Stderr, "jetup: cannot start %s: %v\n", o.argv[0], err)
		if errors.Is(err, os.ErrNotExist) {
			return 127
		}
		return 126
	}
	pid := cmd.Process.Pid
	r := startReaper(pid)

	gone := make(chan struct{}) // stdout or stdin closed: jetup is gone
	var goneOnce sync.Once
	parentGone := func() { goneOnce.Do(func() { close(gone) }) }
	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		if _, err := io.Copy(os.Stdout, ptmx); err != nil && !isPtyEOF(err) {
			parentGone()
		}
	}()
	go func() {
		_, _ = io.Copy(ptmx, os.Stdin)
		parentGone()
	}()

	var code int
	select {
	case code = <-r.exited:
	case <-sigs:
		code = stopScript(r, o.grace)
	case <-gone:
		code = stopScript(r, o.grace)
	}
	// Whatever the script left behind (a daemon, a tio whose expect died)
	// ends with it.
	endDescendants(500 * time.Millisecond)
	// What the script printed last is still in the pty: relay it all
	// before closing (a process that escaped can hold the pty open).
	waitDrained(outDone, ptmx, time.Second)
	_ = ptmx.Close()
	// The relay's last write to jetup. Close does not wake a read on the
	// pty (creack/pty's file blocks), so with a stray holder the relay
	// stays in its read: that bound only ends the wait for it, with
	// nothing left unread.
	select {
	case <-outDone:
	case <-gone:
	case <-time.After(5 * time.Second):
	}
	r.stop()
	return code
}

// stopScript ends the script's session (it leads its process group) and
// waits up to grace for it before killing it.
func stopScript(r *reaper, grace time.Duration) int {
	r.signalGroup(unix.SIGTERM)
	r.signalGroup(unix.SIGHUP)
	select {
	case code := <-r.exited:
		return code
	case <-time.After(grace):
	}
	r.signalGroup(unix.SIGKILL)
	select {
	case code := <-r.exited:
		return code
	case <-time.After(2 * time.Second):
		return 128 + int(unix.SIGKILL)
	}
}

// isPtyEOF: reading a pty master whose slave side is closed gives EIO.
func isPtyEOF(err error) bool { return errors.Is(err, unix.EIO) || errors.Is(err, os.ErrClosed) }

// reaper collects every child that exits (the script and, as subreaper,
// any orphan of it) and reports the script's status.
type reaper struct {
	pid    int // the script: leader of its session and process group
	exited chan int
	quit   chan struct{}
	done   chan struct{}

	// mu is held while reaping, so signalGroup knows the script is not
	// reaped while it signals: until then its pid, and so its group's id,
	// cannot belong to anyone else.
	mu     sync.Mutex
	reaped bool
}

func startReaper(pid int) *reaper {
	r := &reaper{pid: pid, exited: make(chan int, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			var ws unix.WaitStatus
			r.mu.Lock()
			wpid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if wpid == pid {
				r.reaped = true
			}
			r.mu.Unlock()
			if wpid > 0 {
				if wpid == pid {
					r.exited <- statusCode(ws)
				}
				continue
			}
			if err != nil && !errors.Is(err, unix.ECHILD) && !errors.Is(err, unix.EINTR) {
				return
			}
			select {
			case <-r.quit:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return r
}

// signalGroup signals the script's process group, only while the script
// is not reaped; afterwards what is left of the group is ended one by one
// through pidfds (endDescendants).
func (r *reaper) signalGroup(sig unix.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.reaped {
		_ = unix.Kill(-r.pid, sig)
	}
}

func (r *reaper) stop() {
	close(r.quit)
	<-r.done
}

func statusCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// autosuspendOff sets the usbcore autosuspend parameter to -1 for the flash
// (each RCM stage re-enumerates the board, and a suspended port loses it)
// and returns the function that puts the old value back.
func autosuspendOff(path string) func() {
	noop := func() {}
	if path == "" {
		return noop
	}
	old, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "jetup: USB autosuspend left as it is: %v\n", err)
		return noop
	}
	was := strings.TrimSpace(string(old))
	if was == "-1" {
		return noop
	}
	if err := os.WriteFile(path, []byte("-1\n"), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "jetup: USB autosuspend left at %s: %v\n", was, err)
		return noop
	}
	fmt.Fprintf(os.Stderr, "jetup: USB autosuspend off for the flash (was %s)\n", was)
	return func() {
		if err := os.WriteFile(path, []byte(was+"\n"), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "jetup: could not restore USB autosuspend to %s: %v\n", was, err)
			return
		}
		fmt.Fprintf(os.Stderr, "jetup: USB autosuspend restored to %s\n", was)
	}
}
