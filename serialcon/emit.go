package serialcon

import (
	"fmt"
	"sync"
	"time"

	"github.com/jetup/jetup/step"
)

// batchInterval is how often output reaches the face: about 30 times a
// second, so a 3 Mbaud stream never floods the TUI's event loop.
const batchInterval = 33 * time.Millisecond

// maxPending bounds the output held for a face that does not keep up (a
// stalled terminal): past it, the face is told how many bytes it missed.
// The logs are written by the reader and miss nothing.
const maxPending = 8 << 20

// emitter delivers a session's events to the sink in order, with output
// coalesced into one Output per interval. The reader never waits for the
// sink: a slow face only delays its own view.
type emitter struct {
	sink     step.Sink
	interval time.Duration

	mu      sync.Mutex
	queue   []step.Event
	pending int
	dropped int64
	closed  bool

	wake chan struct{}
	done chan struct{}
}

func newEmitter(sink step.Sink, interval time.Duration) *emitter {
	if interval <= 0 {
		interval = batchInterval
	}
	e := &emitter{sink: sink, interval: interval, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go e.run()
	return e
}

// output queues bytes (copied) that arrived at at.
func (e *emitter) output(p []byte, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pending+len(p) > maxPending {
		e.dropped += int64(len(p))
		return
	}
	e.pending += len(p)
	if n := len(e.queue); n > 0 {
		if o, ok := e.queue[n-1].(Output); ok {
			o.Data = append(o.Data, p...)
			e.queue[n-1] = o
			return
		}
	}
	e.queue = append(e.queue, Output{At: at, Data: append(make([]byte, 0, max(len(p), 4096)), p...)})
}

// event queues any other event behind the output before it.
func (e *emitter) event(ev step.Event) {
	e.mu.Lock()
	e.queue = append(e.queue, ev)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Dropped is how many bytes the face missed.
func (e *emitter) Dropped() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dropped
}

func (e *emitter) run() {
	defer close(e.done)
	t := time.NewTicker(e.interval)
	defer t.Stop()
	var reported int64
	last := time.Now()
	for {
		select {
		case <-t.C:
		case <-e.wake:
		}
		e.mu.Lock()
		closed := e.closed
		e.mu.Unlock()
		// At most one delivery per interval, however often events wake us.
		if wait := e.interval - time.Since(last); wait > 0 && !closed {
			time.Sleep(wait)
		}
		last = time.Now()
		e.mu.Lock()
		q := e.queue
		e.queue, e.pending = nil, 0
		dropped := e.dropped
		closed = e.closed
		e.mu.Unlock()
		if dropped > reported {
			msg := fmt.Sprintf("\r\n[jetup: %d bytes were not shown here because the screen fell behind; the console log has every byte]\r\n", dropped-reported)
			q = append(q, Output{At: time.Now(), Data: []byte(msg)})
			reported = dropped
		}
		for _, ev := range q {
			e.sink.Emit(ev)
		}
		if closed {
			return
		}
	}
}

// close delivers what is queued and stops.
func (e *emitter) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	<-e.done
}
