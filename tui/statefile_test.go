package tui

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The wizard reads files of the state dir whole (tui.json) or in part (a
// fleet node's logs): a FIFO put in their place is refused at once, never
// waited on with the screen frozen.
func TestStateFilesThatAreFIFOsDoNotHang(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(stateFile(dir), 0o600); err != nil {
		t.Fatal(err)
	}
	logFIFO := filepath.Join(dir, "push.log")
	if err := syscall.Mkfifo(logFIFO, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan []string, 1)
	go func() {
		r := loadRemembered(dir)
		done <- append(readTail(logFIFO, 1<<20, 10), "last profile: "+r.LastProfile)
	}()
	select {
	case got := <-done:
		if len(got) != 2 || !strings.Contains(got[0], "cannot read") || !strings.Contains(got[0], "named pipe") || got[1] != "last profile: " {
			t.Errorf("got %q", got)
		}
	case <-time.After(60 * time.Second):
		// Unblock the opens so the goroutine can end.
		for _, p := range []string{stateFile(dir), logFIFO} {
			if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
		}
		t.Fatal("waited 60 s for tui.json and a node's log, both FIFOs, to be read: the reads hang")
	}
}
