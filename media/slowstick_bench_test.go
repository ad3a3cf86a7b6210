package media

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
)

// The slow-stick benchmark (issue 14 part 3; `make bench` only): the 1 GiB
// image of BenchmarkWrite1GiB (40% mapped, zstd, its bmap) written to an
// emulated stick that takes 30 MB/s and gives 90 MB/s (shared/tools/
// slowdisk, 1100 MiB), every contender on the same stick, round-robin.
// The physical limit of a write + verify is what the stick must move:
// bytes / write rate + bytes / read rate (the mapped bytes with the bmap,
// the whole image without).
const (
	slowWriteMBps = 30
	slowReadMBps  = 90
)

func BenchmarkSlowStick(b *testing.B) {
	setupBenchImages(b)
	s := &benchSetup
	defer cleanupBench()
	stick := testkit.NewSlowDisk(b, 1100, slowWriteMBps, slowReadMBps)
	dev := stick.Dev
	bm, err := LoadBmap(s.bmap)
	if err != nil {
		b.Fatal(err)
	}
	mapped, whole := bm.MappedBytes(), bm.ImageSize
	jet := func(extra ...string) []string {
		return append([]string{s.jetup, "write", "--image", s.zst, "--target", dev, "--allow-fixed", "--yes", "--json"}, extra...)
	}
	cases := []contender{
		{"dd-zstd-write-only", []string{"sh", "-c", "zstd -dc " + s.zst + " | dd of=" + dev + " bs=4M iflag=fullblock oflag=direct conv=fsync status=none"}},
		{"bmaptool-write-only", []string{"bmaptool", "-q", "copy", "--bmap", s.bmap, s.zst, dev}},
		// What `bmaptool copy` leaves out (yoctoproject/bmaptool#56's
		// workaround): read the mapped ranges back from the stick, each
		// checked against the bmap's checksum, after dropping its buffers.
		{"bmaptool-readback", []string{"sh", "-c", "blockdev --flushbufs " + dev + " && bmaptool -q copy --bmap " + s.bmap + " " + dev + " /dev/null"}},
		{"jetup-bmap", jet("--bmap", s.bmap)},
		{"jetup-bmap-no-verify", jet("--bmap", s.bmap, "--no-verify")},
		{"jetup-no-bmap", jet("--no-bmap")},
	}
	// One sub-benchmark: the framework runs it with N=1 first, then N
	// rounds; the files and the stick stay until both are done.
	b.Run("round-robin", func(b *testing.B) { slowRounds(b, cases, mapped, whole) })
}

func slowRounds(b *testing.B, cases []contender, mapped, whole int64) {
	secs := map[string][]float64{}
	var gaps []string
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range cases {
			c := cases[(i+k)%len(cases)]
			d, _, out := timeCommand(b, c.argv)
			secs[c.name] = append(secs[c.name], d.Seconds())
			if c.name == "jetup-bmap" {
				rc := receiptOf(b, out)
				if rc.Bmap == nil {
					b.Fatalf("jetup did not use the bmap: %+v", rc)
				}
				gaps = append(gaps, rc.Bmap.Gaps)
			}
		}
	}
	b.StopTimer()
	m := func(name string) float64 { return median(secs[name]) }
	limitBmap := float64(mapped)/(slowWriteMBps*1e6) + float64(mapped)/(slowReadMBps*1e6)
	limitWhole := float64(whole)/(slowWriteMBps*1e6) + float64(whole)/(slowReadMBps*1e6)
	for _, c := range cases {
		b.ReportMetric(m(c.name), c.name+"-s")
	}
	b.ReportMetric(limitBmap, "limit-bmap-s")
	b.ReportMetric(limitWhole, "limit-whole-s")
	b.ReportMetric(m("jetup-bmap")/limitBmap, "bmap/limit")
	b.ReportMetric(m("jetup-bmap")/(m("bmaptool-write-only")+m("bmaptool-readback")), "bmap/bmaptool+readback")
	b.ReportMetric(m("jetup-no-bmap")/limitWhole, "no-bmap/limit")
	b.ReportMetric(0, "ns/op")
	fmt.Fprintf(os.Stderr, "slow stick: %d of %d bytes mapped; gaps per run: %s; runs: %v\n", mapped, whole, strings.Join(gaps, " "), secs)
}
