package media

import (
	"fmt"
	"strings"
)

// Transport is the bus a disk hangs on, from its sysfs path.
type Transport string

const (
	USB     Transport = "usb"
	MMC     Transport = "mmc"
	NVMe    Transport = "nvme"
	ATA     Transport = "ata"
	SCSI    Transport = "scsi"
	Virtio  Transport = "virtio"
	Loop    Transport = "loop"
	Virtual Transport = "virtual" // device-mapper, md, anything under /devices/virtual
)

// Disk is a whole block device with what sits on it. The JSON encoding is
// the `jetup write --list --json` format.
type Disk struct {
	Name   string `json:"name"` // "sdb"
	Path   string `json:"path"` // "/dev/sdb"
	MajMin string `json:"maj_min"`
	Size   int64  `json:"size"` // bytes
	Vendor string `json:"vendor,omitempty"`
	Model  string `json:"model,omitempty"`
	Serial string `json:"serial,omitempty"`
	// Transport is usb, mmc, nvme, ata, scsi, virtio, loop or virtual.
	Transport Transport `json:"transport"`
	// Removable is the kernel's removable flag; USB and MMC disks are
	// treated as removable whatever it says (internal SD readers report 0).
	Removable bool `json:"removable"`
	ReadOnly  bool `json:"read_only"`
	// ByPath is the stable port path (udev's ID_PATH or the
	// /dev/disk/by-path name) when the machine has one.
	ByPath string `json:"by_path,omitempty"`
	// SysPath is the device's path under /sys ("/devices/pci0000:00/...").
	SysPath string `json:"sys_path"`
	// BackingFile is a loop device's file.
	BackingFile string `json:"backing_file,omitempty"`

	LogicalBlock  int `json:"logical_block_size"`
	PhysicalBlock int `json:"physical_block_size"`
	// NrRequests is the queue depth the device's queue allows.
	NrRequests int `json:"nr_requests,omitempty"`
	// WriteZeroes is true when the device advertises zeroing ranges
	// (write_zeroes_max_bytes > 0). Some carry it out by writing zero
	// pages (a loop device over FUSE, some readers), so the writer never
	// relies on it: it asks for zeroing without fallback (ZeroRange).
	WriteZeroes bool `json:"write_zeroes,omitempty"`

	Partitions []Partition `json:"partitions,omitempty"`
	// Mounts are every mount of the disk, its partitions or anything built
	// on them (LVM, dm-crypt, md).
	Mounts []Mount `json:"mounts,omitempty"`
	// Swap names the devices on this disk in use as swap.
	Swap []string `json:"swap,omitempty"`
	// Holders are the devices built on this disk or its partitions
	// ("dm-0"), which keep it busy.
	Holders []string `json:"holders,omitempty"`
	// stack is every maj:min built on this disk, itself included.
	stack map[string]bool
}

// Partition is a partition the kernel knows.
type Partition struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	MajMin string `json:"maj_min"`
	Number int    `json:"number"`
	Start  int64  `json:"start"` // bytes from the disk's start
	Size   int64  `json:"size"`
}

// Mount is one mount of a device on this disk.
type Mount struct {
	Device string `json:"device"` // "sdb1", "dm-0"
	Point  string `json:"point"`
	FSType string `json:"fs_type"`
	// ID (the mount id) and MajMin (its device number) are what Unmount
	// checks are still at Point before it unmounts.
	ID     int    `json:"mount_id,omitempty"`
	MajMin string `json:"maj_min,omitempty"`
}

// Holds reports whether the block device majMin is this disk, one of its
// partitions, or built on them.
func (d *Disk) Holds(majMin string) bool { return d.stack[majMin] }

// Fixed is true unless the disk is USB or MMC or flagged removable.
func (d *Disk) Fixed() bool {
	if d.Transport == Loop || d.Transport == Virtual {
		return true
	}
	return !(d.Transport == USB || d.Transport == MMC || d.Removable)
}

// Description is "SanDisk Ultra Fit 30.8 GB usb".
func (d *Disk) Description() string {
	parts := []string{}
	if name := strings.TrimSpace(d.Vendor + " " + d.Model); name != "" {
		parts = append(parts, name)
	} else if d.BackingFile != "" {
		parts = append(parts, "loop over "+d.BackingFile)
	}
	parts = append(parts, HumanBytes(d.Size), string(d.Transport))
	return strings.Join(parts, " ")
}

// Port is where the disk is plugged in, short enough for a technician to
// find the slot: the USB port path ("usb 2-1.4": bus 2, port 1, then port
// 4 of a hub) from its place in sysfs, the MMC host ("mmc0"), else udev's
// ID_PATH, else "".
func (d *Disk) Port() string {
	var usb, mmc string
	for _, c := range strings.Split(d.SysPath, "/") {
		switch {
		case usbPortName(c):
			usb = c
		case strings.HasPrefix(c, "mmc") && !strings.Contains(c, ":") && !strings.HasPrefix(c, "mmcblk") && c != "mmc_host":
			mmc = c
		}
	}
	switch {
	case usb != "":
		return "usb " + usb
	case mmc != "":
		return mmc
	}
	return d.ByPath
}

// usbPortName is a USB device's sysfs name: "2-1", "2-1.4.3".
func usbPortName(c string) bool {
	bus, port, ok := strings.Cut(c, "-")
	if !ok || bus == "" || port == "" {
		return false
	}
	for _, r := range bus {
		if r < '0' || r > '9' {
			return false
		}
	}
	for _, r := range port {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return true
}

// Label names the stick so a person can find it: "sdb (usb 2-1.4, serial
// 4C530001)".
func (d *Disk) Label() string { return label(d.Name, d.Port(), d.Serial) }

func label(name, port, serial string) string {
	var in []string
	if port != "" {
		in = append(in, port)
	}
	if serial != "" {
		in = append(in, "serial "+serial)
	}
	if len(in) == 0 {
		return name
	}
	return name + " (" + strings.Join(in, ", ") + ")"
}

// Identity is what pins a disk between the moment it is chosen and the
// moment it is opened: a renumbered /dev/sdX (another stick plugged in the
// meantime) changes at least one field.
type Identity struct {
	Path        string `json:"path"`
	MajMin      string `json:"maj_min"`
	Size        int64  `json:"size"`
	Vendor      string `json:"vendor,omitempty"`
	Model       string `json:"model,omitempty"`
	Serial      string `json:"serial,omitempty"`
	ByPath      string `json:"by_path,omitempty"`
	SysPath     string `json:"sys_path"`
	BackingFile string `json:"backing_file,omitempty"`
	Transport   string `json:"transport"`
}

// Identity of the disk now.
func (d *Disk) Identity() Identity {
	return Identity{Path: d.Path, MajMin: d.MajMin, Size: d.Size, Vendor: d.Vendor, Model: d.Model, Serial: d.Serial,
		ByPath: d.ByPath, SysPath: d.SysPath, BackingFile: d.BackingFile, Transport: string(d.Transport)}
}

// Diff names the first field that differs from other ("serial 4C53... is
// now 0401..."), or "" when both are the same disk.
func (id Identity) Diff(other Identity) string {
	pairs := []struct{ name, a, b string }{
		{"device number", id.MajMin, other.MajMin},
		{"size", HumanBytes(id.Size), HumanBytes(other.Size)},
		{"serial", id.Serial, other.Serial},
		{"model", id.Vendor + " " + id.Model, other.Vendor + " " + other.Model},
		{"port", id.ByPath, other.ByPath},
		{"sysfs path", id.SysPath, other.SysPath},
		{"backing file", id.BackingFile, other.BackingFile},
	}
	for _, p := range pairs {
		if p.name == "size" && id.Size != other.Size {
			return fmt.Sprintf("size was %d bytes, is now %d", id.Size, other.Size)
		}
		if p.a != p.b {
			return fmt.Sprintf("%s was %q, is now %q", p.name, strings.TrimSpace(p.a), strings.TrimSpace(p.b))
		}
	}
	return ""
}

// HumanBytes is "30.8 GB" (decimal, as sticks are sold) for sizes of disks.
func HumanBytes(n int64) string { return humanSize(n, 1000, "kMGTPE", "B") }

// HumanIEC is "1.0 GiB" for data sizes and rates.
func HumanIEC(n int64) string { return humanSize(n, 1024, "KMGTPE", "iB") }

// humanSize keeps one decimal at every scale: a "32 GB" stick reads 30.8 GB,
// which is what a person compares with the image size.
func humanSize(n int64, unit int64, prefixes, suffix string) string {
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := unit, 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %c%s", float64(n)/float64(div), prefixes[exp], suffix)
}
