package proc

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
)

var _ io.Writer = (*LineWriter)(nil)

// MaxLine is the line bound the readers of child output use unless they
// say otherwise: longer than any line a tool prints for people or any
// nix internal-json event seen, short enough that a runaway line costs
// little memory.
const MaxLine = 1 << 20

// LineWriter cuts what is written to it into lines and hands each on,
// without its "\n" (nor a "\r" before it). It is the one way jetup reads a
// child's output line by line, because it never stops reading: a line
// longer than max is handed over cut at max bytes (cut is true) as soon as
// it gets there, and the rest of it, up to its newline, is dropped. So
// memory stays bounded by max whatever the child prints, and Write never
// fails, so the goroutine os/exec copies a pipe with drains it to EOF and
// the child never blocks on a full pipe. (A bufio.Scanner stops at its
// first overlong line and leaves the pipe full: issue 21, finding 3.)
//
// Safe for concurrent writers; fn is called with the writer's lock held,
// one line at a time.
type LineWriter struct {
	mu       sync.Mutex
	max      int
	buf      []byte
	dropping bool // the current line was handed over cut; skip to its end
	fn       func(line []byte, cut bool)
}

// NewLineWriter returns a writer calling fn per line, lines cut at
// MaxLine bytes.
func NewLineWriter(fn func(line string)) *LineWriter {
	return NewBoundedLineWriter(MaxLine, func(l []byte, _ bool) { fn(string(l)) })
}

// NewBoundedLineWriter returns a writer calling fn per line, lines cut at
// max bytes (MaxLine when max <= 0), cut saying so. The slice is only
// valid during the call.
func NewBoundedLineWriter(max int, fn func(line []byte, cut bool)) *LineWriter {
	if max <= 0 {
		max = MaxLine
	}
	return &LineWriter{max: max, fn: fn}
}

// Write takes any bytes; it always returns len(p), nil.
func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if !w.dropping {
			room := w.max - len(w.buf)
			if len(chunk) > room {
				w.buf = append(w.buf, chunk[:room]...)
				w.fn(w.buf, true)
				w.buf, w.dropping = w.buf[:0], true
			} else {
				w.buf = append(w.buf, chunk...)
			}
		}
		if i < 0 {
			break
		}
		if w.dropping {
			w.dropping = false
		} else {
			w.fn(bytes.TrimSuffix(w.buf, []byte("\r")), false)
			w.buf = w.buf[:0]
		}
		p = p[i+1:]
	}
	// Give back a buffer a long line grew, so a burst costs its memory
	// only while it lasts.
	if cap(w.buf) > 64<<10 && len(w.buf) == 0 {
		w.buf = nil
	}
	return n, nil
}

// Flush hands over a last line that had no newline. The writer can be
// used again afterwards.
func (w *LineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 && !w.dropping {
		w.fn(bytes.TrimSuffix(w.buf, []byte("\r")), false)
	}
	w.buf, w.dropping = nil, false
}

// ReadLines reads r to its end and hands every line to fn as LineWriter
// does (cut at max bytes, never stopping early). It returns nil at EOF
// and the read error otherwise, after handing over what it had. A pipe
// closed under it (os.ErrClosed: the process was waited for) counts as
// the end.
func ReadLines(r io.Reader, max int, fn func(line []byte, cut bool)) error {
	w := NewBoundedLineWriter(max, fn)
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			_, _ = w.Write(buf[:n])
		}
		if err != nil {
			w.Flush()
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

// CappedBuffer keeps the first Max bytes written to it and counts the
// rest without keeping them; like LineWriter it never fails a write, so
// a child's stdout is drained whatever its size.
type CappedBuffer struct {
	Max     int
	buf     bytes.Buffer
	Dropped int64
}

// Write keeps what fits.
func (c *CappedBuffer) Write(p []byte) (int, error) {
	room := c.Max - c.buf.Len()
	switch {
	case room <= 0:
		c.Dropped += int64(len(p))
	case len(p) > room:
		c.buf.Write(p[:room])
		c.Dropped += int64(len(p) - room)
	default:
		c.buf.Write(p)
	}
	return len(p), nil
}

// Bytes is what was kept.
func (c *CappedBuffer) Bytes() []byte { return c.buf.Bytes() }

// Full reports whether anything was dropped.
func (c *CappedBuffer) Full() bool { return c.Dropped > 0 }

// LineScanner is LineWriter's pull form, for a reader that hands lines to
// its caller one at a time (a board shell's output read while jetup
// answers it), with bufio.Scanner's methods but not its failure: a line
// longer than the bound is returned cut (Cut reports it) and the rest of
// it skipped, and Scan returns false only at the end of the input or on
// a read error (Err), never on a line's length. Memory stays within the
// bound plus a 64 KiB read buffer.
type LineScanner struct {
	r    *bufio.Reader
	max  int
	line []byte
	cut  bool
	err  error
}

// NewLineScanner reads r by lines of at most max bytes (MaxLine when
// max <= 0). When r is a *bufio.Reader of 64 KiB or more it is read
// directly, so what it buffered after the last line read stays in it.
func NewLineScanner(r io.Reader, max int) *LineScanner {
	if max <= 0 {
		max = MaxLine
	}
	return &LineScanner{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Scan reads the next line; false at the end or on an error.
func (s *LineScanner) Scan() bool {
	if s.err != nil {
		return false
	}
	s.line, s.cut = s.line[:0], false
	total := 0
	for {
		chunk, err := s.r.ReadSlice('\n')
		total += len(chunk)
		if room := s.max - len(s.line); room > 0 {
			s.line = append(s.line, chunk[:min(len(chunk), room)]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			s.err = err
			if total == 0 {
				return false
			}
		}
		n := total // the line's length without its newline
		if err == nil {
			n-- // ReadSlice stopped at the newline
		}
		s.cut = n > s.max
		s.line = bytes.TrimSuffix(bytes.TrimSuffix(s.line, []byte("\n")), []byte("\r"))
		if cap(s.line) > 256<<10 && !s.cut {
			// A burst of long lines is over: give the memory back.
			s.line = append([]byte(nil), s.line...)
		}
		return true
	}
}

// Bytes is the line without its newline, valid until the next Scan.
func (s *LineScanner) Bytes() []byte { return s.line }

// Text is the line as a string.
func (s *LineScanner) Text() string { return string(s.line) }

// Cut reports whether the line was longer than the bound.
func (s *LineScanner) Cut() bool { return s.cut }

// Err is the read error that ended the scan, nil at EOF.
func (s *LineScanner) Err() error {
	if errors.Is(s.err, io.EOF) || errors.Is(s.err, os.ErrClosed) {
		return nil
	}
	return s.err
}
