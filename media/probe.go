package media

import (
	"context"
	"io"

	"github.com/jetup/jetup/disklabel"
)

// Contents is what a disk holds now, read from its partition table and
// file-system superblocks by disklabel: what a write will erase.
type Contents = disklabel.Disk

// Probe reads the partition table and the file systems of a disk; nil when
// not even its first sectors can be read. A table that breaks the rules
// (a GPT whose sizes or checksums do not hold) comes back Damaged with its
// problems named, never as a crash: the disk is hostile input.
func Probe(r io.ReaderAt, size int64) *Contents {
	d, err := disklabel.Read(&alignedReader{r: r}, size)
	if err != nil {
		return nil
	}
	return d
}

// alignedReader reads through 4096-aligned windows in page-aligned memory,
// so disklabel's small reads work on a device opened with O_DIRECT.
type alignedReader struct{ r io.ReaderAt }

// maxProbeRead bounds one read: disklabel's largest is its 1 MiB bound on
// a GPT entry array.
const maxProbeRead = 2 << 20

func (a *alignedReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || len(p) > maxProbeRead {
		return 0, io.ErrShortBuffer
	}
	start := off &^ 4095
	end := (off + int64(len(p)) + 4095) &^ 4095
	buf, unmap, err := alignedBuffers(1, int(end-start))
	if err != nil {
		return 0, err
	}
	defer unmap()
	n, err := a.r.ReadAt(buf[0], start)
	if n <= int(off-start) {
		if err == nil {
			err = io.EOF
		}
		return 0, err
	}
	got := copy(p, buf[0][off-start:n])
	if got < len(p) {
		if err == nil {
			err = io.EOF
		}
		return got, err
	}
	return got, nil
}

// ReadContents opens d read-only and probes it: what `jetup write --list`
// shows a candidate holds. nil when it cannot be opened (not root).
func ReadContents(ctx context.Context, edge Edge, d Disk) *Contents {
	dev, err := edge.Open(ctx, d, OpenOptions{})
	if err != nil {
		return nil
	}
	defer dev.Close()
	return Probe(dev, d.Size)
}
