package testkit

import (
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/vt"
)

// Screen is a virtual terminal fed with a program's output, so tests assert
// on what a person would see rather than on the renderer's byte diffs.
type Screen struct {
	mu  sync.Mutex
	emu *vt.Emulator
}

// NewScreen starts copying out (teatest's tm.Output()) into a w x h
// emulator. Bubble Tea maps \n to \r\n itself only on a real TTY, so the
// emulator is put in newline mode (LNM) first.
func NewScreen(out io.Reader, w, h int) *Screen {
	s := &Screen{emu: vt.NewEmulator(w, h)}
	_, _ = s.emu.WriteString("\x1b[20h")
	// The emulator answers terminal queries on its input pipe: drain it or
	// its writes block.
	go func() { _, _ = io.Copy(io.Discard, s.emu) }()
	go func() {
		buf := make([]byte, 32*1024)
		for {
			n, err := out.Read(buf)
			if n > 0 {
				s.write(buf[:n])
			}
			if err != nil && err != io.EOF {
				return
			}
			if n == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	return s
}

// write feeds the emulator. x/vt can panic on a scroll region left from an
// earlier size; a real terminal copes, so start a fresh screen of the same
// size and let the next frames repaint it.
func (s *Screen) write(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		if recover() != nil {
			w, h := s.emu.Width(), s.emu.Height()
			s.emu = vt.NewEmulator(w, h)
			_, _ = s.emu.WriteString("\x1b[20h")
			go func(e *vt.Emulator) { _, _ = io.Copy(io.Discard, e) }(s.emu)
		}
	}()
	_, _ = s.emu.Write(p)
}

// Resize changes the terminal's size, as a window resize does.
func (s *Screen) Resize(w, h int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emu.Resize(w, h)
}

// Text is the screen's text, lines trimmed on the right.
func (s *Screen) Text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := strings.Split(s.emu.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// WaitFor waits until the screen contains every one of want, or fails the
// test showing the screen.
func (s *Screen) WaitFor(t testing.TB, timeout time.Duration, want ...string) string {
	t.Helper()
	return WaitForText(t, timeout, s.Text, want...)
}

// WaitForText polls text until it contains every one of want, or fails the
// test showing the last text. Any screen source will do (a virtual
// terminal, tmux capture-pane).
func WaitForText(t testing.TB, timeout time.Duration, text func() string, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := text()
		missing := ""
		for _, w := range want {
			if !strings.Contains(got, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("screen never showed %q within %v; screen:\n%s", missing, timeout, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
