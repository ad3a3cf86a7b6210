package serialcon

import (
	"bytes"
	"testing"
	"time"
)

// benchStream is a realistic mix: the real transcripts and the real EDK2
// capture, repeated to about 1 MB.
func benchStream(b *testing.B) []byte {
	one := bytes.Join([][]byte{
		transcript(b, "serial-01-agx-orin-r36-uefi-micro-usb-debug.txt"),
		transcript(b, "serial-03-agx-orin-uefi-to-nixos-login.txt"),
		qemuCapture(b),
	}, []byte("\r\n"))
	return bytes.Repeat(one, 1<<20/len(one)+1)
}

// BenchmarkRecogniser is the stage and fact recogniser on every byte, as a
// live session runs it: the cooker, the watcher, the idle prompt check.
// 3 Mbaud is 0.375 MB/s.
func BenchmarkRecogniser(b *testing.B) {
	data := benchStream(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		w := NewWatcher(func(any) {})
		c := newCooker(w.Line)
		for p := data; len(p) > 0; {
			n := min(4096, len(p))
			c.feed(p[:n], time.Time{})
			p = p[n:]
		}
		w.Idle(c.partial(), time.Time{})
	}
}

// BenchmarkTermWrite is the screen model taking the same stream at 200x60
// with a 100k-row history.
func BenchmarkTermWrite(b *testing.B) {
	data := benchStream(b)
	t := NewTerm(181, 56, DefaultScrollback)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_, _ = t.Write(data)
	}
}
