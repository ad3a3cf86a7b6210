package media

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeSys builds a /sys, /proc and /run/udev tree the way the kernel lays
// them out, so the system-disk rule is tested without touching real disks.
type fakeSys struct {
	t    *testing.T
	root string
}

func newFakeSys(t *testing.T) *fakeSys {
	f := &fakeSys{t: t, root: t.TempDir()}
	f.write("proc/self/mountinfo", "")
	f.write("proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
	return f
}

func (f *fakeSys) write(rel, content string) {
	p := filepath.Join(f.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// disk adds /sys/devices/<devpath>/block/<name> and the /sys/block link.
func (f *fakeSys) disk(name, devpath, majMin string, sectors int64, removable bool, attrs map[string]string) string {
	dir := filepath.Join("sys", devpath, "block", name)
	rm := "0"
	if removable {
		rm = "1"
	}
	f.write(filepath.Join(dir, "dev"), majMin+"\n")
	f.write(filepath.Join(dir, "size"), itoa(sectors)+"\n")
	f.write(filepath.Join(dir, "removable"), rm+"\n")
	f.write(filepath.Join(dir, "ro"), "0\n")
	f.write(filepath.Join(dir, "queue", "logical_block_size"), "512\n")
	f.write(filepath.Join(dir, "queue", "physical_block_size"), "512\n")
	f.write(filepath.Join(dir, "queue", "nr_requests"), "2\n")
	for k, v := range attrs {
		f.write(filepath.Join(dir, k), v+"\n")
	}
	if err := os.MkdirAll(filepath.Join(f.root, "sys", "block"), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..", devpath, "block", name), filepath.Join(f.root, "sys", "block", name)); err != nil {
		f.t.Fatal(err)
	}
	return dir
}

func (f *fakeSys) part(diskDir, name, majMin string, number int, start, sectors int64) {
	dir := filepath.Join(diskDir, name)
	f.write(filepath.Join(dir, "dev"), majMin+"\n")
	f.write(filepath.Join(dir, "partition"), itoa(int64(number))+"\n")
	f.write(filepath.Join(dir, "start"), itoa(start)+"\n")
	f.write(filepath.Join(dir, "size"), itoa(sectors)+"\n")
}

func (f *fakeSys) holder(dir, holder string) {
	f.write(filepath.Join(dir, "holders", holder), "") // a link in real sysfs; only the name is read
}

func (f *fakeSys) mount(majMin, point, fstype, source string) {
	p := filepath.Join(f.root, "proc/self/mountinfo")
	b, _ := os.ReadFile(p)
	line := "36 25 " + majMin + " / " + point + " rw,relatime shared:1 - " + fstype + " " + source + " rw\n"
	f.write("proc/self/mountinfo", string(b)+line)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

const (
	usbPath  = "devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0"
	usb2Path = "devices/pci0000:00/0000:00:14.0/usb2/2-2/2-2:1.0/host7/target7:0:0/7:0:0:0"
	usb3Path = "devices/pci0000:00/0000:00:14.0/usb2/2-3/2-3:1.0/host8/target8:0:0/8:0:0:0"
	nvmePath = "devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0"
	mmcPath  = "devices/pci0000:00/0000:00:14.5/mmc_host/mmc0/mmc0:aaaa"
	ataPath  = "devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0"
)

// bench is a laptop with the usual cast: an NVMe system disk, an
// automounted USB stick, an SD card in the internal reader, a SATA data
// disk, a loop device, a stick holding the image, a LUKS stick, a small
// stick, a write-protected card, a USB disk used as swap.
func benchTree(t *testing.T) *fakeSys {
	f := newFakeSys(t)
	nv := f.disk("nvme0n1", nvmePath, "259:0", 1000215216, false, map[string]string{"device/model": "Samsung SSD 980 PRO 1TB", "device/serial": "S5GXNF0R"})
	f.part(nv, "nvme0n1p1", "259:1", 1, 2048, 1048576)
	f.part(nv, "nvme0n1p2", "259:2", 2, 1050624, 999164592)
	f.holder(filepath.Join(nv, "nvme0n1p2"), "dm-0")
	f.disk("dm-0", "devices/virtual", "254:0", 999164592, false, map[string]string{"dm/name": "vg-root"})
	f.mount("259:1", "/boot", "vfat", "/dev/nvme0n1p1")
	f.mount("254:0", "/", "ext4", "/dev/mapper/vg-root")

	st := f.disk("sda", usbPath, "8:0", 60437492, true, map[string]string{"device/vendor": "SanDisk", "device/model": "Ultra Fit"})
	f.write("sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/idVendor", "0781\n")
	f.write("sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/serial", "4C530001230518117373\n")
	f.part(st, "sda1", "8:1", 1, 2048, 60435444)
	f.mount("8:1", "/media/tech/STICK\\040A", "vfat", "/dev/sda1")
	f.write("run/udev/data/b8:0", "E:ID_PATH=pci-0000:00:14.0-usb-0:1:1.0-scsi-0:0:0:0\nE:ID_SERIAL_SHORT=4C530001230518117373\n")

	f.disk("mmcblk0", mmcPath, "179:0", 62333952, false, map[string]string{"device/name": "SD64G", "device/serial": "0x1234abcd"})
	f.disk("sdb", ataPath, "8:16", 3907029168, false, map[string]string{"device/vendor": "ATA", "device/model": "ST2000DM008"})
	f.disk("loop3", "devices/virtual", "7:3", 2097152, false, map[string]string{"loop/backing_file": "/tmp/x.img"})
	f.disk("loop4", "devices/virtual", "7:4", 0, false, nil) // nothing attached: not listed

	img := f.disk("sdc", usb2Path, "8:32", 60437492, true, map[string]string{"device/vendor": "Kingston"})
	f.part(img, "sdc1", "8:33", 1, 2048, 60435444)

	luks := f.disk("sdd", usb3Path, "8:48", 60437492, true, nil)
	f.part(luks, "sdd1", "8:49", 1, 2048, 60435444)
	f.holder(filepath.Join(luks, "sdd1"), "dm-1")
	f.disk("dm-1", "devices/virtual", "254:1", 60433396, false, map[string]string{"dm/name": "luks-x"})

	f.disk("sde", "devices/pci0000:00/0000:00:14.0/usb2/2-4/2-4:1.0/host9/target9:0:0/9:0:0:0", "8:64", 7811072, true, nil)
	ro := f.disk("sdf", "devices/pci0000:00/0000:00:14.0/usb2/2-5/2-5:1.0/host10/target10:0:0/10:0:0:0", "8:80", 60437492, true, nil)
	f.write(filepath.Join(ro, "ro"), "1\n")
	sw := f.disk("sdg", "devices/pci0000:00/0000:00:14.0/usb2/2-6/2-6:1.0/host11/target11:0:0/11:0:0:0", "8:96", 60437492, true, nil)
	f.part(sw, "sdg2", "8:98", 2, 2048, 60435444)
	f.write("proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n/dev/sdg2                               partition\t8388604\t0\t-2\n/swapfile file 100 0 -3\n")
	return f
}

func byName(t *testing.T, ds []Disk) map[string]*Disk {
	t.Helper()
	m := map[string]*Disk{}
	for i := range ds {
		m[ds[i].Name] = &ds[i]
	}
	return m
}

func causes(rs []Reason) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Cause)
	}
	return strings.Join(s, ",")
}

func TestDiscoveryReadsTheSysfsTree(t *testing.T) {
	f := benchTree(t)
	ds, err := System{Root: f.root}.Disks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d := byName(t, ds)
	if _, ok := d["loop4"]; ok {
		t.Error("an unattached loop device was listed")
	}
	st := d["sda"]
	if st == nil {
		t.Fatal("sda missing")
	}
	if st.Transport != USB || st.Vendor != "SanDisk" || st.Model != "Ultra Fit" || st.Serial != "4C530001230518117373" ||
		st.ByPath != "pci-0000:00:14.0-usb-0:1:1.0-scsi-0:0:0:0" || st.Size != 60437492*512 {
		t.Errorf("sda: %+v", st)
	}
	if len(st.Mounts) != 1 || st.Mounts[0].Point != "/media/tech/STICK A" || st.Mounts[0].Device != "sda1" {
		t.Errorf("sda mounts %+v (octal escapes must be undone)", st.Mounts)
	}
	if len(st.Partitions) != 1 || st.Partitions[0].Start != 2048*512 {
		t.Errorf("sda partitions %+v", st.Partitions)
	}
	want := map[string]Transport{"nvme0n1": NVMe, "mmcblk0": MMC, "sdb": ATA, "loop3": Loop, "dm-0": Virtual}
	for n, tr := range want {
		if d[n] == nil || d[n].Transport != tr {
			t.Errorf("%s transport: %+v", n, d[n])
		}
	}
	if d["mmcblk0"].Model != "SD64G" || d["nvme0n1"].Serial != "S5GXNF0R" || d["loop3"].BackingFile != "/tmp/x.img" {
		t.Errorf("model/serial/backing: %+v %+v %+v", d["mmcblk0"], d["nvme0n1"], d["loop3"])
	}
	if got := d["nvme0n1"].Holders; len(got) != 1 || got[0] != "dm-0" {
		t.Errorf("nvme holders %v", got)
	}
	// Each stick is named so a person finds the slot: its USB port path
	// from sysfs (bus 2, port 1), the card reader's MMC host.
	if l := st.Label(); l != "sda (usb 2-1, serial 4C530001230518117373)" {
		t.Errorf("sda label %q", l)
	}
	if p := d["mmcblk0"].Port(); p != "mmc0" {
		t.Errorf("mmcblk0 port %q", p)
	}
	if l := d["loop3"].Label(); l != "loop3" {
		t.Errorf("loop3 label %q", l)
	}
}

func TestSafetyRulesEachHaveTheirOwnCause(t *testing.T) {
	f := benchTree(t)
	ds, err := System{Root: f.root}.Disks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d := byName(t, ds)
	c := Constraints{ImageSize: 8 << 30, ImagePath: "/media/k/nixos.img.zst", ImageDevs: []string{"8:33"}}
	want := map[string]string{
		"nvme0n1": "system-disk,held,fixed-disk", // / through LVM on p2, /boot on p1
		"sda":     "mounted",                     // an automounted stick: a candidate once unmounted
		"mmcblk0": "",                            // internal reader says rm=0; MMC counts as removable
		"sdb":     "fixed-disk",
		"loop3":   "fixed-disk,too-small",
		"sdc":     "image-disk",
		"sdd":     "held",
		"sde":     "too-small",
		"sdf":     "read-only",
		"sdg":     "system-disk", // swap
	}
	for name, w := range want {
		disk := d[name]
		if disk == nil {
			t.Errorf("%s missing", name)
			continue
		}
		rs := Check(disk, c)
		if got := causes(rs); got != w {
			t.Errorf("%s: causes %q, want %q (%+v)", name, got, w, rs)
		}
		for _, r := range rs {
			if r.What == "" || r.Next == "" || !strings.Contains(r.What, disk.Path) {
				t.Errorf("%s: reason without a message naming the disk or a next step: %+v", name, r)
			}
		}
	}
	if rs := Check(d["sdb"], Constraints{AllowFixed: true}); len(rs) != 0 {
		t.Errorf("--allow-fixed must let a data disk through: %+v", rs)
	}
	if rs := Check(d["nvme0n1"], Constraints{AllowFixed: true}); causes(rs) != "system-disk,held" {
		t.Errorf("--allow-fixed must never let the system disk through: %+v", rs)
	}
	if r := Check(d["sda"], c)[0]; !r.Consent || len(Blocking([]Reason{r})) != 0 {
		t.Errorf("mounted is lifted by consent: %+v", r)
	}
}

func TestBtrfsRootIsFoundBySource(t *testing.T) {
	f := newFakeSys(t)
	vd := f.disk("vdb", "devices/pci0000:00/0000:00:05.0/virtio3", "253:16", 41943040, false, nil)
	f.part(vd, "vdb2", "253:18", 2, 2048, 41940992)
	f.mount("0:31", "/", "btrfs", "/dev/vdb2") // btrfs has an anonymous device number
	ds, err := System{Root: f.root}.Disks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := causes(Check(&ds[0], Constraints{AllowFixed: true})); got != "system-disk" {
		t.Errorf("btrfs root: %q", got)
	}
}

// A USB stick's vendor, model and serial are what its firmware says (SCSI
// INQUIRY, USB string descriptors) and reach the terminal in the write
// list, the confirmation and the TUI: no escape sequence from a stick
// ever does.
func TestDiskStringsFromTheDeviceCarryNoEscapes(t *testing.T) {
	f := newFakeSys(t)
	f.disk("sda", usbPath, "8:0", 60437492, true, map[string]string{"device/vendor": "Evil\x1b[2J", "device/model": "Stick\x1b]52;c;eA==\x07"})
	f.write("sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/idVendor", "0781\n")
	f.write("sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/serial", "SER\x1b[31m1\n")
	ds, err := System{Root: f.root}.Disks(context.Background())
	if err != nil || len(ds) != 1 {
		t.Fatalf("%v %v", ds, err)
	}
	d := ds[0]
	if d.Vendor != "Evil" || d.Model != "Stick" || d.Serial != "SER1" {
		t.Errorf("vendor %q model %q serial %q", d.Vendor, d.Model, d.Serial)
	}
}
