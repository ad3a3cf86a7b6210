// Package doctor checks the host before a bring-up: can this machine flash a
// Jetson, and what should the person change. Each check says what it found
// and what to do; some can fix themselves (jetup doctor --fix), running only
// the commands that need root as root.
//
// # In detail
//
// doctor: host checks and fixes behind a small `Host` interface
// (`OSHost` is the machine, `MemHost` an in-memory host for tests and
// `--sim`). Fixes run only the commands that need root through sudo. Imports
// `step`, `proc`, `assets`. `aarch64-builder` (aarch64.go) tells whether Nix
// here can build a board's aarch64-linux system (binfmt_misc's qemu-aarch64
// with the F flag or in extra-sandbox-paths plus `extra-platforms`, or an
// aarch64 builder from nix.conf or /etc/nix/machines answering `nix store
// ping`), with the next step for NixOS and Debian/Ubuntu (`--fix` does the
// latter); `AArch64Preflight` is the same check as the Nix runner's PreBuild
// (hardware.Real): a build whose `nixrun.Build.System` is aarch64-linux (a
// push's) stops before evaluation. `Options.More` takes checks doctor cannot
// make without another step's package (the CLI hands in `field-kit` for
// `--profile`, judged by `kit.Judge`).
package doctor
