package media

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Device is an opened target: the disk being written, held exclusively.
type Device interface {
	io.ReaderAt
	io.WriterAt
	// Sync makes written data durable (fdatasync).
	Sync() error
	// DropCaches makes the next reads come from the device, not from the
	// kernel's buffers (BLKFLSBUF on a block device).
	DropCaches() error
	// SetDirect turns O_DIRECT on or off (off for an unaligned tail).
	SetDirect(on bool) error
	// Direct reports whether I/O bypasses the page cache; then buffers,
	// offsets and lengths must be multiples of BlockSize.
	Direct() bool
	BlockSize() int
	// ZeroRange zeroes [off, off+n) only where the device does it without
	// the zeros being written (no fallback); errors.ErrUnsupported where it
	// cannot.
	ZeroRange(off, n int64) error
	Close() error
}

// OpenOptions say how to open a target.
type OpenOptions struct {
	// Write opens read-write, exclusively (O_EXCL: fails while any
	// partition is mounted or held) and under flock(LOCK_EX), systemd's
	// contract that keeps udev and automounters away while we write.
	Write bool
	// Expect pins the device: after opening, its device number and size
	// must still be these (a renumbered /dev/sdX fails here).
	Expect *Identity
	// BlockSize is the logical block size (512 when 0).
	BlockSize int
	// LockWait is how long to wait for a flock held by udev's probe.
	LockWait time.Duration
}

// ErrBusy is returned when the device is in use (mounted, held, locked).
var ErrBusy = errors.New("device is in use")

// OpenDevice opens a block device (or, for the simulated stick, a file) as
// a target. It tries O_DIRECT and falls back to buffered I/O only where the
// file system refuses it (tmpfs).
func OpenDevice(path string, o OpenOptions) (Device, error) {
	flags := unix.O_RDONLY | unix.O_CLOEXEC
	if o.Write {
		flags = unix.O_RDWR | unix.O_CLOEXEC | unix.O_EXCL
	}
	fd, err := unix.Open(path, flags|unix.O_DIRECT, 0)
	direct := err == nil
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.Open(path, flags, 0)
	}
	if errors.Is(err, unix.EBUSY) {
		return nil, fmt.Errorf("%s: %w (a partition is mounted or another program holds it)", path, ErrBusy)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	d := &fileDevice{f: f, direct: direct, bs: o.BlockSize}
	if d.bs <= 0 {
		d.bs = 512
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, err
	}
	d.block = st.Mode&unix.S_IFMT == unix.S_IFBLK
	if o.Expect != nil && d.block {
		got := fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		size, _ := d.size()
		if got != o.Expect.MajMin || size != o.Expect.Size {
			f.Close()
			return nil, fmt.Errorf("%s is now device %s of %d bytes, not the %s of %d bytes that was chosen",
				path, got, size, o.Expect.MajMin, o.Expect.Size)
		}
	}
	if o.Write {
		if err := lock(fd, o.LockWait); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w (flock: %v)", path, ErrBusy, err)
		}
	}
	return d, nil
}

// lock takes flock(LOCK_EX), waiting up to wait for udev's short probe.
func lock(fd int, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil || !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type fileDevice struct {
	f      *os.File
	direct bool
	block  bool
	bs     int
}

func (d *fileDevice) ReadAt(p []byte, off int64) (int, error)  { return d.f.ReadAt(p, off) }
func (d *fileDevice) WriteAt(p []byte, off int64) (int, error) { return d.f.WriteAt(p, off) }
func (d *fileDevice) Sync() error                              { return unix.Fdatasync(int(d.f.Fd())) }
func (d *fileDevice) Direct() bool                             { return d.direct }
func (d *fileDevice) BlockSize() int                           { return d.bs }
func (d *fileDevice) Close() error                             { return d.f.Close() }

func (d *fileDevice) size() (int64, error) {
	if !d.block {
		st, err := d.f.Stat()
		if err != nil {
			return 0, err
		}
		return st.Size(), nil
	}
	var n uint64
	_, _, e := unix.Syscall(unix.SYS_IOCTL, d.f.Fd(), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&n)))
	if e != 0 {
		return 0, e
	}
	return int64(n), nil
}

func (d *fileDevice) DropCaches() error {
	if err := unix.Fdatasync(int(d.f.Fd())); err != nil {
		return err
	}
	if d.block {
		if err := unix.IoctlSetInt(int(d.f.Fd()), unix.BLKFLSBUF, 0); err == nil {
			return nil
		}
	}
	return unix.Fadvise(int(d.f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

func (d *fileDevice) SetDirect(on bool) error {
	fl, err := unix.FcntlInt(d.f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if on {
		fl |= unix.O_DIRECT
	} else {
		fl &^= unix.O_DIRECT
	}
	if _, err := unix.FcntlInt(d.f.Fd(), unix.F_SETFL, fl); err != nil {
		return err
	}
	d.direct = on
	return nil
}

// ZeroRange asks the device to zero [off, off+n) itself, and never lets the
// kernel fall back to writing zero pages: on a block device
// fallocate(PUNCH_HOLE|KEEP_SIZE) becomes a zero-out with
// BLKDEV_ZERO_NOFALLBACK (block/fops.c), which fails with EOPNOTSUPP where
// the device cannot offload it. BLKZEROOUT would instead write zeros at
// the stick's full write cost wherever the offload is missing or refused,
// and many devices (loop over FUSE, some readers) advertise write-zeroes
// they then carry out by writing: zeroing the gaps a bmap leaves out would
// cost as much as writing them. On a file (the simulated stick) punching a
// hole is the same zeroing without writing.
func (d *fileDevice) ZeroRange(off, n int64) error {
	err := unix.Fallocate(int(d.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.ENODEV) {
		return errors.ErrUnsupported
	}
	return err
}

// alignedBuffers returns n page-aligned buffers of size bytes each, from
// one anonymous mapping (O_DIRECT needs aligned memory; the GC never moves
// it), and the function that unmaps them.
func alignedBuffers(n, size int) ([][]byte, func(), error) {
	slab, err := unix.Mmap(-1, 0, n*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil, err
	}
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = slab[i*size : (i+1)*size : (i+1)*size]
	}
	return bufs, func() { _ = unix.Munmap(slab) }, nil
}
