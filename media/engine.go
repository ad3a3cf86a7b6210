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

	"golang.org/x/sys/unix"

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

// feed is the image side of a write, shared by every target: a reader
// goroutine fills aligned buffers from the decompressor and a hasher sums
// them in order (the sums the read-back is compared against, each bmap
// range against its checksum), so the image is read and decoded once
// however many sticks it goes to. Every chunk goes to the queue of each
// target still writing; its buffer is free again once the hasher and every
// one of them are done with it. The buffers are the bound: the decoder
// runs ahead of the slowest target by at most the pool, and waits for it
// only when the pool is used up; a fast target is never held back by a
// slow one before that.
type feed struct {
	src     *Stream
	regions []region // nil: the whole stream
	bmap    *Bmap
	size    int64 // bytes to write when known (mapped bytes with a bmap)
	chunk   int
	// nbuf is the pool: how many chunks may be in flight at once.
	nbuf    int
	targets []*engine
	ctx     context.Context // the feed's: ends when the image broke
	cancel  context.CancelCauseFunc
	pool    *bufPool

	chunks   []chunkRec   // the hasher's; read only once read is closed
	produced atomic.Int64 // bytes out of the decompressor, skipped ones too
	blocked  atomic.Int64 // ns the reader waited for a free buffer
	// read closes when the image has been read and hashed; readErr is
	// then its failure (corrupt, truncated, a bmap mismatch, stopped).
	read    chan struct{}
	readErr error
	// done closes when the feed has ended (the rest of the file hashed
	// too); err is then its failure.
	done chan struct{}
	err  error
}

// engine is one target of a feed: several writers pwrite its chunks at
// their offsets, so that decompression, hashing and device I/O overlap.
// A target that fails is closed off: its writers drain its queue without
// writing, and the others go on.
type engine struct {
	f       *feed
	dev     Device
	writers int
	sink    step.Sink
	// target names the disk in events when several are written ("sdb");
	// empty for a single target, whose events stay as they always were.
	target string

	q      chan *chunk
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	tails   []tail
	werr    error        // the first write error
	written atomic.Int64 // acknowledged by the device
	idle    atomic.Int64 // ns writers waited for data, summed
	samples []RateSample
}

// attach adds a target; every target is attached before write starts.
func (f *feed) attach(dev Device, writers int, target string, sink step.Sink) *engine {
	e := &engine{f: f, dev: dev, writers: writers, sink: sink, target: target}
	f.targets = append(f.targets, e)
	return e
}

// tail is an unaligned end of a chunk, written buffered at the end.
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

// errEveryTargetFailed stops the feed when no target is left to write.
var errEveryTargetFailed = errors.New("every target failed")

// start starts every target's writers; run then reads and hashes the
// image. Between the two each target's wait() may be called.
func (f *feed) start(ctx context.Context) {
	if f.nbuf <= 0 {
		f.nbuf = 4
	}
	f.ctx, f.cancel = context.WithCancelCause(ctx)
	f.pool = newBufPool(f.nbuf, f.chunk)
	for _, e := range f.targets {
		// A target's context outlives the feed's: it goes on to flush
		// and verify after the last chunk. Its writers stop on either.
		e.ctx, e.cancel = context.WithCancel(ctx)
		e.q = make(chan *chunk, f.nbuf) // never full: at most nbuf chunks exist
		for i := 0; i < e.writers; i++ {
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				e.writer(f.release)
			}()
		}
	}
}

// release is a target or the hasher done with a chunk: the last one
// gives its buffer back.
func (f *feed) release(c *chunk) {
	if c.pending.Add(-1) == 0 {
		f.pool.put(c.buf)
	}
}

// run reads and hashes the image into every target's queue, and returns
// once every writer is done with the pool. Each target's outcome is its
// wait(). f.readErr is the image's failure once f.read is closed;
// fileRest, when set, runs after that (the rest of the file for its
// SHA-256) and f.err, once f.done is closed, is either.
func (f *feed) run(fileRest func() error) {
	ctx, cancel, pool, release := f.ctx, f.cancel, f.pool, f.release
	defer cancel(nil)
	defer pool.unmap()
	hashQ := make(chan *chunk, f.nbuf)
	hashed := make(chan struct{})
	var hashErr error
	go func() {
		defer close(hashed)
		if err := f.hasher(ctx, hashQ, release); err != nil {
			hashErr = err
			cancel(err)
		}
	}()
	rerr := f.reader(ctx, pool, hashQ)
	close(hashQ)
	for _, e := range f.targets {
		close(e.q)
	}
	if rerr != nil {
		cancel(rerr)
	}
	<-hashed
	switch {
	case rerr != nil && !errors.Is(rerr, context.Canceled) && !errors.Is(rerr, errEveryTargetFailed):
		f.readErr = rerr // the image broke
	case hashErr != nil:
		f.readErr = hashErr
	case rerr != nil:
		f.readErr = rerr
		if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
			f.readErr = c
		}
	}
	close(f.read)
	f.err = f.readErr
	if f.err == nil && fileRest != nil {
		f.err = fileRest()
	}
	close(f.done)
	for _, e := range f.targets {
		e.wg.Wait() // before the pool is unmapped
	}
}

// newFeed makes a feed of src in chunks, with nbuf of them in flight.
func newFeed(src *Stream, chunk, nbuf int) *feed {
	return &feed{src: src, chunk: chunk, nbuf: nbuf, read: make(chan struct{}), done: make(chan struct{})}
}

// wait waits for the target's writers and returns its write error, the
// image's when it broke, or the unaligned tails' and the flush's.
func (e *engine) wait() error {
	e.wg.Wait()
	e.mu.Lock()
	werr := e.werr
	e.mu.Unlock()
	if werr != nil {
		return werr
	}
	<-e.f.read
	if e.f.readErr != nil {
		return e.f.readErr
	}
	return e.finish(e.ctx)
}

// fail closes the target off after a write error: the writers drain its
// queue without writing; when no target is left, the feed stops.
// Of the writes in flight when it fails, the one at the lowest offset is
// the one reported: where the stick stopped taking data.
func (e *engine) fail(err error) {
	e.mu.Lock()
	first := e.werr == nil
	var now, was *errAt
	if first || errors.As(err, &now) && errors.As(e.werr, &was) && now.off < was.off {
		e.werr = err
	}
	e.mu.Unlock()
	if first {
		e.cancel()
	}
}

// belowFailure reports whether a chunk at off lies below the target's
// failed write. Such a chunk is still written: another writer took it
// before the failing one and was only slower to reach the device, and
// where the stick stopped taking data is its lowest failing write, not
// whichever writer came back first (a dying stick was said to fail at 6
// MiB or at 4 depending on the scheduler).
func (e *engine) belowFailure(off int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ea *errAt
	return errors.As(e.werr, &ea) && off < ea.off
}

// close releases the target's context once it is done for good.
func (e *engine) close() {
	if e.cancel != nil {
		e.cancel()
	}
}

// live reports whether the target still takes chunks.
func (e *engine) live() bool { return e.ctx.Err() == nil }

// reader fills buffers from the stream, region by region.
func (f *feed) reader(ctx context.Context, pool *bufPool, hashQ chan *chunk) error {
	regions := f.regions
	whole := regions == nil
	if whole {
		regions = []region{{off: 0, n: -1}}
	}
	var pos int64 // stream position
	var scratch []byte
	live := make([]*engine, 0, len(f.targets))
	for ri, r := range regions {
		if skip := r.off - pos; skip > 0 {
			if scratch == nil {
				scratch = make([]byte, 1<<20)
			}
			for skip > 0 {
				n, err := f.src.Read(scratch[:min(int64(len(scratch)), skip)])
				skip -= int64(n)
				pos += int64(n)
				f.produced.Add(int64(n))
				if err == io.EOF {
					return f.short(r.off, pos)
				}
				if err != nil {
					return err
				}
			}
		}
		left := r.n
		for left != 0 {
			t0 := time.Now()
			buf, err := pool.get(ctx)
			if err != nil {
				return err
			}
			f.blocked.Add(int64(time.Since(t0)))
			want := len(buf)
			if left > 0 && left < int64(want) {
				want = int(left)
			}
			n, err := io.ReadFull(f.src, buf[:want])
			f.produced.Add(int64(n))
			var de *DecodeError
			if errors.As(err, &de) {
				pool.put(buf)
				return err
			}
			end := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
			if err != nil && !end {
				pool.put(buf)
				return err
			}
			if end && !whole {
				pool.put(buf)
				return f.short(r.off+r.n, pos+int64(n))
			}
			if n == 0 {
				pool.put(buf)
				break
			}
			if left > 0 {
				left -= int64(n)
			}
			live = live[:0]
			for _, e := range f.targets {
				if e.live() {
					live = append(live, e)
				}
			}
			if len(live) == 0 {
				pool.put(buf)
				return errEveryTargetFailed
			}
			c := &chunk{buf: buf, off: pos, n: n, region: ri, last: left == 0 || end}
			pos += int64(n)
			c.pending.Store(int32(1 + len(live)))
			// The queues hold every chunk there can be: these sends
			// never wait, so a slow target holds the reader back only
			// through the pool.
			hashQ <- c
			for _, e := range live {
				e.q <- c
			}
			if end {
				break
			}
		}
	}
	return nil
}

// short is the image ending before the bmap says it should.
func (f *feed) short(want, got int64) error {
	return &DecodeError{Format: f.src.im.Format, Offset: got, InOffset: f.src.InDone(), InSize: f.src.im.FileSize, Truncated: true,
		Err: fmt.Errorf("the bmap expects data up to byte %d", want)}
}

// hasher sums chunks in image order: the block sums the read-back is
// compared against, and each bmap range against its checksum.
func (f *feed) hasher(ctx context.Context, q chan *chunk, release func(*chunk)) error {
	var rh hash.Hash
	var failed error
	for c := range q {
		if failed != nil || ctx.Err() != nil {
			release(c)
			continue
		}
		data := c.buf[:c.n]
		rec := chunkRec{off: c.off, n: c.n, blocks: blockSums(make([]uint64, 0, (c.n+verifyBlock-1)/verifyBlock), data)}
		f.chunks = append(f.chunks, rec)
		if f.bmap != nil && f.regions[c.region].sum != "" {
			if rh == nil {
				rh = f.bmap.newHash()
			}
			rh.Write(data)
			if c.last {
				r := f.regions[c.region]
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
// After a failure (its own or another writer's) it drains the queue
// without writing, so the target's buffers go back to the pool.
func (e *engine) writer(release func(*chunk)) {
	bs := e.dev.BlockSize()
	for {
		t0 := time.Now()
		c, ok := <-e.q
		e.idle.Add(int64(time.Since(t0)))
		if !ok {
			return
		}
		if e.f.ctx.Err() != nil || e.ctx.Err() != nil && !e.belowFailure(c.off) {
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
				e.fail(&errAt{off: c.off, err: err})
				continue
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
	gaps := make([]region, 0, len(e.f.regions)+1)
	for _, r := range e.f.regions {
		if r.off > pos {
			gaps = append(gaps, region{off: pos, n: r.off - pos})
		}
		pos = r.off + r.n
	}
	if pos < e.f.bmap.ImageSize {
		gaps = append(gaps, region{off: pos, n: e.f.bmap.ImageSize - pos})
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
					prod := e.f.produced.Load()
					src = rate(prod-lastProd, dt)
					bl, id := e.f.blocked.Load(), e.idle.Load()
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
		for _, c := range e.f.chunks {
			n += int64(c.n)
		}
		return n, false
	}
	f := e.f
	if f.size > 0 {
		return f.size, false
	}
	in, prod := f.src.InDone(), f.produced.Load()
	if in <= 0 || f.src.im.FileSize <= 0 {
		return 0, false
	}
	return int64(float64(prod) * float64(f.src.im.FileSize) / float64(in)), true
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

// bufPool is the feed's buffers: page-aligned (O_DIRECT needs aligned
// memory; the GC never moves it), mapped one at a time as the reader
// first needs them, up to max, and all unmapped at the end. Only the
// reader gets; anyone puts.
type bufPool struct {
	size, max int
	free      chan []byte
	bufs      [][]byte
}

func newBufPool(max, size int) *bufPool {
	return &bufPool{size: size, max: max, free: make(chan []byte, max)}
}

// get returns a free buffer, mapping a new one while under max, and
// otherwise waits for one to come back.
func (p *bufPool) get(ctx context.Context) ([]byte, error) {
	select {
	case b := <-p.free:
		return b, nil
	default:
	}
	if len(p.bufs) < p.max {
		b, err := unix.Mmap(-1, 0, p.size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
		switch {
		case err == nil:
			p.bufs = append(p.bufs, b)
			return b[:p.size:p.size], nil
		case len(p.bufs) == 0:
			return nil, fmt.Errorf("cannot allocate the write buffers: %w", err)
		}
		p.max = len(p.bufs) // out of memory: make do with what there is
	}
	select {
	case b := <-p.free:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put gives a buffer back; it never waits (free holds max).
func (p *bufPool) put(b []byte) { p.free <- b }

func (p *bufPool) unmap() {
	for _, b := range p.bufs {
		_ = unix.Munmap(b)
	}
	p.bufs = nil
}
