package flash

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

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

// CauseBusy is the cause id of a flash refused because another one runs.
const CauseBusy = "flash-busy"

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
		now := strings.TrimSpace(safe.Text(string(holder)))
		if now == "" {
			now = "another jetup"
		}
		return nil, step.Refuse(CauseBusy, "wait until that flash has ended, then flash this board (put it in recovery mode again if it left)",
			"a flash is running on this host already (%s): boards are flashed one at a time, they share the flash gadget's serial port", now)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(who+"\n"), 0)
	return func() {
		_ = f.Truncate(0)
		_ = f.Close() // closing drops the flock
	}, nil
}

// holder says who flashes, for the lock file.
func holder(o Options) string {
	s := fmt.Sprintf("jetup pid %d", os.Getpid())
	if o.USBInstance != "" {
		s += ", board at USB " + o.USBInstance
	}
	return s
}
