package runrec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/jetup/jetup/step"
)

// Step is one running attempt of a step inside a Run.
type Step struct {
	run   *Run
	index int
}

// ID of the step.
func (s *Step) ID() step.ID {
	s.run.mu.Lock()
	defer s.run.mu.Unlock()
	return s.run.rec.Steps[s.index].Step
}

// Run the step belongs to.
func (s *Step) Run() *Run { return s.run }

// CreateLog creates a log file for this step in the run directory and lists
// it in run.json. The file is named "<step>.<suffix>" ("flash.log",
// "console.raw"), with "-<attempt>" after the step for retries
// ("flash-2.log"). The caller closes it.
func (s *Step) CreateLog(suffix string) (*os.File, error) {
	s.run.mu.Lock()
	defer s.run.mu.Unlock()
	rec := &s.run.rec.Steps[s.index]
	name := string(rec.Step)
	if rec.Attempt > 1 {
		name = fmt.Sprintf("%s-%d", name, rec.Attempt)
	}
	name += "." + strings.TrimPrefix(suffix, ".")
	f, err := os.OpenFile(filepath.Join(s.run.dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot create log %s: %w", name, err)
	}
	rec.Logs = append(rec.Logs, name)
	_ = s.run.save()
	return f, nil
}

// SetDetails stores step-specific structured data (a flash verdict, a write
// receipt) in run.json. v must encode to a JSON object.
func (s *Step) SetDetails(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.run.mu.Lock()
	defer s.run.mu.Unlock()
	s.run.rec.Steps[s.index].Details = b
	return s.run.save()
}

// Finish records the step's outcome. summary is one line for `jetup runs`;
// when err carries a *step.Error its cause and next step are recorded too.
func (s *Step) Finish(outcome Outcome, summary string, err error) error {
	s.run.mu.Lock()
	defer s.run.mu.Unlock()
	rec := &s.run.rec.Steps[s.index]
	t := s.run.now().UTC()
	rec.Ended = &t
	rec.Outcome = outcome
	rec.Summary = summary
	var se *step.Error
	if errors.As(err, &se) {
		rec.Cause, rec.Next = se.Cause, se.Next
		if rec.Summary == "" {
			rec.Summary = se.Error()
		}
	} else if err != nil && rec.Summary == "" {
		rec.Summary = err.Error()
	}
	return s.run.save()
}

// OutcomeOf maps a step's returned error to an outcome: nil is success, a
// refusal (exit code 2) is refused, context cancellation is cancelled, and
// anything else failed.
func OutcomeOf(err error) Outcome {
	switch {
	case err == nil:
		return Success
	case isCancel(err):
		return Cancelled
	case step.ExitCodeOf(err) == step.ExitRefused:
		return Refused
	default:
		return Failed
	}
}

// LazyLog is a log of this step that is created on its first write, so a
// step that has nothing to say there (a flash that builds nothing) lists
// no empty file. A log that cannot be created swallows what is written: a
// lost side log must not stop the step.
func (s *Step) LazyLog(suffix string) io.WriteCloser {
	return &lazyLog{s: s, suffix: suffix}
}

type lazyLog struct {
	s      *Step
	suffix string
	mu     sync.Mutex
	f      *os.File
	err    error
}

func (l *lazyLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil && l.err == nil {
		l.f, l.err = l.s.CreateLog(l.suffix)
	}
	if l.err != nil {
		return len(p), nil
	}
	return l.f.Write(p)
}

func (l *lazyLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}
