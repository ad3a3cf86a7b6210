// Package flash runs the jetpack-nixos UEFI flash script as root under a
// pty, turns its output into stages and a Step N/M progress bar, and
// explains every outcome with a cause id and the next step for the person.
//
// The same Classifier judges a live run and any saved log (ours, the
// script's own, a forum paste), so `jetup flash`, `jetup diagnose` and the
// wizard always agree.
//
// # In detail
//
// flash (the runner; recovery detection is `flash/detect`): `Flash` is
// the step: find the board (`BoardFinder`; `USBFinder` is detect's scan of
// the bench's USB bus, so flash and detect agree; none is a refusal before
// anything is built, unless `--script`), get the script (`ResolveScript` for
// a result link, or `Build`: the profile's flash attribute built by the Nix
// runner, its progress as `BuildEvent`s), get root, `Run`, judge. `Run`
// starts `[sudo -n] jetup __flash-helper -- SCRIPT` in a new process group
// of jetup's session; the helper (`HelperMain`, root) puts the script on a
// creack/pty in its own session, is child subreaper, turns USB autosuspend
// off and back, relays output, and on SIGTERM, a closed pipe or its parent's
// death ends the script's group and then every descendant. `Classifier` is
// the one judge for live runs and saved logs: lines split on \n and \r,
// escape codes stripped, ~80 markers (`rules.go`, from research/jetpack.md
// 1.3 and 3) found in one pass by a two-byte bucket matcher; it tracks
// stages, Step N/M, attempts and the cause with the strongest evidence. The
// verdict is the last attempt's: a failure followed by a line only a run
// that got further prints (a later stage or step, the board answering)
// becomes a retry (`retries`, with its evidence), and the script's own
// failure verdicts (`Final status: FAILED`, `Flashing may have failed`, the
// device's console) are final for their run. `testdata/real/` holds real
// transcripts from issues and forums (each names its source), judged by a
// table test. Live signals end a run at "Entering console" (after a Ctrl-C
// to expect's interact) and in an endless applet poll. `Edge` is the
// hardware edge: `Host` builds and needs root; `sim.FlashEdge` hands out a
// replay script of a composed run.
//
// # Why
//
//   - The flash helper: `sudo -n` only sees the credential `sudo -v` cached
//     when it runs in the person's terminal session, and with Debian's
//     `use_pty` a sudo on a tty sends the command's output to the person's
//     terminal, not to jetup. So sudo gets plain pipes in jetup's session and
//     the helper, already root, makes the pty. Verified for a non-root user in
//     tmux with sudo 1.9.13: headless prompt, the TUI's `tea.ExecProcess(sudo
//     -v)`, Ctrl-C, quitting the wizard and SIGKILL of jetup all leave no
//     process, root-owned ones included.
//   - creack/pty for the script's terminal (the issue names it; the standard
//     library has none).
//   - The classifier matches fixed strings with its own bucket table instead
//     of a regexp alternation: ~300 MB/s against a 50 MB/s target, no
//     allocation per line.
package flash
