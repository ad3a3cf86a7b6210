package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/jetup/jetup/serialcon"
)

// scrollback is the console pane: the board's output in serialcon's
// terminal emulator (with its bounded history), shown following the newest
// rows or held where the person scrolled or searched to. It is a component
// as bubbles' viewport is: SetSize, Update for its keys, View for the rows.
// The Watch screen owns one per console session.
type scrollback struct {
	term   *serialcon.Term
	w, h   int // the pane's size; the emulator is at least termMinW x termMinH
	follow bool
	anchor int64  // first row shown when not following, counted from the first row ever
	match  int    // the row of the current search match, -1 for none
	query  string // what Find looked for last (highlighted in the match's row)
}

// The firmware draws its menus for an 80x25 terminal: the emulator is never
// smaller than 25 rows (or 20 columns), however small the pane.
const termMinW, termMinH = 20, 25

// scrollbackKeys are the pane's own keys.
var (
	scrollbackScrollKey = key.NewBinding(key.WithKeys("up", "down", "pgup", "pgdown", "home"), key.WithHelp("↑/↓/pgup", "scroll back"))
	scrollbackFollowKey = key.NewBinding(key.WithKeys("end", "f"), key.WithHelp("end", "follow"))
)

func newScrollback(w, h int) *scrollback {
	s := &scrollback{w: w, h: h, follow: true, match: -1}
	s.term = serialcon.NewTerm(s.termSize())
	return s
}

// termSize is the emulated terminal: the pane's width, at least the rows
// the firmware draws for, and the history kept.
func (s *scrollback) termSize() (int, int, int) {
	return max(s.w, termMinW), max(s.h, termMinH), serialcon.DefaultScrollback
}

// SetSize resizes the pane (and the emulator to match its width).
func (s *scrollback) SetSize(w, h int) {
	s.w, s.h = w, h
	tw, th, _ := s.termSize()
	s.term.Resize(tw, th)
}

// Write feeds the board's bytes to the emulator.
func (s *scrollback) Write(p []byte) { _, _ = s.term.Write(p) }

// Replies are the emulator's answers to the board's queries (the cursor
// position), to be sent back to it.
func (s *scrollback) Replies() []byte { return s.term.Replies() }

// Lines is how many rows the history and the screen hold.
func (s *scrollback) Lines() int { return s.term.Lines() }

// Following reports whether the pane shows the newest rows.
func (s *scrollback) Following() bool { return s.follow }

// Follow shows the newest rows again (what the person types is answered
// there).
func (s *scrollback) Follow() { s.follow = true }

// Match is the row of the current search match, -1 for none.
func (s *scrollback) Match() int { return s.match }

// Update takes the pane's keys: scrolling back (which stops following at
// once unless it reaches the bottom) and following.
func (s *scrollback) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(k, scrollbackFollowKey):
		s.follow, s.match = true, -1
	case key.Matches(k, scrollbackScrollKey):
		s.scroll(k.String())
	}
	return nil
}

func (s *scrollback) scroll(k string) {
	top := s.Top()
	s.match = -1
	switch k {
	case "up":
		top--
	case "down":
		top++
	case "pgup":
		top -= s.h - 1
	case "pgdown":
		top += s.h - 1
	case "home":
		top = 0
	}
	last := max(s.term.Lines()-s.h, 0)
	top = max(0, min(top, last))
	s.follow = top >= last
	s.anchor = s.term.Dropped() + int64(top)
}

// Top is the first row the pane shows.
func (s *scrollback) Top() int {
	last := max(s.term.Lines()-s.h, 0)
	if s.follow {
		return last
	}
	return max(0, min(int(s.anchor-s.term.Dropped()), last))
}

// Find moves to the next match of query, backwards from the view by
// default (the newest first), forwards when backward is false, and shows
// it in the middle of the pane. It reports whether there was one; the
// view stays where it was when not.
func (s *scrollback) Find(query string, backward bool) bool {
	top := s.Top()
	from := top + s.h - 1
	if s.match >= 0 {
		from = s.match - 1
		if !backward {
			from = s.match + 1
		}
	} else if !backward {
		from = top
	}
	row, ok := s.term.Find(query, max(from, 0), backward)
	if !ok {
		return false
	}
	s.query, s.match = query, row
	s.follow = false
	s.anchor = s.term.Dropped() + int64(max(row-s.h/2, 0))
	return true
}

// Rows are the visible rows, the match highlighted, not yet padded
// (fitPane pads them).
func (s *scrollback) Rows() []string {
	top := s.Top()
	rows := s.term.Render(top, s.h, s.w)
	if s.match >= top && s.match < top+len(rows) {
		rows[s.match-top] = s.highlight(s.match)
	}
	return rows
}

// View is the pane: h rows of exactly w columns.
func (s *scrollback) View() string { return strings.Join(fitPane(s.Rows(), s.w, s.h), "\n") }

// highlight shows a search match in reverse video on its row's plain text.
func (s *scrollback) highlight(row int) string {
	_, plain := s.term.Row(row)
	plain = truncate(plain, s.w)
	i := strings.Index(strings.ToLower(plain), strings.ToLower(s.query))
	if i < 0 {
		return plain
	}
	j := i + len(s.query)
	return plain[:i] + "\x1b[7m" + plain[i:j] + "\x1b[27m" + plain[j:]
}

// fitPane pads rows to h rows of w columns. Every row ends its own styles,
// so a colour left open by the board never bleeds into what is drawn
// beside the pane or into the next row.
func fitPane(rows []string, w, h int) []string {
	for len(rows) < h {
		rows = append(rows, "")
	}
	for i, r := range rows {
		if pad := w - ansi.StringWidth(r); pad > 0 {
			rows[i] = r + "\x1b[m" + strings.Repeat(" ", pad)
		} else {
			rows[i] = r + "\x1b[m"
		}
	}
	return rows
}
