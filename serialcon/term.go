package serialcon

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// DefaultScrollback is how many lines of history a Term keeps by default.
const DefaultScrollback = 100_000

// Term is the console pane's model: a small terminal emulator of the size
// the pane shows (cursor moves, colours, erase, scroll regions, line
// drawing: what EDK2, the kernel and a shell print) whose rows scroll into
// a bounded history, with search. It is written here rather than taken from
// charmbracelet/x/vt because that emulator copies the whole screen on every
// scroll and keeps history as cells: 2 MB/s and about a gigabyte for 100k
// lines, where a console at 3 Mbaud needs far better. Not safe for
// concurrent use: the TUI feeds and draws it from its update loop.
type Term struct {
	p    *vtParser
	w, h int
	rows [][]cell
	alt  [][]cell // the main screen while an application has the alternate one

	cx, cy     int
	wrapNext   bool // the last column was written: the next character wraps
	autowrap   bool
	top, bot   int // scroll region, inclusive
	cur        uint16
	savedX     int
	savedY     int
	savedStyle uint16
	decGfx     bool // G0 is DEC special graphics (ESC ( 0)

	styles []sgr
	index  map[sgr]uint16

	hist    history
	replies []byte
}

type cell struct {
	r  rune
	st uint16
}

// NewTerm makes a w x h terminal keeping up to scrollback lines of history
// (DefaultScrollback when 0).
func NewTerm(w, h, scrollback int) *Term {
	if scrollback <= 0 {
		scrollback = DefaultScrollback
	}
	t := &Term{autowrap: true, styles: []sgr{defaultStyle}, index: map[sgr]uint16{defaultStyle: 0}}
	t.hist.init(scrollback)
	t.w, t.h = max(w, 1), max(h, 1)
	t.rows = newRows(t.w, t.h)
	t.top, t.bot = 0, t.h-1
	t.p = newVTParser(t)
	return t
}

func newRows(w, h int) [][]cell {
	rows := make([][]cell, h)
	for i := range rows {
		rows[i] = make([]cell, w)
	}
	return rows
}

// Write feeds the board's output; it never fails.
func (t *Term) Write(p []byte) (int, error) {
	t.p.feed(p)
	return len(p), nil
}

// Replies returns (and forgets) what the terminal answers the board: a
// cursor position report when the board asks for one, as a real terminal
// does (systemd and `resize` ask to learn the console's size).
func (t *Term) Replies() []byte {
	r := t.replies
	t.replies = nil
	return r
}

// Size is the emulated screen's size.
func (t *Term) Size() (w, h int) { return t.w, t.h }

// Resize changes the screen. Rows that no longer fit above the cursor go to
// the history, as in a terminal window made shorter.
func (t *Term) Resize(w, h int) {
	w, h = max(w, 1), max(h, 1)
	if w == t.w && h == t.h {
		return
	}
	for len(t.rows) > h && t.cy > 0 {
		t.pushHistory(t.rows[0])
		t.rows = t.rows[1:]
		t.cy--
	}
	if len(t.rows) > h {
		t.rows = t.rows[:h]
	}
	for len(t.rows) < h {
		t.rows = append(t.rows, make([]cell, w))
	}
	for i, r := range t.rows {
		t.rows[i] = resizeRow(r, w)
	}
	t.alt = nil
	t.w, t.h = w, h
	t.top, t.bot = 0, h-1
	t.cx, t.cy = min(t.cx, w-1), min(t.cy, h-1)
	t.wrapNext = false
}

func resizeRow(r []cell, w int) []cell {
	if len(r) >= w {
		return r[:w:w]
	}
	n := make([]cell, w)
	copy(n, r)
	return n
}

func (t *Term) styleID(s sgr) uint16 {
	if id, ok := t.index[s]; ok {
		return id
	}
	if len(t.styles) >= 1<<16-1 {
		return 0 // an endless stream of new true colours: plain from here
	}
	id := uint16(len(t.styles))
	t.styles = append(t.styles, s)
	t.index[s] = id
	return id
}

// put writes one character at the cursor.
func (t *Term) put(r rune) {
	if t.wrapNext {
		t.wrapNext = false
		t.cx = 0
		t.lineFeed()
	}
	t.rows[t.cy][t.cx] = cell{r: r, st: t.cur}
	if t.cx == t.w-1 {
		t.wrapNext = t.autowrap
		return
	}
	t.cx++
}

func (t *Term) text(b []byte) {
	for _, c := range b {
		r := rune(c)
		if t.decGfx && c >= 0x5f && c <= 0x7e {
			r = decSpecial[c-0x5f]
		}
		t.put(r)
	}
}

func (t *Term) char(r rune) { t.put(r) }

func (t *Term) control(c byte) {
	switch c {
	case '\r':
		t.cx, t.wrapNext = 0, false
	case '\n', '\v', '\f':
		// A bare LF also returns the carriage: firmware that prints "\n"
		// alone should not staircase (tio's INLCRNL, on by default here).
		t.cx, t.wrapNext = 0, false
		t.lineFeed()
	case '\b':
		if t.cx > 0 {
			t.cx--
		}
		t.wrapNext = false
	case '\t':
		t.cx = min((t.cx/8+1)*8, t.w-1)
	case 0x0e, 0x0f: // shift out/in: charsets are switched by ESC ( here
	}
}

// lineFeed moves down a row, scrolling the region at its bottom.
func (t *Term) lineFeed() {
	if t.cy == t.bot {
		t.scrollUp(1)
		return
	}
	if t.cy < t.h-1 {
		t.cy++
	}
}

// scrollUp moves the region's rows up n; rows leaving the top of the whole
// main screen go to the history.
func (t *Term) scrollUp(n int) { t.scrollRegionUp(n, t.top == 0 && t.alt == nil) }

func (t *Term) scrollRegionUp(n int, keep bool) {
	n = min(n, t.bot-t.top+1)
	for i := 0; i < n; i++ {
		first := t.rows[t.top]
		if keep {
			t.pushHistory(first)
		}
		copy(t.rows[t.top:t.bot], t.rows[t.top+1:t.bot+1])
		clear(first)
		t.rows[t.bot] = first
	}
}

func (t *Term) scrollDown(n int) {
	n = min(n, t.bot-t.top+1)
	for i := 0; i < n; i++ {
		last := t.rows[t.bot]
		copy(t.rows[t.top+1:t.bot+1], t.rows[t.top:t.bot])
		clear(last)
		t.rows[t.top] = last
	}
}

func (t *Term) pushHistory(r []cell) {
	t.hist.push(t.renderRow(r))
}

// renderRow turns cells into a history line: plain text, and the styled
// text when it has any style. Trailing blanks are dropped.
func (t *Term) renderRow(r []cell) line {
	end := len(r)
	for end > 0 && blankCell(r[end-1]) {
		end--
	}
	var plain strings.Builder
	plain.Grow(end)
	styledRow := false
	for _, c := range r[:end] {
		if c.r == 0 {
			plain.WriteByte(' ')
		} else {
			plain.WriteRune(c.r)
		}
		styledRow = styledRow || c.st != 0
	}
	if !styledRow {
		return line{text: plain.String()}
	}
	var styled strings.Builder
	styled.Grow(2 * end)
	st := uint16(0)
	for _, c := range r[:end] {
		if c.st != st {
			styled.WriteString(t.styles[c.st].sequence())
			st = c.st
		}
		if c.r == 0 {
			styled.WriteByte(' ')
		} else {
			styled.WriteRune(c.r)
		}
	}
	if st != 0 {
		styled.WriteString("\x1b[m")
	}
	return line{text: plain.String(), styled: styled.String()}
}

func (t *Term) eraseCells(row []cell, from, to int) {
	from, to = max(from, 0), min(to, len(row))
	blank := cell{st: t.bgOnly()}
	for i := from; i < to; i++ {
		row[i] = blank
	}
}

// bgOnly is the current style's background, which erased cells take.
func (t *Term) bgOnly() uint16 {
	s := t.styles[t.cur]
	if s.bg < 0 && s.attrs&attrReverse == 0 {
		return 0
	}
	return t.styleID(sgr{fg: -1, bg: s.bg, attrs: s.attrs & attrReverse})
}

func (t *Term) setCursor(x, y int) {
	t.cx, t.cy = max(0, min(x, t.w-1)), max(0, min(y, t.h-1))
	t.wrapNext = false
}

func (t *Term) csi(final, priv byte, params []int) {
	if priv == '?' {
		t.privateMode(final, params)
		return
	}
	if priv != 0 {
		return // EDK2's ESC[=3h and other private modes we do not need
	}
	n := param(params, 0, 1)
	switch final {
	case 'A':
		t.setCursor(t.cx, max(t.cy-n, t.regionTop()))
	case 'B', 'e':
		t.setCursor(t.cx, min(t.cy+n, t.regionBottom()))
	case 'C', 'a':
		t.setCursor(t.cx+n, t.cy)
	case 'D':
		t.setCursor(t.cx-n, t.cy)
	case 'E':
		t.setCursor(0, min(t.cy+n, t.regionBottom()))
	case 'F':
		t.setCursor(0, max(t.cy-n, t.regionTop()))
	case 'G', '`':
		t.setCursor(n-1, t.cy)
	case 'H', 'f':
		t.setCursor(param(params, 1, 1)-1, n-1)
	case 'd':
		t.setCursor(t.cx, n-1)
	case 'J':
		t.eraseDisplay(param(params, 0, 0))
	case 'K':
		row := t.rows[t.cy]
		switch param(params, 0, 0) {
		case 0:
			t.eraseCells(row, t.cx, t.w)
		case 1:
			t.eraseCells(row, 0, t.cx+1)
		case 2:
			t.eraseCells(row, 0, t.w)
		}
	case 'L', 'M':
		if t.cy < t.top || t.cy > t.bot {
			return
		}
		top := t.top
		t.top = t.cy
		if final == 'L' {
			t.scrollDown(n)
		} else {
			t.scrollRegionUp(n, false) // deleted lines are gone, not history
		}
		t.top = top
		t.cx = 0
	case '@':
		row := t.rows[t.cy]
		n = min(n, t.w-t.cx)
		copy(row[t.cx+n:], row[t.cx:])
		t.eraseCells(row, t.cx, t.cx+n)
	case 'P':
		row := t.rows[t.cy]
		n = min(n, t.w-t.cx)
		copy(row[t.cx:], row[t.cx+n:])
		t.eraseCells(row, t.w-n, t.w)
	case 'X':
		t.eraseCells(t.rows[t.cy], t.cx, t.cx+n)
	case 'S':
		t.scrollUp(n)
	case 'T':
		t.scrollDown(n)
	case 'r':
		top, bot := param(params, 0, 1)-1, param(params, 1, t.h)-1
		if top < bot && bot < t.h {
			t.top, t.bot = top, bot
			t.setCursor(0, 0)
		}
	case 'm':
		t.cur = t.styleID(t.styles[t.cur].apply(params))
	case 'n':
		switch param(params, 0, 0) {
		case 5:
			t.replies = append(t.replies, "\x1b[0n"...)
		case 6:
			t.replies = append(t.replies, ansi.CursorPositionReport(t.cy+1, t.cx+1)...)
		}
	case 's':
		t.save()
	case 'u':
		t.restore()
	}
}

func (t *Term) regionTop() int {
	if t.cy >= t.top {
		return t.top
	}
	return 0
}

func (t *Term) regionBottom() int {
	if t.cy <= t.bot {
		return t.bot
	}
	return t.h - 1
}

// eraseDisplay clears part of the screen. A full clear first moves what was
// on the screen into the history: the firmware clears the screen several
// times while it boots, and its messages should stay readable above.
func (t *Term) eraseDisplay(mode int) {
	switch mode {
	case 0:
		t.eraseCells(t.rows[t.cy], t.cx, t.w)
		for y := t.cy + 1; y < t.h; y++ {
			t.eraseCells(t.rows[y], 0, t.w)
		}
	case 1:
		for y := 0; y < t.cy; y++ {
			t.eraseCells(t.rows[y], 0, t.w)
		}
		t.eraseCells(t.rows[t.cy], 0, t.cx+1)
	case 2, 3:
		if t.alt == nil {
			for _, r := range t.rows[:t.usedRows()] {
				t.pushHistory(r)
			}
		}
		blank := cell{st: t.bgOnly()}
		for _, r := range t.rows {
			for i := range r {
				r[i] = blank
			}
		}
	}
}

func (t *Term) privateMode(final byte, params []int) {
	if final != 'h' && final != 'l' {
		return
	}
	on := final == 'h'
	for _, p := range params {
		switch p {
		case 7:
			t.autowrap = on
		case 47, 1047, 1049:
			t.altScreen(on)
		}
	}
}

// altScreen switches to a blank screen for a full-screen program and back.
func (t *Term) altScreen(on bool) {
	switch {
	case on && t.alt == nil:
		t.save()
		t.alt = t.rows
		t.rows = newRows(t.w, t.h)
	case !on && t.alt != nil:
		t.rows, t.alt = t.alt, nil
		t.restore()
	}
}

func (t *Term) save() { t.savedX, t.savedY, t.savedStyle = t.cx, t.cy, t.cur }

func (t *Term) restore() {
	t.setCursor(t.savedX, t.savedY)
	t.cur = t.savedStyle
}

func (t *Term) esc(final, inter byte) {
	switch inter {
	case '(':
		t.decGfx = final == '0'
		return
	case 0:
	default:
		return
	}
	switch final {
	case '7':
		t.save()
	case '8':
		t.restore()
	case 'D':
		t.lineFeed()
	case 'E':
		t.cx = 0
		t.lineFeed()
	case 'M':
		if t.cy == t.top {
			t.scrollDown(1)
		} else if t.cy > 0 {
			t.cy--
		}
	case 'c':
		t.eraseDisplay(2)
		t.setCursor(0, 0)
		t.cur, t.top, t.bot, t.autowrap, t.decGfx = 0, 0, t.h-1, true, false
	}
}

// decSpecial is the DEC line-drawing set for 0x5f-0x7e (EDK2's VT100 mode
// draws its boxes with it).
var decSpecial = []rune(" ◆▒␉␌␍␊°±␤␋┘┐┌└┼⎺⎻─⎼⎽├┤┴┬│≤≥π≠£·")

// usedRows is how many screen rows hold something: rows down to the last
// written one or the cursor, whichever is lower.
func (t *Term) usedRows() int {
	for y := t.h - 1; y > t.cy; y-- {
		for _, c := range t.rows[y] {
			if !blankCell(c) {
				return y + 1
			}
		}
	}
	return t.cy + 1
}

// blankCell is a cell with nothing to read (a background colour alone does
// not make a row worth keeping: EDK2 paints every cleared cell black).
func blankCell(c cell) bool { return c.r == 0 || c.r == ' ' }

// Lines is how many rows there are to show: the history, then the screen
// down to its last used row.
func (t *Term) Lines() int { return t.hist.len() + t.usedRows() }

// Dropped is how many history rows have been dropped to keep the bound: a
// view anchored to a row adds the change to stay on it.
func (t *Term) Dropped() int64 { return t.hist.dropped }

// Row returns row i (0 is the oldest kept) as styled and plain text.
func (t *Term) Row(i int) (styled, plain string) {
	if n := t.hist.len(); i < n {
		l := t.hist.at(i)
		if l.styled == "" {
			return l.text, l.text
		}
		return l.styled, l.text
	} else {
		i -= n
	}
	if i < 0 || i >= len(t.rows) {
		return "", ""
	}
	l := t.renderRow(t.rows[i])
	if l.styled == "" {
		return l.text, l.text
	}
	return l.styled, l.text
}

// Render returns rows [top, top+n) cut to width columns.
func (t *Term) Render(top, n, width int) []string {
	out := make([]string, 0, n)
	for i := top; i < top+n && i < t.Lines(); i++ {
		styled, plain := t.Row(i)
		if len(plain) > width && ansi.StringWidth(plain) > width {
			styled = ansi.Truncate(styled, width, "")
		}
		out = append(out, styled)
	}
	return out
}

// Find searches for query (ignoring case) from row from, forwards or
// backwards, and returns the first row that has it.
func (t *Term) Find(query string, from int, backward bool) (int, bool) {
	if query == "" {
		return 0, false
	}
	q := strings.ToLower(query)
	n := t.Lines()
	step := 1
	if backward {
		step = -1
	}
	for i := from; i >= 0 && i < n; i += step {
		_, plain := t.Row(i)
		if len(plain) >= len(q) && strings.Contains(strings.ToLower(plain), q) {
			return i, true
		}
	}
	return 0, false
}

// Cursor is the cursor's row (as a Row index) and column.
func (t *Term) Cursor() (row, col int) { return t.hist.len() + t.cy, t.cx }

// line is a history row.
type line struct {
	text   string // plain
	styled string // with SGR sequences; "" when the row has no style
}

// history is a ring of rows with a fixed bound.
type history struct {
	max     int
	buf     []line // grows up to max, then wraps
	head    int    // the oldest row once full
	dropped int64
}

func (h *history) init(max int) {
	h.max = max
	h.buf = make([]line, 0, min(max, 4096))
}

func (h *history) len() int { return len(h.buf) }

func (h *history) push(l line) {
	if len(h.buf) < h.max {
		h.buf = append(h.buf, l)
		return
	}
	h.buf[h.head] = l
	h.head = (h.head + 1) % h.max
	h.dropped++
}

func (h *history) at(i int) line { return h.buf[(h.head+i)%len(h.buf)] }
