// Package fakesysfs writes directory trees laid out like
// /sys/bus/usb/devices, for tests and benchmarks of the sysfs lister and
// for `jetup detect --sysfs DIR`. A device appears atomically, as the
// kernel's entry does: it is written aside and renamed into place.
package fakesysfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/jetup/jetup/flash/detect"
)

// Speed attribute text for a speed in Mb/s.
func speed(mbps float64) string {
	if mbps == 0 {
		return "unknown"
	}
	return strconv.FormatFloat(mbps, 'f', -1, 64)
}

// Attrs are the attribute files of r, as the kernel writes them.
func Attrs(r detect.Record) map[string]string {
	a := map[string]string{
		"idVendor":  fmt.Sprintf("%04x\n", r.Vendor),
		"idProduct": fmt.Sprintf("%04x\n", r.Product),
		"busnum":    fmt.Sprintf("%d\n", r.Bus),
		"devnum":    fmt.Sprintf("%d\n", r.Dev),
		"devpath":   r.Path + "\n",
		"speed":     speed(r.SpeedMbps) + "\n",
		"bcdDevice": "0401\n",
	}
	for name, v := range map[string]string{"manufacturer": r.Manufacturer, "product": r.ProductName, "serial": r.Serial} {
		if v != "" {
			a[name] = v + "\n"
		}
	}
	return a
}

// Add writes r's directory under dir (a devices directory) with an
// interface entry beside it, as the kernel does, and returns its path.
func Add(dir string, r detect.Record) (string, error) {
	return Write(dir, r.Instance(), Attrs(r))
}

// Write puts a device directory named name with the given attribute files
// under dir, atomically, plus its first interface entry (name:1.0).
func Write(dir, name string, attrs map[string]string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Staged beside dir, not in it, so a lister never sees it half written.
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), ".fakesysfs-")
	if err != nil {
		return "", err
	}
	for f, v := range attrs {
		if err := os.WriteFile(filepath.Join(tmp, f), []byte(v), 0o444); err != nil {
			os.RemoveAll(tmp)
			return "", err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	final := filepath.Join(dir, name)
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	// The interface entry the kernel adds beside the device: the lister
	// must skip it.
	if err := os.MkdirAll(filepath.Join(dir, name+":1.0"), 0o755); err != nil {
		return "", err
	}
	return final, nil
}

// Remove takes the device at instance away, as an unplug does.
func Remove(dir, instance string) error {
	if err := os.RemoveAll(filepath.Join(dir, instance+":1.0")); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(dir, instance))
}

// RootHub writes the usbN entry of a bus, which the lister must skip.
func RootHub(dir string, bus int) error {
	return os.MkdirAll(filepath.Join(dir, fmt.Sprintf("usb%d", bus)), 0o755)
}
