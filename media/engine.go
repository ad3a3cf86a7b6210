package media

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jetup/jetup/step"
)

// Tuning of the write pipeline. Chunks are large enough that a USB stick
// sees big sequential writes and few enough that memory stays small:
// Buffers x Chunk is the pipeline's whole buffer (24 MiB by default).
const (
	DefaultChunk   = 2 << 20
	DefaultWriters = 4
)

// region is a byte range of the image to write; sum is its bmap checksum.
type region struct {
	off, n int64
	sum    string
}

// chunkRec is one write as the verifier will read it again.
type chunkRec struct {
	off    int64
	n      int
	blocks []uint64 // blockSums of the chunk
}

type chunk struct {
	buf     []byte
	off     int64
	n       int
	region  int
	last    bool // last chunk of its region
	pending atomic.Int32
}

// engine writes a stream to a device: a reader goroutine fills aligned
// buffers from the decompressor, a hasher sums them in order, and several
// writers put them on the device at their offsets, so that decompression,
// hashing and device I/O overlap. (The file's SHA-256 is a stage of its
// own, fileDigest, fed by the stream.)
type engine struct {
	dev     Device
	src     *Stream
	regions []region // nil: the whole stream
	bmap    *Bmap
	size    int64 // bytes to write when known (mapped bytes with a bmap)
	chunk   int
	writers int
	sink    step.Sink

	// filled by run
	mu       sync.Mutex
	chunks   []chunkRec
	tails    []tail
	written  atomic.Int64 // acknowledged by the device
	produced atomic.Int64 // bytes out of the decompressor, skipped ones too
	blocked  atomic.Int64 // ns the reader waited for a free buffer
	idle     atomic.Int64 // ns writers waited for data, summed
	samples  []RateSample
}

type tail struct {
	off int64
	b   []byte
}

// errAt is a device error at an offset.
type errAt struct {
	off int64
	err error
}

func (e *errAt) Error() string { return fmt.Sprintf("at byte %d: %v", e.off, e.err) }
func (e *errAt) Unwrap() error { return e.err }

// run writes everything, then the unaligned tails, then flushes.
func (e *engine) run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	nbuf := e.writers + 4
	bufs, unmap, err := alignedBuffers(nbuf, e.chunk)
	if err != nil {
		return err
	}
	defer unmap()
	free := make(chan []byte, nbuf)
	for _, b := range bufs {
		free <- b
	}
	hashQ := make(chan *chunk, nbuf)
	writeQ := make(chan *chunk, nbuf)
	release := func(c *chunk) {
		if c.pending.Add(-1) == 0 {
			free <- c.buf
		}
	}
	var wg sync.WaitGroup
	var hashErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := e.hasher(ctx, hashQ, release); err != nil {
			hashErr = err
			cancel(err)
		}
	}()
	var werrMu sync.Mutex
	var werr error
	for i := 0; i < e.writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.writer(ctx, writeQ, release); err != nil {
				werrMu.Lock()
				if werr == nil {
					werr = err
				}
				werrMu.Unlock()
				cancel(err)
			}
		}()
	}
	stopReport := e.report(ctx, PhaseWrite, func() int64 { return e.written.Load() })
	rerr := e.reader(ctx, free, hashQ, writeQ)
	close(hashQ)
	close(writeQ)
	if rerr != nil {
		cancel(rerr)
	}
	wg.Wait()
	stopReport()
	switch {
	case werr != nil:
		return werr
	case rerr != nil && !errors.Is(rerr, context.Canceled):
		return rerr
	case hashErr != nil:
		return hashErr
	case rerr != nil:
		if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
			return c
		}
		return rerr
	}
	return e.finish(ctx)
}

// reader fills buffers from the stream, region by region.
func (e *engine) reader(ctx context.Context, free chan []byte, hashQ, writeQ chan *chunk) error {
	regions := e.regions
	whole := regions == nil
	if whole {
		regions = []region{{off: 0, n: -1}}
	}
	var pos int64 // stream position
	var scratch []byte
	for ri, r := range regions {
		if skip := r.off - pos; skip > 0 {
			if scratch == nil {
				scratch = make([]byte, 1<<20)
			}
			for skip > 0 {
				n, err := e.src.Read(scratch[:min(int64(len(scratch)), skip)])
				skip -= int64(n)
				pos += int64(n)
				e.produced.Add(int64(n))
				if err == io.EOF {
					return e.short(r.off, pos)
				}
				if err != nil {
					return err
				}
			}
		}
		left := r.n
		for left != 0 {
			var buf []byte
			t0 := time.Now()
			select {
			case buf = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
			e.blocked.Add(int64(time.Since(t0)))
			want := len(buf)
			if left > 0 && left < int64(want) {
				want = int(left)
			}
			n, err := io.ReadFull(e.src, buf[:want])
			e.produced.Add(int64(n))
			var de *DecodeError
			if errors.As(err, &de) {
				return err
			}
			end := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
			if err != nil && !end {
				return err
			}
			if end && !whole {
				return e.short(r.off+r.n, pos+int64(n))
			}
			if n == 0 {
				free <- buf
				break
			}
			if left > 0 {
				left -= int64(n)
			}
			c := &chunk{buf: buf, off: pos, n: n, region: ri, last: left == 0 || end}
			pos += int64(n)
			c.pending.Store(2)
			for _, q := range []chan *chunk{hashQ, writeQ} {
				select {
				case q <- c:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			if end {
				break
			}
		}
	}
	return nil
}

// short is the image ending before the bmap says it should.
func (e *engine) short(want, got int64) error {
	return &DecodeError{Format: e.src.im.Format, Offset: got, InOffset: e.src.InDone(), InSize: e.src.im.FileSize, Truncated: true,
		Err: fmt.Errorf("the bmap expects data up to byte %d", want)}
}

// hasher sums chunks in image order: the block sums the read-back is
// compared against, and each bmap range against its checksum.
func (e *engine) hasher(ctx context.Context, q chan *chunk, release func(*chunk)) error {
	var rh hash.Hash
	var failed error
	for c := range q {
		if failed != nil || ctx.Err() != nil {
			release(c)
			continue
		}
		data := c.buf[:c.n]
		rec := chunkRec{off: c.off, n: c.n, blocks: blockSums(make([]uint64, 0, (c.n+verifyBlock-1)/verifyBlock), data)}
		e.chunks = append(e.chunks, rec)
		if e.bmap != nil && e.regions[c.region].sum != "" {
			if rh == nil {
				rh = e.bmap.newHash()
			}
			rh.Write(data)
			if c.last {
				r := e.regions[c.region]
				if got := hex.EncodeToString(rh.Sum(nil)); got != r.sum {
					failed = &BmapMismatch{Off: r.off, N: r.n, Want: r.sum, Got: got}
				}
				rh = nil
			}
		}
		release(c)
	}
	return failed
}

// BmapMismatch is image data that does not match its bmap range checksum.
type BmapMismatch struct {
	Off, N    int64
	Want, Got string
}

func (b *BmapMismatch) Error() string {
	return fmt.Sprintf("image bytes %d-%d do not match the bmap's checksum (want %s, got %s)", b.Off, b.Off+b.N-1, b.Want, b.Got)
}

// writer puts chunks on the device. With O_DIRECT an unaligned end is cut
// off and kept as a tail, written buffered once everything else is down.
func (e *engine) writer(ctx context.Context, q chan *chunk, release func(*chunk)) error {
	bs := e.dev.BlockSize()
	for {
		t0 := time.Now()
		c, ok := <-q
		e.idle.Add(int64(time.Since(t0)))
		if !ok {
			return nil
		}
		if ctx.Err() != nil {
			release(c)
			continue
		}
		n := c.n
		if e.dev.Direct() && n%bs != 0 {
			n -= n % bs
			e.addTail(c.off+int64(n), c.buf[n:c.n])
		}
		if n > 0 {
			if _, err := e.dev.WriteAt(c.buf[:n], c.off); err != nil {
				release(c)
				return &errAt{off: c.off, err: err}
			}
		}
		e.written.Add(int64(n))
		release(c)
	}
}

func (e *engine) addTail(off int64, b []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tails = append(e.tails, tail{off: off, b: append([]byte(nil), b...)})
}

// finish writes the tails without O_DIRECT, zeroes the unmapped gaps where
// the device does that itself, and flushes.
func (e *engine) finish(ctx context.Context) error {
	if len(e.tails) > 0 {
		if err := e.dev.SetDirect(false); err != nil {
			return err
		}
		for _, t := range e.tails {
			if _, err := e.dev.WriteAt(t.b, t.off); err != nil {
				return &errAt{off: t.off, err: err}
			}
			e.written.Add(int64(len(t.b)))
		}
	}
	e.sink.Emit(Stage{At: time.Now(), Stage: PhaseFlush, Message: "flushing the device's write cache"})
	if err := e.dev.Sync(); err != nil {
		return &errAt{off: e.written.Load(), err: err}
	}
	return ctx.Err()
}

// zeroGaps zeroes what the bmap leaves out, so stale data from the stick's
// last use cannot survive in areas a file system expects to be zero, and
// only where the device zeroes ranges itself (Device.ZeroRange, no
// fallback): errors.ErrUnsupported at the first gap where it cannot.
func (e *engine) zeroGaps(ctx context.Context) (int64, error) {
	var pos, zeroed int64
	gaps := make([]region, 0, len(e.regions)+1)
	for _, r := range e.regions {
		if r.off > pos {
			gaps = append(gaps, region{off: pos, n: r.off - pos})
		}
		pos = r.off + r.n
	}
	if pos < e.bmap.ImageSize {
		gaps = append(gaps, region{off: pos, n: e.bmap.ImageSize - pos})
	}
	bs := int64(e.dev.BlockSize())
	for _, g := range gaps {
		if ctx.Err() != nil {
			return zeroed, ctx.Err()
		}
		start := (g.off + bs - 1) / bs * bs
		end := (g.off + g.n) / bs * bs
		if end <= start {
			continue
		}
		if err := e.dev.ZeroRange(start, end-start); err != nil {
			return zeroed, err
		}
		zeroed += end - start
	}
	return zeroed, nil
}

// report emits Progress four times a second and a RateSample every
// second until the returned stop is called.
func (e *engine) report(ctx context.Context, phase string, done func() int64) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		lastT, lastDone, lastProd, lastBlocked, lastIdle := start, int64(0), int64(0), int64(0), int64(0)
		var recent []float64
		var src float64
		bottleneck := ""
		for i := 1; ; i++ {
			select {
			case <-quit:
				// The phase's last word: where it ended, so no face is
				// left showing a stale figure.
				now := time.Now()
				d := done()
				total, est := e.total(phase)
				if d >= total {
					total, est = d, false
				}
				e.sink.Emit(Progress{At: now, Phase: phase, Done: d, Total: total, Estimated: est, Rate: rate(d, now.Sub(start))})
				return
			case <-ctx.Done():
				return
			case now := <-tick.C:
				d := done()
				if i%4 == 0 {
					dt := now.Sub(lastT)
					dev := rate(d-lastDone, dt)
					prod := e.produced.Load()
					src = rate(prod-lastProd, dt)
					bl, id := e.blocked.Load(), e.idle.Load()
					bottleneck = ""
					if phase == PhaseWrite {
						switch {
						case float64(bl-lastBlocked) > 0.5*float64(dt):
							bottleneck = BottleneckDevice
						case float64(id-lastIdle)/float64(e.writers) > 0.5*float64(dt):
							bottleneck = BottleneckSource
						}
					} else {
						src = 0
					}
					e.samples = append(e.samples, RateSample{At: now, Phase: phase, Second: now.Sub(start).Seconds(),
						Device: dev, Source: src, Bottleneck: bottleneck})
					e.sink.Emit(e.samples[len(e.samples)-1])
					recent = append(recent, dev)
					if len(recent) > 3 {
						recent = recent[1:]
					}
					lastT, lastDone, lastProd, lastBlocked, lastIdle = now, d, prod, bl, id
				}
				r := rate(d, now.Sub(start))
				if len(recent) > 0 {
					r = 0
					for _, x := range recent {
						r += x
					}
					r /= float64(len(recent))
				}
				total, est := e.total(phase)
				p := Progress{At: now, Phase: phase, Done: d, Total: total, Estimated: est, Rate: r,
					Source: src, Bottleneck: bottleneck}
				if total > d && r > 0 {
					p.ETA = float64(total-d) / r
				}
				e.sink.Emit(p)
			}
		}
	}()
	return func() { close(quit); wg.Wait() }
}

// total is the bytes the phase will handle: exact, or estimated from how
// much of the compressed file has been read.
func (e *engine) total(phase string) (int64, bool) {
	if phase == PhaseVerify {
		var n int64
		for _, c := range e.chunks {
			n += int64(c.n)
		}
		return n, false
	}
	if e.size > 0 {
		return e.size, false
	}
	in, prod := e.src.InDone(), e.produced.Load()
	if in <= 0 || e.src.im.FileSize <= 0 {
		return 0, false
	}
	return int64(float64(prod) * float64(e.src.im.FileSize) / float64(in)), true
}

// rates summarises the samples of a phase: average over the phase and the
// slowest whole second.
func rates(samples []RateSample, phase string, bytes int64, d time.Duration) (avg, minRate float64) {
	avg = rate(bytes, d)
	minRate = avg
	for _, s := range samples {
		if s.Phase == phase && s.Device < minRate {
			minRate = s.Device
		}
	}
	return avg, minRate
}
