package serialcon

import (
	"fmt"
	"strings"
	"testing"
)

func plainRows(t *Term) []string {
	var out []string
	for i := 0; i < t.Lines(); i++ {
		_, p := t.Row(i)
		out = append(out, p)
	}
	return out
}

func TestTermRendersRealEDK2Boot(t *testing.T) {
	term := NewTerm(80, 25, 0)
	term.Write(qemuCapture(t))
	rows := plainRows(term)
	all := strings.Join(rows, "\n")
	// The banner was on screen before EDK2 cleared it: it stays readable in
	// the history above.
	if !strings.HasPrefix(rows[0], "UEFI firmware (version  built at") {
		t.Errorf("first row %q", rows[0])
	}
	for _, want := range []string{
		"Press ESC in 1 seconds to skip startup.nsh or any other key to continue.",
		"Shell> ver",
		"UEFI v2.70 (EDK II, 0x00010000)",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "in 5 seconds") {
		t.Errorf("the countdown is rewritten in place, not repeated:\n%s", all)
	}
	// The prompt is drawn bold yellow on black, and the cursor waits after
	// it (trailing blanks are not kept, whatever their background).
	last := term.Lines() - 1
	styled, plain := term.Row(last)
	if plain != "Shell>" || !strings.Contains(styled, "\x1b[0;1;33;40mShell>") {
		t.Errorf("prompt row %q styled %q", plain, styled)
	}
	if row, col := term.Cursor(); row != last || col != 7 {
		t.Errorf("cursor at %d,%d, want %d,7", row, col, last)
	}
}

func TestTermScrollbackIsBounded(t *testing.T) {
	term := NewTerm(40, 10, 100)
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(term, "line %d\r\n", i)
	}
	if n := term.Lines(); n != 100+10 {
		t.Errorf("%d rows, want 100 history + 10 screen", n)
	}
	if _, p := term.Row(0); p != "line 891" {
		t.Errorf("oldest row %q", p)
	}
	if term.Dropped() != 891 {
		t.Errorf("dropped %d", term.Dropped())
	}
	if r, ok := term.Find("LINE 95", 0, false); !ok || r != 59 {
		t.Errorf("find forward: %d %v", r, ok)
	}
	if r, ok := term.Find("line 95", term.Lines()-1, true); !ok || r != 68 {
		t.Errorf("find backward: %d %v", r, ok)
	}
	if _, ok := term.Find("line 5 ", 0, false); ok {
		t.Error("found a dropped line")
	}
}

func TestTermWrapsEraseAndCursorReport(t *testing.T) {
	term := NewTerm(10, 4, 0)
	term.Write([]byte("0123456789AB\r\nxyz\x1b[1;5H\x1b[6n"))
	if got := plainRows(term); strings.Join(got, "|") != "0123456789|AB|xyz" {
		t.Errorf("rows %q", got)
	}
	if r := string(term.Replies()); r != "\x1b[1;5R" {
		t.Errorf("cursor report %q", r)
	}
	if term.Replies() != nil {
		t.Error("replies are handed out once")
	}
	term.Write([]byte("\x1b[K\x1b[2;2H\x1b[1P"))
	if got := plainRows(term); strings.Join(got, "|") != "0123|A|xyz" {
		t.Errorf("after erase and delete %q", got)
	}
}

func TestTermAltScreenLeavesNoHistory(t *testing.T) {
	term := NewTerm(20, 3, 0)
	term.Write([]byte("shell$ top\r\n"))
	term.Write([]byte("\x1b[?1049h\x1b[2J\x1b[Hfull screen app\r\n1\r\n2\r\n3\r\n"))
	term.Write([]byte("\x1b[?1049lback"))
	got := strings.Join(plainRows(term), "|")
	if got != "shell$ top|back" {
		t.Errorf("rows %q", got)
	}
}

func TestTermLineDrawingAndResize(t *testing.T) {
	term := NewTerm(10, 5, 0)
	term.Write([]byte("\x1b(0lqqk\x1b(B ok\r\na\r\nb\r\nc\r\nd"))
	if _, p := term.Row(0); p != "┌──┐ ok" {
		t.Errorf("line drawing %q", p)
	}
	term.Resize(6, 2) // shorter: rows above the cursor go to history
	if got := strings.Join(plainRows(term), "|"); got != "┌──┐ ok|a|b|c|d" {
		t.Errorf("after resize %q", got)
	}
	if w, h := term.Size(); w != 6 || h != 2 {
		t.Errorf("size %dx%d", w, h)
	}
}

func TestTermRenderCutsToWidth(t *testing.T) {
	term := NewTerm(40, 3, 0)
	term.Write([]byte("\x1b[31mred and a long line of text\x1b[0m\r\n"))
	rows := term.Render(0, 3, 10)
	if len(rows) != 2 || !strings.HasPrefix(rows[0], "\x1b[0;31mred and a ") || strings.Contains(rows[0], "long") {
		t.Errorf("rows %q", rows)
	}
}
