package serialcon

import (
	"errors"
	"fmt"
	"github.com/jetup/jetup/profiles"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.bug.st/serial"
	"go.bug.st/serial/enumerator"
	"golang.org/x/sys/unix"
)

// Ports is the serial hardware edge: which ports the host has and how to
// open one. System is the machine; the simulated bench puts a board behind
// a pseudo-terminal and opens it with System's code.
type Ports interface {
	List() ([]PortInfo, error)
	Open(path string, cfg Config) (Device, error)
}

// BoardExpecter is an optional part of Ports: told which board a session
// expects before it looks for a port. The simulated bench then boots that
// board; a real machine has nothing to do with it.
type BoardExpecter interface {
	ExpectBoard(p *profiles.Profile)
}

// Device is an open port. Read waits at most a short time: it returns
// (0, nil) when nothing came, ErrGone once the device has disappeared (an
// unplug, a board losing power on a USB-powered bridge) and ErrClosed after
// Close.
type Device interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	Close() error
}

// Errors a Device returns.
var (
	ErrGone   = errors.New("the device disappeared")
	ErrClosed = errors.New("the port was closed")
)

// Config is the line setting. The zero value is 115200 8N1.
type Config struct {
	Baud     int
	DataBits int    // 5..8, default 8
	Parity   string // "none" (default), "odd", "even", "mark", "space"
	StopBits int    // 1 (default) or 2
	// KeepInput keeps what the kernel buffered before the open. The first
	// open drops it (stale bytes from before the session, as tio does); a
	// reopen after an unplug keeps it, so no byte is lost.
	KeepInput bool
}

func (c Config) withDefaults() Config {
	if c.Baud == 0 {
		c.Baud = 115200
	}
	if c.DataBits == 0 {
		c.DataBits = 8
	}
	if c.Parity == "" {
		c.Parity = "none"
	}
	if c.StopBits == 0 {
		c.StopBits = 1
	}
	return c
}

// String is "115200 8N1".
func (c Config) String() string {
	c = c.withDefaults()
	return fmt.Sprintf("%d %d%s%d", c.Baud, c.DataBits, strings.ToUpper(c.Parity[:1]), c.StopBits)
}

func (c Config) mode() (*serial.Mode, error) {
	c = c.withDefaults()
	m := &serial.Mode{BaudRate: c.Baud, DataBits: c.DataBits}
	switch c.Parity {
	case "none":
		m.Parity = serial.NoParity
	case "odd":
		m.Parity = serial.OddParity
	case "even":
		m.Parity = serial.EvenParity
	case "mark":
		m.Parity = serial.MarkParity
	case "space":
		m.Parity = serial.SpaceParity
	default:
		return nil, fmt.Errorf("parity %q: use none, odd, even, mark or space", c.Parity)
	}
	switch c.StopBits {
	case 1:
		m.StopBits = serial.OneStopBit
	case 2:
		m.StopBits = serial.TwoStopBits
	default:
		return nil, fmt.Errorf("stop bits %d: use 1 or 2", c.StopBits)
	}
	if c.DataBits < 5 || c.DataBits > 8 {
		return nil, fmt.Errorf("data bits %d: use 5 to 8", c.DataBits)
	}
	return m, nil
}

// System is the host's serial ports.
type System struct{}

// List returns every serial port with its USB details, from
// go.bug.st/serial's enumerator plus sysfs for what it leaves out.
func (System) List() ([]PortInfo, error) {
	details, err := enumerator.GetDetailedPortsList()
	if err != nil {
		return nil, fmt.Errorf("listing serial ports: %w", err)
	}
	ports := make([]PortInfo, 0, len(details))
	for _, d := range details {
		ports = append(ports, PortInfo{
			Path: d.Name, USB: d.IsUSB, VID: strings.ToLower(d.VID), PID: strings.ToLower(d.PID),
			Serial: d.SerialNumber, Manufacturer: d.Manufacturer, Product: d.Product,
		})
	}
	readSysfsUSB(ports, "/sys", "/dev")
	return ports, nil
}

// OpenError says why a port could not be opened; Cause is a stable id.
type OpenError struct {
	Path  string
	Cause Cause // CausePortMissing, CausePortBusy, CausePortPermission or CausePortInvalid
	Err   error
	// Holder names the process that has the port, when one could be found.
	Holder string
}

func (e *OpenError) Error() string {
	switch e.Cause {
	case CausePortMissing:
		return fmt.Sprintf("%s does not exist", e.Path)
	case CausePortBusy:
		if e.Holder != "" {
			return fmt.Sprintf("%s is in use by %s", e.Path, e.Holder)
		}
		// No holder to name (it may have closed the port since, or run as
		// another user): say what the system refused, which tells a lock
		// held (tio, another jetup) from an exclusive open.
		return fmt.Sprintf("%s is in use by another program (%v)", e.Path, e.Err)
	case CausePortPermission:
		return fmt.Sprintf("no permission to open %s", e.Path)
	}
	return fmt.Sprintf("cannot open %s: %v", e.Path, e.Err)
}

func (e *OpenError) Unwrap() error { return e.Err }

// Open opens path exclusively: TIOCEXCL (go.bug.st/serial) keeps other
// programs out, and a flock on the node, as tio takes, keeps out other
// jetups and tio even when run as root (root ignores TIOCEXCL).
func (System) Open(path string, cfg Config) (Device, error) {
	mode, err := cfg.mode()
	if err != nil {
		return nil, &OpenError{Path: path, Cause: CausePortInvalid, Err: err}
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, &OpenError{Path: path, Cause: CausePortMissing, Err: err}
	}
	lock, err := lockNode(real)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, &OpenError{Path: path, Cause: CausePortBusy, Err: fmt.Errorf("its lock is held: %w", err), Holder: holderOf(real)}
	}
	if err != nil {
		return nil, classifyOpen(path, real, err)
	}
	port, err := openPort(real, mode)
	if err != nil {
		lock.Close()
		return nil, classifyOpen(path, real, err)
	}
	if !cfg.KeepInput {
		_ = port.ResetInputBuffer()
	}
	_ = port.ResetOutputBuffer()
	if err := port.SetReadTimeout(readTimeout); err != nil {
		port.Close()
		lock.Close()
		return nil, &OpenError{Path: path, Cause: CausePortInvalid, Err: err}
	}
	return &sysDevice{port: port, lock: lock}, nil
}

// lockNode opens the node and takes its flock. While this process starts
// a program, the child has a copy of every descriptor until its exec
// closes them, the lock's too: a port this jetup closed an instant before
// can still read as locked (a reopen beside two goroutines starting
// programs failed about 1 in 100 times). Taking the lock with
// syscall.ForkLock held for reading waits out a fork in progress; the
// short retry covers the end of an exec, where this process already runs
// on and the child has not yet closed them. A program that really has the
// port (tio, another jetup) holds it far longer than lockRetry.
func lockNode(node string) (*os.File, error) {
	deadline := time.Now().Add(lockRetry)
	for {
		lock, err := lockOnce(node)
		if !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
			return lock, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const lockRetry = 300 * time.Millisecond

func lockOnce(node string) (*os.File, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	lock, err := os.OpenFile(node, os.O_RDONLY|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return nil, err
	}
	return lock, nil
}

// readTimeout bounds a Read so the reader notices idle prompts and
// cancellation.
const readTimeout = 50 * time.Millisecond

func classifyOpen(path, real string, err error) *OpenError {
	var pe *serial.PortError
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO):
		return &OpenError{Path: path, Cause: CausePortMissing, Err: err}
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, unix.EACCES):
		return &OpenError{Path: path, Cause: CausePortPermission, Err: err}
	case errors.Is(err, unix.EBUSY):
		return &OpenError{Path: path, Cause: CausePortBusy, Err: err, Holder: holderOf(real)}
	case errors.As(err, &pe):
		switch pe.Code() {
		case serial.PortBusy:
			return &OpenError{Path: path, Cause: CausePortBusy, Err: err, Holder: holderOf(real)}
		case serial.PermissionDenied:
			return &OpenError{Path: path, Cause: CausePortPermission, Err: err}
		case serial.PortNotFound:
			return &OpenError{Path: path, Cause: CausePortMissing, Err: err}
		}
	}
	return &OpenError{Path: path, Cause: CausePortInvalid, Err: err}
}

// holderOf names a process that has node open ("picocom (pid 4121)"), by
// looking through /proc; "" when none can be seen (another user's process
// without root). This process counts too (the caller has closed its own
// attempt first): a port held by another console in this jetup is named
// as this jetup rather than left unexplained.
func holderOf(node string) string {
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		for _, fd := range fds {
			if t, err := os.Readlink(filepath.Join("/proc", p.Name(), "fd", fd.Name())); err == nil && t == node {
				comm, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
				return fmt.Sprintf("%s (pid %d)", strings.TrimSpace(string(comm)), pid)
			}
		}
	}
	return ""
}

// sysDevice is an open go.bug.st/serial port. That library reports an
// unplug and our own Close with the same PortClosed error, so closing marks
// the device first and Read tells the two apart by that mark.
//
// The library's Close closes the descriptor before it wakes a Read waiting
// in select, so that Read could go on with the number after another open in
// this process has been given it, and read another port's bytes. inUse
// keeps Close from closing while a Read or Write is in the library; a Read
// returns within readTimeout, so Close waits at most that long.
type sysDevice struct {
	port   serial.Port
	lock   *os.File
	inUse  sync.RWMutex
	closed atomic.Bool
}

func (d *sysDevice) Read(p []byte) (int, error) {
	d.inUse.RLock()
	defer d.inUse.RUnlock()
	if d.closed.Load() {
		return 0, ErrClosed
	}
	n, err := d.port.Read(p)
	if err == nil {
		return n, nil // n == 0: the read timed out
	}
	if d.closed.Load() {
		return n, ErrClosed
	}
	// A zero-length read (PortClosed), EIO or ENXIO all mean the device
	// went away under us.
	return n, fmt.Errorf("%w: %v", ErrGone, err)
}

func (d *sysDevice) Write(p []byte) (int, error) {
	d.inUse.RLock()
	defer d.inUse.RUnlock()
	if d.closed.Load() {
		return 0, ErrClosed
	}
	n, err := d.port.Write(p)
	if err != nil {
		return n, fmt.Errorf("%w: %v", ErrGone, err)
	}
	return n, nil
}

func (d *sysDevice) Close() error {
	if !d.closed.CompareAndSwap(false, true) {
		return nil
	}
	d.inUse.Lock()
	defer d.inUse.Unlock()
	err := d.port.Close()
	d.lock.Close()
	return err
}
