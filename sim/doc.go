// Package sim is the simulated bench: parts that stand in for the hardware a
// build machine or a demo does not have (a board in recovery mode, its serial
// console, a USB stick, an SSH target). Each part is honest: it behaves like
// the real one as research/ and testdata/ describe it, with realistic pacing,
// so the demo and the tests exercise the same code as a real bring-up.
//
// # In detail
//
// sim: the simulated bench for `--sim` and for tests that need the
// hardware we cannot have here (a board in recovery mode, its console, a USB
// stick, an SSH target). Each part behaves like the real one as research and
// testdata describe it. Its files (replay scripts it runs, the stick image)
// live in a fresh 0700 `os.MkdirTemp` directory per process, never a fixed
// shared one. Imports `hardware` and the domain packages. `push.go` is a
// Jetson booted from the installer stick at 192.168.55.1: its own host key,
// a 850-path 1.2 GiB aarch64 closure, the board shell's answers (probe,
// delta, gate, nixos-install output), copies paced at 35 MiB/s logged as Nix
// 2.8 logs them, and a store that keeps what arrived; other hosts are
// unreachable, users other than root and nixos are refused. One file per
// fake: push.go the board (its closure, key, gates and board shell),
// push_nix.go this machine's Nix (`simNix`), push_ssh.go the SSH dialer and
// connection (`simSSH`, `simConn`). `serial.go` and `shell.go` are the same
// board's console: once at its shell prompt it answers `ssh-keygen -lf` with
// its host keys (in `sim.Hardware()`, the push target's), and prints nothing
// for the key install; before the prompt it only echoes.
// `BoardOptions.HoldAt` stops the boot just before a stage (as serialcon's
// own Scan sees it) until `Release`, so a test that needs the board at an
// earlier stage waits on `Held`, not on the clock. `verifyboard.go` is the
// same board after its push, answering verify's board shell (reached through
// the same simulated SSH and host key): the pushed system running, nvgpu's
// nodes, nvidia-smi 540.4.0, the toolkit's CDI spec, podman, a k3s node
// Ready on the third look, a workload pod that succeeds; `--sim-verify
// FAILURE` (`VerifyFailures`) makes one check fail as a real board would.
// The bench is the profile's board (boards.go): the flash replay
// (flashruns.go) names the profile's flash target, board id, boardspec,
// device tree and L4T release, an AGX Xavier erases its eMMC boot
// partitions; the console boot (`BootFor`, boot.go) is its SoC's MB1/MB2
// lines, its JetPack's UEFI and kernel versions, its device tree model and
// kernel console, and a Raspberry Pi boots through its firmware and U-Boot
// with no flash step. The console learns the board through serialcon's
// optional `BoardExpecter` (`SerialBench.ExpectBoard`); what depends only on
// the SoC is a small table in boards.go, the rest comes from the profile
// files. The same board takes `jetup update` (update.go): it answers the
// update's board shell with systemd-sysupdate's and SWUpdate's own output
// shapes, keeps the sysupdate files it received (a second update sends
// nothing) and its version.
package sim
