package serialcon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/profiles"
)

func profile(t *testing.T, name string) *profiles.Profile {
	t.Helper()
	set, errs := profiles.Load(assets.Profiles(), "")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p, ok := set.Get(name)
	if !ok {
		t.Fatalf("no profile %s", name)
	}
	return p
}

func topo(i int) PortInfo {
	return PortInfo{Path: "/dev/ttyACM" + string(rune('0'+i)), USB: true, VID: "0955", PID: "7045", Serial: "TOPO0042",
		Manufacturer: "NVIDIA", Product: "Debug MCU", Interface: 2 * i, Driver: "cdc_acm"}
}

// A bench: the AGX Orin's debug MCU (four ACM ports), the flash gadget of a
// board being flashed, an FTDI USB-TTL adapter, a PC's built-in UART.
func bench() []PortInfo {
	return []PortInfo{
		topo(3), topo(1), topo(0), topo(2),
		{Path: "/dev/ttyACM4", USB: true, VID: "1d6b", PID: "0104", Manufacturer: "NixOS", Product: "serial", Serial: "0", Interface: 0,
			ByID: "/dev/serial/by-id/usb-NixOS_serial_0-if00"},
		{Path: "/dev/ttyUSB0", USB: true, VID: "0403", PID: "6001", Manufacturer: "FTDI", Product: "FT232R USB UART", Serial: "A50285BI", Interface: 0},
		{Path: "/dev/ttyS0", Interface: -1},
	}
}

func TestRankAGXOrinPicksFirstDebugMCUPort(t *testing.T) {
	c := Rank(bench(), profile(t, "orin-agx-devkit"))
	best, ties, ok := Best(c)
	if !ok || best.Port.Path != "/dev/ttyACM0" || ties != 0 {
		t.Fatalf("best %+v ties %d", best, ties)
	}
	if !strings.Contains(best.Why, "TOPO") || !strings.Contains(best.Why, "port 1 of 4") {
		t.Errorf("why %q", best.Why)
	}
	last := c[len(c)-1]
	if last.Port.Path != "/dev/ttyACM4" || !last.Excluded || !strings.Contains(last.Why, "flash gadget") {
		t.Errorf("the flash gadget must be last and excluded: %+v", last)
	}
}

func TestRankOrinNanoPicksTheUSBTTLAdapter(t *testing.T) {
	best, _, ok := Best(Rank(bench(), profile(t, "orin-nano-devkit")))
	if !ok || best.Port.Path != "/dev/ttyUSB0" || !strings.Contains(best.Why, "FT232R") {
		t.Fatalf("best %+v", best)
	}
}

func TestRankAGXXavierPicksTheLastFT4232Port(t *testing.T) {
	var ports []PortInfo
	for i := 0; i < 4; i++ {
		ports = append(ports, PortInfo{Path: "/dev/ttyUSB" + string(rune('0'+i)), USB: true, VID: "0403", PID: "6011",
			Serial: "FT4X", Interface: i})
	}
	best, _, ok := Best(Rank(ports, profile(t, "xavier-agx-devkit")))
	if !ok || best.Port.Path != "/dev/ttyUSB3" {
		t.Fatalf("best %+v", best)
	}
}

func TestBuiltInUARTIsNotPickedAlone(t *testing.T) {
	c := Rank([]PortInfo{{Path: "/dev/ttyS0", Interface: -1}}, profile(t, "orin-agx-devkit"))
	if _, _, ok := Best(c); ok || len(c) != 1 || !strings.Contains(c[0].Why, "--port") {
		t.Errorf("a PC's ttyS0 must be listed, not picked: %+v", c)
	}
}

func TestFlashGadgetIsNeverPicked(t *testing.T) {
	gadget := bench()[4]
	if _, _, ok := Best(Rank([]PortInfo{gadget}, profile(t, "orin-nano-devkit"))); ok {
		t.Error("the flash gadget was offered as the console")
	}
	if _, _, ok := Best(Rank([]PortInfo{gadget}, nil)); ok {
		t.Error("the flash gadget was offered without a profile")
	}
}

func TestTwoAdaptersTie(t *testing.T) {
	a := bench()[5]
	b := a
	b.Path, b.Serial = "/dev/ttyUSB1", "B0"
	_, ties, _ := Best(Rank([]PortInfo{a, b}, profile(t, "rpi4")))
	if ties != 0 {
		// ttyUSB0 is the profile's usual name: it wins over ttyUSB1.
		t.Errorf("ties %d", ties)
	}
	b.Path = "/dev/ttyUSB7"
	a.Path = "/dev/ttyUSB6"
	if _, ties, _ := Best(Rank([]PortInfo{a, b}, profile(t, "rpi4"))); ties != 1 {
		t.Errorf("two unnamed adapters should tie, ties %d", ties)
	}
}

// A sysfs and /dev tree laid out as the kernel and udev make them for a
// CP210x adapter (usb-serial: port under the interface) and an ACM port.
func TestReadSysfsUSB(t *testing.T) {
	root := t.TempDir()
	sys, dev := filepath.Join(root, "sys"), filepath.Join(root, "dev")
	iface := filepath.Join(sys, "devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0")
	mk := func(p, content string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, name string) {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
	}
	mk(filepath.Join(iface, "bInterfaceNumber"), "00\n")
	mk(filepath.Join(iface, "ttyUSB0", "uevent"), "")
	mk(filepath.Join(sys, "bus/usb-serial/drivers/cp210x/uevent"), "")
	link(filepath.Join(sys, "bus/usb-serial/drivers/cp210x"), filepath.Join(iface, "ttyUSB0", "driver"))
	link(filepath.Join(iface, "ttyUSB0"), filepath.Join(sys, "class/tty/ttyUSB0/device"))
	acm := filepath.Join(sys, "devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.2")
	mk(filepath.Join(acm, "bInterfaceNumber"), "02\n")
	link(acm, filepath.Join(sys, "class/tty/ttyACM1/device"))
	link("../../ttyUSB0", filepath.Join(dev, "serial/by-id/usb-Silicon_Labs_CP2102_0001-if00-port0"))

	ports := []PortInfo{{Path: "/dev/ttyUSB0", USB: true}, {Path: "/dev/ttyACM1", USB: true}, {Path: "/dev/ttyS0"}}
	readSysfsUSB(ports, sys, dev)
	if p := ports[0]; p.Interface != 0 || p.Driver != "cp210x" || filepath.Base(p.ByID) != "usb-Silicon_Labs_CP2102_0001-if00-port0" {
		t.Errorf("ttyUSB0 %+v", p)
	}
	if p := ports[1]; p.Interface != 2 || p.ByID != "" {
		t.Errorf("ttyACM1 %+v", p)
	}
	if p := ports[2]; p.Interface != -1 {
		t.Errorf("ttyS0 %+v", p)
	}
}

func TestListOnThisHostDoesNotFail(t *testing.T) {
	// No USB bus on the build machines: the list may be empty, but the
	// enumerator and the sysfs reader must not fail.
	if _, err := (System{}).List(); err != nil {
		t.Fatal(err)
	}
}
