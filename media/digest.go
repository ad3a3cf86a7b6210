package media

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"

	"github.com/zeebo/xxh3"
)

// verifyBlock is the granularity of the block sums the read-back is
// compared against: a mismatch is located to its block at once.
const verifyBlock = 64 << 10

// blockSums appends the sum of each verifyBlock of data to sums. The sums
// only have to catch a device returning other bytes than it was given, so
// they are XXH3-64 (about 40x faster than SHA-256 here, see
// docs/BENCHMARKS.md), not a cryptographic hash: the image's SHA-256 is
// taken of the file as it is read (fileDigest).
func blockSums(sums []uint64, data []byte) []uint64 {
	for b := 0; b < len(data); b += verifyBlock {
		sums = append(sums, xxh3.Hash(data[b:min(b+verifyBlock, len(data))]))
	}
	return sums
}

// fileDigest is the SHA-256 of the image file as it is read: the hash a
// published IMAGE.sha256 covers, and much less data than the image when it
// is compressed. It is its own pipeline stage: Write copies the bytes the
// decompressor reads into a few buffers and one goroutine hashes them,
// so hashing overlaps decompression and the device writes instead of
// slowing the decompressor's input.
type fileDigest struct {
	h    hash.Hash
	full chan []byte
	free chan []byte
	cur  []byte
	done sync.WaitGroup
	sum  string
}

const (
	digestBuf  = 1 << 20
	digestBufs = 4
)

func newFileDigest() *fileDigest {
	d := &fileDigest{h: sha256.New(), full: make(chan []byte, digestBufs), free: make(chan []byte, digestBufs)}
	for i := 0; i < digestBufs; i++ {
		d.free <- make([]byte, 0, digestBuf)
	}
	d.done.Add(1)
	go func() {
		defer d.done.Done()
		for b := range d.full {
			d.h.Write(b)
			d.free <- b[:0]
		}
	}()
	return d
}

// Write takes bytes in file order, from one goroutine at a time.
func (d *fileDigest) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if d.cur == nil {
			d.cur = <-d.free
		}
		k := copy(d.cur[len(d.cur):cap(d.cur)], p)
		d.cur = d.cur[:len(d.cur)+k]
		p = p[k:]
		if len(d.cur) == cap(d.cur) {
			d.full <- d.cur
			d.cur = nil
		}
	}
	return n, nil
}

// Sum ends the stage and returns the hex SHA-256 of everything written to
// it. Later calls return the same sum.
func (d *fileDigest) Sum() string {
	if d.full == nil {
		return d.sum
	}
	if len(d.cur) > 0 {
		d.full <- d.cur
		d.cur = nil
	}
	close(d.full)
	d.done.Wait()
	d.full = nil
	d.sum = hex.EncodeToString(d.h.Sum(nil))
	return d.sum
}
