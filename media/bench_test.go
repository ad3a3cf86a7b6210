package media

import (
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testkit"
)

// The write benchmark (`make bench` only): one 1 GiB image, about 40%
// mapped, zstd and xz, the same loop device for every contender. jetup
// runs as the real binary, so its peak RSS is measured by the kernel.

var benchSetup struct {
	once                sync.Once
	dir, img, zst, xz   string
	bmap, jetup, device string
	err                 error
}

func setupBench(b *testing.B) {
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
		s.jetup = filepath.Join(s.dir, "jetup")
		if out, err := exec.Command("go", "build", "-o", s.jetup, "github.com/jetup/jetup/cmd/jetup").CombinedOutput(); err != nil {
			s.err = err
			b.Log(string(out))
			return
		}
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
		out, err = exec.Command("losetup", "-f", "--show", back).Output()
		s.err = err
		s.device = strings.TrimSpace(string(out))
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

func timeCommand(b *testing.B, name string, args ...string) (time.Duration, int64) {
	b.Helper()
	t0 := time.Now()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+b.TempDir())
	out, err := cmd.CombinedOutput()
	d := time.Since(t0)
	if err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss << 10
	}
	return d, rss
}

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
	jet := func(extra ...string) []string {
		return append([]string{s.jetup, "write", "--image", "IMG", "--target", s.device, "--allow-fixed", "--yes", "--json"}, extra...)
	}
	cases := []struct {
		name string
		argv []string
		img  string
	}{
		{"dd-zstd", dd("zstd -dc", s.zst), ""},
		{"jetup-zstd-no-bmap", jet("--no-bmap"), s.zst},
		{"jetup-zstd-bmap", jet(), s.zst},
		{"bmaptool-zstd", []string{"bmaptool", "copy", "--bmap", s.bmap, s.zst, s.device}, ""},
		{"dd-xz", dd("xz -dc -T0", s.xz), ""},
		{"jetup-xz-no-bmap", jet("--no-bmap"), s.xz},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			argv := append([]string(nil), c.argv...)
			for i, a := range argv {
				if a == "IMG" {
					argv[i] = c.img
				}
			}
			var total time.Duration
			var rss int64
			for i := 0; i < b.N; i++ {
				d, r := timeCommand(b, argv[0], argv[1:]...)
				total += d
				rss = max(rss, r)
			}
			b.ReportMetric(total.Seconds()/float64(b.N), "s/op")
			b.ReportMetric(float64(1<<30)/(1<<20)/(total.Seconds()/float64(b.N)), "imageMiB/s")
			if strings.HasPrefix(c.name, "jetup") {
				b.ReportMetric(float64(rss)/(1<<20), "peakRSS-MiB")
			}
		})
	}
	cleanupBench()
}
