package verify

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
)

// What the board shell prints is hostile input: a unit's journal or a
// container's output can be any size and hold any bytes. The reader keeps
// at most maxLine bytes of a line and maxSection bytes of a section,
// reads (and logs) the rest to its end, and never stops on a long line.
const (
	maxLine    = 64 << 10
	maxSection = 4 << 20
)

// frame is one thing the board shell said: a whole section, or a marker.
type frame struct {
	Kind string // "section", "done", "ready", "ok"
	Name string // the section's name, or the check id of "done"
	Arg  string // the section's argument (a unit, a file), if any
	RC   int    // the section's exit code
	Body []byte
	// Truncated is set when the section was longer than maxSection (or
	// had lines longer than maxLine): Body holds its start.
	Truncated bool
}

// frameReader turns the board shell's output into frames. Every line,
// marker or not, goes to log first (verify.log keeps the raw output).
type frameReader struct {
	r      *bufio.Reader
	marker string
	log    io.Writer
}

func newFrameReader(r io.Reader, marker string, log io.Writer) *frameReader {
	if log == nil {
		log = io.Discard
	}
	return &frameReader{r: bufio.NewReaderSize(r, 32<<10), marker: marker, log: log}
}

// errEOF is the shell's end before "ready" or an "ok".
var errEOF = errors.New("the board shell ended")

// line reads one line (without its newline) of at most maxLine bytes; a
// longer one is cut there and the rest read and dropped. long is set when
// it was cut.
func (f *frameReader) line() (line []byte, long bool, err error) {
	total := 0
	for {
		chunk, err := f.r.ReadSlice('\n')
		_, _ = f.log.Write(chunk)
		total += len(chunk)
		if room := maxLine - len(line); room > 0 {
			line = append(line, chunk[:min(len(chunk), room)]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && total == 0 {
			return nil, false, err
		}
		// A last line with no newline comes back as it is; the next call
		// reports the end.
		return bytes.TrimRight(line, "\r\n"), total > maxLine+1, nil
	}
}

// next returns the next frame; lines outside sections (the shell's own
// complaints) are only logged.
func (f *frameReader) next() (*frame, error) {
	var cur *frame
	size := 0
	for {
		l, long, err := f.line()
		if err != nil {
			if cur != nil {
				cur.Truncated = true // cut off: the link dropped mid-section
				return cur, nil
			}
			return nil, errEOF
		}
		rest, isMarker := bytes.CutPrefix(l, []byte(f.marker+" "))
		if !isMarker {
			if cur == nil {
				continue
			}
			if long {
				cur.Truncated = true
			}
			if size+len(l)+1 > maxSection {
				cur.Truncated = true
				continue
			}
			cur.Body = append(append(cur.Body, l...), '\n')
			size += len(l) + 1
			continue
		}
		fields := strings.Fields(string(rest))
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "begin":
			cur = &frame{Kind: "section"}
			size = 0
			if len(fields) > 1 {
				cur.Name = fields[1]
			}
			if len(fields) > 2 {
				cur.Arg = strings.Join(fields[2:], " ")
			}
		case "end":
			if cur == nil {
				continue
			}
			if len(fields) > 2 {
				cur.RC, _ = strconv.Atoi(fields[2])
			}
			// end prints a newline of its own first, so a body without
			// a last newline still ends its line: drop that one.
			cur.Body = bytes.TrimSuffix(cur.Body, []byte("\n"))
			return cur, nil
		case "done", "ready", "ok":
			if cur != nil {
				continue // a marker cannot start inside a section
			}
			fr := &frame{Kind: fields[0]}
			if len(fields) > 1 {
				fr.Name = fields[1]
			}
			return fr, nil
		}
	}
}
