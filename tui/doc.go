// Package tui is the wizard: a Bubble Tea v2 program whose root model shows
// the step list, the active step's screen and the key help, and routes
// messages to one screen per step. Screens run domain steps as Tasks and
// turn their events into views; the TUI itself never runs a process, opens a
// device or parses a log.
//
// # In detail
//
// tui: the Bubble Tea v2 wizard. `Model` (model.go) owns the frame:
// header, step list, the active screen, key help, quit confirmation, and the
// run record's step attempts; flow.go moves between steps (by step id, never
// by position) and keeps the record honest. Each step has a `Screen`
// (screen.go: Init, Update, View, SetSize, Keys, CapturesKeys; optional
// `Leaver`, `CtrlCPasser`), and a screen's file registers it with one call,
// `register(step.X, "Title", newXScreen)`; a step without one gets
// notbuilt.go's screen, which says plainly that it is not built yet. The
// picker (picker.go) comes first, the summary (summary.go) last;
// remembered.go keeps the last profile (tui.json), text.go the helpers that
// fit words to the content area. Screens run domain steps as `Task`s
// (session.go): events arrive as `TaskEventMsg`, the end as `TaskDoneMsg`;
// quitting cancels every task and waits for it, so child processes end and
// devices are released. Every `DoneMsg` names the attempt it ends
// (screen.go's `attempt`: the one the screen's work began in, or
// `Session.doneNow` for an end the person asks for); the root and a board
// in flight drop one whose attempt is closed, and a retry records its new
// attempt before its work starts (the work's log is that attempt's). Keys are the same on every screen (enter, esc, q,
// ?). Imports the domain packages, `hardware`, `profiles`, `runrec`, `step`.
// The Watch screen is console.go (state, keys, events), console_view.go
// (track, facts, mode line), console_keys.go (what a key sends to the board)
// and scrollback.go, the pane as a component with its own
// SetSize/Update/View (the emulator, following, scrolling, search) as
// bubbles' viewport is. The push screen (push.go, push_form.go,
// push_view.go) takes the host from the console step's facts (ip, hostname;
// host_key vouches for the board's key), asks about a new key through
// `deploy.Options.Prompt` (y/n), offers f after a changed key, and draws the
// checklist, delta, progress bar and the board's output from deploy's
// events. It records its user and identity as the `ssh_user` and
// `ssh_identity` facts; the console screen's `k` (console_ssh.go) looks the
// public key up for them in the background and types `deploy.ConsoleSetup`
// into the board's shell, only at a Linux shell prompt.
//
// Its tests treat screens as values: drive_test.go's driver runs the `Model`
// as Bubble Tea does without a terminal (Update on the test's goroutine,
// commands in goroutines, View with the styles stripped, looked at once a
// frame) and `driveStep` opens the wizard on one step without running the
// host check; waits end at the message that makes them true, bounded by a
// generous 60 s. Each screen keeps one walk through a real program (teatest
// and testkit's `Screen`) that shares its value test's body. The tests run
// in parallel (TestMain allows 8, with an empty home and no ssh-agent); the
// write tests, which share the simulated stick, run in order inside one
// parallel test.
//
// The push screen, with no address in the form, offers `o`: an offline
// bundle instead (push_offline.go: `bundle.Write` against the manifest kept
// for the console's host key). Every wizard board joins today's bench
// session (bench.go, `runrec.OpenBench`); a damaged bench.json is set aside
// with a word in the footer.
//
// # Why
//
//   - The Recover screen's watch runs with `Session.StartWatch`: waiting for a
//     board is not work in progress, so esc and q do not ask to stop it. When
//     the board is not the profile's module, `ChangeProfileMsg` takes the
//     person back to the picker (the run so far is closed, a new one starts).
package tui
