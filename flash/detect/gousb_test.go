//go:build cgo

package detect

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/google/gousb"
)

// writeDevice writes one device directory as the kernel would for the
// device gousb describes as d (no fakesysfs here: it imports detect).
func writeDevice(t *testing.T, dir string, d *gousb.DeviceDesc, speed string, strs map[string]string) {
	t.Helper()
	name := strconv.Itoa(d.Bus) + "-" + joinPath(d.Path)
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"idVendor": strings.TrimPrefix(d.Vendor.String(), "0x"), "idProduct": strings.TrimPrefix(d.Product.String(), "0x"),
		"busnum": strconv.Itoa(d.Bus), "devnum": strconv.Itoa(d.Address), "devpath": joinPath(d.Path), "speed": speed,
	}
	for k, v := range strs {
		files[k] = v
	}
	for k, v := range files {
		if err := os.WriteFile(filepath.Join(p, k), []byte(v+"\n"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
}

// The gousb lister and the sysfs lister give the same Record for the same
// device: the descriptor gousb would hand to the opener, mapped, equals the
// sysfs lister's record of the kernel's directory for that device.
func TestGousbRecordEqualsSysfsRecord(t *testing.T) {
	cases := []struct {
		desc  gousb.DeviceDesc
		speed string
		strs  map[string]string
	}{
		{gousb.DeviceDesc{Bus: 1, Address: 5, Port: 4, Path: []int{8, 4}, Speed: gousb.SpeedHigh, Vendor: 0x0955, Product: 0x7523},
			"480", map[string]string{"manufacturer": "NVIDIA Corp.", "product": "APX"}},
		{gousb.DeviceDesc{Bus: 3, Address: 2, Port: 2, Path: []int{2}, Speed: gousb.SpeedFull, Vendor: 0x0955, Product: 0x7e19},
			"12", map[string]string{"manufacturer": "NVIDIA", "product": "APX"}},
		{gousb.DeviceDesc{Bus: 2, Address: 3, Port: 1, Path: []int{1}, Speed: gousb.SpeedSuper, Vendor: 0x1d6b, Product: 0x0104},
			"5000", map[string]string{"manufacturer": "NixOS", "product": "serial", "serial": "0"}},
		{gousb.DeviceDesc{Bus: 4, Address: 9, Port: 3, Path: []int{1, 2, 3}, Speed: 5, Vendor: 0x0bda, Product: 0x8153},
			"10000", nil},
		{gousb.DeviceDesc{Bus: 1, Address: 12, Port: 1, Path: []int{11, 1}, Speed: gousb.SpeedLow, Vendor: 0x046d, Product: 0xc31c},
			"1.5", map[string]string{"product": "USB Keyboard"}},
	}
	dir := t.TempDir()
	for _, c := range cases {
		writeDevice(t, dir, &c.desc, c.speed, c.strs)
	}
	fromSysfs, err := NewSysfs(dir).List(context.Background(), nil)
	if err != nil || len(fromSysfs) != len(cases) {
		t.Fatalf("sysfs: %v %v", fromSysfs, err)
	}
	bySysfs := map[string]Record{}
	for _, r := range fromSysfs {
		bySysfs[r.Instance()] = r
	}
	for _, c := range cases {
		rec := recordFromDesc(&c.desc)
		s := readStrings(filepath.Join(dir, rec.Instance()), nil)
		rec.Manufacturer, rec.ProductName, rec.Serial = s[0], s[1], s[2]
		if want := bySysfs[rec.Instance()]; rec != want {
			t.Errorf("%s:\n gousb %+v\n sysfs %+v", rec.Instance(), rec, want)
		}
	}
}

// On this machine (no USB bus) the real libusb starts and lists nothing,
// without an error. On a machine with a bus, it lists what sysfs lists.
func TestGousbOnThisMachine(t *testing.T) {
	g := NewGousb()
	defer g.Close()
	var notes []string
	got, err := g.List(context.Background(), func(f string, a ...any) { notes = append(notes, f) })
	if err != nil {
		t.Fatalf("gousb: %v", err)
	}
	if g.fallback != nil {
		t.Fatalf("libusb did not start here: %v", notes)
	}
	if _, statErr := os.Stat(SysfsDevices); errors.Is(statErr, os.ErrNotExist) {
		if len(got) != 0 {
			t.Errorf("no USB bus, yet gousb listed %+v", got)
		}
		return
	}
	want, _ := NewSysfs("").List(context.Background(), nil)
	if !reflect.DeepEqual(byInst(got), byInst(want)) {
		t.Errorf("gousb and sysfs disagree on this machine:\n gousb %+v\n sysfs %+v", got, want)
	}
}

func byInst(rs []Record) map[string]Record {
	m := map[string]Record{}
	for _, r := range rs {
		m[r.Instance()] = r
	}
	return m
}

// gousb.NewContext panics when libusb_init fails; the lister recovers,
// says so in a note, and lists from sysfs from then on.
func TestGousbFallsBackToSysfsWhenLibusbPanics(t *testing.T) {
	old := newContext
	newContext = func() *gousb.Context { panic(gousb.ErrorOther) }
	defer func() { newContext = old }()

	dir := t.TempDir()
	writeDevice(t, dir, &gousb.DeviceDesc{Bus: 1, Address: 5, Path: []int{8, 4}, Vendor: 0x0955, Product: 0x7523}, "480", nil)
	g := &Gousb{Strings: dir}
	var notes []string
	for i := 0; i < 2; i++ {
		got, err := g.List(context.Background(), func(f string, a ...any) { notes = append(notes, f) })
		if err != nil || len(got) != 1 || got[0].Instance() != "1-8.4" {
			t.Fatalf("fallback list: %+v %v", got, err)
		}
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "libusb failed to start") {
		t.Errorf("want one note about the fallback, got %q", notes)
	}
	if err := g.Close(); err != nil {
		t.Error(err)
	}
}
