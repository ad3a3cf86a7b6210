package detect_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/flash/detect"
	"github.com/jetup/jetup/flash/detect/fakesysfs"
	"github.com/jetup/jetup/step"
)

// watcher runs Watch in the background and hands its events over a channel.
type watcher struct {
	events chan step.Event
	done   chan struct{} // closed when Watch has returned, with err set
	err    error
	cancel context.CancelFunc
}

func startWatch(t *testing.T, l detect.Lister, o detect.Options) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{events: make(chan step.Event, 1000), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(w.done)
		w.err = detect.Watch(ctx, l, detect.WatchOptions{Options: o, Interval: 10 * time.Millisecond},
			step.SinkFunc(func(e step.Event) { w.events <- e }))
	}()
	t.Cleanup(func() {
		cancel()
		for {
			select {
			case <-w.events: // a full channel must not block the watch's end
			case <-w.done:
				return
			}
		}
	})
	return w
}

// next returns the next Change or Snapshot (skipping notes), or fails.
func (w *watcher) next(t *testing.T) step.Event {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		select {
		case e := <-w.events:
			switch e.(type) {
			case detect.Change, detect.Snapshot, step.Warning:
				return e
			}
		case <-deadline:
			t.Fatal("waited a minute for the watch's next change, snapshot or warning")
		}
	}
}

func (w *watcher) change(t *testing.T, event, instance string) detect.Change {
	t.Helper()
	e := w.next(t)
	c, ok := e.(detect.Change)
	if !ok || c.Event != event || c.USBInstance != instance {
		t.Fatalf("got %#v, want %s of %s", e, event, instance)
	}
	return c
}

func (w *watcher) snapshot(t *testing.T, instances ...string) detect.Snapshot {
	t.Helper()
	e := w.next(t)
	s, ok := e.(detect.Snapshot)
	if !ok {
		t.Fatalf("got %#v, want a snapshot", e)
	}
	var got []string
	for _, d := range s.Devices {
		got = append(got, d.USBInstance)
	}
	if strings.Join(got, " ") != strings.Join(instances, " ") {
		t.Fatalf("snapshot %v, want %v", got, instances)
	}
	return s
}

func TestWatchStreamsAppearAndDisappear(t *testing.T) {
	dir := tree(t, hub, topo)
	w := startWatch(t, detect.NewSysfs(dir), options(t, "orin-nano-devkit"))

	// Present at the start: the debug MCU appears; the hub is no Jetson.
	w.change(t, detect.Appear, "1-10")
	w.snapshot(t, "1-10")

	if _, err := fakesysfs.Add(dir, orinNano); err != nil {
		t.Fatal(err)
	}
	c := w.change(t, detect.Appear, "1-8.4")
	if c.Mode != detect.Recovery || c.SoM != "orin-nano" || len(c.Warnings) != 0 {
		t.Errorf("appear %+v", c)
	}
	w.snapshot(t, "1-8.4", "1-10")

	// A second board: both now carry the several-boards warning.
	if _, err := fakesysfs.Add(dir, orinNX); err != nil {
		t.Fatal(err)
	}
	w.change(t, detect.Appear, "3-2")
	s := w.snapshot(t, "1-8.4", "1-10", "3-2")
	if !s.Devices[0].Has(detect.WarnSeveral) || !s.Devices[2].Has(detect.WarnSeveral) {
		t.Errorf("snapshot lacks the several-boards warning: %+v", s.Devices)
	}

	// Unplugged.
	if err := fakesysfs.Remove(dir, orinNX.Instance()); err != nil {
		t.Fatal(err)
	}
	w.change(t, detect.Disappear, "3-2")
	s = w.snapshot(t, "1-8.4", "1-10")
	if s.Devices[0].Has(detect.WarnSeveral) {
		t.Error("one board left: no several-boards warning")
	}

	// Re-enumerated at the same port as the flash gadget: a disappear and
	// an appear at the same usb_instance.
	reenumerateAsFlashGadget(t, dir)
	// The removal and the new device may land in one poll or two.
	first := w.change(t, detect.Disappear, "1-8.4")
	if first.Mode != detect.Recovery {
		t.Errorf("disappear carries the device as it was: %+v", first)
	}
	e := w.next(t)
	if _, ok := e.(detect.Snapshot); ok {
		e = w.next(t)
	}
	if c, ok := e.(detect.Change); !ok || c.Event != detect.Appear || c.Mode != detect.FlashGadget || c.Node != "/dev/bus/usb/001/006" {
		t.Errorf("want the flash gadget to appear, got %#v", e)
	}

	w.cancel()
	select {
	case <-w.done:
		if w.err != nil {
			t.Errorf("an interrupted watch ends without error: %v", w.err)
		}
	case <-time.After(time.Minute):
		t.Fatal("waited a minute for Watch to end with its context")
	}
}

// A lister that starts failing gives one warning, keeps polling, and picks
// up again.
func TestWatchSurvivesListFailures(t *testing.T) {
	bus := &fakeBus{err: errors.New("LIBUSB_ERROR_NO_MEM")}
	w := startWatch(t, bus, detect.Options{})
	e := w.next(t)
	if wn, ok := e.(step.Warning); !ok || !strings.Contains(wn.Warning, "LIBUSB_ERROR_NO_MEM") || wn.Next == "" {
		t.Fatalf("want a warning, got %#v", e)
	}
	bus.waitLists(t, 5) // several failing polls: still one warning
	bus.mu.Lock()
	bus.err, bus.recs = nil, []detect.Record{orinNano}
	bus.mu.Unlock()
	w.change(t, detect.Appear, "1-8.4")
	w.snapshot(t, "1-8.4")
}

func TestChangeIsOneJSONLine(t *testing.T) {
	devs := detect.Classify([]detect.Record{orinNano}, nil, detect.Options{})
	c := detect.Change{Event: detect.Appear, At: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC), Device: devs[0]}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`{"event":"appear","at":"2026-11-21T09:00:00Z","usb_instance":"1-8.4","vendor_id":"0955","product_id":"7523","mode":"recovery"`, `"speed":480`, `"warnings":[]`} {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %s", s, want)
		}
	}
	if strings.Contains(s, "\n") {
		t.Error("one line")
	}
	if c.Text() != "+ 1-8.4  0955:7523  recovery  Orin Nano 8GB (P3767-0003/-0005)  480 Mb/s" {
		t.Errorf("text %q", c.Text())
	}
}

func TestWaitForReturnsWhenTheBoardComes(t *testing.T) {
	bus := &fakeBus{}
	go func() {
		// WaitFor has looked and not found it (the bound only keeps a
		// broken WaitFor from hanging this goroutine).
		bus.listed.WaitUntil(time.Minute, func() bool { return bus.count() >= 2 })
		bus.set(topo, orinNano)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a bound on waiting for the board
	defer cancel()
	d, err := detect.WaitFor(ctx, bus, detect.WatchOptions{Interval: 10 * time.Millisecond}, nil,
		func(d detect.Device) bool { return d.Mode == detect.Recovery })
	if err != nil || d.USBInstance != "1-8.4" {
		t.Fatalf("%+v %v", d, err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := detect.WaitFor(ctx, &fakeBus{}, detect.WatchOptions{Interval: 10 * time.Millisecond}, nil,
		func(detect.Device) bool { return true }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("want the deadline, got %v", err)
	}
}
