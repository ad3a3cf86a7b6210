package proc

import (
	"context"
	"errors"
	"os/exec"
	"syscall"
	"time"
)

// Grace is how long a process group has between SIGTERM and SIGKILL.
const Grace = 3 * time.Second

// Runner makes commands. Implementations must return commands prepared with
// Group (or equivalent) so that cancelling ctx ends the whole process group.
type Runner interface {
	Command(ctx context.Context, name string, args ...string) *exec.Cmd
	LookPath(name string) (string, error)
}

// Host runs programs on this machine, as jetup or, with User, as that user.
type Host struct {
	User *User
}

// Command returns exec.CommandContext(ctx, name, args...) prepared with
// Group, and set to run as h.User when there is one.
func (h Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	Group(cmd)
	h.User.Apply(cmd)
	return cmd
}

// LookPath is exec.LookPath.
func (Host) LookPath(name string) (string, error) { return exec.LookPath(name) }

// Group puts cmd in a new process group (unless the caller already asked for
// a new session, as creack/pty does) and makes context cancellation end the
// whole group: SIGTERM now, SIGKILL after Grace if anything is left. Call it
// before Start. cmd must have been made with exec.CommandContext for the
// cancellation part to apply.
func Group(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	if !cmd.SysProcAttr.Setsid {
		cmd.SysProcAttr.Setpgid = true
	}
	cmd.Cancel = func() error { return EndGroup(cmd) }
	// After Cancel, Wait gives the group Grace to exit before closing pipes
	// and killing the leader; EndGroup's own timer kills the rest.
	cmd.WaitDelay = Grace + time.Second
}

// EndGroup sends SIGTERM to cmd's process group and SIGKILL after Grace.
// It returns at once; safe to call more than once and after exit.
func EndGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	pgid := cmd.Process.Pid
	err := syscall.Kill(-pgid, syscall.SIGTERM)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	go func() {
		time.Sleep(Grace)
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}()
	return err
}

// GroupAlive reports whether any process of the group led by pid is left.
func GroupAlive(pgid int) bool {
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
