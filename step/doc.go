// Package step is the contract every bring-up step shares: the typed events a
// step emits while it runs, the sinks that carry them to a face (TUI,
// headless text, JSON lines, run record), and the error that tells the person
// what happened and what to do next.
//
// A step is a function with a context, its options and a Sink; it returns a
// result or an *Error. The same events feed every face, so a bug fixed in a
// step is fixed in all of them.
//
// # In detail
//
// step: the contract every step shares: `ID`s (`doctor`, `detect`,
// `flash`, `console`, `write`, `push`), the `Event`/`Sink` stream (`Printer`
// for the headless face, `Tee`), shared event types (`Log`, `Warning`,
// `Progress`), and `Error` with cause id, next step and exit code. `Printer`
// prints each line through `safe.Text`. Imports `safe`.
package step
