package detect

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/jetup/jetup/step"
)

// DefaultInterval is how often Watch polls. gousb has no hotplug API and
// sysfs polls are cheap (one directory read and one lstat per device when
// nothing changed), so a board shows up at most this long plus one scan
// after it enumerates: well inside the 0.5 s target, at well under 1% of a
// core (docs/BENCHMARKS.md, Detect).
const DefaultInterval = 250 * time.Millisecond

// Change events are what `jetup detect --watch` prints, one JSON line each:
// the event, the time, and the device's fields.
const (
	Appear    = "appear"
	Disappear = "disappear"
)

// Change is a device appearing or disappearing. A re-enumeration (the
// board resets during a flash) is a disappear and an appear at the same
// usb_instance with a new node.
type Change struct {
	Event string    `json:"event"`
	At    time.Time `json:"at"`
	Device
}

// Text is "+ 1-8.4  0955:7523  recovery  ..." or "- ...".
func (c Change) Text() string {
	mark := "+"
	if c.Event == Disappear {
		mark = "-"
	}
	return mark + " " + c.Line()
}

// Snapshot is every Jetson device present, with warnings as of now. Watch
// sends one after its first scan and after every change; the TUI draws it.
type Snapshot struct {
	At      time.Time `json:"at"`
	Devices []Device  `json:"devices"`
}

// Text is empty: headless faces print the Changes.
func (Snapshot) Text() string { return "" }

// WatchOptions tune Watch.
type WatchOptions struct {
	Options
	// Interval between polls; 0 means DefaultInterval.
	Interval time.Duration
}

// Watch polls l until ctx ends and reports through sink: a Change for each
// device that appears or disappears (devices present at the start appear
// first), a Snapshot after the first scan and after every change, Notes,
// and a step.Warning when listing starts failing (it keeps trying). It
// returns nil when ctx ends: being interrupted is how a watch ends.
func Watch(ctx context.Context, l Lister, opt WatchOptions, sink step.Sink) error {
	if sink == nil {
		sink = step.Discard
	}
	interval := opt.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var (
		prev    []Device
		scanned bool
		failing string
	)
	for {
		devs, err := Scan(ctx, l, opt.Options, sink)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			if failing != err.Error() {
				sink.Emit(step.Warning{At: time.Now(), Warning: err.Error(), Next: step.NextOf(err)})
				failing = err.Error()
			}
		default:
			if failing != "" {
				sink.Emit(Note{At: time.Now(), Note: "listing USB devices works again"})
				failing = ""
			}
			now := time.Now()
			diff(prev, devs, now, sink)
			if !scanned || !reflect.DeepEqual(prev, devs) {
				sink.Emit(Snapshot{At: now, Devices: devs})
			}
			prev, scanned = devs, true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// key is one enumeration of one device.
func key(d Device) string { return d.USBInstance + " " + d.Node + " " + d.ID() + " " + string(d.Mode) }

// diff emits the Changes from prev to cur: disappearances first.
func diff(prev, cur []Device, at time.Time, sink step.Sink) {
	was := make(map[string]bool, len(prev))
	for _, d := range prev {
		was[key(d)] = true
	}
	is := make(map[string]bool, len(cur))
	for _, d := range cur {
		is[key(d)] = true
	}
	for _, d := range prev {
		if !is[key(d)] {
			sink.Emit(Change{Event: Disappear, At: at, Device: d})
		}
	}
	for _, d := range cur {
		if !was[key(d)] {
			sink.Emit(Change{Event: Appear, At: at, Device: d})
		}
	}
}

// errFound ends WaitFor's watch.
var errFound = errors.New("found")

// WaitFor watches until a device for which match returns true is present,
// and returns it. It ends with ctx's error when ctx ends first. Events go
// to sink as in Watch.
func WaitFor(ctx context.Context, l Lister, opt WatchOptions, sink step.Sink, match func(Device) bool) (Device, error) {
	if sink == nil {
		sink = step.Discard
	}
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var found Device
	_ = Watch(wctx, l, opt, step.SinkFunc(func(e step.Event) {
		sink.Emit(e)
		if s, ok := e.(Snapshot); ok && context.Cause(wctx) == nil {
			for _, d := range s.Devices {
				if match(d) {
					found = d
					cancel(errFound)
					return
				}
			}
		}
	}))
	if errors.Is(context.Cause(wctx), errFound) {
		return found, nil
	}
	if err := ctx.Err(); err != nil {
		return Device{}, err
	}
	return Device{}, fmt.Errorf("watch ended without a match")
}
