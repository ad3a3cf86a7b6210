package proc

import (
	"bytes"
	"io"
	"sync"
)

// LineWriter calls fn for each complete line written to it (without the
// newline); Flush hands over a last unterminated line. Safe for concurrent
// writers.
type LineWriter struct {
	mu  sync.Mutex
	buf []byte
	fn  func(string)
}

// NewLineWriter returns a writer calling fn per line.
func NewLineWriter(fn func(string)) *LineWriter { return &LineWriter{fn: fn} }

func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := string(bytes.TrimRight(w.buf[:i], "\r"))
		w.buf = w.buf[i+1:]
		w.fn(line)
	}
	// A runaway line without newlines is passed on in pieces.
	if len(w.buf) > 1<<20 {
		w.fn(string(w.buf))
		w.buf = nil
	}
	return len(p), nil
}

// Flush passes on what is left.
func (w *LineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.fn(string(w.buf))
		w.buf = nil
	}
}

var _ io.Writer = (*LineWriter)(nil)
