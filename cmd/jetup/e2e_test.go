package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testkit"
)

// tmuxTerm runs the real jetup binary in a real terminal (tmux) and drives
// it the way a person does: keys in, screen out.
type tmuxTerm struct {
	t      testing.TB
	socket string
}

func newTmux(t testing.TB, w, h int, env []string, args ...string) *tmuxTerm {
	t.Helper()
	return newTmuxCmd(t, w, h, env, append([]string{binary}, args...))
}

// newTmuxCmd is newTmux for a whole command line: jetup behind a wrapper
// (a network namespace, a private store). Env values and arguments are
// quoted for the shell.
func newTmuxCmd(t testing.TB, w, h int, env []string, cmdline []string) *tmuxTerm {
	t.Helper()
	testkit.NeedCommands(t, "tmux")
	tm := &tmuxTerm{t: t, socket: fmt.Sprintf("jetup-e2e-%d-%d", os.Getpid(), time.Now().UnixNano())}
	// If the test binary dies (a go test timeout), t.Cleanup never runs and
	// the tmux server would keep jetup alive: bound the pane's life instead.
	// --foreground keeps jetup in the terminal's foreground process group.
	var words []string
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		words = append(words, k+"="+shQuote(v))
	}
	for _, a := range append([]string{"timeout", "--foreground", "-k", "5", "600"}, cmdline...) {
		words = append(words, shQuote(a))
	}
	shell := strings.Join(words, " ") + "; echo JETUP-EXIT=$?; sleep 30"
	tm.run("new-session", "-d", "-s", "e2e", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), shell)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", tm.socket, "kill-server").Run() })
	return tm
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func (tm *tmuxTerm) run(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", tm.socket}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

// keys sends tmux key names ("Enter", "Down", "q", "/").
func (tm *tmuxTerm) keys(k ...string) { tm.run(append([]string{"send-keys", "-t", "e2e"}, k...)...) }

func (tm *tmuxTerm) screen() string { return tm.run("capture-pane", "-p", "-t", "e2e") }

// screenBound is how long a test waits for a screen before it fails: only
// a guard against a hang, far beyond what any screen takes on a busy
// machine (the wizard runs in another process: its screen is read with
// tmux capture-pane).
const screenBound = 2 * time.Minute

// waitFor waits until the screen shows every string, or fails showing it.
func (tm *tmuxTerm) waitFor(want ...string) string {
	tm.t.Helper()
	return testkit.WaitForText(tm.t, screenBound, tm.screen, want...)
}

// pickThroughHostCheck picks profile in the board picker by filtering for
// its name, as a person does, and continues past the host check.
func (tm *tmuxTerm) pickThroughHostCheck(profile string) {
	tm.t.Helper()
	tm.waitFor("Which board is on the bench?")
	tm.keys("/")
	tm.keys("-l", profile)
	tm.waitFor(profile)
	tm.keys("Enter", "Enter")
	tm.waitFor("▸ Check host", "12 checks:")
	tm.keys("Enter")
}

// writeTheInstaller takes the Write step's defaults: the profile's
// installer on the first stick, confirmed, written and verified.
func (tm *tmuxTerm) writeTheInstaller() {
	tm.t.Helper()
	tm.waitFor("▸ Write", "Which image goes on the stick?")
	tm.keys("Enter")
	tm.waitFor("Pick the stick")
	tm.keys("Enter")
	tm.waitFor("Press y")
	tm.keys("y")
	tm.waitFor("written and verified")
	tm.keys("Enter")
}

// recoverThroughVerify answers a simulated Jetson's steps from Recover to
// a passed Verify, taking every default: recover, flash, write the
// installer, watch it boot and set up SSH from the console (k), push with
// the key the console vouched for, verify; it leaves the Summary coming.
func (tm *tmuxTerm) recoverThroughVerify() {
	tm.t.Helper()
	tm.waitFor("▸ Recover", "enter: use this board")
	tm.keys("Enter")
	tm.waitFor("✓ Flash")
	tm.writeTheInstaller()
	tm.waitFor("▸ Watch", "▸shell", "continue with 192.168.55.1")
	tm.keys("k")
	// Not the key's line on the console: the screen shows a line's
	// text before the line has ended, and the console vouches for the
	// key once it has (on a busy machine Enter got to Push first, and
	// Push asked about a key it did not know yet).
	tm.waitFor("host key printed")
	tm.keys("Enter")
	tm.waitFor("▸ Push", "Push the system to the board")
	tm.keys("Enter")
	tm.waitFor("matches the board's console", "✓ pushed")
	tm.keys("Enter")
	tm.waitFor("▸ Verify", "✓ the board works")
	tm.keys("Enter")
}
