package media

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jetup/jetup/proc"
)

// Edge is the block-device edge of the bench: the disks there are, opening
// one, unmounting, powering a stick off, and hotplug. System is the
// machine; the simulated bench has its own.
type Edge interface {
	// Disks lists every whole disk with what sits on it.
	Disks(ctx context.Context) ([]Disk, error)
	// Open opens d for writing (exclusive, locked) or for reading.
	Open(ctx context.Context, d Disk, o OpenOptions) (Device, error)
	// Unmount unmounts one mount; ErrBusy when files are open there.
	Unmount(ctx context.Context, m Mount) error
	// PowerOff makes the stick safe to pull and says how it was done.
	PowerOff(ctx context.Context, d Disk) (string, error)
	// Changes signals (coalesced) whenever disks come, go or change.
	Changes(ctx context.Context) <-chan struct{}
}

// System is this machine. Root is "/" except in tests, which give a fake
// tree of sys/block, proc/self/mountinfo, proc/swaps and run/udev/data.
type System struct {
	Root   string
	Runner proc.Runner
}

func (s System) root() string {
	if s.Root == "" {
		return "/"
	}
	return s.Root
}

// Disks scans /sys/block.
func (s System) Disks(context.Context) ([]Disk, error) {
	ds, err := scan(s.root())
	if err != nil {
		return nil, fmt.Errorf("cannot list disks: %w", err)
	}
	return ds, nil
}

// Open opens the disk's device node.
func (s System) Open(_ context.Context, d Disk, o OpenOptions) (Device, error) {
	if o.BlockSize == 0 {
		o.BlockSize = d.LogicalBlock
	}
	return OpenDevice(filepath.Join(s.root(), "dev", d.Name), o)
}

// Unmount unmounts m.Point. It never forces or detaches: a busy mount is
// reported so the person can close what uses it.
func (s System) Unmount(_ context.Context, m Mount) error {
	err := unix.Unmount(m.Point, 0)
	switch {
	case err == nil, errors.Is(err, unix.EINVAL) && !mounted(s.root(), m.Point):
		return nil
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("%s: %w", m.Point, ErrBusy)
	}
	return fmt.Errorf("cannot unmount %s: %w", m.Point, err)
}

func mounted(root, point string) bool {
	for _, m := range readMountinfo(filepath.Join(root, "proc", "self", "mountinfo")) {
		if m.point == point {
			return true
		}
	}
	return false
}

// PowerOff asks udisks to power the drive off; without udisks, a USB disk
// is removed from the SCSI layer (sysfs delete), which also makes it safe
// to pull. Other disks only need their data synced, which the write did.
func (s System) PowerOff(ctx context.Context, d Disk) (string, error) {
	if s.Runner != nil {
		if p, err := s.Runner.LookPath("udisksctl"); err == nil {
			out, err := s.Runner.Command(ctx, p, "power-off", "-b", d.Path).CombinedOutput()
			if err == nil {
				return "powered off by udisks", nil
			}
			if d.Transport != USB {
				return "", fmt.Errorf("udisksctl power-off: %s", strings.TrimSpace(string(out)))
			}
		}
	}
	if d.Transport == USB {
		del := filepath.Join(s.root(), "sys", "block", d.Name, "device", "delete")
		if err := os.WriteFile(del, []byte("1\n"), 0o200); err != nil {
			return "", fmt.Errorf("cannot remove %s from the system: %w", d.Name, err)
		}
		return "removed from the system (sysfs delete)", nil
	}
	return "", fmt.Errorf("%s (%s) cannot be powered off from here; its data is synced, so it can be pulled", d.Name, d.Transport)
}

// Changes watches kernel uevents for block devices, and polls /sys/block
// every two seconds where uevents cannot be had (containers).
func (s System) Changes(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	notify := func() {
		select {
		case out <- struct{}{}:
		default:
		}
	}
	if s.root() == "/" {
		if ev, err := ueventSocket(); err == nil {
			go ev.run(ctx, notify)
		}
	}
	go func() {
		last := blockSignature(s.root())
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if sig := blockSignature(s.root()); sig != last {
					last = sig
					notify()
				}
			}
		}
	}()
	return out
}

// blockSignature is a cheap fingerprint of /sys/block and the mount table.
func blockSignature(root string) string {
	var b strings.Builder
	for _, n := range listDir(filepath.Join(root, "sys", "block")) {
		b.WriteString(n + "=" + readString(filepath.Join(root, "sys", "block", n, "size")) + ";")
	}
	mi, _ := os.ReadFile(filepath.Join(root, "proc", "self", "mountinfo"))
	fmt.Fprintf(&b, "%d", len(mi))
	return b.String()
}

// fileDevice returns the maj:min of the file system holding path.
func fileDev(path string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev)), nil
}
