package detect_test

import (
	"context"
	"math/rand/v2"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/jetup/jetup/flash/detect"
	"github.com/jetup/jetup/flash/detect/fakesysfs"
	"github.com/jetup/jetup/step"
)

// benchTree is a busy bench host: a hub, keyboard, mouse, webcam, USB-TTL
// adapters, disks and the AGX debug MCU: 20 devices plus their interface
// entries and root hubs.
func benchTree(b *testing.B) string {
	recs := []detect.Record{hub, keyboard, ttl, topo}
	for i := 1; i <= 16; i++ {
		recs = append(recs, detect.Record{Bus: 3, Dev: 10 + i, Path: "4." + itoa(i%7+1) + "." + itoa(i), Vendor: 0x0bda, Product: uint16(0x8150 + i),
			SpeedMbps: 480, Manufacturer: "Realtek", ProductName: "USB device", Serial: "00E04C" + itoa(i)})
	}
	return tree(b, recs...)
}

func itoa(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

// BenchmarkWatchLatency: time from a recovery-mode board's sysfs entry
// appearing (written aside and renamed in, as the kernel's appears at
// once) to Watch's appear event, with the default poll interval. The board
// is plugged at a random moment of the poll cycle.
func BenchmarkWatchLatency(b *testing.B) {
	dir := benchTree(b)
	changes := make(chan detect.Change, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = detect.Watch(ctx, detect.NewSysfs(dir), detect.WatchOptions{}, step.SinkFunc(func(e step.Event) {
			if c, ok := e.(detect.Change); ok {
				changes <- c
			}
		}))
	}()
	defer func() { cancel(); <-done }()
	wait := func(event string) time.Time {
		for {
			select {
			case c := <-changes:
				if c.Event == event && c.USBInstance == orinNano.Instance() {
					return time.Now()
				}
			case <-time.After(5 * time.Second):
				b.Fatalf("no %s within 5 s", event)
			}
		}
	}
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		time.Sleep(rand.N(detect.DefaultInterval))
		start := time.Now()
		if _, err := fakesysfs.Add(dir, orinNano); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, wait(detect.Appear).Sub(start))
		if err := fakesysfs.Remove(dir, orinNano.Instance()); err != nil {
			b.Fatal(err)
		}
		wait(detect.Disappear)
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	b.ReportMetric(float64(sum.Microseconds())/float64(len(lat))/1000, "ms-mean/appear")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "ms-max/appear")
}

// BenchmarkWatchIdleCPU: CPU time (user + system, getrusage) Watch uses
// over 2 s of an idle bus, as a percentage of one core.
func BenchmarkWatchIdleCPU(b *testing.B) {
	b.Run("sysfs", func(b *testing.B) { idleCPU(b, detect.NewSysfs(benchTree(b))) })
	// The host's own lister: gousb on a cgo build (here: libusb with no
	// USB bus), sysfs otherwise.
	b.Run("system", func(b *testing.B) { idleCPU(b, detect.System()) })
}

func idleCPU(b *testing.B, l detect.Lister) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = detect.Watch(ctx, l, detect.WatchOptions{}, nil)
	}()
	defer func() { cancel(); <-done }()
	time.Sleep(300 * time.Millisecond) // first scans and caches filled
	const period = 2 * time.Second
	var pct []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before, start := cpuTime(b), time.Now()
		time.Sleep(period)
		pct = append(pct, float64(cpuTime(b)-before)/float64(time.Since(start))*100)
	}
	b.StopTimer()
	sort.Float64s(pct)
	b.ReportMetric(pct[len(pct)/2], "%cpu-median")
	b.ReportMetric(pct[len(pct)-1], "%cpu-max")
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
