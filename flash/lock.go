package flash

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// One flash at a time on a host: every board in recovery mode is flashed
// through the one flash initrd whose USB gadget is always serial "0"
// (/dev/serial/by-id/usb-NixOS_serial_0-if00, research/jetpack.md), so two
// flashes at once read each other's device. A flash holds an exclusive
// flock on Options.Lock (the state dir's flash.lock) from the board check
// to the verdict; a second one is refused at once, naming the first.
//
// A state dir is a user's: the wizard's and `sudo jetup flash`'s (root's)
// are two. So a flash of a real board also holds the host's lock,
// Options.HostLock: an abstract unix socket (HostLockName), which every
// process of the host's network namespace meets whoever it runs as, with
// no file for anyone to own, plant a symlink at, or leave behind; it goes
// with the process. Who holds it answers a connection with who it is.

// CauseBusy is the cause id of a flash refused because another one runs.
const CauseBusy = "flash-busy"

// HostLockName is the host's flash lock, an abstract socket's name.
const HostLockName = "jetup-flash"

// LockFile is the flash lock in a state dir.
func LockFile(stateDir string) string { return filepath.Join(stateDir, "flash.lock") }

// maxHolder bounds what is read of the holder's note.
const maxHolder = 512

// hold takes the flash lock at path ("" takes none) and writes who holds
// it; release gives it back.
func hold(path, who string) (release func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, step.Errorf("state-dir", "check that "+filepath.Dir(path)+" is writable", "cannot make the flash lock: %v", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, step.Errorf("state-dir", "check that "+path+" is yours and writable", "cannot open the flash lock: %v", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := io.ReadAll(io.LimitReader(f, maxHolder))
		_ = f.Close()
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil, step.Errorf("state-dir", "check "+path, "cannot take the flash lock: %v", err)
		}
		return nil, busy(holder)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(who+"\n"), 0)
	return func() {
		_ = f.Truncate(0)
		_ = f.Close() // closing drops the flock
	}, nil
}

// busy is the refusal of a second flash; holder is the first's note.
func busy(holder []byte) error {
	now := strings.TrimSpace(safe.Text(string(holder)))
	if now == "" {
		now = "another jetup"
	}
	return step.Refuse(CauseBusy, "wait until that flash has ended, then flash this board (put it in recovery mode again if it left)",
		"a flash is running on this host already (%s): boards are flashed one at a time, they share the flash gadget's serial port", now)
}

// holdHost takes the host's flash lock named name ("" takes none): it
// listens on the abstract socket and answers each connection with who.
func holdHost(name, who string) (release func(), err error) {
	if name == "" {
		return func() {}, nil
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: "@" + name, Net: "unix"})
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, busy(hostHolder(name))
	}
	if err != nil {
		return nil, step.Errorf("flash-lock", "check that this host allows unix sockets (jetup takes the host's flash lock as one)", "cannot take the host's flash lock: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return // closed by release
			}
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte(who + "\n"))
			_ = c.Close()
		}
	}()
	return func() {
		_ = l.Close()
		<-done
	}, nil
}

// hostHolder asks the holder of the host's flash lock who it is: at most
// maxHolder bytes, within a second or two (whatever holds the name may
// say anything, or nothing).
func hostHolder(name string) []byte {
	c, err := net.DialTimeout("unix", "@"+name, time.Second)
	if err != nil {
		return nil
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(io.LimitReader(c, maxHolder))
	return b
}

// holder says who flashes, for the lock file.
func holder(o Options) string {
	s := fmt.Sprintf("jetup pid %d", os.Getpid())
	if o.USBInstance != "" {
		s += ", board at USB " + o.USBInstance
	}
	return s
}
