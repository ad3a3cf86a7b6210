package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Mismatch is where the device differs from what was written.
type Mismatch struct {
	// Offset is the first differing byte when Exact, else the start of the
	// 64 KiB block that differs.
	Offset int64 `json:"offset"`
	Exact  bool  `json:"exact"`
	// BlockEnd ends the block the difference is in.
	BlockEnd int64 `json:"block_end"`
}

// verifyResult is what reading back found.
type verifyResult struct {
	bytes    int64
	mismatch *Mismatch
}

type readJob struct {
	rec  chunkRec
	buf  []byte
	err  error
	bad  int // index of the first block whose sum differs, -1 if none
	done chan struct{}
}

// verify reads every written chunk back, the first block included, with
// O_DIRECT after the device's buffers were dropped, and compares each
// 64 KiB block with the sum taken of it as it was written. Reading and
// summing run in the reading goroutines; results are taken in image order
// so the first difference is the one reported. locate, when set, finds
// the exact byte inside a differing block.
func (e *engine) verify(ctx context.Context, locate func(off int64, dev []byte) (int64, bool)) (verifyResult, error) {
	var res verifyResult
	if err := e.dev.DropCaches(); err != nil {
		return res, fmt.Errorf("cannot drop the device's buffers before verifying: %w", err)
	}
	if err := e.dev.SetDirect(true); err != nil {
		// Still correct: the buffers were dropped, reads reach the device.
		_ = err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nbuf := e.writers + 2
	bufs, unmap, err := alignedBuffers(nbuf, e.f.chunk)
	if err != nil {
		return res, err
	}
	defer unmap()
	free := make(chan []byte, nbuf)
	for _, b := range bufs {
		free <- b
	}
	work := make(chan *readJob, nbuf)
	order := make(chan *readJob, nbuf)
	var wg sync.WaitGroup
	var done atomic.Int64
	for i := 0; i < e.writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sums []uint64
			for j := range work {
				j.err = e.readBack(j)
				if j.err == nil {
					sums = blockSums(sums[:0], j.buf[:j.rec.n])
					for bi, want := range j.rec.blocks {
						if sums[bi] != want {
							j.bad = bi
							break
						}
					}
					done.Add(int64(j.rec.n))
				}
				close(j.done)
			}
		}()
	}
	go func() {
		defer close(order)
		defer close(work)
		for _, rec := range e.f.chunks {
			var buf []byte
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			j := &readJob{rec: rec, buf: buf, bad: -1, done: make(chan struct{})}
			order <- j
			work <- j
		}
	}()
	stop := e.report(ctx, PhaseVerify, done.Load)
	defer stop()
	var ferr error
	for j := range order {
		<-j.done
		if ferr != nil || res.mismatch != nil {
			continue
		}
		if j.err != nil {
			ferr = j.err
			cancel()
			continue
		}
		if j.bad >= 0 {
			b := j.bad * verifyBlock
			blk := j.buf[b:min(b+verifyBlock, j.rec.n)]
			off := j.rec.off + int64(b)
			m := &Mismatch{Offset: off, BlockEnd: off + int64(len(blk))}
			if locate != nil {
				if exact, ok := locate(off, blk); ok {
					m.Offset, m.Exact = exact, true
				}
			}
			res.mismatch = m
			cancel()
			continue
		}
		res.bytes += int64(j.rec.n)
		free <- j.buf
	}
	wg.Wait()
	if ferr != nil && res.mismatch == nil {
		return res, ferr
	}
	if res.mismatch == nil {
		if err := ctx.Err(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// readBack reads one chunk; with O_DIRECT the length is rounded up to the
// block size and only the written part is compared.
func (e *engine) readBack(j *readJob) error {
	n := j.rec.n
	if e.dev.Direct() {
		bs := e.dev.BlockSize()
		n = (n + bs - 1) / bs * bs
	}
	got, err := e.dev.ReadAt(j.buf[:n], j.rec.off)
	if err != nil && !(errors.Is(err, io.EOF) && got >= j.rec.n) {
		return &errAt{off: j.rec.off, err: err}
	}
	return nil
}

// locateIn finds the first byte where dev differs from the image at off by
// reading the image again up to there: only after a mismatch, so the cost
// never falls on a good write.
func locateIn(ctx context.Context, open func() (*Stream, error), off int64, dev []byte) (int64, bool) {
	s, err := open()
	if err != nil {
		return 0, false
	}
	defer s.Close()
	if _, err := io.CopyN(io.Discard, s, off); err != nil {
		return 0, false
	}
	want := make([]byte, len(dev))
	n, _ := io.ReadFull(s, want)
	if ctx.Err() != nil {
		return 0, false
	}
	want = want[:n]
	for i := range want {
		if want[i] != dev[i] {
			return off + int64(i), true
		}
	}
	if !bytes.Equal(want, dev) {
		return off + int64(n), true
	}
	return 0, false
}

// elapsed is a duration in seconds for receipts.
func elapsed(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}
