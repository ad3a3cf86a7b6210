package detect

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Record is one USB device as a Lister sees it, before classification:
// what the kernel knows about it without opening it. Root hubs are not
// listed. Both listers (sysfs and gousb) give the same Record for the same
// device.
type Record struct {
	// Bus is the bus number (sysfs busnum).
	Bus int
	// Dev is the device's address on the bus (sysfs devnum); with Bus it
	// names the device node /dev/bus/usb/BBB/DDD. A re-enumeration (every
	// reset during a flash) gives a new Dev at the same Path.
	Dev int
	// Path is the port chain from the root hub (sysfs devpath), "8.4" for
	// port 4 of a hub on root port 8.
	Path    string
	Vendor  uint16
	Product uint16
	// The string descriptors as the kernel read them at enumeration; empty
	// when the device has none.
	Manufacturer string
	ProductName  string
	Serial       string
	// SpeedMbps is the negotiated speed in Mb/s as sysfs gives it (1.5, 12,
	// 480, 5000, 10000, 20000); 0 when unknown.
	SpeedMbps float64
}

// Instance is "<bus>-<devpath>" ("1-8.4"): the name of the device's sysfs
// directory and the form flash.sh --usb-instance takes.
func (r Record) Instance() string { return fmt.Sprintf("%d-%s", r.Bus, r.Path) }

// Node is the device node a program opens to talk to the device
// (/dev/bus/usb/001/005).
func (r Record) Node() string { return fmt.Sprintf("/dev/bus/usb/%03d/%03d", r.Bus, r.Dev) }

// ID is "vvvv:pppp" in lowercase hex.
func (r Record) ID() string { return fmt.Sprintf("%04x:%04x", r.Vendor, r.Product) }

// Notef receives a debug note: a device skipped (garbage attributes, gone
// during the scan) or a fallback taken. Notes go to the step log, not to
// the person.
type Notef func(format string, args ...any)

// Lister is the hardware edge: the USB devices on this host.
type Lister interface {
	// List returns the devices present now. A device that cannot be read
	// (garbage attributes, unplugged during the scan) is left out with a
	// note; List fails only when nothing can be read at all.
	List(ctx context.Context, note Notef) ([]Record, error)
	// Access reports whether this user may open the device's node for
	// reading and writing (what the flash tools need); nil when it may.
	Access(r Record) error
}

// parsePath checks a devpath ("8.4"): dot-separated port numbers 1-255.
func parsePath(s string) ([]int, bool) {
	if s == "" {
		return nil, false
	}
	parts := strings.Split(s, ".")
	ports := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 255 || strconv.Itoa(n) != p {
			return nil, false
		}
		ports[i] = n
	}
	return ports, true
}

// joinPath is the devpath of a port chain.
func joinPath(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ".")
}

// parseInstance splits a sysfs device name "1-8.4" into bus and devpath.
func parseInstance(name string) (bus int, path string, ok bool) {
	b, p, found := strings.Cut(name, "-")
	if !found {
		return 0, "", false
	}
	n, err := strconv.Atoi(b)
	if err != nil || n < 1 || strconv.Itoa(n) != b {
		return 0, "", false
	}
	if _, ok := parsePath(p); !ok {
		return 0, "", false
	}
	return n, p, true
}

// knownSpeeds are the values the kernel writes to the speed attribute
// (drivers/usb/core/sysfs.c speed_show), in Mb/s.
var knownSpeeds = map[string]float64{
	"1.5": 1.5, "12": 12, "480": 480, "53.3": 53.3, "5000": 5000, "10000": 10000, "20000": 20000,
}

// parseSpeed reads a speed attribute; "unknown" and garbage give 0, false.
func parseSpeed(s string) (float64, bool) {
	v, ok := knownSpeeds[s]
	return v, ok
}

// cleanString makes a string descriptor safe to print: valid UTF-8, no
// control characters, at most 126 runes (a USB string descriptor's limit).
func cleanString(s string) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
	var b strings.Builder
	n := 0
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			continue
		}
		if n == 126 {
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
