package sim

import (
	"context"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/jetup/jetup/flash/detect"
)

// USB is a simulated USB bus: a few ordinary devices, the bench's USB-TTL
// adapter, and one Jetson that enters recovery mode a while after jetup
// first looks for it (the person is following the procedure) and can leave
// again (unplugged, or rebooted). It enumerates as a real Orin Nano does in
// recovery mode (research/jetpack.md 2.1: 0955:7523 "NVIDIA Corp." "APX",
// high speed) and reads from the same kind of records sysfs gives.
type USB struct {
	mu    sync.Mutex
	now   func() time.Time
	first time.Time // when jetup first listed the bus
	cfg   USBConfig
	extra []detect.Record
	gone  map[string]bool
}

// USBConfig sets up the simulated bus.
type USBConfig struct {
	// Board is the Jetson in recovery mode.
	Board detect.Record
	// AppearAfter is how long after jetup first lists the bus the board
	// enters recovery mode.
	AppearAfter time.Duration
	// LeaveAfter, when positive, is how long the board stays before it
	// disappears (unplugged); 0 means it stays.
	LeaveAfter time.Duration
	// Denied lists device nodes this user may not open.
	Denied map[string]bool
}

// RecoveryBoard is an Orin Nano 8GB in recovery mode on port 2 of bus 1.
var RecoveryBoard = detect.Record{Bus: 1, Dev: 7, Path: "2", Vendor: 0x0955, Product: 0x7523,
	Manufacturer: "NVIDIA Corp.", ProductName: "APX", SpeedMbps: 480}

// benchDevices are the other devices on a bench host's bus: none of them a
// Jetson, so detect must leave them out.
var benchDevices = []detect.Record{
	{Bus: 1, Dev: 2, Path: "1", Vendor: 0x05e3, Product: 0x0610, ProductName: "USB2.1 Hub", Manufacturer: "GenesysLogic", SpeedMbps: 480},
	{Bus: 1, Dev: 3, Path: "1.1", Vendor: 0x046d, Product: 0xc31c, ProductName: "USB Keyboard", Manufacturer: "Logitech", SpeedMbps: 1.5},
	{Bus: 1, Dev: 4, Path: "1.2", Vendor: 0x0403, Product: 0x6001, ProductName: "FT232R USB UART", Manufacturer: "FTDI", Serial: "A10KZ8Q1", SpeedMbps: 12},
}

// NewUSB makes a simulated bus.
func NewUSB(cfg USBConfig) *USB {
	return &USB{now: time.Now, cfg: cfg, gone: map[string]bool{}}
}

// DemoUSB is the bus of the demo: the board enters recovery mode four
// seconds (at the bench's speed) after the Recover screen starts looking,
// and stays.
func DemoUSB() *USB {
	return NewUSB(USBConfig{Board: RecoveryBoard, AppearAfter: scaled(4 * time.Second)})
}

// DemoUSBFor is the demo bus with a board showing the recovery id
// ("0955:7023") instead of the Orin Nano, so `jetup --sim --profile X`
// finds the board X is for. An id it cannot parse keeps the Orin Nano.
func DemoUSBFor(id string) *USB {
	u := DemoUSB()
	var vendor, product uint16
	if n, err := fmt.Sscanf(id, "%04x:%04x", &vendor, &product); err == nil && n == 2 {
		u.cfg.Board.Vendor, u.cfg.Board.Product = vendor, product
	}
	return u
}

// List returns the devices present now.
func (u *USB) List(ctx context.Context, _ detect.Notef) ([]detect.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.now()
	if u.first.IsZero() {
		u.first = now
	}
	out := append([]detect.Record(nil), benchDevices...)
	in := now.Sub(u.first)
	if in >= u.cfg.AppearAfter && (u.cfg.LeaveAfter <= 0 || in < u.cfg.AppearAfter+u.cfg.LeaveAfter) &&
		!u.gone[u.cfg.Board.Instance()] {
		out = append(out, u.cfg.Board)
	}
	for _, r := range u.extra {
		if !u.gone[r.Instance()] {
			out = append(out, r)
		}
	}
	return out, nil
}

// Access denies the nodes listed in Denied.
func (u *USB) Access(r detect.Record) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.cfg.Denied[r.Node()] {
		return &fs.PathError{Op: "access", Path: r.Node(), Err: fs.ErrPermission}
	}
	return nil
}

// Plug adds a device now (a second board, the flash gadget).
func (u *USB) Plug(r detect.Record) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.gone, r.Instance())
	u.extra = append(u.extra, r)
}

// Unplug removes the device at instance now, the board included.
func (u *USB) Unplug(instance string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.gone[instance] = true
	kept := u.extra[:0]
	for _, r := range u.extra {
		if r.Instance() != instance {
			kept = append(kept, r)
		}
	}
	u.extra = kept
}
