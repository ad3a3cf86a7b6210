package media

import (
	"crypto/sha256"
	"encoding/json"
	"hash/maphash"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zeebo/xxh3"

	"github.com/jetup/jetup/internal/testkit"
)

// The write benchmark (`make bench` only): one 1 GiB image, about 40%
// mapped, zstd and xz, the same loop device for every contender. jetup
// runs as the real binary, so its peak RSS is measured by the kernel.

var benchSetup struct {
	once, devOnce       sync.Once
	dir, img, zst, xz   string
	bmap, jetup, device string
	err                 error
}

func setupBench(b *testing.B) {
	setupBenchImages(b)
	s := &benchSetup
	s.devOnce.Do(func() {
		back := filepath.Join(s.dir, "stick.bin")
		if err := os.WriteFile(back, nil, 0o644); err != nil {
			s.err = err
			return
		}
		// Allocated up front: a sparse backing file makes whoever writes
		// first pay for ext4's block allocation.
		if out, err := exec.Command("fallocate", "-l", "1088MiB", back).CombinedOutput(); err != nil {
			s.err = err
			b.Log(string(out))
			return
		}
		out, err := exec.Command("losetup", "-f", "--show", back).Output()
		s.err = err
		s.device = strings.TrimSpace(string(out))
	})
	if s.err != nil {
		b.Fatal(s.err)
	}
}

// setupBenchImages makes the 1 GiB image, its bmap, its zstd and xz files
// and the jetup binary, once per benchmark process.
func setupBenchImages(b *testing.B) {
	testkit.NeedRoot(b)
	testkit.NeedCommands(b, "zstd", "xz", "dd", "bmaptool", "losetup", "go")
	s := &benchSetup
	s.once.Do(func() {
		s.dir, s.err = os.MkdirTemp("", "jetup-bench")
		if s.err != nil {
			return
		}
		s.img = filepath.Join(s.dir, "bench.img")
		f, err := os.Create(s.img)
		if err != nil {
			s.err = err
			return
		}
		const size = 1 << 30
		_ = f.Truncate(size)
		// 40% of the image in 8 MiB extents spread over it; data that
		// compresses about 2:1, like a store of binaries and text.
		rnd := rand.New(rand.NewSource(5))
		ext := make([]byte, 8<<20)
		for off := int64(0); off < size; off += 20 << 20 {
			for i := 0; i < len(ext); i += 4096 {
				rnd.Read(ext[i : i+2048])
				copy(ext[i+2048:i+4096], strings.Repeat("nix store path ", 137))
			}
			if _, err := f.WriteAt(ext, off); err != nil {
				s.err = err
				return
			}
		}
		f.Close()
		out, err := exec.Command("bmaptool", "create", "-o", s.img+".bmap", s.img).CombinedOutput()
		if err != nil {
			s.err = err
			b.Log(string(out))
			return
		}
		s.bmap = s.img + ".bmap"
		for _, c := range [][]string{{"zstd", "-q", "-T0", "-3", "-k", s.img}, {"xz", "-T0", "-1", "-k", s.img}} {
			if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
				s.err = err
				b.Log(string(out))
				return
			}
		}
		s.zst, s.xz = s.img+".zst", s.img+".xz"
		// JETUP_BENCH_JETUP names a jetup binary built beforehand (the
		// tree may change while the benchmark runs).
		if s.jetup = os.Getenv("JETUP_BENCH_JETUP"); s.jetup != "" {
			return
		}
		s.jetup = filepath.Join(s.dir, "jetup")
		if out, err := exec.Command("go", "build", "-o", s.jetup, "github.com/jetup/jetup/cmd/jetup").CombinedOutput(); err != nil {
			s.err = err
			b.Log(string(out))
			return
		}
	})
	if s.err != nil {
		b.Fatal(s.err)
	}
}

// TestMain-free cleanup: the benchmark process removes its loop device and
// files when the last benchmark ends.
func cleanupBench() {
	s := &benchSetup
	if s.device != "" {
		_ = exec.Command("losetup", "-d", s.device).Run()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// timeCommand runs argv and returns its wall time, its peak RSS (the
// kernel's maxrss) and its stdout.
func timeCommand(b *testing.B, argv []string) (time.Duration, int64, []byte) {
	b.Helper()
	t0 := time.Now()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+b.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	d := time.Since(t0)
	if err != nil {
		b.Fatalf("%v: %v\n%s", argv, err, stderr.String())
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss << 10
	}
	return d, rss, out
}

// receiptOf is the receipt line of `jetup write --json`.
func receiptOf(b *testing.B, out []byte) Receipt {
	var rc Receipt
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, `{"device":`) {
			if err := json.Unmarshal([]byte(l), &rc); err != nil {
				b.Fatal(err)
			}
		}
	}
	if rc.Result != "verified" {
		b.Fatalf("jetup did not verify: %+v", rc)
	}
	return rc
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkWrite1GiB runs every contender once per round, round-robin with
// the starting contender rotated, so that all of them meet the same load
// on a shared machine, and reports each one's median seconds, the ratios
// the goals are about, jetup's verify time and its peak RSS.
func BenchmarkWrite1GiB(b *testing.B) {
	setupBench(b)
	s := &benchSetup
	defer func() {
		if b.Failed() {
			cleanupBench()
		}
	}()
	dd := func(decomp, file string) []string {
		return []string{"sh", "-c", decomp + " " + file + " | dd of=" + s.device + " bs=4M iflag=fullblock oflag=direct conv=fsync status=none"}
	}
	jet := func(img string, extra ...string) []string {
		return append([]string{s.jetup, "write", "--image", img, "--target", s.device, "--allow-fixed", "--yes", "--json"}, extra...)
	}
	cases := []contender{
		{"dd-zstd", dd("zstd -dc", s.zst)},
		{"jetup-zstd-no-bmap", jet(s.zst, "--no-bmap")},
		{"jetup-zstd-bmap", jet(s.zst)},
		{"bmaptool-zstd", []string{"bmaptool", "-q", "copy", "--bmap", s.bmap, s.zst, s.device}},
		{"dd-xz", dd("xz -dc -T0", s.xz)},
		{"jetup-xz-no-bmap", jet(s.xz, "--no-bmap")},
	}
	// JETUP_BENCH_BASELINE names another jetup binary (an older build) to
	// run in the same rounds, for before/after figures under equal load.
	if base := os.Getenv("JETUP_BENCH_BASELINE"); base != "" {
		for _, c := range []contender{{"baseline-zstd-no-bmap", jet(s.zst, "--no-bmap")}, {"baseline-zstd-bmap", jet(s.zst)}} {
			c.argv[0] = base
			cases = append(cases, c)
		}
	}
	// One sub-benchmark: the framework runs it with N=1 first, then N
	// rounds; the files and the loop device stay until both are done.
	b.Run("round-robin", func(b *testing.B) {
		roundRobin(b, cases)
	})
	cleanupBench()
}

type contender struct {
	name string
	argv []string
}

func roundRobin(b *testing.B, cases []contender) {
	secs := map[string][]float64{}
	verify := map[string][]float64{}
	var rss int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range cases {
			c := cases[(i+k)%len(cases)]
			d, r, out := timeCommand(b, c.argv)
			secs[c.name] = append(secs[c.name], d.Seconds())
			if strings.HasPrefix(c.name, "jetup") || strings.HasPrefix(c.name, "baseline") {
				verify[c.name] = append(verify[c.name], receiptOf(b, out).Verify.Seconds)
			}
			if strings.HasPrefix(c.name, "jetup") {
				rss = max(rss, r)
			}
		}
	}
	b.StopTimer()
	m := func(name string) float64 { return median(secs[name]) }
	for _, c := range cases {
		b.ReportMetric(m(c.name), c.name+"-s")
	}
	b.ReportMetric(median(verify["jetup-zstd-no-bmap"]), "jetup-zstd-no-bmap-verify-s")
	if v := verify["baseline-zstd-no-bmap"]; len(v) > 0 {
		b.ReportMetric(median(v), "baseline-zstd-no-bmap-verify-s")
		b.ReportMetric(m("baseline-zstd-no-bmap")/m("dd-zstd"), "baseline-no-bmap/dd")
	}
	b.ReportMetric(m("jetup-zstd-no-bmap")/m("dd-zstd"), "no-bmap/dd")
	b.ReportMetric(m("jetup-zstd-bmap")/m("dd-zstd"), "bmap/dd")
	b.ReportMetric(m("jetup-zstd-bmap")/m("bmaptool-zstd"), "bmap/bmaptool")
	b.ReportMetric(m("jetup-xz-no-bmap")/m("dd-xz"), "xz/dd")
	b.ReportMetric(float64(rss)/(1<<20), "jetup-peakRSS-MiB")
	b.ReportMetric(0, "ns/op") // the metrics above are per contender
}

// BenchmarkBlockSum is the choice of the verify sums: XXH3-64 (zeebo/xxh3)
// against hash/maphash and against the SHA-256 the read-back used to
// compute, over a 2 MiB write chunk in 64 KiB blocks.
func BenchmarkBlockSum(b *testing.B) {
	buf := make([]byte, DefaultChunk)
	rand.New(rand.NewSource(1)).Read(buf)
	seed := maphash.MakeSeed()
	sums := map[string]func([]byte){
		"xxh3":    func(p []byte) { xxh3.Hash(p) },
		"maphash": func(p []byte) { maphash.Bytes(seed, p) },
		"sha256":  func(p []byte) { sha256.Sum256(p) },
	}
	for _, name := range []string{"xxh3", "maphash", "sha256"} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			for i := 0; i < b.N; i++ {
				for off := 0; off < len(buf); off += verifyBlock {
					sums[name](buf[off : off+verifyBlock])
				}
			}
		})
	}
}
