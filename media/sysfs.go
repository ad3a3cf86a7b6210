package media

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/jetup/jetup/safe"
)

// scan reads every disk under root's /sys/block, with partitions, holders,
// mounts (root's /proc/self/mountinfo) and swap (/proc/swaps). root is "/"
// on the machine; tests pass a fake tree.
func scan(root string) ([]Disk, error) {
	sysBlock := filepath.Join(root, "sys", "block")
	entries, err := os.ReadDir(sysBlock)
	if err != nil {
		return nil, err
	}
	// Every block device by name and by number, for holders, mounts, swap.
	byName := map[string]string{}  // name -> maj:min
	dmNames := map[string]string{} // /dev/mapper name -> dm-N
	holdersOf := map[string][]string{}
	var disks []Disk
	for _, e := range entries {
		name := e.Name()
		if skipDevice(name) {
			continue
		}
		dir := filepath.Join(sysBlock, name)
		d := readDisk(root, dir, name)
		if d.Transport == Loop && d.Size == 0 {
			continue // a loop device with nothing attached
		}
		byName[name] = d.MajMin
		holdersOf[name] = listDir(filepath.Join(dir, "holders"))
		if n := readString(filepath.Join(dir, "dm", "name")); n != "" {
			dmNames[n] = name
		}
		for _, p := range d.Partitions {
			byName[p.Name] = p.MajMin
			holdersOf[p.Name] = listDir(filepath.Join(dir, p.Name, "holders"))
		}
		disks = append(disks, d)
	}
	mounts := readMountinfo(filepath.Join(root, "proc", "self", "mountinfo"))
	swaps := readSwaps(filepath.Join(root, "proc", "swaps"))
	for i := range disks {
		d := &disks[i]
		// Everything built on the disk: its partitions and, through the
		// holders links, dm/md devices on top, recursively.
		names := map[string]bool{d.Name: true}
		queue := []string{d.Name}
		for _, p := range d.Partitions {
			names[p.Name] = true
			queue = append(queue, p.Name)
		}
		for len(queue) > 0 {
			n := queue[0]
			queue = queue[1:]
			for _, h := range holdersOf[n] {
				if !names[h] {
					names[h] = true
					d.Holders = append(d.Holders, h)
					queue = append(queue, h)
				}
			}
		}
		d.stack = map[string]bool{}
		for n := range names {
			if mm := byName[n]; mm != "" {
				d.stack[mm] = true
			}
		}
		for _, m := range mounts {
			dev := deviceOf(m, byName, dmNames)
			if dev != "" && names[dev] {
				d.Mounts = append(d.Mounts, Mount{Device: dev, Point: m.point, FSType: m.fstype, ID: m.id, MajMin: m.majMin})
			}
		}
		for _, sw := range swaps {
			if dev := devName(sw, dmNames); names[dev] {
				d.Swap = append(d.Swap, dev)
			}
		}
		sort.Strings(d.Holders)
	}
	sort.Slice(disks, func(i, j int) bool { return disks[i].Name < disks[j].Name })
	return disks, nil
}

// skipDevice leaves out what can never hold an installer: RAM disks,
// compressed swap in RAM, optical drives.
func skipDevice(name string) bool {
	for _, p := range []string{"ram", "zram", "sr", "fd"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func readDisk(root, dir, name string) Disk {
	d := Disk{Name: name, Path: "/dev/" + name}
	d.MajMin = readString(filepath.Join(dir, "dev"))
	d.Size = readInt(filepath.Join(dir, "size")) * 512
	d.Removable = readString(filepath.Join(dir, "removable")) == "1"
	d.ReadOnly = readString(filepath.Join(dir, "ro")) == "1"
	d.LogicalBlock = int(readInt(filepath.Join(dir, "queue", "logical_block_size")))
	d.PhysicalBlock = int(readInt(filepath.Join(dir, "queue", "physical_block_size")))
	d.NrRequests = int(readInt(filepath.Join(dir, "queue", "nr_requests")))
	d.WriteZeroes = readInt(filepath.Join(dir, "queue", "write_zeroes_max_bytes")) > 0
	if d.LogicalBlock <= 0 {
		d.LogicalBlock = 512
	}
	if d.PhysicalBlock < d.LogicalBlock {
		d.PhysicalBlock = d.LogicalBlock
	}
	link, _ := os.Readlink(dir)
	d.SysPath = sysPath(link)
	d.Transport = transportOf(d.SysPath, name)
	d.Vendor = readString(filepath.Join(dir, "device", "vendor"))
	d.Model = readString(filepath.Join(dir, "device", "model"))
	if d.Model == "" {
		d.Model = readString(filepath.Join(dir, "device", "name")) // mmc
	}
	if strings.HasPrefix(d.Vendor, "0x") {
		d.Vendor = "" // a PCI or MMC manufacturer id is not a name
	}
	d.Serial = readString(filepath.Join(dir, "device", "serial"))
	if d.Transport == USB {
		// USB storage: the serial belongs to the USB device, up the tree.
		if s := usbSerial(root, d.SysPath); s != "" {
			d.Serial = s
		}
	}
	d.BackingFile = readString(filepath.Join(dir, "loop", "backing_file"))
	udev := readUdev(root, d.MajMin)
	if s := udev["ID_SERIAL_SHORT"]; s != "" {
		d.Serial = s
	}
	if d.Model == "" {
		d.Model = strings.ReplaceAll(udev["ID_MODEL"], "_", " ")
	}
	// What the stick's firmware says (SCSI INQUIRY, USB strings) is shown
	// on every face: never an escape sequence. The identity re-check reads
	// them the same way, so it still compares like with like.
	d.Vendor, d.Model, d.Serial = safe.Text(d.Vendor), safe.Text(d.Model), safe.Text(d.Serial)
	d.ByPath = udev["ID_PATH"]
	if d.ByPath == "" {
		d.ByPath = byPathLink(root, name)
	}
	for _, e := range listDir(dir) {
		pdir := filepath.Join(dir, e)
		if _, err := os.Stat(filepath.Join(pdir, "partition")); err != nil {
			continue
		}
		d.Partitions = append(d.Partitions, Partition{
			Name: e, Path: "/dev/" + e, MajMin: readString(filepath.Join(pdir, "dev")),
			Number: int(readInt(filepath.Join(pdir, "partition"))),
			Start:  readInt(filepath.Join(pdir, "start")) * 512, Size: readInt(filepath.Join(pdir, "size")) * 512,
		})
	}
	sort.Slice(d.Partitions, func(i, j int) bool { return d.Partitions[i].Number < d.Partitions[j].Number })
	return d
}

// sysPath turns the /sys/block link ("../devices/pci.../block/sdb") into
// "/devices/pci.../block/sdb".
func sysPath(link string) string {
	if i := strings.Index(link, "devices/"); i >= 0 {
		return "/" + link[i:]
	}
	return link
}

// transportOf reads the bus from the device's place in the sysfs tree.
func transportOf(path, name string) Transport {
	comps := strings.Split(path, "/")
	has := func(pred func(string) bool) bool {
		for _, c := range comps {
			if pred(c) {
				return true
			}
		}
		return false
	}
	switch {
	case strings.HasPrefix(name, "loop"):
		return Loop
	case has(func(c string) bool { return strings.HasPrefix(c, "usb") }):
		return USB
	case has(func(c string) bool { return strings.HasPrefix(c, "mmc") }):
		return MMC
	case has(func(c string) bool { return strings.HasPrefix(c, "nvme") }):
		return NVMe
	case has(func(c string) bool { return strings.HasPrefix(c, "ata") }):
		return ATA
	case has(func(c string) bool { return strings.HasPrefix(c, "virtio") }):
		return Virtio
	case strings.Contains(path, "/devices/virtual/"):
		return Virtual
	}
	return SCSI
}

// usbSerial walks up from the block device to the USB device (the
// directory with idVendor) and reads its serial.
func usbSerial(root, path string) string {
	dir := filepath.Join(root, "sys", path)
	for i := 0; i < 12 && len(dir) > len(root); i++ {
		if _, err := os.Stat(filepath.Join(dir, "idVendor")); err == nil {
			return readString(filepath.Join(dir, "serial"))
		}
		dir = filepath.Dir(dir)
	}
	return ""
}

// readUdev reads the E: lines of udev's database entry for the device.
func readUdev(root, majMin string) map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile(filepath.Join(root, "run", "udev", "data", "b"+majMin))
	if err != nil {
		return out
	}
	for _, l := range strings.Split(string(b), "\n") {
		if kv, ok := strings.CutPrefix(l, "E:"); ok {
			k, v, _ := strings.Cut(kv, "=")
			out[k] = v
		}
	}
	return out
}

// byPathLink finds the /dev/disk/by-path link that points at the device.
func byPathLink(root, name string) string {
	dir := filepath.Join(root, "dev", "disk", "by-path")
	for _, e := range listDir(dir) {
		if t, err := os.Readlink(filepath.Join(dir, e)); err == nil && filepath.Base(t) == name {
			return e
		}
	}
	return ""
}

type mountLine struct {
	id                            int // the mount's id: what Unmount checks it still is
	majMin, point, fstype, source string
}

// readMountinfo parses /proc/self/mountinfo: field 3 is maj:min, 5 the
// mount point, and after " - " the fs type and the source.
func readMountinfo(path string) []mountLine {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []mountLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f := strings.Fields(pre)
		g := strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 2 {
			continue
		}
		id, _ := strconv.Atoi(f[0])
		out = append(out, mountLine{id: id, majMin: f[2], point: unescapeMount(f[4]), fstype: g[0], source: g[1]})
	}
	return out
}

// unescapeMount undoes the kernel's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// deviceOf is the block device name of a mount: by number, or for file
// systems with anonymous numbers (btrfs, major 0) by the source path.
func deviceOf(m mountLine, byName map[string]string, dmNames map[string]string) string {
	if !strings.HasPrefix(m.majMin, "0:") {
		for n, mm := range byName {
			if mm == m.majMin {
				return n
			}
		}
	}
	if strings.HasPrefix(m.source, "/dev/") {
		return devName(m.source, dmNames)
	}
	return ""
}

// devName maps "/dev/sda2" to "sda2" and "/dev/mapper/vg-root" to "dm-0".
func devName(path string, dmNames map[string]string) string {
	if n, ok := strings.CutPrefix(path, "/dev/mapper/"); ok {
		return dmNames[n]
	}
	return filepath.Base(path)
}

// readSwaps lists the swap devices in /proc/swaps (swap files are on a
// file system that is itself a system mount).
func readSwaps(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for i, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if i == 0 || len(f) < 2 || f[1] != "partition" {
			continue
		}
		out = append(out, f[0])
	}
	return out
}

func readString(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func readInt(path string) int64 {
	n, _ := strconv.ParseInt(readString(path), 10, 64)
	return n
}

func listDir(dir string) []string {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}
