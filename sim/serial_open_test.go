package sim

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jetup/jetup/serialcon"
)

// A console slow to open (a busy machine: serialcon holds the node open,
// then sets the port up and flushes its input) still sees the board's
// first line: the board boots once the open is done, not a moment after
// the node was first held. Found under `make test-stress`: a board whose
// whole boot came at once printed it into the flush, and the Watch screen
// never saw its shell.
func TestBoardBootsOnceTheConsolesOpenIsDone(t *testing.T) {
	b, err := NewBoard(BoardOptions{Dir: t.TempDir(), Speed: 1e6, Script: []BootLine{{Text: "first line"}, {Text: "second line"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	held := make(chan struct{})
	gate := make(chan struct{})
	b.openPort = func(path string, cfg serialcon.Config) (serialcon.Device, error) {
		// As serialcon.System.Open does: the node is held open first.
		lock, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
		if err != nil {
			return nil, err
		}
		defer lock.Close()
		close(held)
		<-gate
		return serialcon.System{}.Open(path, cfg)
	}
	// The open goes on once the board has either printed (into the flush
	// to come) or is waiting for the open to finish.
	go func() {
		<-held
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
			select {
			case <-b.openWait:
				close(gate)
				return
			case <-time.After(5 * time.Millisecond):
			}
			if len(b.Sent()) > 0 {
				close(gate)
				return
			}
		}
		close(gate)
	}()
	dev, err := b.Open(b.link, serialcon.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	var got []byte
	buf := make([]byte, 256)
	for deadline := time.Now().Add(60 * time.Second); !bytes.Contains(got, []byte("second line")); {
		if time.Now().After(deadline) {
			t.Fatalf("waited 60s for the board's boot on the console; got %q (the board sent %q)", got, b.Sent())
		}
		n, err := dev.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.HasPrefix(got, []byte("first line\r\n")) {
		t.Errorf("the console saw %q: the board's first line was lost to the open's flush", got)
	}
}

// An unplug is an unplug even when a program this process started while
// the board was plugged in is still running: the pty's master must not
// have been handed to it, or the port would stay alive in that program
// and never read as gone (found under `make test-stress`: a parallel
// test's sshd kept a board's console open through its unplug).
func TestUnplugIsSeenWhileAChildStartedBeforeItRuns(t *testing.T) {
	b, err := NewBoard(BoardOptions{Dir: t.TempDir(), Speed: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	child := exec.Command("cat")
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = child.Wait() }()

	dev, err := serialcon.System{}.Open(b.Path(), serialcon.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	b.Unplug()
	deadline := time.Now().Add(60 * time.Second)
	buf := make([]byte, 4096)
	for {
		_, err := dev.Read(buf)
		if errors.Is(err, serialcon.ErrGone) {
			return
		}
		if err != nil {
			t.Fatalf("read after the unplug: %v, want the device gone", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("waited 60s for the open port to read as gone after the unplug")
		}
	}
}
