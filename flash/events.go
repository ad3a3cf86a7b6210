package flash

import (
	"fmt"
	"time"

	"github.com/jetup/jetup/nixrun"
)

// The flash step's events. Their JSON encoding is the `jetup flash --json`
// line format: every line has "event" saying which kind it is. Keep the
// field names stable.

// StageEvent says the run reached a stage.
type StageEvent struct {
	Event string    `json:"event"` // "stage"
	At    time.Time `json:"at"`
	Stage Stage     `json:"stage"`
	Title string    `json:"title"`
	Line  string    `json:"line,omitempty"` // the line that showed it
}

// Text renders "▸ RCM boot over USB".
func (e StageEvent) Text() string { return "▸ " + e.Title }

// StepEvent is the device's "Step N/M... action" progress.
type StepEvent struct {
	Event  string    `json:"event"` // "step"
	At     time.Time `json:"at"`
	Step   int       `json:"step"`
	Steps  int       `json:"steps"`
	Action string    `json:"action"`
}

// Fraction is the share of the device's steps finished, in [0,1].
func (e StepEvent) Fraction() float64 {
	if e.Steps <= 0 {
		return 0
	}
	return float64(e.Step-1) / float64(e.Steps)
}

// Text renders "  step 3/13: Writing ...".
func (e StepEvent) Text() string {
	return fmt.Sprintf("  step %d/%d: %s", e.Step, e.Steps, e.Action)
}

// OutputEvent is one line of the script's output, cleaned of escape codes.
type OutputEvent struct {
	Event string    `json:"event"` // "output"
	At    time.Time `json:"at"`
	Line  string    `json:"line"`
}

// Text is the line, indented.
func (e OutputEvent) Text() string { return "  | " + e.Line }

// NoticeEvent is something the person should know (a warning) or a plain
// note (which script runs, the board found).
type NoticeEvent struct {
	Event   string    `json:"event"` // "notice" or "warning"
	At      time.Time `json:"at"`
	Message string    `json:"message"`
	Next    string    `json:"next,omitempty"`
}

// Text renders the notice.
func (e NoticeEvent) Text() string {
	s := e.Message
	if e.Event == "warning" {
		s = "warning: " + s
	}
	if e.Next != "" {
		s += " (" + e.Next + ")"
	}
	return s
}

// BuildEvent is the progress of `nix build` for the flash script: the
// Nix runner's Progress (built/total/running derivations,
// downloaded/downloads paths, bytes, activity, done) with the ref.
type BuildEvent struct {
	Event string    `json:"event"` // "build"
	At    time.Time `json:"at"`
	Ref   string    `json:"ref"`
	nixrun.Progress
}

// Text renders "build REF: 3/10 built, 12/40 fetched, 120.0 MiB downloaded · building x".
func (e BuildEvent) Text() string { return e.Line(e.Ref) }

// VerdictEvent is the end of a run: the classifier's judgement.
type VerdictEvent struct {
	Event string    `json:"event"` // "verdict"
	At    time.Time `json:"at"`
	Verdict
}

// Text renders the outcome, the cause and the next step.
func (e VerdictEvent) Text() string {
	switch e.Outcome {
	case Success:
		return "✓ flashed: " + e.Hint
	case Failed:
		return fmt.Sprintf("✗ flash failed at %q: %s (%s)\nnext: %s", e.Stage.Title(), e.What, e.Cause, e.Hint)
	}
	return fmt.Sprintf("… flash incomplete at %q (%s)\nnext: %s", e.Stage.Title(), e.Cause, e.Hint)
}

func now() time.Time { return time.Now().UTC() }
