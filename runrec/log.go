package runrec

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/jetup/jetup/step"
)

// Log is a step's log file as a face uses it: the step's own output is
// written to it (it is an io.Writer) and its events are printed into it
// (Printer, Stamped, Tee), the two never interleaving mid-line. It is
// nil-safe: the Log of a nil Step (a screen run without a run record) or
// of a file that could not be created writes nowhere, and Close does
// nothing.
type Log struct {
	mu   sync.Mutex
	f    *os.File
	name string
	err  error
	once sync.Once
}

// OpenLog creates the step's log "<step>.<suffix>" (see CreateLog). On a
// nil Step it returns a Log that writes nowhere, and no error. When the
// file cannot be created the error is returned, for the caller that
// cannot go on without the log, and kept: Tee tells the face once, as a
// warning, so a caller that goes on without it never drops it silently.
func (s *Step) OpenLog(suffix string) (*Log, error) {
	l := &Log{name: suffix}
	if s == nil {
		return l, nil
	}
	l.f, l.err = s.CreateLog(suffix)
	return l, l.err
}

// Write writes p to the file; without one it takes p and keeps nothing.
func (l *Log) Write(p []byte) (int, error) {
	if l == nil {
		return len(p), nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return len(p), nil
	}
	return l.f.Write(p)
}

// Printer prints each event's text into the log, one line each.
func (l *Log) Printer() step.Sink {
	if l == nil || l.f == nil {
		return step.Discard
	}
	return step.NewPrinter(l, false)
}

// Stamped prints each event's text into the log after its UTC time.
func (l *Log) Stamped() step.Sink {
	if l == nil || l.f == nil {
		return step.Discard
	}
	return step.NewStampedPrinter(l)
}

// Tee is sink with every event also printed into the log. When the log
// could not be created, sink is told so once, as a warning (Warn).
func (l *Log) Tee(sink step.Sink) step.Sink {
	if l == nil {
		return sink
	}
	l.Warn(sink)
	return step.Tee(sink, l.Printer())
}

// Warn tells sink once, as a warning, when the log could not be created:
// for a log that takes bytes only (the console's raw log) and so is not
// Tee'd.
func (l *Log) Warn(sink step.Sink) {
	if l == nil || l.err == nil || sink == nil {
		return
	}
	l.once.Do(func() { sink.Emit(l.missing()) })
}

func (l *Log) missing() step.Warning {
	return step.Warning{At: time.Now(), Warning: fmt.Sprintf("the step's %s log could not be written: %v", l.name, l.err),
		Next: "the step goes on, but its run record lacks that log: check the state directory (--state-dir) is writable"}
}

// Err is why the file could not be created (nil when it was, or when there
// is no step).
func (l *Log) Err() error {
	if l == nil {
		return nil
	}
	return l.err
}

// Name is the file's path ("" when there is none).
func (l *Log) Name() string {
	if l == nil {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return ""
	}
	return l.f.Name()
}

// Close closes the file, if there is one.
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

var _ io.WriteCloser = (*Log)(nil)
