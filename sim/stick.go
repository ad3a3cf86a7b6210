package sim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/jetup/jetup/media"
)

// Disks is the simulated block-device edge: a laptop's NVMe system disk and
// a 32 GB SanDisk USB stick, automounted like a desktop does, backed by a
// sparse temp file. The stick carries the identity a real one has in sysfs
// (vendor, model, serial, USB port path) and takes data at a USB 3 stick's
// pace.
type Disks struct {
	mu      sync.Mutex
	dir     string
	mounted bool
	present bool
	changes chan struct{}
	// WriteRate and ReadRate pace the stick in bytes per second.
	WriteRate, ReadRate float64
	// Size is the stick's capacity.
	Size int64
}

// NewDisks makes the simulated disks; the stick's file is made on first
// open in the simulated bench's work directory (workdir.go).
func NewDisks() *Disks {
	return &Disks{mounted: true, present: true, changes: make(chan struct{}, 1), WriteRate: 40 << 20, ReadRate: 90 << 20, Size: stickSize}
}

const stickSize = 30_752_636_928 // what a "32 GB" stick really holds

func (s *Disks) stick() media.Disk {
	d := media.Disk{Name: "sda", Path: "/dev/sda", MajMin: "8:0", Size: s.Size, Vendor: "SanDisk", Model: "Ultra Fit",
		Serial: "4C530001230518117373", Transport: media.USB, Removable: true,
		ByPath:       "pci-0000:00:14.0-usb-0:2:1.0-scsi-0:0:0:0",
		SysPath:      "/devices/pci0000:00/0000:00:14.0/usb2/2-2/2-2:1.0/host6/target6:0:0/6:0:0:0/block/sda",
		LogicalBlock: 512, PhysicalBlock: 512, NrRequests: 2,
		Partitions: []media.Partition{{Name: "sda1", Path: "/dev/sda1", MajMin: "8:1", Number: 1, Start: 1 << 20, Size: s.Size - 1<<20}},
	}
	if s.mounted {
		d.Mounts = []media.Mount{{Device: "sda1", Point: "/media/tech/SANDISK", FSType: "exfat"}}
	}
	return d
}

func systemDisk() media.Disk {
	return media.Disk{Name: "nvme0n1", Path: "/dev/nvme0n1", MajMin: "259:0", Size: 512_110_190_592, Model: "Samsung SSD 980 PRO 512GB",
		Serial: "S5GXNF0R123456", Transport: media.NVMe, SysPath: "/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1",
		LogicalBlock: 512, PhysicalBlock: 512, NrRequests: 1023,
		Mounts: []media.Mount{{Device: "nvme0n1p1", Point: "/boot", FSType: "vfat"}, {Device: "nvme0n1p2", Point: "/", FSType: "ext4"}},
		Partitions: []media.Partition{
			{Name: "nvme0n1p1", Path: "/dev/nvme0n1p1", MajMin: "259:1", Number: 1, Start: 1 << 20, Size: 512 << 20},
			{Name: "nvme0n1p2", Path: "/dev/nvme0n1p2", MajMin: "259:2", Number: 2, Start: 513 << 20, Size: 512_110_190_592 - 514<<20},
		},
	}
}

// Disks lists the system disk and, while plugged in, the stick.
func (s *Disks) Disks(context.Context) ([]media.Disk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []media.Disk{systemDisk()}
	if s.present {
		out = append(out, s.stick())
	}
	return out, nil
}

// Open opens the stick's backing file through the same code as a real
// device (O_DIRECT, flock), paced like the stick.
func (s *Disks) Open(_ context.Context, d media.Disk, o media.OpenOptions) (media.Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.Name != "sda" {
		return nil, fmt.Errorf("open %s: %w", d.Path, os.ErrPermission)
	}
	if !s.present {
		return nil, fmt.Errorf("open %s: %w", d.Path, os.ErrNotExist)
	}
	if o.Write && s.mounted {
		return nil, fmt.Errorf("%s: %w (sda1 is mounted)", d.Path, media.ErrBusy)
	}
	path, err := s.file()
	if err != nil {
		return nil, err
	}
	o.BlockSize = 512
	dev, err := media.OpenDevice(path, o)
	if err != nil {
		return nil, err
	}
	return &pacedDevice{Device: dev, size: s.Size, write: s.WriteRate, read: s.ReadRate}, nil
}

// file is the stick's sparse backing file.
func (s *Disks) file() (string, error) {
	if s.dir == "" {
		dir, err := workDir()
		if err != nil {
			return "", err
		}
		s.dir = dir
	}
	p := filepath.Join(s.dir, "stick.img")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		// As sold: an MBR with one exFAT partition from 1 MiB.
		head := make([]byte, 512)
		e := head[446:]
		e[4] = 0x07
		binary.LittleEndian.PutUint32(e[8:], 2048)
		binary.LittleEndian.PutUint32(e[12:], uint32((s.Size-1<<20)/512))
		head[510], head[511] = 0x55, 0xaa
		boot := make([]byte, 512)
		copy(boot[3:], "EXFAT   ")
		boot[510], boot[511] = 0x55, 0xaa
		if _, err := f.WriteAt(head, 0); err != nil {
			return "", err
		}
		if _, err := f.WriteAt(boot, 1<<20); err != nil {
			return "", err
		}
	}
	return p, f.Truncate(s.Size)
}

// Unmount unmounts the stick's automounted partition.
func (s *Disks) Unmount(_ context.Context, m media.Mount) error {
	s.mu.Lock()
	s.mounted = false
	s.mu.Unlock()
	s.notify()
	return nil
}

// PowerOff makes the stick vanish, as udisks' power-off does.
func (s *Disks) PowerOff(_ context.Context, d media.Disk) (string, error) {
	if d.Name != "sda" {
		return "", errors.New("only the stick can be powered off")
	}
	s.mu.Lock()
	s.present = false
	s.mu.Unlock()
	s.notify()
	return "powered off by udisks", nil
}

// Plug puts a (fresh, automounted) stick back, as a person does.
func (s *Disks) Plug() {
	s.mu.Lock()
	s.present, s.mounted = true, true
	s.mu.Unlock()
	s.notify()
}

func (s *Disks) notify() {
	select {
	case s.changes <- struct{}{}:
	default:
	}
}

// Changes signals when the stick comes, goes or is unmounted.
func (s *Disks) Changes(context.Context) <-chan struct{} { return s.changes }

// pacedDevice holds I/O to the stick's speed: one device clock shared by
// every request in flight, as one USB stick serves them one at a time.
type pacedDevice struct {
	media.Device
	size        int64
	write, read float64
	mu          sync.Mutex
	busyUntil   time.Time
}

func (p *pacedDevice) pace(n int, bps float64) {
	if bps <= 0 {
		return
	}
	p.mu.Lock()
	now := time.Now()
	if p.busyUntil.Before(now) {
		p.busyUntil = now
	}
	p.busyUntil = p.busyUntil.Add(time.Duration(float64(n) / bps * float64(time.Second)))
	until := p.busyUntil
	p.mu.Unlock()
	time.Sleep(time.Until(until))
}

func (p *pacedDevice) WriteAt(b []byte, off int64) (int, error) {
	if off >= p.size {
		return 0, syscall.ENOSPC
	}
	if off+int64(len(b)) > p.size {
		n, _ := p.Device.WriteAt(b[:p.size-off], off)
		return n, syscall.ENOSPC
	}
	p.pace(len(b), p.write)
	return p.Device.WriteAt(b, off)
}

func (p *pacedDevice) ReadAt(b []byte, off int64) (int, error) {
	p.pace(len(b), p.read)
	return p.Device.ReadAt(b, off)
}
