package doctor

import (
	"context"
	"fmt"
	"time"

	"github.com/jetup/jetup/step"
)

// Status of one finding.
type Status string

const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Finding is the result of one check. Field names are the --json interface.
type Finding struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status Status `json:"status"`
	// Detail says what was found ("nix (Nix) 2.8.0", "autosuspend 2 s").
	Detail string `json:"detail"`
	// Next says what to do when the status is not ok.
	Next string `json:"next,omitempty"`
	// BlocksFlashing is true when this miss makes a flash impossible.
	BlocksFlashing bool `json:"blocks_flashing"`
	// Fixable is true when --fix can mend it.
	Fixable bool `json:"fixable"`
	// Fixed says what --fix did, when it did something.
	Fixed string `json:"fixed,omitempty"`
	// FixError says why --fix could not mend it.
	FixError string `json:"fix_error,omitempty"`

	fix func(ctx context.Context, e *env) (string, error)
}

// Text renders the finding for the headless face.
func (f Finding) Text() string {
	mark := map[Status]string{OK: "ok  ", Warn: "warn", Fail: "FAIL"}[f.Status]
	s := fmt.Sprintf("%s  %-22s %s", mark, f.Title, f.Detail)
	if f.Fixed != "" {
		s += "\n      fixed: " + f.Fixed
	}
	if f.FixError != "" {
		s += "\n      fix failed: " + f.FixError
	}
	if f.Status != OK && f.Next != "" {
		s += "\n      next: " + f.Next
	}
	return s
}

// Report is every finding of one doctor run.
type Report struct {
	At       time.Time `json:"at"`
	Findings []Finding `json:"findings"`
	// ReadyToFlash is false when any finding blocks flashing.
	ReadyToFlash bool `json:"ready_to_flash"`
}

// Find returns the finding with the given id.
func (r Report) Find(id string) (Finding, bool) {
	for _, f := range r.Findings {
		if f.ID == id {
			return f, true
		}
	}
	return Finding{}, false
}

// Options for Run.
type Options struct {
	// Fix mends what can be mended, then checks again.
	Fix bool
	// More are checks the caller adds after the host's own: what doctor
	// cannot judge without another step's package (the field kit of
	// --profile, issue 20). Each is run once and reported like the rest.
	More []func(ctx context.Context) Finding
}

// env is what every check reads.
type env struct {
	host Host
	user User
}

// Run checks the host, emitting one Finding event per check, and returns the
// report. With Fix, fixable misses are mended and checked again.
func Run(ctx context.Context, h Host, o Options, sink step.Sink) (Report, error) {
	if sink == nil {
		sink = step.Discard
	}
	u, err := h.User()
	if err != nil {
		return Report{}, fmt.Errorf("cannot tell who is running jetup: %w", err)
	}
	e := &env{host: h, user: u}
	rep := Report{At: time.Now().UTC(), ReadyToFlash: true}
	for _, c := range checks {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		f := c(ctx, e)
		if o.Fix && f.Status != OK && f.fix != nil {
			did, ferr := f.fix(ctx, e)
			if ferr != nil {
				f.FixError = ferr.Error()
			} else {
				if nu, err := h.User(); err == nil {
					e.user = nu
				}
				again := c(ctx, e)
				again.Fixed = did
				f = again
			}
		}
		f.Fixable = f.fix != nil && f.Status != OK
		if f.Status == Fail && f.BlocksFlashing {
			rep.ReadyToFlash = false
		}
		rep.Findings = append(rep.Findings, f)
		sink.Emit(f)
	}
	for _, c := range o.More {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		f := c(ctx)
		if f.Status == Fail && f.BlocksFlashing {
			rep.ReadyToFlash = false
		}
		rep.Findings = append(rep.Findings, f)
		sink.Emit(f)
	}
	return rep, nil
}
