package serialcon

import (
	"bufio"
	"io"
	"time"
)

// The text log is one line per console line: the UTC time its first byte
// arrived, two spaces, the line as a person reads it (escape sequences
// removed, carriage-return rewrites applied). jetup's own notes (connected,
// unplugged, back) are lines starting with markerPrefix, so a reader can
// tell them from the board's output. Scan reads this format back.
const (
	textLogTimeLayout = "2006-01-02T15:04:05.000Z"
	markerPrefix      = "--- jetup: "
)

// textLog writes the text log. It is used by the session's reader only.
type textLog struct {
	w     *bufio.Writer
	dirty bool
	err   error
}

func newTextLog(w io.Writer) *textLog {
	if w == nil {
		return nil
	}
	return &textLog{w: bufio.NewWriterSize(w, 32*1024)}
}

func (t *textLog) line(at time.Time, text string) {
	if t == nil || t.err != nil {
		return
	}
	var stamp [len(textLogTimeLayout) + 2]byte
	b := at.UTC().AppendFormat(stamp[:0], textLogTimeLayout)
	b = append(b, ' ', ' ')
	if _, err := t.w.Write(b); err != nil {
		t.err = err
		return
	}
	_, _ = t.w.WriteString(text)
	t.err = t.w.WriteByte('\n')
	t.dirty = true
}

// marker writes one of jetup's own notes.
func (t *textLog) marker(at time.Time, text string) {
	t.line(at, markerPrefix+text+" ---")
	t.flush()
}

func (t *textLog) flush() {
	if t == nil || !t.dirty {
		return
	}
	if err := t.w.Flush(); err != nil && t.err == nil {
		t.err = err
	}
	t.dirty = false
}

// parseTextLogLine reads the time off a text log line.
func parseTextLogLine(b []byte) (time.Time, bool) {
	n := len(textLogTimeLayout)
	if len(b) < n+2 || b[n] != ' ' || b[n+1] != ' ' {
		return time.Time{}, false
	}
	t, err := time.Parse(textLogTimeLayout, string(b[:n]))
	return t, err == nil
}
