package flash

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// waitDrained waits for done: the reader of f has met the end of its
// output. A process that escaped the run may hold the writing end open, so
// that end may never come; f is then given up on, but only once nothing is
// left in it to read. A timer alone cut the run's last lines ("Flashing may
// have failed" after the Ctrl-C) on a busy machine, where the reader had
// not been scheduled before the timer fired.
func waitDrained(done <-chan struct{}, f *os.File, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			if unread(f) == 0 {
				return
			}
		}
	}
}

// unread is how many bytes wait in f (a pipe or a pty master) to be read;
// 0 when that cannot be told. SyscallConn, not Fd: Fd would put f in
// blocking mode and end its deadlines.
func unread(f *os.File) int {
	raw, err := f.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	_ = raw.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ); err == nil {
			n = v
		}
	})
	return n
}
