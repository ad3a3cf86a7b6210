package main

import (
	"bufio"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkOfflineFirstStep is issue 20's figure: in a network namespace
// with no route out (offline by itself) and a private store holding a
// kit, the time from exec to the first step running, for the flash (its
// first stage judged from the kit's script on the pty) and for the write
// (its first write progress on the loop device), the slowest nix call of
// each run (from the run's nix-calls.log), and the refusal of a step that
// is in no kit (exec to exit 2). Goal: first step <= 1 s; no nix call
// waits for a network timeout.
func BenchmarkOfflineFirstStep(b *testing.B) {
	of := newOfflineField(b)
	of.desk()
	if r := of.run("--profile", fieldProfile, "prepare"); r.code != 0 {
		b.Fatalf("prepare: %+v", r)
	}
	of.field()
	var flashFirst, writeFirst, refusal, slowest time.Duration
	for i := 0; i < b.N; i++ {
		flashFirst += of.timeToLine(b, `"event":"stage"`, true, "--profile", fieldProfile, "flash", "--sysfs", of.sysfs, "--json")
		slowest = max(slowest, slowestNixCall(b, lastRunNixCalls(b, of.state)))
		writeFirst += of.timeToLine(b, `"phase":"write"`, false, "--profile", fieldProfile, "write", "--target", of.loop, "--allow-fixed", "--yes", "--json")
		slowest = max(slowest, slowestNixCall(b, lastRunNixCalls(b, of.state)))
		start := time.Now()
		if r := of.run("--profile", "orin-nano-devkit", "write", "--target", of.loop, "--allow-fixed", "--yes"); r.code != 2 {
			b.Fatalf("no kit: %+v", r)
		}
		refusal += time.Since(start)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(ms(flashFirst), "ms/flash-first-stage")
	b.ReportMetric(ms(writeFirst), "ms/write-first-block")
	b.ReportMetric(ms(refusal), "ms/refusal")
	b.ReportMetric(float64(slowest.Microseconds())/1000, "ms/slowest-nix-call")
}

// timeToLine runs jetup in the field and returns the time from exec to
// the first line (stderr or stdout) holding want; the run must exit 0.
func (of *offlineField) timeToLine(b *testing.B, want string, onStderr bool, args ...string) time.Duration {
	b.Helper()
	cmdline := append(append(append([]string{}, of.wrap...), binary, "--state-dir", of.state), args...)
	cmd := exec.Command(cmdline[0], cmdline[1:]...)
	cmd.Env = append(cmd.Environ(), "XDG_CONFIG_HOME="+of.config, kitNixConfig)
	var pipe io.ReadCloser
	var err error
	if onStderr {
		pipe, err = cmd.StderrPipe()
	} else {
		pipe, err = cmd.StdoutPipe()
	}
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var took time.Duration
	r := bufio.NewReader(pipe)
	var seen strings.Builder
	for { // to EOF: jetup never blocks on this pipe
		line, err := r.ReadString('\n')
		if took == 0 && strings.Contains(line, want) {
			took = time.Since(start)
		}
		if took == 0 && seen.Len() < 64<<10 {
			seen.WriteString(line)
		}
		if err != nil {
			break
		}
	}
	if err := cmd.Wait(); err != nil || took == 0 {
		b.Fatalf("%v: %v; no %q in:\n%s", args, err, want, seen.String())
	}
	return took
}

// slowestNixCall reads "0.041s ok nix ..." lines.
func slowestNixCall(b *testing.B, log string) time.Duration {
	var slowest time.Duration
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		secs, _, ok := strings.Cut(l, "s ")
		f, err := strconv.ParseFloat(secs, 64)
		if !ok || err != nil {
			b.Fatalf("nix-calls line %q", l)
		}
		slowest = max(slowest, time.Duration(f*float64(time.Second)))
	}
	return slowest
}
