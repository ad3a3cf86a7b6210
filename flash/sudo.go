package flash

import (
	"context"
	"os"
	"os/exec"
	"time"

	"github.com/jetup/jetup/proc"
)

// Running the script as root without running jetup as root: jetup checks
// the person's sudo credential first (SudoPrompt: the TUI hands the
// terminal to it with tea.ExecProcess, the headless command lets it prompt
// on the terminal), then runs the helper with `sudo -n`, which never
// prompts. sudo keeps one credential per terminal and session, so the
// helper is started in jetup's own session (a new process group, not a new
// session); the helper makes the script's pty. Verified with Debian's sudo
// 1.9.13 (use_pty on) for a non-root user in a tmux terminal: `sudo -n` on
// a fresh pty in a new session fails with "a password is required" after
// `sudo -v`; `sudo -n` from jetup's session succeeds.

// NeedsSudo reports whether jetup must go through sudo to be root.
func NeedsSudo() bool { return os.Geteuid() != 0 }

// SudoCached reports whether `sudo -n` works now without a password (a
// cached credential or a NOPASSWD rule).
func SudoCached(ctx context.Context, r proc.Runner) bool {
	if r == nil {
		r = proc.Host{}
	}
	if _, err := r.LookPath("sudo"); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return r.Command(ctx, "sudo", "-n", "-v").Run() == nil
}

// SudoPrompt is `sudo -v` with a prompt that says why: run it on the
// person's terminal (its stdio unset). It must stay in jetup's foreground
// process group to read the password, so it is not started through
// proc.Group; it only validates and exits.
func SudoPrompt() *exec.Cmd {
	return exec.Command("sudo", "-v", "-p", "jetup runs the flash script as root. [sudo] password for %p: ")
}

// keepSudo refreshes the credential while a long build runs, so the flash
// can start without asking again; it stops when ctx ends.
func keepSudo(ctx context.Context, r proc.Runner, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = r.Command(ctx, "sudo", "-n", "-v").Run()
		}
	}
}
