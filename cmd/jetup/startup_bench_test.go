package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// BenchmarkVersion is the whole `jetup version` process, exec to exit
// (goal <= 30 ms).
func BenchmarkVersion(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if out, err := exec.Command(binary, "version").Output(); err != nil || !bytes.HasPrefix(out, []byte("jetup ")) {
			b.Fatalf("%v %q", err, out)
		}
	}
}

// BenchmarkFirstFrame starts the wizard in a real pty and times until the
// profile picker is on screen (goal <= 150 ms).
func BenchmarkFirstFrame(b *testing.B) {
	state := b.TempDir()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(binary, "--sim", "--state-dir", state)
		cmd.Env = append(cmd.Environ(), "TERM=xterm-256color")
		start := time.Now()
		f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 80, Rows: 24})
		if err != nil {
			b.Fatal(err)
		}
		var seen strings.Builder
		buf := make([]byte, 4096)
		for !strings.Contains(seen.String(), "Which board") {
			_ = f.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := f.Read(buf)
			if err != nil {
				b.Fatalf("no picker after %v: %v\n%q", time.Since(start), err, seen.String())
			}
			seen.Write(buf[:n])
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "ms/frame")
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
	}
}
