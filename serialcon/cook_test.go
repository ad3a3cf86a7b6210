package serialcon

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCookerAppliesCarriageReturnsAndCursorMoves(t *testing.T) {
	in := "\x1b[1;32mgreen\x1b[0m plain\r\n" + // colours go
		"progress  10%\rprogress 100%\r\n" + // a bare \r rewrites
		"abc\bX\r\n" + // backspace moves back
		"a\tb\r\n" + // tab to column 8
		"keep this\x1b[5Gtail\x1b[K\r\n" + // column move, erase to end
		"\x1b]0;title\x07titled\r\n" + // OSC swallowed
		"\x1b[2J\x1b[01;01Hrow one\x1b[02;01Hrow two\x1b[02;05H2\r\n" // EDK2 positions
	lines, partial := cookLines([]byte(in), len(in))
	want := []string{"green plain", "progress 100%", "abX", "a       b", "keeptail", "titled", "row one", "row 2wo"}
	if !reflect.DeepEqual(lines, want) || partial != "" {
		t.Errorf("lines %q partial %q\nwant %q", lines, partial, want)
	}
}

func TestCookerIsIndependentOfHowReadsSplitTheStream(t *testing.T) {
	// UTF-8, escapes and CP437 split at every possible place.
	in := []byte("Jetson \xe2\x94\x80\xe2\x94\x80 box\x1b[1;33m yellow\x1b[0m \xc4\xc4\xc4\xc4 pc-ansi \xe2\x94\r\nShell> ")
	whole, wp := cookLines(in, len(in))
	// A cut-off UTF-8 sequence is not UTF-8: its bytes read as CP437.
	if len(whole) != 1 || whole[0] != "Jetson ── box yellow ──── pc-ansi Γö" || wp != "Shell> " {
		t.Fatalf("whole %q partial %q", whole, wp)
	}
	for n := 1; n < 8; n++ {
		got, gp := cookLines(in, n)
		if !reflect.DeepEqual(got, whole) || gp != wp {
			t.Errorf("chunks of %d: %q %q, want %q %q", n, got, gp, whole, wp)
		}
	}
}

func TestCookerOnRealEDK2Output(t *testing.T) {
	lines, partial := cookLines(qemuCapture(t), 64)
	text := strings.Join(lines, "\n")
	for _, want := range []string{
		"UEFI firmware (version  built at",
		"UEFI Interactive Shell v2.2",
		// The countdown rewrites its row with cursor positions: only its
		// last state is a line.
		"Press ESC in 1 seconds to skip startup.nsh or any other key to continue.",
		"Shell> ver", // the shell echoes each key at a cursor position
		"UEFI v2.70 (EDK II, 0x00010000)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	if strings.Contains(text, "in 5 seconds") || strings.Contains(text, "\x1b") {
		t.Errorf("countdown states or escapes left in the lines:\n%q", text)
	}
	if partial != "Shell> " {
		t.Errorf("the shell prompt waits unfinished: %q", partial)
	}
}

func TestCookerBoundsALineWithoutNewline(t *testing.T) {
	in := []byte(strings.Repeat("x", 3*maxLine+10))
	lines, partial := cookLines(in, 1000)
	if len(lines) != 3 || len(partial) != 10 {
		t.Errorf("%d lines, partial %d", len(lines), len(partial))
	}
}

// A tab at the line's last column stays there: the next character starts
// the next line. It used to aim for a tab stop past the bound for ever (a
// fuzz input in make test-stress hung the console's reader).
func TestCookerTabAtTheLinesBoundEnds(t *testing.T) {
	for _, in := range []string{strings.Repeat("a", maxLine) + "\tb\n", strings.Repeat("a", maxLine-3) + "\t\tb\n"} {
		type cooked struct {
			lines   []string
			partial string
		}
		done := make(chan cooked, 1)
		go func() {
			lines, partial := cookLines([]byte(in), len(in))
			done <- cooked{lines, partial}
		}()
		select {
		case got := <-done:
			if len(got.lines) != 2 || len(got.lines[0]) != maxLine || strings.TrimLeft(got.lines[0], "a ") != "" ||
				got.lines[1] != "b" || got.partial != "" {
				t.Errorf("%d lines (first %d long), last %q, partial %q", len(got.lines), len(got.lines[0]), got.lines[len(got.lines)-1], got.partial)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the cooker did not return from a %d-byte line ending in a tab within 10s", len(in))
		}
	}
}

func TestCP437TableIsComplete(t *testing.T) {
	if cp437(0xc4) != '─' || cp437(0xb3) != '│' || cp437(0xda) != '┌' || cp437(0xff) != '\u00a0' || cp437(0x80) != 'Ç' {
		t.Error("CP437 mapping is off")
	}
}
