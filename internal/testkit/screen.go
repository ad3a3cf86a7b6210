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
	// changed gets a token (never blocking) whenever the screen may have
	// changed, so WaitFor looks again only then.
	changed chan struct{}
}

// NewScreen starts copying out (teatest's tm.Output()) into a w x h
// emulator. Bubble Tea maps \n to \r\n itself only on a real TTY, so the
// emulator is put in newline mode (LNM) first.
func NewScreen(out io.Reader, w, h int) *Screen {
	s := &Screen{emu: vt.NewEmulator(w, h), changed: make(chan struct{}, 1)}
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
	defer s.touch()
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
	s.touch()
}

func (s *Screen) touch() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
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
// test showing the screen after timeout. It looks again each time the
// program's output changed the screen, not on a clock.
func (s *Screen) WaitFor(t testing.TB, timeout time.Duration, want ...string) string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		got := s.Text()
		missing := firstMissing(got, want)
		if missing == "" {
			return got
		}
		select {
		case <-s.changed:
		case <-deadline.C:
			t.Fatalf("screen never showed %q within %v; screen:\n%s", missing, timeout, got)
		}
	}
}

// firstMissing is the first of want that text lacks, "" when none.
func firstMissing(text string, want []string) string {
	for _, w := range want {
		if !strings.Contains(text, w) {
			return w
		}
	}
	return ""
}

// WaitForText polls text until it contains every one of want, or fails the
// test showing the last text. Any screen source will do (a virtual
// terminal, tmux capture-pane).
func WaitForText(t testing.TB, timeout time.Duration, text func() string, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := text()
		missing := firstMissing(got, want)
		if missing == "" {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("screen never showed %q within %v; screen:\n%s", missing, timeout, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
