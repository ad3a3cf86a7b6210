// Package nixrun is the one place jetup runs nix, as lazygit builds every
// git call in one place: flash's script build, media's installer build and
// deploy's build, path-info and copy all go through a Nix. It owns
//
//   - the command line: `--extra-experimental-features "nix-command flakes"`
//     on every call (jetup never asks anyone to edit nix.conf), and the
//     modes that must reach every call at once (Offline; User, to run nix
//     as the person who ran sudo);
//   - `nix build`: the out-link or --no-link, --print-out-paths with the
//     --json fallback for Nix < 2.9, and the PreBuild hook that may refuse
//     a build before nix evaluates anything;
//   - reading nix's stderr: lines through proc.LineWriter (cut at a bound,
//     always drained to EOF), each parsed by the tolerant internal-json
//     reader (ParseLine), kept raw for the step's log, folded into build
//     Progress by one Tracker, and its errors kept for the Error.
//
// Imports proc only: the steps turn Progress and Error into their own
// events and step.Errors.
//
// # In detail
//
// nixrun: the one place jetup runs nix, as lazygit builds every git call
// in one place. `Nix` (one per run, `hardware.Edges.Nix`) owns the command
// line (`--extra-experimental-features "nix-command flakes"` on every call;
// the run-wide modes `Offline` — `--offline` and no substituters — and
// `User`, nix run as the person behind sudo; `Env`) and `PreBuild`, the hook
// that can refuse a build before nix evaluates anything (issue 14's aarch64
// check); `Prebuilt`, the hook that gives a build a store path to stand for
// it (offline, the field kit's: nix builds the path, evaluating nothing) or
// refuses it; `Observe`, told each call's time (offline, the step's
// `nix-calls.log`). A `Call` marked `Local` asks only this machine's store,
// online or not. `Build` is `nix build --log-format internal-json` with the
// out-link or `--no-link` and `--print-out-paths`, falling back to `--json`
// once per nix binary when Nix < 2.9 refuses the flag; `Run` is any other
// call (path-info, copy), stdout bounded. stderr goes through a `Log` (an
// io.Writer on `proc.LineWriter`): each line kept raw for the step's log,
// parsed by the tolerant internal-json reader (`ParseLine`: unknown actions,
// types and keys ignored, anything else a plain line; `Human` is what `nix
// build -L` would show, escape codes stripped by `Clean`), its errors kept
// for `Error.Reason`, and folded by the one build `Tracker` into `Progress`
// (derivations built/total/running from the builds activity, paths fetched
// counted once per substitution, bytes downloaded, the current activity),
// throttled. flash, media and deploy turn `Progress` into their own events.
// Imports `proc`.
package nixrun
