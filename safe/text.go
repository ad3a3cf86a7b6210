package safe

import (
	"io"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// Text makes a string that came from a board, a tool, a log or a record
// safe to print on a terminal: escape sequences (CSI, OSC such as a
// clipboard write, DCS, APC...) are removed, and so is every other control
// character but tab and newline (a bare CR, backspace, BEL, shift-out, C1
// controls), and the bidirectional overrides that make a line read
// differently from what it says. Bytes that are not UTF-8 become U+FFFD.
//
// The live console's passthrough is the one place raw bytes reach the
// terminal, on purpose: it is a terminal.
func Text(s string) string {
	if clean(s) {
		return s // the common case costs one pass and no allocation
	}
	s = ansi.Strip(strings.ToValidUTF8(s, "\uFFFD"))
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if !dropped(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// clean reports whether s has nothing Text would change.
func clean(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || dropped(r) {
			return false
		}
		i += n
	}
	return true
}

func dropped(r rune) bool {
	switch {
	case r == '\t' || r == '\n':
		return false
	case r < 0x20 || r >= 0x7f && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e || r == 0x200f, r == 0x061c:
		return true // bidirectional embeddings, overrides, isolates and marks
	}
	return false
}

// Writer passes everything written through Text: the headless face's
// stdout and stderr, so no printer can forget. A sequence cut across two
// writes loses its ESC in the first and prints the rest as plain text:
// harmless, no control byte gets through either way.
type Writer struct{ W io.Writer }

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{W: w} }

// Write writes Text(p) and reports len(p) on success, as callers expect.
func (w *Writer) Write(p []byte) (int, error) {
	s := string(p)
	if c := Text(s); c != s {
		if _, err := io.WriteString(w.W, c); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return w.W.Write(p)
}
