package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
)

// Confirm-or-rollback after `push --mode switch` (deploy-rs's "magic
// rollback", learnt from its src/bin/activate.rs, built the jetup way):
// after switch-to-configuration the board shell starts a watcher ON THE
// BOARD, under systemd-run where systemd runs, else in its own session, so
// neither a cut link nor the end of the ssh session can stop it. The
// watcher checks the board's health (systemd's is-system-running --wait
// not degraded, and --health CMD, retried) and then waits for a canary file
// to be removed. jetup must reach the board again over a NEW connection and
// remove it within the confirm timeout; if it cannot (the new system broke
// the network or sshd, the link is gone) or the health check fails, the
// watcher switches back to the previous generation by itself and deletes
// the new one. Unlike deploy-rs, the waiting does not live in the ssh
// session that a dropped link kills (deploy-rs#153), and the previous
// generation is the one recorded before the switch, not "one back".

// DefaultConfirmTimeout is how long the board waits for jetup's
// confirmation after a switch.
const DefaultConfirmTimeout = 120 * time.Second

// Confirm is the confirm-or-rollback the board shell sets up.
type Confirm struct {
	Timeout time.Duration // 0: none
	Health  string        // a command that must pass on the board
}

// confirmDir is the watcher's directory on the board (on /run: it goes
// with a reboot, as the live switch it guards does).
func confirmDir(token string) string { return "/run/jetup-confirm-" + token }

// watcherScript is the switch job: it runs as root on the board,
// detached, with its output in $dir/log. It activates the new generation
// itself, so a link cut in the middle of switch-to-configuration is
// covered as well as one cut after it.
func watcherScript(token string, c Confirm) string {
	return fmt.Sprintf(`# jetup: activate the new system generation, then keep it only if jetup confirms it
PATH="$PATH:%[1]s"; export PATH
dir=%[2]s prev=$1 new=$2 confirm=%[3]d health=%[4]s
exec >>"$dir/log" 2>&1
profile=/nix/var/nix/profiles/system
verdict() { echo "$*" > "$dir/state.new" && mv "$dir/state.new" "$dir/state"; }
rollback() {
  verdict "rolling-back $*"
  echo "jetup: switching back to generation $prev: $*"
  nix-env -p "$profile" --switch-generation "$prev" && "$profile/bin/switch-to-configuration" switch
  [ "$new" != "$prev" ] && nix-env -p "$profile" --delete-generations "$new"
  verdict "rolled-back $*"
  exit 1
}
verdict activating
"$profile/bin/switch-to-configuration" switch
rc=$?
deadline=$(( $(date +%%s) + confirm ))
echo "$rc" > "$dir/rc.new" && mv "$dir/rc.new" "$dir/rc"
verdict "activated $rc"
[ "$rc" = 0 ] || rollback "switch-to-configuration failed (status $rc)"
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  st=$(timeout "$confirm" systemctl is-system-running --wait 2>/dev/null)
  [ "$st" = running ] || rollback "systemd says ${st:-nothing} within ${confirm}s"
fi
while [ -n "$health" ]; do
  left=$((deadline - $(date +%%s)))
  [ "$left" -gt 0 ] || rollback "the health check did not pass within ${confirm}s: $health"
  timeout "$left" sh -c "$health" >"$dir/health.log" 2>&1 && break
  sleep 1
done
verdict healthy
while [ -e "$dir/canary" ]; do
  [ "$(date +%%s)" -lt "$deadline" ] || rollback "no confirmation from jetup within ${confirm}s"
  sleep 1
done
verdict confirmed
`, probePath, confirmDir(token), int(c.Timeout.Seconds()), remote.ShellQuote(c.Health))
}

// confirmShell is the board shell's switch when a confirmation guards
// it: it starts the switch job detached (systemd-run where systemd runs,
// else its own session) and follows its log until the activation ended.
// With no previous generation (nothing to go back to), with --reboot or
// --mode boot, the board shell activates as before.
func confirmShell(token string, c Confirm) string {
	if c.Timeout <= 0 {
		return "confirming=no\n"
	}
	return `confirming=no
if [ "$mode" = switch ] && [ "$then" != reboot ] && [ -n "$prevgen" ] && [ "$prevgen" != "$gen" ]; then
  cdir=` + confirmDir(token) + `
  p=${prevgen%-link}; n=${gen%-link}; p=${p##*-}; n=${n##*-}
  if $SUDO mkdir -m 700 "$cdir" && $SUDO touch "$cdir/canary" "$cdir/log" &&
    $SUDO sh -c 'cat > "$1"' sh "$cdir/job.sh" <<'JETUP_JOB'
` + watcherScript(token, c) + `JETUP_JOB
  then
    if command -v systemd-run >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      $SUDO systemd-run -E LOCALE_ARCHIVE -E NIXOS_INSTALL_BOOTLOADER --unit="jetup-switch-${gate##*-}" --collect --quiet \
        --no-ask-password sh "$cdir/job.sh" "$p" "$n" && confirming=yes
    else
      $SUDO sh -c '(setsid sh "$1" "$2" "$3" </dev/null >/dev/null 2>&1 &)' sh "$cdir/job.sh" "$p" "$n" && confirming=yes
    fi
  fi
fi
if [ "$confirming" = yes ]; then
  say confirm "$cdir"
  $SUDO tail -n +1 -f "$cdir/log" & follow=$!
  until rc=$($SUDO cat "$cdir/rc" 2>/dev/null); do sleep 0.2 2>/dev/null || sleep 1; done
  case "$rc" in ''|*[!0-9]*) rc=1 ;; esac
  if [ "$rc" != 0 ]; then
    st=
    until case "$st" in rolled-back*) true ;; *) false ;; esac; do
      sleep 0.2 2>/dev/null || sleep 1
      st=$($SUDO cat "$cdir/state" 2>/dev/null)
    done
    say rolled_back "${st#rolled-back }"
  fi
  kill "$follow" 2>/dev/null
fi
`
}

// confirmScript runs on a new connection: it waits for the watcher's
// health verdict, removes the canary when healthy, and says how it ended.
func confirmScript(dir, sudo string) string {
	return fmt.Sprintf(`dir=%[1]s SUDO=%[2]s
[ -d "$dir" ] || { echo "jetup:confirm_state=gone"; exit 0; }
while :; do
  st=$(cat "$dir/state" 2>/dev/null)
  case "$st" in
    healthy) $SUDO rm -f "$dir/canary" ;;
    confirmed|rolled-back*) echo "jetup:confirm_state=$st"; exit 0 ;;
  esac
  sleep 1
done
`, remote.ShellQuote(dir), remote.ShellQuote(sudo))
}

// confirm reaches the board again after the switch and confirms it, or
// reports that the board rolled back (or will).
func (p *pusher) confirm(ctx context.Context, dir string) error {
	timeout := p.confirmOpt().Timeout
	p.phase(PhaseConfirm, "confirming the new system: the board switches back by itself unless jetup reaches it again and its health check passes within %s", timeout)
	sudo := ""
	if p.facts.Priv == "sudo" {
		sudo = "sudo -n"
	}
	// Past the board's own deadline a confirmation is no use, but the
	// board's verdict is still worth reading: a little longer.
	deadline := time.Now().Add(timeout + 10*time.Second)
	var lastErr error
	for attempt := 1; time.Now().Before(deadline); attempt++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		state, err := p.confirmOnce(ctx, dir, sudo)
		switch {
		case err == nil && state == "confirmed":
			p.res.Confirmed = true
			p.sink.Emit(RemoteLine{Event: "remote", At: time.Now(), Phase: PhaseConfirm, Line: "confirmed: the new system stays"})
			return nil
		case err == nil && strings.HasPrefix(state, "rolled-back"):
			why := strings.TrimSpace(strings.TrimPrefix(state, "rolled-back"))
			return &step.Error{Cause: string(CauseRolledBack), What: "the board switched back to its previous system: " + why,
				Next: "fix what the health check found (log in and see " + dir + "/health.log), rebuild and push again"}
		case err == nil:
			return step.Errorf(string(CauseNotConfirmed), "log in and check the system profile (nix-env -p /nix/var/nix/profiles/system --list-generations)",
				"the board's confirmation watcher is gone (%s)", state)
		}
		lastErr = err
		fmt.Fprintf(p.log, "confirm attempt %d: %v\n", attempt, err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	return &step.Error{Cause: string(CauseNotConfirmed), Err: lastErr,
		What: fmt.Sprintf("jetup could not reach the board again within %s of the switch", timeout),
		Next: "the board switches back to its previous system by itself; when it is reachable, check it and push again"}
}

func (p *pusher) confirmOnce(ctx context.Context, dir, sudo string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, p.confirmOpt().Timeout+10*time.Second)
	defer cancel()
	conn, err := remote.Redial(cctx, p.edge.SSH, p.o.Target, p.o.Trust,
		remote.DialOptions{KnownHosts: p.o.KnownHosts, Log: p.log, Script: confirmScript(dir, sudo)}, step.Discard)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if st, ok := readConfirmState(conn.Output(), p.log); ok {
		return st, nil
	}
	if err := conn.Wait(); err != nil {
		return "", err
	}
	return "", errors.New("the confirmation session ended without a verdict")
}

// readConfirmState reads the confirmation session's output for its
// verdict line, logging every line. A board's line of any length is read
// past (cut in the log), never an end of the reading: a bufio.Scanner
// stopped at its first line over 64 KiB and reported no verdict for a
// board that had confirmed.
func readConfirmState(out io.Reader, log io.Writer) (string, bool) {
	sc := proc.NewLineScanner(out, lineShown)
	for sc.Scan() {
		fmt.Fprintln(log, "board: "+sc.Text())
		if st, ok := strings.CutPrefix(sc.Text(), "jetup:confirm_state="); ok && !sc.Cut() {
			return st, true
		}
	}
	return "", false
}

func (p *pusher) confirmOpt() Confirm {
	c := Confirm{Timeout: p.o.ConfirmTimeout, Health: p.o.Health}
	if c.Timeout == 0 {
		c.Timeout = DefaultConfirmTimeout
	}
	return c
}
