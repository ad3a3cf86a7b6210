package testkit

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// FakeDisks is a root (sys/, proc/, dev/) for media.System in which real
// loop devices show up as USB sticks, laid out as the kernel lays out a
// usb-storage disk: there is no USB bus here, so a loop device is
// "plugged in" by giving it a place under a USB port in a fake sysfs and
// a device node with its own device number. Writes reach the loop device.
type FakeDisks struct {
	t    testing.TB
	Root string
}

// NewFakeDisks is an empty bench: no disks, nothing mounted.
func NewFakeDisks(t testing.TB) *FakeDisks {
	t.Helper()
	NeedRoot(t) // mknod
	f := &FakeDisks{t: t, Root: t.TempDir()}
	f.write("proc/self/mountinfo", "")
	f.write("proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
	if err := os.MkdirAll(filepath.Join(f.Root, "sys", "block"), 0o755); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *FakeDisks) write(rel, content string) {
	p := filepath.Join(f.Root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// Plug presents the loop device dev (/dev/loopN) as disk name in USB port
// 2-port with the given serial; removable is the kernel's flag (a stick
// says 1, a USB hard disk 0). The /sys/block link comes last, as the
// kernel's uevent does: the scan and the hotplug source see a whole disk.
func (f *FakeDisks) Plug(name string, port int, dev string, removable bool, serial string) {
	f.t.Helper()
	loop := filepath.Join("/sys/block", filepath.Base(dev))
	mm, err := os.ReadFile(filepath.Join(loop, "dev"))
	if err != nil {
		f.t.Fatalf("%s: %v", dev, err)
	}
	size, _ := os.ReadFile(filepath.Join(loop, "size"))
	majMin := strings.TrimSpace(string(mm))
	maj, min, _ := strings.Cut(majMin, ":")
	ma, _ := strconv.Atoi(maj)
	mi, _ := strconv.Atoi(min)
	if err := os.MkdirAll(filepath.Join(f.Root, "dev"), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(f.Root, "dev", name), unix.S_IFBLK|0o600, int(unix.Mkdev(uint32(ma), uint32(mi)))); err != nil {
		f.t.Fatalf("mknod %s: %v", name, err)
	}
	p := strconv.Itoa(port)
	usb := "sys/devices/pci0000:00/0000:00:14.0/usb2/2-" + p
	f.write(usb+"/idVendor", "0781\n")
	f.write(usb+"/serial", serial+"\n")
	disk := usb + "/2-" + p + ":1.0/host1" + p + "/target1" + p + ":0:0/1" + p + ":0:0:0/block/" + name
	rm := map[bool]string{true: "1\n", false: "0\n"}[removable]
	for k, v := range map[string]string{"dev": majMin + "\n", "size": string(size), "removable": rm, "ro": "0\n",
		"queue/logical_block_size": "512\n", "queue/physical_block_size": "512\n", "queue/nr_requests": "2\n",
		"device/vendor": "Generic\n", "device/model": "Flash Disk\n"} {
		f.write(disk+"/"+k, v)
	}
	if err := os.Symlink(filepath.Join("..", strings.TrimPrefix(disk, "sys/")), filepath.Join(f.Root, "sys", "block", name)); err != nil {
		f.t.Fatal(err)
	}
}

// Unplug takes disk name away, as the kernel does when a stick is pulled
// or deleted from the SCSI layer.
func (f *FakeDisks) Unplug(name string) {
	_ = os.Remove(filepath.Join(f.Root, "sys", "block", name))
	_ = os.Remove(filepath.Join(f.Root, "dev", name))
}

// Deleted reports whether disk name was deleted from the SCSI layer
// (its device/delete written, as a power-off without udisks does).
func (f *FakeDisks) Deleted(name string) bool {
	b, _ := os.ReadFile(filepath.Join(f.Root, "sys", "block", name, "device", "delete"))
	return string(b) == "1\n"
}
