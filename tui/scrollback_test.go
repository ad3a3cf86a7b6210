package tui

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// numbered writes n lines "line 1" ... "line n" into the pane.
func numbered(s *scrollback, n int) {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "line %d\r\n", i)
	}
	s.Write([]byte(b.String()))
}

// rowsOf is the pane's rows as text.
func rowsOf(s *scrollback) []string {
	rows := strings.Split(ansi.Strip(s.View()), "\n")
	for i, r := range rows {
		rows[i] = strings.TrimRight(r, " ")
	}
	return rows
}

func press1(s *scrollback, code rune) { s.Update(tea.KeyPressMsg{Code: code}) }

func TestScrollbackFollowsScrollsAndFinds(t *testing.T) {
	t.Parallel()
	s := newScrollback(30, 5)
	numbered(s, 100)
	view := s.View()
	rows := rowsOf(s)
	if len(rows) != 5 || rows[3] != "line 100" || rows[4] != "" || !s.Following() {
		t.Fatalf("following shows the newest rows: %q", rows)
	}
	for i, r := range strings.Split(view, "\n") {
		if w := ansi.StringWidth(r); w != 30 || !strings.Contains(r, "\x1b[m") {
			t.Errorf("row %d is %d columns or does not end its styles: %q", i, w, r)
		}
	}

	press1(s, tea.KeyUp)
	if s.Following() || rowsOf(s)[4] != "line 100" {
		t.Errorf("up: following %v, rows %q", s.Following(), rowsOf(s))
	}
	press1(s, tea.KeyPgUp)
	if got := rowsOf(s)[0]; got != "line 92" {
		t.Errorf("pgup moves a pane less one row: top %q", got)
	}
	press1(s, tea.KeyHome)
	if s.Top() != 0 || rowsOf(s)[0] != "line 1" {
		t.Errorf("home: top %d, rows %q", s.Top(), rowsOf(s))
	}
	numbered(s, 3) // the board goes on: a paused pane stays where it is
	if rowsOf(s)[0] != "line 1" {
		t.Errorf("new output moved a paused pane: %q", rowsOf(s))
	}
	press1(s, tea.KeyUp) // no further than the first row
	if s.Top() != 0 {
		t.Errorf("scrolled above the first row: %d", s.Top())
	}
	press1(s, tea.KeyPgDown)
	press1(s, tea.KeyEnd)
	if !s.Following() || rowsOf(s)[3] != "line 3" {
		t.Errorf("end follows again: %q", rowsOf(s))
	}
	// Scrolling down to the bottom follows too.
	press1(s, tea.KeyUp)
	press1(s, tea.KeyDown)
	if !s.Following() {
		t.Error("down to the last row did not follow")
	}

	// Find: the newest match first, then older ones; N goes forwards.
	s.Write([]byte("Booting Linux again\r\n"))
	if !s.Find("line 42", true) || s.Match() < 0 || s.Following() {
		t.Fatalf("Find line 42: match %d following %v", s.Match(), s.Following())
	}
	first := s.Match()
	if !strings.Contains(s.View(), "\x1b[7mline 42\x1b[27m") {
		t.Errorf("the match is not highlighted:\n%q", s.View())
	}
	if s.Find("line 42", true) {
		t.Errorf("a second line 42 at row %d", s.Match())
	}
	if s.Match() != first || s.Following() {
		t.Error("a failed search moved the pane")
	}
	// From the match on, forwards (N): the newest line, found whatever its case.
	if !s.Find("booting", false) || !strings.Contains(ansi.Strip(s.View()), "Booting Linux again") {
		t.Errorf("case-insensitive find: match %d\n%s", s.Match(), ansi.Strip(s.View()))
	}
	press1(s, tea.KeyEnd)
	if s.Match() != -1 || !s.Following() {
		t.Error("end forgets the match and follows")
	}
}

func TestScrollbackKeepsTheFirmwareRowsWhenSmall(t *testing.T) {
	t.Parallel()
	s := newScrollback(10, 3)
	if w, h := s.term.Size(); w != termMinW || h != termMinH {
		t.Errorf("a 10x3 pane emulates %dx%d, want %dx%d", w, h, termMinW, termMinH)
	}
	s.SetSize(120, 40)
	if w, h := s.term.Size(); w != 120 || h != 40 {
		t.Errorf("after SetSize(120, 40) the emulator is %dx%d", w, h)
	}
	numbered(s, 50)
	if rows := rowsOf(s); len(rows) != 40 {
		t.Errorf("%d rows, want 40", len(rows))
	}
}
