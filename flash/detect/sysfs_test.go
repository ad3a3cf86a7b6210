package detect_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/flash/detect"
	"github.com/jetup/jetup/flash/detect/fakesysfs"
)

// Devices of a realistic bench: two boards in recovery (one behind a hub),
// the hub itself, a keyboard, the AGX debug MCU, and a USB-TTL adapter.
var (
	orinNano = detect.Record{Bus: 1, Dev: 5, Path: "8.4", Vendor: 0x0955, Product: 0x7523, SpeedMbps: 480,
		Manufacturer: "NVIDIA Corp.", ProductName: "APX"}
	orinNX = detect.Record{Bus: 3, Dev: 2, Path: "2", Vendor: 0x0955, Product: 0x7323, SpeedMbps: 12,
		Manufacturer: "NVIDIA Corp.", ProductName: "APX"}
	hub      = detect.Record{Bus: 1, Dev: 3, Path: "8", Vendor: 0x05e3, Product: 0x0610, SpeedMbps: 480, ProductName: "USB2.1 Hub"}
	keyboard = detect.Record{Bus: 1, Dev: 4, Path: "8.1", Vendor: 0x046d, Product: 0xc31c, SpeedMbps: 1.5,
		Manufacturer: "Logitech", ProductName: "USB Keyboard"}
	topo = detect.Record{Bus: 1, Dev: 7, Path: "10", Vendor: 0x0955, Product: 0x7045, SpeedMbps: 12,
		Manufacturer: "NVIDIA", ProductName: "TOPO", Serial: "TOPO1234"}
	ttl = detect.Record{Bus: 1, Dev: 6, Path: "9", Vendor: 0x0403, Product: 0x6001, SpeedMbps: 12,
		Manufacturer: "FTDI", ProductName: "FT232R USB UART", Serial: "A10KZ8Q1"}
)

// tree writes a devices directory holding recs, with root hubs for buses 1
// and 3.
func tree(t testing.TB, recs ...detect.Record) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "devices")
	for _, bus := range []int{1, 3} {
		if err := fakesysfs.RootHub(dir, bus); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range recs {
		if _, err := fakesysfs.Add(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type notes []string

func (n *notes) add(format string, args ...any) { *n = append(*n, fmt.Sprintf(format, args...)) }
func (n notes) has(sub string) bool {
	for _, s := range n {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func byInstance(recs []detect.Record) map[string]detect.Record {
	m := map[string]detect.Record{}
	for _, r := range recs {
		m[r.Instance()] = r
	}
	return m
}

// reenumerateAsFlashGadget does what the board does when the flash's
// initrd starts: the Orin Nano leaves its port and the jetpack-nixos gadget
// (1d6b:0104 NixOS/serial) appears at the same usb_instance.
func reenumerateAsFlashGadget(t testing.TB, dir string) detect.Record {
	t.Helper()
	if err := fakesysfs.Remove(dir, orinNano.Instance()); err != nil {
		t.Fatal(err)
	}
	gadget := orinNano
	gadget.Dev, gadget.Vendor, gadget.Product, gadget.Manufacturer, gadget.ProductName = 6, 0x1d6b, 0x0104, "NixOS", "serial"
	if _, err := fakesysfs.Add(dir, gadget); err != nil {
		t.Fatal(err)
	}
	return gadget
}

func TestSysfsListsEveryDeviceButRootHubsAndInterfaces(t *testing.T) {
	all := []detect.Record{orinNano, orinNX, hub, keyboard, topo, ttl}
	dir := tree(t, all...)
	var n notes
	got, err := detect.NewSysfs(dir).List(context.Background(), n.add)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(all) {
		t.Fatalf("got %d records, want %d: %+v (notes %v)", len(got), len(all), got, n)
	}
	m := byInstance(got)
	for _, want := range all {
		if m[want.Instance()] != want {
			t.Errorf("%s: got %+v, want %+v", want.Instance(), m[want.Instance()], want)
		}
	}
	if len(n) != 0 {
		t.Errorf("a clean tree gave notes: %v", n)
	}
}

func TestSysfsAcceptsARootOrTheDevicesDirectory(t *testing.T) {
	root := t.TempDir()
	devs := filepath.Join(root, "bus", "usb", "devices")
	if _, err := fakesysfs.Add(devs, orinNano); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{root, devs} {
		got, err := detect.ResolveSysfsDir(arg)
		if err != nil || got != devs {
			t.Errorf("ResolveSysfsDir(%s) = %s, %v; want %s", arg, got, err, devs)
		}
	}
	if _, err := detect.ResolveSysfsDir(filepath.Join(root, "nope")); err == nil {
		t.Error("a missing directory must be an error for --sysfs")
	}
}

// Garbage never crashes the lister: a bad identity attribute skips that
// device with a note, a bad speed or string keeps it with the value
// unknown, and the good devices around it are listed.
func TestSysfsSkipsGarbageWithANote(t *testing.T) {
	dir := tree(t, orinNano)
	good := fakesysfs.Attrs(detect.Record{Bus: 2, Dev: 9, Path: "1", Vendor: 0x0955, Product: 0x7623, SpeedMbps: 480})
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		if v == "<missing>" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name  string
		attrs map[string]string
		note  string
	}{
		{"2-1", with("idVendor", "zz55\n"), `idVendor "zz55" is not a 4-digit hex id`},
		{"2-1", with("idProduct", "<missing>"), "idProduct: missing"},
		{"2-1", with("idProduct", strings.Repeat("7", 100000)), "idProduct: larger than 4096 bytes"},
		{"2-1", with("busnum", "-3\n"), `busnum "-3" is not a number`},
		{"2-1", with("devnum", "\x00\x01\n"), "devnum"},
		{"2-1", with("devpath", "1..2\n"), `devpath "1..2" is not a port path`},
		{"2-1", with("busnum", "4\n"), "do not match the name"},
		{"2-x", good, "not a USB device name"},
	}
	for _, c := range cases {
		t.Run(c.note, func(t *testing.T) {
			d := filepath.Join(t.TempDir(), "devices")
			if _, err := fakesysfs.Add(d, orinNano); err != nil {
				t.Fatal(err)
			}
			if _, err := fakesysfs.Write(d, c.name, c.attrs); err != nil {
				t.Fatal(err)
			}
			var n notes
			got, err := detect.NewSysfs(d).List(context.Background(), n.add)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != orinNano {
				t.Errorf("want only the good board, got %+v", got)
			}
			if !n.has(c.note) || !n.has("skipped") {
				t.Errorf("notes %q lack %q", n, c.note)
			}
		})
	}

	// Descriptive attributes: kept, value unknown, a note.
	if _, err := fakesysfs.Write(dir, "2-1", with("speed", "fast\n")); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(dir, "2-1", "manufacturer"), []byte("NV\xffIDIA\x1b[31m\n"), 0o644)
	// A file where a device directory should be, and a device whose
	// attributes are unreadable directories.
	_ = os.WriteFile(filepath.Join(dir, "4-1"), []byte("junk"), 0o644)
	_ = os.MkdirAll(filepath.Join(dir, "5-1", "idVendor"), 0o755)
	var n notes
	got, err := detect.NewSysfs(dir).List(context.Background(), n.add)
	if err != nil {
		t.Fatal(err)
	}
	m := byInstance(got)
	if r, ok := m["2-1"]; !ok || r.SpeedMbps != 0 || r.Manufacturer != "NV\uFFFDIDIA[31m" {
		t.Errorf("garbage speed/strings: %+v (ok %v)", r, ok)
	}
	if !n.has(`speed "fast" not understood`) || !n.has("4-1") || !n.has("5-1") {
		t.Errorf("notes %q", n)
	}
	if len(got) != 2 {
		t.Errorf("want the board and 2-1, got %+v", got)
	}
}

func TestSysfsWithoutABusListsNothingWithANote(t *testing.T) {
	var n notes
	s := detect.NewSysfs(filepath.Join(t.TempDir(), "no-such-dir"))
	for i := 0; i < 3; i++ {
		got, err := s.List(context.Background(), n.add)
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v, %v", got, err)
		}
	}
	if len(n) != 1 || !strings.Contains(n[0], "no USB bus") {
		t.Errorf("want one note about the missing bus, got %q", n)
	}
}

// A device re-enumerated at the same port (every reset during a flash) is
// read afresh even though its directory name is the same.
func TestSysfsSeesReEnumerationAtTheSamePort(t *testing.T) {
	dir := tree(t, orinNano)
	s := detect.NewSysfs(dir)
	first, _ := s.List(context.Background(), nil)
	if len(first) != 1 || first[0].Dev != 5 {
		t.Fatalf("first %+v", first)
	}
	gadget := reenumerateAsFlashGadget(t, dir)
	second, _ := s.List(context.Background(), nil)
	if len(second) != 1 || second[0] != gadget {
		t.Errorf("after re-enumeration got %+v, want %+v", second, gadget)
	}
}

// A device that vanishes between the directory read and its attributes is
// skipped with a note, never half-listed.
func TestSysfsDeviceGoneDuringTheScan(t *testing.T) {
	dir := tree(t, orinNano, hub)
	// The entry is still listed but its attributes are gone: what a scan
	// sees when the board resets under it.
	for _, a := range []string{"idVendor", "idProduct", "busnum", "devnum", "devpath", "speed", "manufacturer", "product"} {
		_ = os.Remove(filepath.Join(dir, orinNano.Instance(), a))
	}
	var n notes
	got, err := detect.NewSysfs(dir).List(context.Background(), n.add)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != hub {
		t.Errorf("got %+v", got)
	}
	if !n.has("1-8.4: idVendor: missing (device gone during the scan?), skipped") {
		t.Errorf("notes %q", n)
	}
}

func TestSysfsUnreadableDevicesDirectoryIsAnError(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	_ = os.WriteFile(f, nil, 0o644)
	if _, err := detect.NewSysfs(f).List(context.Background(), nil); err == nil {
		t.Error("want an error when the devices directory is a file")
	}
}

// The sysfs lister checks device nodes only on the real /dev; a moved tree
// has none.
func TestSysfsAccessChecksNodesUnderDevDir(t *testing.T) {
	dev := t.TempDir()
	s := &detect.Sysfs{Dir: t.TempDir(), DevDir: dev}
	err := s.Access(orinNano)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dev, "bus/usb/001/005")) {
		t.Errorf("missing node: %v", err)
	}
	_ = os.MkdirAll(filepath.Join(dev, "bus/usb/001"), 0o755)
	_ = os.WriteFile(filepath.Join(dev, "bus/usb/001/005"), nil, 0o666)
	if err := s.Access(orinNano); err != nil {
		t.Errorf("present node: %v", err)
	}
	if err := detect.NewSysfs(t.TempDir()).Access(orinNano); err != nil {
		t.Errorf("a moved tree checks no nodes: %v", err)
	}
}
