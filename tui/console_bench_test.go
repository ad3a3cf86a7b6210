package tui

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/creack/pty"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/serialcon"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

// bootLines is console output as a busy board prints it: kernel lines with
// timestamps and systemd's coloured status lines.
func bootLines(n int) []byte {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i%4 == 3 {
			fmt.Fprintf(&b, "[  \x1b[0;32mOK\x1b[0m  ] Started \x1b[0;1;39mservice number %d of the boot\x1b[0m.\r\n", i)
			continue
		}
		fmt.Fprintf(&b, "[%5d.%06d] tegra-xudc 3550000.usb: line %d of kernel output, some more words to fill it\r\n", i/1000, i%1000000, i)
	}
	return []byte(b.String())
}

// onePort is a bench whose only serial port is the given pty.
type onePort struct{ path string }

func (o onePort) List() ([]serialcon.PortInfo, error) {
	return []serialcon.PortInfo{{Path: o.path, USB: true, VID: "10c4", PID: "ea60", Serial: "B", Interface: 0}}, nil
}
func (o onePort) Open(path string, cfg serialcon.Config) (serialcon.Device, error) {
	return serialcon.System{}.Open(path, cfg)
}

// BenchmarkConsoleSustained3Mbaud streams 375 KB/s (a 3 Mbaud line, 8N1)
// for JETUP_BENCH_SECONDS (default 60) into a real pty, read by the
// console session with the whole wizard model attached at 200x60 and
// rendering. It reports the achieved rate, the bytes missing from the raw
// log and from the screen (goal 0 for both), and the heap at the end.
func BenchmarkConsoleSustained3Mbaud(b *testing.B) {
	secs := 60
	if v, err := strconv.Atoi(os.Getenv("JETUP_BENCH_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	for i := 0; i < b.N; i++ {
		sustained(b, time.Duration(secs)*time.Second)
	}
}

func sustained(b *testing.B, d time.Duration) {
	master, slave, err := pty.Open()
	if err != nil {
		b.Fatal(err)
	}
	defer master.Close()
	port := slave.Name()
	slave.Close()
	set, _ := profiles.Load(assets.Profiles(), "")
	bench := sim.Hardware()
	bench.Serial = onePort{path: port}
	m := New(Options{Profiles: set, StateDir: b.TempDir(), Profile: "orin-nano-devkit", Hardware: bench})
	tm := teatest.NewTestModel(b, m, teatest.WithInitialTermSize(200, 60),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.ANSI256)))
	defer func() { _ = tm.Quit(); m.Close() }()
	go func() { // drain the renderer's output as a terminal would
		buf := make([]byte, 64*1024)
		for {
			if _, err := tm.Output().Read(buf); err != nil {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); m.sess.Run == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("the wizard never started its run")
		}
	}
	tm.Send(GoToMsg{Step: step.Console})
	var scr *consoleScreen
	for deadline := time.Now().Add(10 * time.Second); ; {
		if s, ok := m.active().screen.(*consoleScreen); ok && s.online {
			scr = s
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the console never connected")
		}
		time.Sleep(10 * time.Millisecond)
	}

	data := bootLines(20000)
	const rate = 375_000 // bytes a second at 3 Mbaud, 8N1
	const tick = 10 * time.Millisecond
	per := rate * int(tick) / int(time.Second)
	var written atomic.Int64
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	next := start
	off := 0
	for time.Since(start) < d {
		end := off + per
		chunk := make([]byte, 0, per)
		for len(chunk) < per {
			take := min(end-off, len(data)-off)
			chunk = append(chunk, data[off:off+take]...)
			off += take
			if off == len(data) {
				off, end = 0, per-len(chunk)
			}
		}
		n, err := master.Write(chunk)
		written.Add(int64(n))
		if err != nil {
			b.Fatal(err)
		}
		next = next.Add(tick)
		time.Sleep(time.Until(next))
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	// Let the reader and the screen catch up.
	var raw int64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if st, err := os.Stat(m.sess.Run.Dir() + "/console.raw"); err == nil {
			raw = st.Size()
		}
		if raw >= written.Load() && scr.shown.Load() >= written.Load() {
			break
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(written.Load())/elapsed.Seconds()/1000, "KB/s")
	b.ReportMetric(float64(written.Load()-raw), "bytes-lost-log")
	b.ReportMetric(float64(written.Load()-scr.shown.Load()), "bytes-lost-screen")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "MB-heap")
	b.ReportMetric(float64(scr.pane.Lines()), "rows-kept")
	b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "%cpu")
}

// cpuTime is the CPU time this process has used (the writer included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkConsoleFrame200x60 is the time to draw one whole wizard frame
// at 200x60 on the Watch step with a full scrollback (100k rows kept, more
// dropped), following the tail and scrolled back into the middle.
func BenchmarkConsoleFrame200x60(b *testing.B) {
	set, _ := profiles.Load(assets.Profiles(), "")
	bench := sim.Hardware()
	bench.Serial = onePort{path: "/nonexistent/tty"}
	m := New(Options{Profiles: set, StateDir: b.TempDir(), Profile: "orin-nano-devkit", Hardware: bench})
	defer m.Close()
	m.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
	m.Update(m.Init()())
	m.Update(GoToMsg{Step: step.Console})
	scr := m.active().screen.(*consoleScreen)
	lines := bootLines(120_000)
	scr.pane.Write(lines)
	scr.stage(serialcon.StageKernel)
	scr.fact(serialcon.Fact{Fact: serialcon.FactIP, Value: "192.168.55.1"})
	if scr.pane.Lines() < serialcon.DefaultScrollback {
		b.Fatalf("scrollback not full: %d rows", scr.pane.Lines())
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap := float64(ms.HeapInuse) / (1 << 20)
	for _, follow := range []bool{true, false} {
		name := "following"
		if !follow {
			name = "scrolled-back"
		}
		b.Run(name, func(b *testing.B) {
			scr.pane.follow = follow
			scr.pane.anchor = scr.pane.term.Dropped() + 50_000
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_ = m.View()
			}
			b.ReportMetric(heap, "MB-heap")
		})
	}
}
