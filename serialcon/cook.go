package serialcon

import (
	"time"
	"unicode/utf8"
)

// cooker turns a board's byte stream into the text lines a person would
// read: escape sequences are dropped, a bare \r or a cursor move within the
// row rewrites the line (EDK2's countdowns, progress bars, its shell's echo),
// a cursor move to another row ends the line. Each finished line goes to
// onLine with the time its first byte arrived. The text log and the stage
// recogniser both read these lines.
type cooker struct {
	p      *vtParser
	line   []rune
	col    int
	row    int // last row a cursor position named; -1 when unknown
	start  time.Time
	now    time.Time
	onLine func(line string, start time.Time)
}

func newCooker(onLine func(string, time.Time)) *cooker {
	c := &cooker{row: -1, onLine: onLine}
	c.p = newVTParser(c)
	return c
}

// maxLine caps one line: a board spewing bytes without a newline must not
// grow memory without bound.
const maxLine = 4096

// feed cooks bytes that arrived at now.
func (c *cooker) feed(p []byte, now time.Time) {
	c.now = now
	c.p.feed(p)
}

// partial is the unfinished line (a prompt waiting for input).
func (c *cooker) partial() string { return string(c.line) }

// partialStart is when the unfinished line began.
func (c *cooker) partialStart() time.Time { return c.start }

// flush ends the unfinished line, if any (at a disconnect or the end).
func (c *cooker) flush() {
	if len(c.line) > 0 {
		c.commit()
	}
	c.col = 0
}

func (c *cooker) commit() {
	if len(c.line) == 0 {
		c.start = c.now
	}
	s := string(c.line)
	c.line = c.line[:0]
	c.col = 0
	c.onLine(s, c.start)
}

func (c *cooker) put(r rune) {
	if len(c.line) == 0 {
		c.start = c.now
	}
	switch {
	case c.col == len(c.line):
		if len(c.line) >= maxLine {
			c.commit()
			c.start = c.now
		}
		c.line = append(c.line, r)
	case c.col < len(c.line):
		c.line[c.col] = r
	default:
		if c.col > maxLine {
			c.col = maxLine
		}
		for len(c.line) < c.col {
			c.line = append(c.line, ' ')
		}
		c.line = append(c.line, r)
	}
	c.col++
}

func (c *cooker) text(b []byte) {
	if c.col == len(c.line) && len(c.line)+len(b) <= maxLine {
		if len(c.line) == 0 {
			c.start = c.now
		}
		for _, x := range b {
			c.line = append(c.line, rune(x))
		}
		c.col = len(c.line)
		return
	}
	for _, x := range b {
		c.put(rune(x))
	}
}

func (c *cooker) char(r rune) {
	if r == utf8.RuneError {
		r = '?'
	}
	c.put(r)
}

func (c *cooker) control(b byte) {
	switch b {
	case '\n', '\v', '\f':
		c.commit()
		if c.row >= 0 {
			c.row++
		}
	case '\r':
		c.col = 0
	case '\b':
		if c.col > 0 {
			c.col--
		}
	case '\t':
		// Not past the line's last column, as a terminal's cursor stops
		// at its right edge: a tab there would start a new line at
		// column 0, aim for the tab stop past the edge again, and never
		// end (a board's 4096-column line and a tab hung the console).
		next := min((c.col/8+1)*8, maxLine)
		for c.col < next {
			c.put(' ')
		}
	}
}

// toRow ends the line when the cursor leaves its row.
func (c *cooker) toRow(row int) {
	if row != c.row && len(c.line) > 0 {
		c.commit()
	}
	c.row = row
}

func (c *cooker) csi(final, priv byte, params []int) {
	if priv != 0 {
		return
	}
	switch final {
	case 'K': // erase in line
		switch param(params, 0, 0) {
		case 0:
			if c.col < len(c.line) {
				c.line = c.line[:c.col]
			}
		case 1:
			for i := 0; i < c.col && i < len(c.line); i++ {
				c.line[i] = ' '
			}
		case 2:
			c.line = c.line[:0]
		}
	case 'G', '`': // column absolute
		c.col = param(params, 0, 1) - 1
	case 'C': // forward
		c.col += param(params, 0, 1)
	case 'D': // back
		c.col = max(c.col-param(params, 0, 1), 0)
	case 'H', 'f': // cursor position
		c.toRow(param(params, 0, 1) - 1)
		c.col = param(params, 1, 1) - 1
	case 'd': // row absolute
		c.toRow(param(params, 0, 1) - 1)
	case 'A', 'F': // up
		c.moveRows(-param(params, 0, 1))
		if final == 'F' {
			c.col = 0
		}
	case 'B', 'E': // down
		c.moveRows(param(params, 0, 1))
		if final == 'E' {
			c.col = 0
		}
	case 'J': // erase display: what was on screen is done
		if n := param(params, 0, 0); n >= 2 && len(c.line) > 0 {
			c.commit()
		}
	}
	c.col = min(c.col, maxLine)
}

func (c *cooker) moveRows(n int) {
	if c.row < 0 {
		if len(c.line) > 0 {
			c.commit()
		}
		return
	}
	c.toRow(max(c.row+n, 0))
}

func (c *cooker) esc(final, inter byte) {
	if inter != 0 {
		return
	}
	switch final {
	case 'E': // next line
		c.commit()
	case 'D', 'M', 'c': // index, reverse index, reset
		if len(c.line) > 0 {
			c.commit()
		}
	}
}
