package flash

import (
	"context"
	"errors"
	"fmt"
	"net"
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
	lock := LockFile(filepath.Join(dir, "state"))
	secondFlashIsRefused(t, Options{Lock: lock}, Options{Lock: lock})
}

// Two users' flashes (the wizard's, and sudo jetup flash's with root's
// state dir) exclude each other too, through the host's lock; a process
// squatting its name with nothing to say is "another jetup".
func TestTheHostsFlashLockHoldsAcrossStateDirs(t *testing.T) {
	t.Parallel()
	name := fmt.Sprintf("jetup-flash-test-%d", os.Getpid())
	user, root := t.TempDir(), t.TempDir()
	secondFlashIsRefused(t, Options{Lock: LockFile(user), HostLock: name}, Options{Lock: LockFile(root), HostLock: name})

	l, err := net.Listen("unix", "@"+name)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for c, err := l.Accept(); err == nil; c, err = l.Accept() {
			defer c.Close() // silent: the flash must not wait on it for ever
		}
	}()
	_, err = Flash(context.Background(), Options{Script: writeScript(t, echoArgs), Finder: boards(Board{USBInstance: "1-2"}), Edge: testEdge{},
		Helper: testHelper(t), HostLock: name}, step.Discard)
	var se *step.Error
	if !errors.As(err, &se) || se.Cause != CauseBusy || !strings.Contains(se.What, "(another jetup)") {
		t.Errorf("a squatted host lock: %v", err)
	}
}

// secondFlashIsRefused runs a first flash with first's locks, and while it
// runs a second one with second's, which must be refused; then a third
// with second's, which must run.
func secondFlashIsRefused(t *testing.T, first, second Options) {
	t.Helper()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "go")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// The first flash's script waits for the test to let it end.
	waiting := writeScript(t, "#!/bin/sh\nread x < "+fifo+"\n"+strings.TrimPrefix(echoArgs, "#!/bin/sh\n"))
	started := make(chan struct{})
	var once sync.Once
	sink := step.SinkFunc(func(e step.Event) {
		if n, ok := e.(NoticeEvent); ok && n.Event == "notice" {
			once.Do(func() { close(started) }) // the script is chosen: the lock is held
		}
	})
	firstDone := make(chan error, 1)
	go func() {
		_, err := Flash(context.Background(), Options{Script: waiting, USBInstance: "1-8.4", Finder: boards(Board{USBInstance: "1-8.4"}),
			Edge: testEdge{}, Helper: testHelper(t), Lock: first.Lock, HostLock: first.HostLock}, sink)
		firstDone <- err
	}()
	<-started

	script := writeScript(t, "#!/bin/sh\ntouch "+filepath.Join(dir, "second-ran")+"\n")
	_, err := Flash(context.Background(), Options{Script: script, Finder: boards(Board{USBInstance: "1-2"}), Edge: testEdge{}, Helper: testHelper(t),
		Lock: second.Lock, HostLock: second.HostLock}, step.Discard)
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
	if err := <-firstDone; err != nil {
		t.Fatalf("first flash: %v", err)
	}
	if _, err := Flash(context.Background(), Options{Script: writeScript(t, echoArgs), Finder: boards(Board{USBInstance: "1-2"}), Edge: testEdge{},
		Helper: testHelper(t), Lock: second.Lock, HostLock: second.HostLock}, step.Discard); err != nil {
		t.Errorf("a flash after the first ended: %v", err)
	}
}
