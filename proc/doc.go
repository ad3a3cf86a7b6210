// Package proc starts external programs so that none outlives jetup: every
// child gets its own process group, and when its context ends the whole group
// is sent SIGTERM, then SIGKILL after a grace period. The flash script's
// expect/tio children, a stuck `nix copy`, an `xz` pipe: all are ended the
// same way.
//
// Runner is the command-runner hardware edge: cmd/jetup passes Host{} for
// the real machine and a sim runner under --sim.
//
// # In detail
//
// proc: starting external programs so that none outlives jetup: each
// child in its own process group, SIGTERM to the group when its context ends
// and SIGKILL after a grace period. `Runner` is the command-runner hardware
// edge. `LineWriter` (push: an io.Writer for `exec.Cmd`), `LineScanner`
// (pull: Scanner-like, for the board shell's output) and `ReadLines` are the
// one way to read a child's, a board's or a file's output by lines: a line
// longer than the bound (`MaxLine`, 1 MiB) is handed over cut and the rest
// of it dropped, reading goes on to EOF and the read error is returned, so
// no child ever blocks on a pipe nobody drains (never a `bufio.Scanner`,
// which stops at its first long line). `CappedBuffer` keeps a bounded stdout
// and still drains. `User` is who a command runs as (`Apply`: uid, gid,
// groups, HOME, USER); `Invoking` is the person who ran sudo when jetup runs
// as root under it, and `Host{User}` runs commands as them: `hardware.Real`
// gives the installer build (`media.NixBuilder.User`, `nixrun.Build.User`)
// and the decompressors (`hardware.Edges.Unprivileged`) that user, so under
// sudo only the disk's open and write run as root. Imports nothing of ours.
package proc
