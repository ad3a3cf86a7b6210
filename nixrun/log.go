package nixrun

import (
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/jetup/jetup/proc"
)

// Watch says what a caller wants from a nix command's stderr. Every field
// is optional.
type Watch struct {
	// Raw gets every line as nix printed it, with its "\n": the step's
	// log. A line longer than proc.MaxLine is cut, with a note saying so.
	Raw io.Writer
	// Line gets every line, parsed.
	Line func(Line)
	// Progress gets the build progress when it changed, at most every
	// Every (200 ms when 0), and once more when a build ends (Done set
	// when it succeeded).
	Progress func(Progress)
	Every    time.Duration
}

// How much of nix's complaints an Error keeps.
const (
	keepErrors = 8
	maxMessage = 4 << 10
)

// Log reads one nix command's stderr as it comes: an io.Writer (give it
// to exec.Cmd.Stderr, or to an edge that writes nix's log) that never
// fails and keeps bounded memory whatever nix prints. Safe for concurrent
// writers.
type Log struct {
	w     Watch
	lines *proc.LineWriter

	mu    sync.Mutex
	tr    Tracker
	last  time.Time
	dirty bool
	errs  []string
}

// NewLog returns a Log feeding w.
func NewLog(w Watch) *Log {
	if w.Every <= 0 {
		w.Every = 200 * time.Millisecond
	}
	l := &Log{w: w}
	l.lines = proc.NewBoundedLineWriter(proc.MaxLine, l.line)
	return l
}

// Write takes nix's stderr.
func (l *Log) Write(p []byte) (int, error) { return l.lines.Write(p) }

// Close hands over a last line without a newline. The Log can take more
// afterwards (a retried command).
func (l *Log) Close() { l.lines.Flush() }

func (l *Log) line(b []byte, cut bool) {
	if l.w.Raw != nil {
		if cut {
			_, _ = l.w.Raw.Write(append(b, " …[line cut at "+strconv.Itoa(len(b))+" bytes]\n"...))
		} else {
			_, _ = l.w.Raw.Write(append(b, '\n'))
		}
	}
	ln := ParseLine(b)
	ln.Cut = cut
	if l.w.Line != nil {
		l.w.Line(ln)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if ln.IsError() {
		m := ln.Message()
		if len(m) > maxMessage {
			m = m[:maxMessage] + "…"
		}
		if len(l.errs) == keepErrors {
			l.errs = append(l.errs[:0], l.errs[1:]...)
		}
		l.errs = append(l.errs, m)
	}
	if l.tr.Feed(ln) {
		l.dirty = true
	}
	if l.dirty && l.w.Progress != nil && time.Since(l.last) >= l.w.Every {
		l.emitLocked()
	}
}

func (l *Log) emitLocked() {
	l.w.Progress(l.tr.Progress())
	l.last, l.dirty = time.Now(), false
}

// Errors are the last error messages nix printed (colour codes gone).
func (l *Log) Errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...)
}

func (l *Log) resetErrors() {
	l.mu.Lock()
	l.errs = nil
	l.mu.Unlock()
}

// Progress is the build progress so far.
func (l *Log) Progress() Progress {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tr.Progress()
}

// Done reports the final progress of a build: Done when ok, every
// derivation counted built.
func (l *Log) Done(ok bool) {
	l.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tr.end(ok)
	if l.w.Progress != nil {
		l.emitLocked()
	}
}
