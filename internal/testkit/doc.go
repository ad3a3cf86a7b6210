// Package testkit holds what the project's tests share: the rule for tests
// that need root, a tool or namespaces (skip with a reason on a laptop, fail
// under CI=true), and a virtual terminal for screen-level TUI assertions.
//
// # In detail
//
// internal/testkit: test helpers: `Need*` (skip on a laptop, fail under
// `CI=true`) and `Screen`, a virtual terminal (x/vt) fed with a teatest
// program's output, so TUI tests assert on what a person sees; its `WaitFor`
// looks again whenever the output changed the screen. Tests wait on events,
// never on the clock: `Changes` wakes a waiter at each change of what it
// watches (events collected, bytes read) and fails naming what it waited for
// after a generous bound; `Clock` stands in for `time.After` where code has
// timed waits (`flash.RunOptions.After`), each named and ended by the test
// at the event it stands for; `WaitGone` waits for processes to exit through
// pidfds; `Mark`/`Marked` find what a test's processes left behind.
package testkit
