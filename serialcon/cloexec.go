package serialcon

import (
	"reflect"
	"syscall"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"
)

// openPort opens a port with go.bug.st/serial, whose descriptors (the port
// and the pipe that wakes a Read) are made without O_CLOEXEC. Left so,
// every program jetup starts while the console is open (ssh for the push,
// nix, the flash script) would get a copy of the port: the board's console
// stays open in a process jetup does not know, after jetup has closed it.
// Go's rule for descriptors made without O_CLOEXEC is to hold
// syscall.ForkLock for reading from their creation until they are marked,
// so no fork in this process copies them in between.
func openPort(path string, mode *serial.Mode) (serial.Port, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	port, err := serial.Open(path, mode)
	if err != nil {
		return nil, err
	}
	for _, fd := range portFDs(port) {
		unix.CloseOnExec(fd)
	}
	return port, nil
}

// portFDs reads the descriptors inside go.bug.st/serial's port (v1.8.0:
// unixPort.handle and its closeSignal pipe's rd and wr). The library has no
// accessor for them; TestOpenPortIsNotInheritedByChildren fails should a
// new version move them.
func portFDs(p serial.Port) []int {
	v := reflect.ValueOf(p)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return nil
	}
	v = v.Elem()
	var fds []int
	if h := v.FieldByName("handle"); h.IsValid() && h.CanInt() {
		fds = append(fds, int(h.Int()))
	}
	if pipe := v.FieldByName("closeSignal"); pipe.IsValid() && pipe.Kind() == reflect.Pointer && !pipe.IsNil() {
		for _, name := range []string{"rd", "wr"} {
			if f := pipe.Elem().FieldByName(name); f.IsValid() && f.CanInt() {
				fds = append(fds, int(f.Int()))
			}
		}
	}
	return fds
}
