package media

import (
	"bytes"
	"context"
	"time"

	"golang.org/x/sys/unix"
)

// uevents is a NETLINK_KOBJECT_UEVENT socket on the kernel's group: the
// same events udev gets, read directly so jetup needs neither libudev (cgo)
// nor a GPL library. Only block-subsystem events matter here.
type uevents struct{ fd int }

func ueventSocket() (*uevents, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// A receive timeout lets the loop notice that ctx ended.
	tv := unix.NsecToTimeval(int64(500 * time.Millisecond))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return &uevents{fd: fd}, nil
}

func (u *uevents) run(ctx context.Context, notify func()) {
	defer unix.Close(u.fd)
	buf := make([]byte, 16*1024)
	for ctx.Err() == nil {
		n, _, err := unix.Recvfrom(u.fd, buf, 0)
		if err != nil || n <= 0 {
			continue
		}
		if isBlockEvent(buf[:n]) {
			notify()
		}
	}
}

// isBlockEvent reads "ACTION@DEVPATH\0KEY=VALUE\0..." and keeps block
// device events (add, remove, change: a card inserted in a reader).
func isBlockEvent(msg []byte) bool {
	for _, f := range bytes.Split(msg, []byte{0}) {
		if bytes.Equal(f, []byte("SUBSYSTEM=block")) {
			return true
		}
	}
	return false
}
