package deploy

import (
	"time"

	"github.com/jetup/jetup/nixrun"
)

// CopyTracker turns `nix copy` internal-json lines into progress. Nix 2.8
// reports only the start and stop of each path (its byte progress code is
// compiled out), so the base is the paths finished, each weighted by the
// NAR size the delta found. Nix >= 2.15 also reports bytes sent within a
// path (resProgress on actCopyPath); those count while the path is open.
// Not safe for concurrent use. A fleet's copy to its binary cache uses it
// too.
type CopyTracker struct {
	sizes      map[string]int64 // the paths to send and their NAR sizes
	pathsTotal int
	bytesTotal int64

	open      map[uint64]string // actCopyPath id -> path
	inflight  map[uint64]int64  // bytes reported for an open path
	finished  map[string]bool
	doneBytes int64
	current   string

	samples []sample // (time, bytes) over the last rateWindow
	attempt int
}

type sample struct {
	at    time.Time
	bytes int64
}

const rateWindow = 5 * time.Second

// NewCopyTracker tracks a copy of the missing paths.
func NewCopyTracker(missing []StorePath) *CopyTracker {
	t := &CopyTracker{sizes: map[string]int64{}, open: map[uint64]string{}, inflight: map[uint64]int64{},
		finished: map[string]bool{}, attempt: 1}
	for _, p := range missing {
		t.sizes[p.Path] = p.NarSize
		t.bytesTotal += p.NarSize
	}
	t.pathsTotal = len(missing)
	return t
}

// resume starts a new attempt after a lost connection: open paths are
// forgotten (they will be sent again), finished ones stay finished.
func (t *CopyTracker) resume() {
	t.open, t.inflight = map[uint64]string{}, map[uint64]int64{}
	t.samples = nil
	t.attempt++
}

// markPresent counts paths a later delta found already on the board.
func (t *CopyTracker) markPresent(paths []string) {
	for _, p := range paths {
		t.finish(p)
	}
}

func (t *CopyTracker) finish(p string) {
	size, ours := t.sizes[p]
	if !ours || t.finished[p] {
		return
	}
	t.finished[p] = true
	t.doneBytes += size
}

// Feed takes one line and reports whether the progress changed.
func (t *CopyTracker) Feed(l nixrun.Line, now time.Time) bool {
	if !l.JSON {
		return false
	}
	switch l.Action {
	case "start":
		if l.Type != nixrun.ActCopyPath {
			return false
		}
		p := nixrun.CopyPathOf(l)
		t.open[l.ID] = p
		t.current = p
		return true
	case "stop":
		p, ok := t.open[l.ID]
		if !ok {
			return false
		}
		delete(t.open, l.ID)
		delete(t.inflight, l.ID)
		t.finish(p)
		t.sample(now)
		return true
	case "result":
		if l.Type != nixrun.ResProgress {
			return false
		}
		if _, ok := t.open[l.ID]; !ok {
			return false // progress of actCopyPaths counts paths, not bytes
		}
		done := l.Int(0)
		if size := t.sizes[t.open[l.ID]]; done > size {
			done = size
		}
		t.inflight[l.ID] = done
		t.sample(now)
		return true
	}
	return false
}

func (t *CopyTracker) bytesDone() int64 {
	n := t.doneBytes
	for _, b := range t.inflight {
		n += b
	}
	return n
}

func (t *CopyTracker) sample(now time.Time) {
	t.samples = append(t.samples, sample{now, t.bytesDone()})
	cut := 0
	for cut < len(t.samples)-2 && now.Sub(t.samples[cut+1].at) > rateWindow {
		cut++
	}
	t.samples = t.samples[cut:]
}

// rate is bytes per second over the window, 0 until two samples span
// some time.
func (t *CopyTracker) rate(now time.Time) float64 {
	if len(t.samples) < 2 {
		return 0
	}
	first, last := t.samples[0], t.samples[len(t.samples)-1]
	span := now.Sub(first.at)
	if span < 200*time.Millisecond {
		return 0
	}
	return float64(last.bytes-first.bytes) / span.Seconds()
}

// Snapshot is the progress event for now.
func (t *CopyTracker) Snapshot(now time.Time) CopyProgress {
	p := CopyProgress{Event: "copy", At: now, PathsDone: len(t.finished), PathsTotal: t.pathsTotal,
		BytesDone: t.bytesDone(), BytesTotal: t.bytesTotal, ETASeconds: -1, Attempt: t.attempt}
	if len(t.open) > 0 {
		p.Current = t.current
	}
	p.Rate = t.rate(now)
	if p.Rate > 0 {
		p.ETASeconds = int(float64(p.BytesTotal-p.BytesDone)/p.Rate + 0.5)
	}
	return p
}
