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

// Unmount unmounts the mount the scan saw at m.Point, and only that one.
// It never forces or detaches: a busy mount is reported so the person can
// close what uses it.
//
// jetup runs this as root on a path other users may be able to change (a
// desktop's /media/USER/LABEL), so a path checked earlier is not trusted
// at unmount time: the mount point's parent is opened with no symlink
// anywhere in the path (openat2 RESOLVE_NO_SYMLINKS: mountinfo paths have
// none, so one means something moved), the mount at the last component is
// checked to be the root of the mount with the scan's id and device number
// (statx), and the unmount goes through the parent's fd
// (/proc/self/fd/N/NAME, UMOUNT_NOFOLLOW), so what is unmounted is what
// was checked. A checked mount that is no longer mounted anywhere is done;
// one that moved elsewhere is refused.
func (s System) Unmount(_ context.Context, m Mount) error {
	point := filepath.Clean(m.Point)
	dir, name := filepath.Split(point)
	if !filepath.IsAbs(point) || name == "" {
		return fmt.Errorf("cannot unmount %s: not a mount point jetup unmounts", m.Point)
	}
	gone := func() bool { return !s.mountIDLive(m) }
	parent, err := openNoSymlinks(unix.AT_FDCWD, dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		if gone() {
			return nil
		}
		return fmt.Errorf("cannot unmount %s: the path changed since it was checked (%v): the mount moved; unmount it yourself", m.Point, err)
	}
	defer unix.Close(parent)
	if err := checkMountAt(parent, name, m); err != nil {
		if gone() {
			return nil // not ours any more: whatever is there now is left alone
		}
		return fmt.Errorf("cannot unmount %s: %v: the mount moved; unmount it yourself", m.Point, err)
	}
	err = unix.Unmount(fmt.Sprintf("/proc/self/fd/%d/%s", parent, name), unix.UMOUNT_NOFOLLOW)
	switch {
	case err == nil, errors.Is(err, unix.EINVAL) && gone():
		return nil
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("%s: %w", m.Point, ErrBusy)
	}
	return fmt.Errorf("cannot unmount %s: %w", m.Point, err)
}

// mountIDLive reports whether the scanned mount is still mounted: its id
// with its device (the kernel hands a freed id to the next mount), or
// without an id, its point.
func (s System) mountIDLive(m Mount) bool {
	for _, l := range readMountinfo(filepath.Join(s.root(), "proc", "self", "mountinfo")) {
		sameDev := m.MajMin == "" || l.majMin == m.MajMin
		if sameDev && (m.ID != 0 && l.id == m.ID || m.ID == 0 && l.point == m.Point) {
			return true
		}
	}
	return false
}

// openNoSymlinks opens path without following a symlink anywhere in it.
func openNoSymlinks(dirfd int, path string, flags int) (int, error) {
	fd, err := unix.Openat2(dirfd, path, &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC | unix.O_NOFOLLOW),
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) { // Linux < 5.6: the last component at least
		fd, err = unix.Openat(dirfd, path, flags|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	}
	return fd, err
}

// checkMountAt checks that NAME in the directory parent is the root of the
// mount m was: same mount id (when the kernel reports ids) and device.
func checkMountAt(parent int, name string, m Mount) error {
	fd, err := openNoSymlinks(parent, name, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer unix.Close(fd) // closed before the unmount: an open fd would keep it busy
	var st unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS|unix.STATX_MNT_ID, &st); err != nil {
		return err
	}
	if st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && st.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return errors.New("nothing is mounted there now")
	}
	if m.ID != 0 && st.Mask&unix.STATX_MNT_ID != 0 && int(st.Mnt_id) != m.ID {
		return fmt.Errorf("another mount is there now (id %d, not %d)", st.Mnt_id, m.ID)
	}
	if m.MajMin != "" && fmt.Sprintf("%d:%d", st.Dev_major, st.Dev_minor) != m.MajMin {
		return fmt.Errorf("another device is mounted there now (%d:%d, not %s)", st.Dev_major, st.Dev_minor, m.MajMin)
	}
	return nil
}

// PowerOff asks udisks to power the drive off; without udisks, a USB disk
// is removed from the SCSI layer (sysfs delete), which also makes it safe
// to pull. Other disks only need their data synced, which the write did.
func (s System) PowerOff(ctx context.Context, d Disk) (string, error) {
	if s.Runner != nil {
		if p, err := s.Runner.LookPath("udisksctl"); err == nil {
			cmd := s.Runner.Command(ctx, p, "power-off", "-b", d.Path)
			out := &proc.CappedBuffer{Max: 64 << 10} // its complaint, bounded
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Run(); err == nil {
				return "powered off by udisks", nil
			}
			if d.Transport != USB {
				return "", fmt.Errorf("udisksctl power-off: %s", strings.TrimSpace(string(out.Bytes())))
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
