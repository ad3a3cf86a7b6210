package serialcon

import (
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/assets"
)

// transcript returns a serial transcript's board output: the "#" lines are
// annotations and go; the rest is sent as a board's tty would send it,
// with \r\n line ends.
func transcript(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(assets.Transcripts(), "serial/"+name)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\r\n"))
}

// qemuCapture is real EDK2 output: Debian's QEMU_EFI.fd booting to the UEFI
// shell, then `ver` typed and answered (captured from qemu's serial pty).
func qemuCapture(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/qemu-edk2-shell.raw")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cook runs bytes through a cooker in chunks of size n and returns the
// finished lines and the unfinished one.
func cookLines(p []byte, n int) (lines []string, partial string) {
	c := newCooker(func(l string, _ time.Time) { lines = append(lines, l) })
	for len(p) > 0 {
		k := min(n, len(p))
		c.feed(p[:k], time.Time{})
		p = p[k:]
	}
	return lines, c.partial()
}

// watchAll runs a watcher over bytes as a live session would (idle check at
// the end) and returns what it emitted.
func watchAll(p []byte) Summary {
	var s Summary
	w := NewWatcher(s.add)
	c := newCooker(w.Line)
	c.feed(p, time.Time{})
	w.Idle(c.partial(), time.Time{})
	return s
}

func stageIDs(s Summary) []string {
	var ids []string
	for _, st := range s.Stages {
		ids = append(ids, st.Stage)
	}
	return ids
}
