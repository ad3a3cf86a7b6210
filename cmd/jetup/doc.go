// Command jetup brings up NVIDIA Jetson boards and Raspberry Pis with NixOS:
// the wizard with no arguments, one subcommand per step for scripts.
//
// This package is the wiring: flags, subcommands, and the one place that
// picks the real machine or the simulated bench.
//
// # In detail
//
// cmd/jetup: the CLI (cobra, styled by fang): global flags (`--profile`,
// `--sim`, `--state-dir`, `--json`), one file per subcommand, the wizard's
// start, and `recordStep`, which wraps every headless step in its own run
// record. It is the only place that picks real or simulated hardware
// (`app.hardware()`). Exit codes come from `step.ExitCodeOf`. May import
// everything.
//
// # Why
//
//   - fang on cobra: styled help and errors for free, completions and man
//     page; our own error handler prints the next step and the exit code is
//     ours.
package main
