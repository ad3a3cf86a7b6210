//go:build cgo

package detect

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/google/gousb"
)

// Gousb lists USB devices through libusb (github.com/google/gousb). It
// reads device descriptors only and never opens a device, so it needs no
// permissions: the opener callback records each descriptor and returns
// false.
//
// String descriptors (manufacturer, product, serial) are the exception:
// libusb reads them with a control transfer on an opened device, which
// needs write access to the node. The kernel already read them at
// enumeration and shows them in sysfs to everyone, so Gousb takes them from
// there, from the device's sysfs directory.
//
// When libusb cannot start (gousb.NewContext panics, as it does on builds
// without udev and no /dev/bus/usb), Gousb falls back to the sysfs lister
// for good and says so in a note.
type Gousb struct {
	// Strings is the sysfs devices directory the string descriptors are
	// read from (SysfsDevices).
	Strings string
	// DevDir is where Access looks for device nodes ("/dev").
	DevDir string

	mu       sync.Mutex
	ctx      *gousb.Context
	fallback *Sysfs
	strs     map[stringKey][3]string
}

// stringKey is one enumeration of a device: its strings never change.
type stringKey struct {
	bus, dev int
	path     string
}

// newContext is gousb.NewContext; tests replace it to make libusb fail.
var newContext = gousb.NewContext

// NewGousb lists this host's devices through libusb.
func NewGousb() *Gousb { return &Gousb{Strings: SysfsDevices, DevDir: "/dev"} }

// System is the lister for this host: libusb through gousb, falling back to
// sysfs when libusb cannot start.
func System() Lister { return NewGousb() }

// start makes the libusb context on first use; a panic in gousb becomes the
// sysfs fallback.
func (g *Gousb) start(note Notef) (ctx *gousb.Context, fallback *Sysfs) {
	if g.ctx != nil || g.fallback != nil {
		return g.ctx, g.fallback
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				g.ctx = nil
				g.fallback = &Sysfs{Dir: g.Strings, DevDir: g.DevDir}
				note("libusb failed to start (%v); listing USB devices from %s instead", r, g.Strings)
			}
		}()
		g.ctx = newContext()
	}()
	return g.ctx, g.fallback
}

// List enumerates the devices libusb knows. A device libusb cannot describe
// (gone during the scan) is left out with a note.
func (g *Gousb) List(ctx context.Context, note Notef) ([]Record, error) {
	if note == nil {
		note = func(string, ...any) {}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	uctx, fallback := g.start(note)
	if fallback != nil {
		return fallback.List(ctx, note)
	}
	var descs []*gousb.DeviceDesc
	devs, err := uctx.OpenDevices(func(d *gousb.DeviceDesc) bool {
		descs = append(descs, d)
		return false // descriptors only: never open
	})
	for _, d := range devs { // none, as the opener refuses all; close to be safe
		_ = d.Close()
	}
	if err != nil {
		if len(descs) == 0 {
			return nil, fmt.Errorf("libusb cannot list USB devices: %w", err)
		}
		note("libusb skipped a device it could not describe: %v", err)
	}
	if g.strs == nil {
		g.strs = map[stringKey][3]string{}
	}
	seen := map[stringKey]bool{}
	var out []Record
	for _, d := range descs {
		if len(d.Path) == 0 {
			continue // root hub
		}
		rec := recordFromDesc(d)
		k := stringKey{rec.Bus, rec.Dev, rec.Path}
		seen[k] = true
		s, ok := g.strs[k]
		if !ok {
			s = readStrings(filepath.Join(g.Strings, rec.Instance()), note)
			g.strs[k] = s
		}
		rec.Manufacturer, rec.ProductName, rec.Serial = s[0], s[1], s[2]
		out = append(out, rec)
	}
	for k := range g.strs {
		if !seen[k] {
			delete(g.strs, k)
		}
	}
	return out, nil
}

// Access checks the device node for read and write.
func (g *Gousb) Access(r Record) error { return nodeAccess(g.DevDir, r) }

// Close releases libusb.
func (g *Gousb) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ctx == nil {
		return nil
	}
	err := g.ctx.Close()
	g.ctx = nil
	return err
}

// recordFromDesc maps a libusb device descriptor to a Record, strings
// aside. It must agree with what readDevice makes of the same device's
// sysfs directory.
func recordFromDesc(d *gousb.DeviceDesc) Record {
	return Record{
		Bus:       d.Bus,
		Dev:       d.Address,
		Path:      joinPath(d.Path),
		Vendor:    uint16(d.Vendor),
		Product:   uint16(d.Product),
		SpeedMbps: speedMbps(d.Speed),
	}
}

// speedMbps maps libusb's speed enum to the Mb/s sysfs shows. libusb 1.0.22
// added SUPER_PLUS (5, 10 Gb/s) and 1.0.27 SUPER_PLUS_X2 (6, 20 Gb/s);
// gousb v1.1.3 names neither.
func speedMbps(s gousb.Speed) float64 {
	switch s {
	case gousb.SpeedLow:
		return 1.5
	case gousb.SpeedFull:
		return 12
	case gousb.SpeedHigh:
		return 480
	case gousb.SpeedSuper:
		return 5000
	case 5:
		return 10000
	case 6:
		return 20000
	}
	return 0
}

// readStrings reads manufacturer, product and serial from a device's sysfs
// directory; a missing directory (no sysfs, device gone) gives empty
// strings.
func readStrings(dir string, note Notef) [3]string {
	a := attrs{dir: dir}
	name := filepath.Base(dir)
	return [3]string{a.str("manufacturer", name, note), a.str("product", name, note), a.str("serial", name, note)}
}
