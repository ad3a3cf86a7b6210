package media

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testkit"
)

// Several sticks at once (issue 16; `make bench` only). A 256 MiB image,
// 64 MiB random, 96 MiB zeros and 96 MiB text, zstd -3, written whole
// (no bmap) and verified by the built jetup binary to emulated sticks
// (shared/tools/slowdisk, each its own FUSE daemon and loop device).
// Every case runs once per round, round-robin with the first one rotated;
// the figures are medians over the rounds.
//
// BenchmarkSeveralSticks/same-speed: three sticks of 30 MB/s write, 90
// MB/s read: one stick alone, then the three at once (goal: the three
// take at most 1.3x the one). The CPU of the jetup process (user+system,
// its children included) says whether the image was decoded once: three
// decodes would add two decoders' CPU (zstd -dc's own CPU is the
// reference); the same without verify leaves the decoder and the writes.
//
// BenchmarkSeveralSticks/mixed-speeds: sticks of 10, 30 and 60 MB/s write
// (90 MB/s read), each alone, then the three at once: each stick's time
// (its receipt's ended - started) together against alone (goal: <= 1.1x).
func BenchmarkSeveralSticks(b *testing.B) {
	testkit.NeedRoot(b)
	testkit.NeedCommands(b, "zstd", "go")
	dir := b.TempDir()
	img := filepath.Join(dir, "multi.img")
	data := make([]byte, 256<<20)
	rand.New(rand.NewSource(16)).Read(data[:64<<20])
	copy(data[160<<20:], bytes.Repeat([]byte("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-hello-2.12.1/bin/hello\n"), (96<<20)/67+1))
	if err := os.WriteFile(img, data, 0o644); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("zstd", "-q", "-T0", "-3", "-k", img).CombinedOutput(); err != nil {
		b.Fatalf("%v %s", err, out)
	}
	zst := img + ".zst"
	jetup := os.Getenv("JETUP_BENCH_JETUP")
	if jetup == "" {
		jetup = filepath.Join(dir, "jetup")
		if out, err := exec.Command("go", "build", "-o", jetup, "github.com/jetup/jetup/cmd/jetup").CombinedOutput(); err != nil {
			b.Fatalf("%v %s", err, out)
		}
	}
	write := func(devs ...string) []string {
		argv := []string{jetup, "write", "--image", zst, "--allow-fixed", "--yes", "--json"}
		for _, d := range devs {
			argv = append(argv, "--target", d)
		}
		return argv
	}
	b.Run("same-speed", func(b *testing.B) {
		s := []string{stick(b, 30), stick(b, 30), stick(b, 30)}
		cpuRef := decodeCPU(b, zst)
		nv := func(argv []string) []string { return append(argv, "--no-verify") }
		cases := []multiCase{{"one", write(s[0])}, {"three", write(s...)}, {"one-no-verify", nv(write(s[0]))}, {"three-no-verify", nv(write(s...))}}
		wall, cpu, _ := multiRounds(b, cases)
		limit := float64(len(data))/30e6 + float64(len(data))/90e6
		b.ReportMetric(wall["one"], "one-s")
		b.ReportMetric(wall["three"], "three-s")
		b.ReportMetric(wall["three"]/wall["one"], "three/one")
		b.ReportMetric(limit, "limit-s")
		b.ReportMetric(cpu["one"], "cpu-one-s")
		b.ReportMetric(cpu["three"], "cpu-three-s")
		b.ReportMetric(cpu["one-no-verify"], "cpu-one-no-verify-s")
		b.ReportMetric(cpu["three-no-verify"], "cpu-three-no-verify-s")
		b.ReportMetric(wall["three-no-verify"]/wall["one-no-verify"], "three/one-no-verify")
		b.ReportMetric(cpuRef, "cpu-zstd-dc-s")
		b.ReportMetric(0, "ns/op")
	})
	b.Run("mixed-speeds", func(b *testing.B) {
		rates := []int{10, 30, 60}
		var cases []multiCase
		var all []string
		for _, r := range rates {
			d := stick(b, r)
			all = append(all, d)
			cases = append(cases, multiCase{fmt.Sprintf("alone-%d", r), write(d)})
		}
		cases = append(cases, multiCase{"together", write(all...)})
		_, _, per := multiRounds(b, cases)
		for i, r := range rates {
			alone := per[fmt.Sprintf("alone-%d", r)][0]
			together := per["together"][i]
			b.ReportMetric(alone, fmt.Sprintf("alone-%d-s", r))
			b.ReportMetric(together, fmt.Sprintf("together-%d-s", r))
			b.ReportMetric(together/alone, fmt.Sprintf("together/alone-%d", r))
		}
		b.ReportMetric(0, "ns/op")
	})
}

// stick is an emulated stick of 300 MiB taking rate MB/s, giving 90.
func stick(b *testing.B, rate int) string {
	return testkit.NewSlowDisk(b, 300, float64(rate), 90).Dev
}

type multiCase struct {
	name string
	argv []string
}

// multiRounds runs every case once a round, round-robin; it returns each
// case's median wall time and CPU time, and the median of each target's
// own time (its receipt's ended - started), in --target order.
func multiRounds(b *testing.B, cases []multiCase) (wall, cpu map[string]float64, per map[string][]float64) {
	walls, cpus := map[string][]float64{}, map[string][]float64{}
	pers := map[string][][]float64{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range cases {
			c := cases[(i+k)%len(cases)]
			d, c1, times := runWrite(b, c.argv)
			walls[c.name] = append(walls[c.name], d)
			cpus[c.name] = append(cpus[c.name], c1)
			for j, t := range times {
				if len(pers[c.name]) <= j {
					pers[c.name] = append(pers[c.name], nil)
				}
				pers[c.name][j] = append(pers[c.name][j], t)
			}
		}
	}
	b.StopTimer()
	wall, cpu, per = map[string]float64{}, map[string]float64{}, map[string][]float64{}
	for name := range walls {
		wall[name], cpu[name] = median(walls[name]), median(cpus[name])
		for _, ts := range pers[name] {
			per[name] = append(per[name], median(ts))
		}
	}
	fmt.Fprintf(os.Stderr, "several sticks: wall %v cpu %v per target %v\n", walls, cpus, pers)
	return wall, cpu, per
}

// runWrite runs a jetup write and returns its wall time, its CPU time
// (user+system of the process and its children) and each target's own
// time from its receipt.
func runWrite(b *testing.B, argv []string) (float64, float64, []float64) {
	b.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+b.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	t0 := time.Now()
	out, err := cmd.Output()
	d := time.Since(t0).Seconds()
	if err != nil {
		b.Fatalf("%v: %v\n%s", argv, err, stderr.String())
	}
	var cpu float64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	var times []float64
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(l, `{"device":`) {
			continue
		}
		var rc Receipt
		if err := json.Unmarshal([]byte(l), &rc); err != nil {
			b.Fatal(err)
		}
		if rc.Result != "verified" && (rc.Result != "written" || rc.Verify.Result != "skipped") {
			b.Fatalf("not written: %+v", rc)
		}
		times = append(times, rc.Ended.Sub(rc.Started).Seconds())
	}
	return d, cpu, times
}

// decodeCPU is the CPU time of one `zstd -dc` of the image: what one
// decode costs.
func decodeCPU(b *testing.B, zst string) float64 {
	cmd := exec.Command("zstd", "-dc", zst)
	if err := cmd.Run(); err != nil {
		b.Fatal(err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
