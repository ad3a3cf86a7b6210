package serialcon

import (
	"os/exec"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// A program started while the console is open must not get the port: it
// would hold the board's console open after jetup closed it. The child
// lists its own descriptors; none may be the port.
func TestOpenPortIsNotInheritedByChildren(t *testing.T) {
	_, name := newPTY(t)
	dev, err := System{}.Open(name, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	fds := portFDs(dev.(*sysDevice).port)
	if len(fds) != 3 {
		t.Fatalf("found %d of go.bug.st/serial's descriptors (want the port and its pipe's two ends): has the library changed?", len(fds))
	}
	for _, fd := range fds {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("descriptor %d: flags %#x, err %v; want close-on-exec", fd, flags, err)
		}
	}
	out, err := exec.Command("sh", "-c", `for f in /proc/$$/fd/*; do readlink "$f" || true; done`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), name) {
		t.Errorf("a child process has %s open:\n%s", name, out)
	}
}

// A port this process has just closed opens again at once while other
// goroutines start programs: a child holds copies of every descriptor,
// the port's lock too, until its exec closes them, and that must not read
// as another program holding the port. Before lockNode a few of the 500
// reopens failed ("is in use by another program").
func TestReopenWhileThisProcessStartsPrograms(t *testing.T) {
	_, name := newPTY(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = exec.Command("true").Run()
			}
		}()
	}
	defer wg.Wait()
	defer close(stop)
	for i := range 500 {
		d, err := System{}.Open(name, Config{})
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		d.Close()
	}
}
