package flash

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/step"
)

// Defaults for a run.
const (
	DefaultTimeout = 20 * time.Minute
	// DefaultConsoleGrace is how long the output after "Entering console"
	// is read (the device prints why it failed) before the run is ended.
	DefaultConsoleGrace = 4 * time.Second
	// AutosuspendPath is the usbcore parameter the helper turns off.
	AutosuspendPath = "/sys/module/usbcore/parameters/autosuspend"
)

// RunOptions say how to run one flash script.
type RunOptions struct {
	Script      string
	Args        []string // passed to the script after --usb-instance
	USBInstance string   // "1-8.4": passed as --usb-instance when set
	Timeout     time.Duration
	// ConsoleGrace: see DefaultConsoleGrace.
	ConsoleGrace time.Duration
	Helper       Helper
	// Sudo runs the helper through `sudo -n` (the credential must be
	// cached: see SudoPrompt).
	Sudo bool
	// Autosuspend is the usbcore autosuspend parameter file the helper
	// turns off for the run; "" leaves it alone.
	Autosuspend string
	Env         []string // NAME=VALUE for the script (WORKDIR=...)
	Runner      proc.Runner
	// Log receives the raw output as it comes; nil for none.
	Log io.Writer
	// After, when set, stands in for time.After in the run's own waits,
	// each named by what it waits for: a test ends each wait at the event
	// it stands for (the line after "Entering console" has come), so the
	// run's course does not depend on the machine's speed. nil is the clock.
	After func(w Wait, d time.Duration) <-chan time.Time
}

// Wait names one of the run's timed waits (RunOptions.After).
type Wait string

const (
	WaitTimeout      Wait = "timeout"       // Timeout: the whole run
	WaitConsoleGrace Wait = "console-grace" // ConsoleGrace: reading after "Entering console"
	WaitAfterCtrlC   Wait = "after-ctrl-c"  // the script's own end after the Ctrl-C
)

func (o RunOptions) after(w Wait, d time.Duration) <-chan time.Time {
	if o.After != nil {
		return o.After(w, d)
	}
	return time.After(d)
}

var (
	errConsole = errors.New("the device entered its console")
	errTimeout = errors.New("flash timed out")
	errStuck   = errors.New("the board never answers")
)

// Run runs the script under the helper and judges it. It returns when the
// script and everything it started have ended; the verdict is always set,
// the error only when the script could not be started at all.
func Run(ctx context.Context, o RunOptions, sink step.Sink) (Verdict, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.ConsoleGrace <= 0 {
		o.ConsoleGrace = DefaultConsoleGrace
	}
	if o.Runner == nil {
		o.Runner = proc.Host{}
	}
	if sink == nil {
		sink = step.Discard
	}
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go func() {
		select {
		case <-o.after(WaitTimeout, o.Timeout):
			stop(errTimeout)
		case <-runCtx.Done():
		}
	}()

	name, argv := o.command()
	cmd := o.Runner.Command(runCtx, name, argv...)
	// The helper ends the script's processes itself when told to stop:
	// give it SIGTERM and the time to do so (it needs about 5 s at worst)
	// before anything is killed.
	cmd.Cancel = func() error { return signalGroup(cmd, syscall.SIGTERM) }
	cmd.WaitDelay = helperGrace
	pr, pw, err := os.Pipe()
	if err != nil {
		return Verdict{}, err
	}
	defer pr.Close()
	cmd.Stdout, cmd.Stderr = pw, pw
	stdin, err := cmd.StdinPipe()
	if err != nil {
		pw.Close()
		return Verdict{}, err
	}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return Verdict{}, fmt.Errorf("cannot start the flash helper %s: %w", name, err)
	}
	pw.Close()

	c := NewClassifier()
	var consoleOnce sync.Once
	var atConsole atomic.Bool // jetup has begun to end the run at the console
	c.OnSignal = func(s Signal) {
		emitSignal(sink, s)
		if s.Kind == SignalStuck {
			stop(errStuck)
		}
		if s.Kind == SignalConsole {
			consoleOnce.Do(func() { go endAtConsole(runCtx, stdin, o, &atConsole, stop) })
		}
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 32<<10)
		for {
			n, err := pr.Read(buf)
			if n > 0 {
				if o.Log != nil {
					_, _ = o.Log.Write(buf[:n])
				}
				_, _ = c.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()

	// Learn that the helper exited without reaping it: while it is a
	// zombie its pid, and so its group's id, cannot be another process's,
	// so killing what is left of the group reaches only ours. Then reap.
	waitExitNoReap(cmd.Process.Pid)
	_ = signalGroup(cmd, syscall.SIGKILL) // anything of ours left in the helper's group
	werr := cmd.Wait()
	waitDrained(read, pr, time.Second) // a stray holder of the pipe ends it with nothing unread
	_ = pr.Close()
	<-read
	_ = stdin.Close()

	x := Exit{End: EndExited, Code: exitCode(cmd, werr), Timeout: o.Timeout}
	switch cause := context.Cause(runCtx); {
	case errors.Is(cause, errConsole), atConsole.Load():
		x.End = EndConsole
	case errors.Is(cause, errTimeout):
		x.End = EndTimeout
	case errors.Is(cause, errStuck):
		x.End = EndStuck
	case ctx.Err() != nil:
		x.End = EndCancelled
	}
	v := c.Finish(x)
	sink.Emit(VerdictEvent{Event: "verdict", At: now(), Verdict: v})
	return v, nil
}

// command is the helper's command line, through sudo when asked.
func (o RunOptions) command() (string, []string) {
	argv := append([]string(nil), o.Helper.Args...)
	if o.Autosuspend != "" {
		argv = append(argv, "--autosuspend", o.Autosuspend)
	}
	argv = append(argv, "--grace", "2s")
	for _, e := range o.Env {
		argv = append(argv, "--env", e)
	}
	argv = append(argv, "--", o.Script)
	if o.USBInstance != "" {
		argv = append(argv, "--usb-instance", o.USBInstance)
	}
	argv = append(argv, o.Args...)
	if o.Sudo {
		return "sudo", append([]string{"-n", "--", o.Helper.Path}, argv...)
	}
	return o.Helper.Path, argv
}

// endAtConsole: the device failed and dropped into a shell; the script's
// expect now waits for the keyboard for ever. Read what the device says for
// a moment, send the Ctrl-C that expect's interact takes to end (so the
// script prints its own "Flashing may have failed"), then end the group.
func endAtConsole(ctx context.Context, stdin io.Writer, o RunOptions, ended *atomic.Bool, stop context.CancelCauseFunc) {
	select {
	case <-ctx.Done():
		return
	case <-o.after(WaitConsoleGrace, o.ConsoleGrace):
	}
	ended.Store(true)
	_, _ = stdin.Write([]byte{3})
	select {
	case <-ctx.Done():
	case <-o.after(WaitAfterCtrlC, 1500*time.Millisecond):
	}
	stop(errConsole)
}

// helperGrace is how long the helper may take to end the script after
// SIGTERM before jetup kills what it can.
const helperGrace = 8 * time.Second

// signalGroup signals the helper's process group (proc.Group gave it one).
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) || errors.Is(err, syscall.EPERM) {
		return nil
	}
	return err
}

// waitExitNoReap blocks until pid (a child) has exited, leaving it a
// zombie for exec.Cmd.Wait to reap.
func waitExitNoReap(pid int) {
	var si unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &si, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// exitCode is the helper's exit status, 128+n when a signal ended it.
func exitCode(cmd *exec.Cmd, err error) int {
	if cmd.ProcessState == nil {
		return -1
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return cmd.ProcessState.ExitCode()
}

// emitSignal turns the classifier's live signals into events.
func emitSignal(sink step.Sink, s Signal) {
	switch s.Kind {
	case SignalLine:
		sink.Emit(OutputEvent{Event: "output", At: now(), Line: s.Text})
	case SignalStage:
		sink.Emit(StageEvent{Event: "stage", At: now(), Stage: s.Stage, Title: s.Stage.Title(), Line: s.Text})
	case SignalStep:
		sink.Emit(StepEvent{Event: "step", At: now(), Step: s.Step, Steps: s.Steps, Action: stepAction(s.Text)})
	case SignalConsole:
		sink.Emit(NoticeEvent{Event: "warning", At: now(), Message: "the device failed and entered its console; jetup reads what it says, then ends the run"})
	case SignalStuck:
		sink.Emit(NoticeEvent{Event: "warning", At: now(), Message: "the host keeps polling a board that never answers; jetup ends the run"})
	}
}

// stepAction is the text after "Step N/M... ".
func stepAction(line string) string {
	for i := 0; i+3 <= len(line); i++ {
		if line[i:i+3] == "..." {
			j := i + 3
			for j < len(line) && line[j] == ' ' {
				j++
			}
			return line[j:]
		}
	}
	return line
}
