package flash

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/jetup/jetup/step"
)

// One flash at a time: while a flash runs, a second one on the host is
// refused at once (exit 2, flash-busy, naming the first), its script never
// started; once the first has ended the next one runs.
func TestSecondFlashIsRefusedWhileOneRuns(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "go")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	lock := LockFile(filepath.Join(dir, "state"))
	// The first flash's script waits for the test to let it end.
	waiting := writeScript(t, "#!/bin/sh\nread x < "+fifo+"\n"+strings.TrimPrefix(echoArgs, "#!/bin/sh\n"))
	started := make(chan struct{})
	var once sync.Once
	sink := step.SinkFunc(func(e step.Event) {
		if n, ok := e.(NoticeEvent); ok && n.Event == "notice" {
			once.Do(func() { close(started) }) // the script is chosen: the lock is held
		}
	})
	first := make(chan error, 1)
	go func() {
		_, err := Flash(context.Background(), Options{Script: waiting, USBInstance: "1-8.4", Finder: boards(Board{USBInstance: "1-8.4"}),
			Edge: testEdge{}, Helper: testHelper(t), Lock: lock}, sink)
		first <- err
	}()
	<-started

	second := writeScript(t, "#!/bin/sh\ntouch "+filepath.Join(dir, "second-ran")+"\n")
	_, err := Flash(context.Background(), Options{Script: second, Finder: boards(Board{USBInstance: "1-2"}), Edge: testEdge{}, Helper: testHelper(t), Lock: lock}, step.Discard)
	var se *step.Error
	if !errors.As(err, &se) || se.Cause != CauseBusy || exitOf(err) != 2 || !strings.Contains(se.What, "board at USB 1-8.4") ||
		!strings.Contains(se.What, "jetup pid") || se.Next == "" {
		t.Fatalf("second flash while one runs: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "second-ran")); err == nil {
		t.Error("the second flash's script ran")
	}

	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.WriteString("go\n")
	_ = w.Close()
	if err := <-first; err != nil {
		t.Fatalf("first flash: %v", err)
	}
	if _, err := Flash(context.Background(), Options{Script: writeScript(t, echoArgs), Finder: boards(Board{USBInstance: "1-2"}), Edge: testEdge{},
		Helper: testHelper(t), Lock: lock}, step.Discard); err != nil {
		t.Errorf("a flash after the first ended: %v", err)
	}
}
