// Package runrec keeps the record of every wizard run and headless step:
// <state-dir>/runs/<UTC time>-<profile>/ with run.json and the step logs.
//
// run.json is rewritten (write to a temp file, then rename) every time a step
// begins or ends or a fact is learned, so a crash or a pulled plug keeps
// everything done up to that moment, and a reader never sees half a file.
//
// # In detail
//
// runrec: run records: `<state-dir>/runs/<UTC time>-<profile>/run.json`
// plus the step logs. run.json is rewritten atomically whenever a step
// begins, ends or learns a fact, so a crash keeps what was done; steps still
// running at `Close` are marked `interrupted`. Retries are separate attempts
// with their own logs (`flash-2.log`). A face opens a step's log with
// `Step.OpenLog` (log.go): a nil-safe `Log` that takes the step's own output
// and prints its events into it (`Tee`, `Printer`, `Stamped`), and tells the
// face once when the file could not be made. Run directories are 0700, logs
// 0600; the recorded command line goes through `RedactCommand` (`--send`
// text, URL passwords and tokens). Imports `step`, `safe`.
//
// `ListSince` passes over run directories older than a time by their names
// (which begin with the UTC start) without reading them. The bench session
// (bench.go): `<state-dir>/bench.json` is today's session (`BenchSession`:
// id, start, its boards in order, each a run id and a label); `OpenBench`
// goes on with it the same local day, moves an earlier day's to
// `bench/<id>.json`, and sets a file it cannot read aside as
// `bench.json.damaged-<time>` (bounded read, every run id and label a
// `safe.Name`) before starting anew. `Add` writes the run's own
// `Record.Bench` (session, place, label) before bench.json, so a board's
// record never depends on the session file; `LabelUsed` finds a label among
// today's bench boards from the run records, `LabelFrom` makes a label of a
// serial the board gave. `Report` (benchreport.go) is the day's report
// (`jetup runs --bench`): each board's steps (last verdict, attempts, time),
// where it failed with cause and next step, done/failed/in flight, and
// boards per hour (done over first start to last end).
package runrec
