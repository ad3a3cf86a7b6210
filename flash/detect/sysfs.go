package detect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/jetup/jetup/safe"
	"golang.org/x/sys/unix"
)

// SysfsDevices is where the kernel lists USB devices: one entry per device
// ("1-8.4"), per interface ("1-8.4:1.0") and per root hub ("usb1").
const SysfsDevices = "/sys/bus/usb/devices"

// Sysfs lists USB devices from sysfs. It is pure Go and needs no
// permissions: every attribute it reads is world-readable
// (drivers/usb/core/sysfs.c). It is the lister on hosts without libusb, the
// source of string descriptors for the gousb lister, and the one tests and
// `jetup detect --sysfs DIR` point at a fake tree.
//
// Attributes are read once per enumeration: a device whose directory entry
// keeps its inode and change time is the same device, so a poll of an idle
// bus costs one directory read and one lstat per device.
type Sysfs struct {
	// Dir is the devices directory: SysfsDevices, or a tree laid out like it.
	Dir string
	// DevDir is where Access looks for device nodes ("/dev"). Empty means
	// nodes are not checked: a moved tree has none.
	DevDir string

	mu          sync.Mutex
	cache       map[string]sysfsEntry
	notedNoBus  bool
	notedRootIO string
}

// sysfsEntry is what was read for one directory entry, valid while the
// entry keeps its identity.
type sysfsEntry struct {
	ino   uint64
	ctime int64
	rec   Record
	why   string // why the device was skipped; "" when rec is good
}

// NewSysfs lists the devices under dir. With dir "" it is this host's
// sysfs, and Access checks the nodes under /dev; with a moved tree Access
// checks nothing.
func NewSysfs(dir string) *Sysfs {
	if dir == "" {
		return &Sysfs{Dir: SysfsDevices, DevDir: "/dev"}
	}
	return &Sysfs{Dir: dir}
}

// ResolveSysfsDir accepts either a sysfs root (DIR/bus/usb/devices exists)
// or a devices directory itself, as `--sysfs DIR` does, and returns the
// devices directory.
func ResolveSysfsDir(dir string) (string, error) {
	if dir == "" {
		return SysfsDevices, nil
	}
	if st, err := os.Stat(filepath.Join(dir, "bus", "usb", "devices")); err == nil && st.IsDir() {
		return filepath.Join(dir, "bus", "usb", "devices"), nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return "", fmt.Errorf("%s is not a directory", dir)
	}
	return dir, nil
}

// List reads every device entry. A missing devices directory means this
// host has no USB bus (a container): no devices, a note, no error.
func (s *Sysfs) List(ctx context.Context, note Notef) ([]Record, error) {
	if note == nil {
		note = func(string, ...any) {}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		if !s.notedNoBus {
			note("no USB bus on this host: %s does not exist", s.Dir)
			s.notedNoBus = true
		}
		return nil, nil
	}
	s.notedNoBus = false
	if err != nil && len(entries) == 0 {
		return nil, fmt.Errorf("cannot list USB devices in %s: %w", s.Dir, err)
	}
	if err != nil && s.notedRootIO != err.Error() {
		// ReadDir returns what it read before the error: use it.
		note("listing %s stopped early: %v", s.Dir, err)
		s.notedRootIO = err.Error()
	}
	if s.cache == nil {
		s.cache = map[string]sysfsEntry{}
	}
	seen := make(map[string]bool, len(entries))
	var out []Record
	for _, e := range entries {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		name := e.Name()
		if strings.HasPrefix(name, "usb") || strings.Contains(name, ":") {
			continue // root hubs and interfaces
		}
		seen[name] = true
		old, had := s.cache[name]
		if _, _, ok := parseInstance(name); !ok {
			if !had {
				note("%s: not a USB device name (want BUS-PORT[.PORT...]), skipped", name)
				s.cache[name] = sysfsEntry{why: "bad name"}
			}
			continue
		}
		ino, ctime, err := identity(filepath.Join(s.Dir, name))
		if err != nil {
			note("%s: gone during the scan (%v), skipped", name, err)
			delete(s.cache, name)
			continue
		}
		if had && old.ino == ino && old.ctime == ctime && old.why == "" {
			out = append(out, old.rec)
			continue
		}
		rec, why := readDevice(filepath.Join(s.Dir, name), name, note)
		if why != "" && (!had || old.why != why) {
			note("%s: %s, skipped", name, why)
		}
		s.cache[name] = sysfsEntry{ino: ino, ctime: ctime, rec: rec, why: why}
		if why == "" {
			out = append(out, rec)
		}
	}
	for name := range s.cache {
		if !seen[name] {
			delete(s.cache, name)
		}
	}
	return out, nil
}

// Access checks the device node for read and write.
func (s *Sysfs) Access(r Record) error { return nodeAccess(s.DevDir, r) }

// nodeAccess checks r's node under devDir ("/dev"); "" checks nothing.
func nodeAccess(devDir string, r Record) error {
	if devDir == "" {
		return nil
	}
	node := filepath.Join(devDir, strings.TrimPrefix(r.Node(), "/dev/"))
	if err := unix.Access(node, unix.R_OK|unix.W_OK); err != nil {
		return &fs.PathError{Op: "access", Path: node, Err: err}
	}
	return nil
}

// identity is what tells one enumeration of a device from the next at the
// same port: the kernel makes a new sysfs entry each time.
func identity(path string) (uint64, int64, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return 0, 0, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, st.ModTime().UnixNano(), nil
	}
	return sys.Ino, sys.Ctim.Nano(), nil
}

// readDevice reads one device directory. why says why it was skipped:
// an identity attribute (ids, bus, address, port path) unreadable or
// garbage. Speed and strings are descriptive: garbage there gives "unknown"
// and a note, and the device is still listed.
func readDevice(dir, name string, note Notef) (Record, string) {
	a := attrs{dir: dir}
	vendor, why := a.hex16("idVendor")
	if why != "" {
		return Record{}, why
	}
	product, why := a.hex16("idProduct")
	if why != "" {
		return Record{}, why
	}
	bus, why := a.decimal("busnum")
	if why != "" {
		return Record{}, why
	}
	dev, why := a.decimal("devnum")
	if why != "" {
		return Record{}, why
	}
	path, err := a.read("devpath")
	if err != nil {
		return Record{}, "devpath: " + readProblem(err)
	}
	if _, ok := parsePath(path); !ok {
		return Record{}, fmt.Sprintf("devpath %q is not a port path", path)
	}
	rec := Record{Bus: bus, Dev: dev, Path: path, Vendor: vendor, Product: product}
	if rec.Instance() != name {
		return Record{}, fmt.Sprintf("busnum %d and devpath %q do not match the name", bus, path)
	}
	if s, err := a.read("speed"); err != nil {
		note("%s: speed: %s; speed unknown", name, readProblem(err))
	} else if v, ok := parseSpeed(s); ok {
		rec.SpeedMbps = v
	} else if s != "unknown" {
		note("%s: speed %q not understood; speed unknown", name, truncateNote(s))
	}
	rec.Manufacturer = a.str("manufacturer", name, note)
	rec.ProductName = a.str("product", name, note)
	rec.Serial = a.str("serial", name, note)
	return rec, ""
}

// attrs reads the attributes of one sysfs directory.
type attrs struct{ dir string }

// maxAttr bounds a read: sysfs attributes are at most a page; a fake tree
// could hold anything.
const maxAttr = 4096

func (a attrs) read(name string) (string, error) {
	b, err := safe.ReadFile(filepath.Join(a.dir, name), maxAttr)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func (a attrs) hex16(name string) (uint16, string) {
	s, err := a.read(name)
	if err != nil {
		return 0, name + ": " + readProblem(err)
	}
	if len(s) != 4 {
		return 0, fmt.Sprintf("%s %q is not a 4-digit hex id", name, truncateNote(s))
	}
	v, err := strconv.ParseUint(s, 16, 16)
	if err != nil {
		return 0, fmt.Sprintf("%s %q is not a 4-digit hex id", name, truncateNote(s))
	}
	return uint16(v), ""
}

func (a attrs) decimal(name string) (int, string) {
	s, err := a.read(name)
	if err != nil {
		return 0, name + ": " + readProblem(err)
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > 9999 {
		return 0, fmt.Sprintf("%s %q is not a number from 1 to 9999", name, truncateNote(s))
	}
	return v, ""
}

// str reads a string descriptor attribute; the kernel leaves it out when
// the device has none.
func (a attrs) str(name, dev string, note Notef) string {
	s, err := a.read(name)
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		note("%s: %s: %s", dev, name, readProblem(err))
		return ""
	}
	return cleanString(s)
}

// readProblem says why an attribute could not be read, in words.
func readProblem(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENODEV):
		return "missing (device gone during the scan?)"
	case errors.Is(err, fs.ErrPermission):
		return "not readable"
	case errors.Is(err, safe.ErrTooLarge): // the note names the attribute already
		return fmt.Sprintf("larger than %d bytes: not a sysfs attribute", maxAttr)
	case errors.Is(err, safe.ErrNotRegular):
		return "not a file: not a sysfs attribute"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func truncateNote(s string) string {
	s = cleanString(s)
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
