package verify

import (
	"fmt"
	"strings"
	"time"
)

// The events Run emits. Their JSON encoding is `jetup verify --json`'s
// line format: every line has "event" saying which one it is. Keep names
// stable.

// Planned names a check that will run, before any runs.
type Planned struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Plan lists the checks this run makes, in report order: the wizard draws
// them (each with a spinner) before the first answer arrives.
type Plan struct {
	Event  string    `json:"event"` // "plan"
	At     time.Time `json:"at"`
	Target string    `json:"target"`
	Checks []Planned `json:"checks"`
}

// Text is "checking user@host: booted-system, ...".
func (p Plan) Text() string {
	ids := make([]string, len(p.Checks))
	for i, c := range p.Checks {
		ids[i] = c.ID
	}
	return fmt.Sprintf("verifying %s: %s", p.Target, strings.Join(ids, ", "))
}

// Check is one check's verdict.
type Check struct {
	Event  string    `json:"event"` // "check"
	At     time.Time `json:"at"`
	ID     string    `json:"id"`
	Title  string    `json:"title"`
	Status string    `json:"status"` // ok, warn, fail, not-enabled
	Detail string    `json:"detail"`
	// Next is what to do about it; set for every status but ok.
	Next string `json:"next,omitempty"`
	// Cause says why a failed check failed when it was not the board's
	// fault (bad-input, bad-output, not-run).
	Cause string `json:"cause,omitempty"`
	// Seconds is how long the check took on the board (waits included).
	Seconds float64 `json:"seconds"`
}

// Text renders "ok    Booted system   detail" and, below, the next step.
func (c Check) Text() string {
	mark := map[string]string{OK: "ok  ", Warn: "warn", Fail: "FAIL", NotEnabled: "n/a "}[c.Status]
	s := fmt.Sprintf("%s  %-14s %s", mark, c.Title, c.Detail)
	if c.Status != OK && c.Next != "" {
		s += "\n      next: " + c.Next
	}
	return s
}

// Waiting says a check is waiting for the board (the k3s node to become
// Ready, a pod to finish), with the last thing it saw.
type Waiting struct {
	Event string    `json:"event"` // "waiting"
	At    time.Time `json:"at"`
	ID    string    `json:"id"`
	// What is the last state seen ("Ready=False KubeletNotReady: ...").
	What    string  `json:"what"`
	Elapsed float64 `json:"elapsed_seconds"`
	Limit   float64 `json:"limit_seconds"`
}

// Text is "k3s-node: waiting (12s of 3m0s): Ready=False ...".
func (w Waiting) Text() string {
	return fmt.Sprintf("%s: waiting (%s of %s): %s", w.ID, secs(w.Elapsed), secs(w.Limit), w.What)
}

func secs(s float64) string { return (time.Duration(s) * time.Second).String() }

// Result is the verdict of the whole run: the last --json line and the
// run record's details.
type Result struct {
	Event       string  `json:"event"` // "result"
	Target      string  `json:"target"`
	Fingerprint string  `json:"fingerprint,omitempty"`
	Hostname    string  `json:"board_hostname,omitempty"`
	System      string  `json:"system,omitempty"`   // what /run/current-system is
	Expected    string  `json:"expected,omitempty"` // the pushed toplevel it was compared with
	Checks      []Check `json:"checks"`
	OK          int     `json:"ok"`
	Warned      int     `json:"warned"`
	Failed      int     `json:"failed"`
	NotEnabled  int     `json:"not_enabled"`
	Seconds     float64 `json:"seconds"`
}

// count fills the tallies from Checks.
func (r *Result) count() {
	r.OK, r.Warned, r.Failed, r.NotEnabled = 0, 0, 0, 0
	for _, c := range r.Checks {
		switch c.Status {
		case OK:
			r.OK++
		case Warn:
			r.Warned++
		case Fail:
			r.Failed++
		case NotEnabled:
			r.NotEnabled++
		}
	}
}

// FailedIDs are the checks that failed.
func (r *Result) FailedIDs() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Status == Fail {
			out = append(out, c.ID)
		}
	}
	return out
}

// ExitCode is 0 when nothing failed (warnings and not-enabled checks
// pass), 2 when a check could not run because of bad input (a --workload
// that is not a Pod), 1 when the board failed a check.
func (r *Result) ExitCode() int {
	code := 0
	for _, c := range r.Checks {
		switch {
		case c.Status != Fail:
		case c.Cause == CauseBadInput:
			return 2
		default:
			code = 1
		}
	}
	return code
}

// Text is the verdict line.
func (r Result) Text() string {
	s := fmt.Sprintf("verified %s in %.1fs: %d ok, %d warn, %d failed, %d not enabled", r.Target, r.Seconds,
		r.OK, r.Warned, r.Failed, r.NotEnabled)
	if f := r.FailedIDs(); len(f) > 0 {
		s += " (failed: " + strings.Join(f, ", ") + ")"
	}
	return s
}
