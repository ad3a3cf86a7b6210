package safe

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadFileReadsUpToItsLimit(t *testing.T) {
	dir := t.TempDir()
	exact := filepath.Join(dir, "exact")
	over := filepath.Join(dir, "over")
	if err := os.WriteFile(exact, []byte(strings.Repeat("a", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(over, []byte(strings.Repeat("a", 1001)), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := ReadFile(exact, 1000)
	if err != nil || len(b) != 1000 {
		t.Fatalf("a file of exactly the limit: %d bytes, %v; want all 1000", len(b), err)
	}
	_, err = ReadFile(over, 1000)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a file one byte over the limit: %v; want ErrTooLarge", err)
	}
	if want := over + " is 1001 bytes; jetup reads at most 1000"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v; want fs.ErrNotExist", err)
	}
}

// procfs reports a size of 0: the limit holds on what is read, not on stat.
func TestReadFileBoundsWhatStatDoesNotKnow(t *testing.T) {
	b, err := ReadFile("/proc/self/status", 1<<20)
	if err != nil || !strings.Contains(string(b), "Name:") {
		t.Fatalf("/proc/self/status: %q, %v", b, err)
	}
	if _, err := ReadFile("/proc/self/status", 10); !errors.Is(err, ErrTooLarge) ||
		!strings.Contains(err.Error(), "is more than 10 bytes") {
		t.Fatalf("/proc/self/status with a limit of 10: %v; want ErrTooLarge, more than 10 bytes", err)
	}
}

func TestReadFileRefusesWhatIsNotAFile(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, kind string }{
		{fifo, "a named pipe"},              // no writer: a blocking open never returns
		{"/dev/zero", "a character device"}, // endless: a read fills memory
		{t.TempDir(), "a directory"},
	} {
		done := make(chan error, 2)
		go func() { _, err := ReadFile(c.path, 1<<30); done <- err }()
		go func() {
			f, err := Open(c.path)
			if err == nil {
				f.Close()
			}
			done <- err
		}()
		for range 2 {
			select {
			case err := <-done:
				if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), c.path+" is "+c.kind) {
					t.Errorf("%s: %v; want ErrNotRegular naming it %s", c.path, err, c.kind)
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("waiting for ReadFile and Open of %s to return: one hangs", c.path)
			}
		}
	}
}
