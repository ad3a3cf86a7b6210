// Package serialcon is the console step (the wizard's Watch, `jetup console`):
// it finds and opens a board's serial console, follows it across unplugs,
// logs it raw and as text, and recognises the boot's stages, facts and known
// dead ends.
//
// # In detail
//
// serialcon (the console step): `Ports` is its hardware edge (`List`,
// `Open`; `System` is the machine: go.bug.st/serial's enumerator plus sysfs
// for the USB interface number and the `/dev/serial/by-id` name, an
// exclusive open with TIOCEXCL and a flock as tio takes, the input flushed
// on the first open only). `Rank` orders ports for a profile (its
// `console.bridges`, the port position its `console.devices` name on a
// multi-port debug MCU or quad bridge, known USB-TTL chips) and never offers
// the jetpack-nixos flash gadget 1d6b:0104. `Console.Run` is the session
// (session.go; following the port, waiting for it and reopening it, is
// follow.go): it waits for the port, reads it with a 50 ms timeout
// (go.bug.st/serial's `(0, nil)`), tells an unplug from its own close (the
// library reports both as PortClosed, so the device marks its own close),
// reopens the same by-id name or the same USB id + serial after an unplug
// without flushing, writes `console.raw` and a timestamped `console.log`
// with a marked line at each disconnect/reconnect, and emits `Output`
// batches at most ~30 times a second through an emitter that never makes the
// reader wait. Its error cause ids are typed (`Cause`, cause.go). A small
// ECMA-48 parser (`vtparse.go`, CP437 for PC-ANSI bytes) feeds both the line
// cooker (`cook.go`: escapes dropped, `\r` and same-row cursor moves rewrite
// the line; it makes the text log and feeds the recogniser) and `Term`
// (`term.go`: the TUI pane's emulator, a cell screen whose rows scroll into
// a bounded 100k-row history of strings, with search). `Watcher` recognises
// the stages (`mb1` ... `shell`) and facts (`firmware-version`,
// `nixos-version`, `hostname`, `ip`, `error`, `host-key`, `model`) with
// substring checks before any regular expression; a capture that starts late
// is placed by lines from inside a stage (MB1/MB2's `[0000.061] I>` log,
// OP-TEE, L4TLauncher, the kernel's time stamps; a Pi's firmware and
// U-Boot), which only move the boot forward, never back; known dead ends are
// `Finding`s with a next step (findings.go: L4TLauncher's extlinux fallback,
// UEFI asserts, MB1/MB2 critical errors, kernel panics...), judged on the
// real captures in `testdata/real/`; `Scan` runs it over saved logs;
// `IsUEFIShell` tells the EDK2 shell's prompt from a Linux one (both are the
// `shell` stage). Imports `step`, `profiles`.
//
// # Why
//
//   - go.bug.st/serial for the console (the issue names it): termios,
//     TIOCEXCL, and a read that a close wakes. Its enumerator misses the USB
//     interface number and by-id names, which serialcon reads from sysfs
//     itself.
//   - The console pane's emulator is serialcon's own `Term`, not
//     charmbracelet/x/vt: x/vt copies the whole screen on each scroll (1.7
//     MB/s at 181x56 here) and keeps history as cells (about 1 GB for 100k
//     rows); `Term` takes 36 MB/s with a 100k-row history of strings. x/ansi
//     still measures and cuts the rows. testkit's `Screen` keeps using x/vt,
//     where speed does not matter.
package serialcon
