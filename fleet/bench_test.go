package fleet

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/remote"
)

// benchOneWay is the delay added in each direction of each board's ssh
// link: 50 ms more round-trip time (testboard.Link: this kernel has no
// netem).
const benchOneWay = 25 * time.Millisecond

// countingServer serves dir over HTTP on every address and counts the
// bytes of the bodies it sent.
func countingServer(b *testing.B, dir string) (port string, sent *atomic.Int64) {
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		b.Fatal(err)
	}
	sent = &atomic.Int64{}
	fs := http.FileServer(http.Dir(dir))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.ServeHTTP(countingWriter{w, sent}, r)
	})}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port, sent
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

// BenchmarkFleet3Boards500Paths: the same 500-path system to three
// emptied boards, each behind its own 50 ms link, as one fleet phase:
// one jetup push to one board, the fleet directly, and the fleet through
// an HTTP binary cache (this machine's nix copy --to file://DIR, served
// by a web server; the boards' link to it has no added delay), each
// round alternating the three. Reports the means, the ratios to one push,
// and the bytes this machine sent over ssh (the relays count them) and
// the cache served. The boards and the host share this machine's cores.
func BenchmarkFleet3Boards500Paths(b *testing.B) { benchFleet(b, 0, 0) }

// BenchmarkFleet3Boards500PathsOwnCPU is the same with each board given a
// third of a core of its own and the host side (this process and what it
// starts) one core (testboard.CPUBudget), and each board its own store (a
// tmpfs /nix), as a bench's boards each have their own processor and
// disk: three boards busy at once then compute and write at one board's
// pace, and what is left of the ratio is the fleet's own cost (the host's
// one core still serves three boards where a push serves one). On one
// shared ext4 disk, three boards' stores shared its journal, and one
// push's time varied from 4.9 to 8.8 s between rounds.
func BenchmarkFleet3Boards500PathsOwnCPU(b *testing.B) { benchFleet(b, 1.0/3, 1) }

// benchFleet runs the rounds; cpu and hostCPU, when set, are each board's
// and the host side's budgets in cores, and give each board its own store.
func benchFleet(b *testing.B, cpu, hostCPU float64) {
	testboard.Need(b)
	b.Setenv("NIX_CONFIG", strings.TrimPrefix(testboard.NixEnv[0], "NIX_CONFIG="))
	var boards []*testboard.Board
	var links []*testboard.Link
	kh := filepath.Join(b.TempDir(), "known_hosts")
	inv := "nodes:\n"
	for i := range 3 {
		opt := testboard.Options{System: initialSystem, Tools: map[string]string{"systemctl": fakeSystemctl}, CPU: cpu}
		if cpu > 0 {
			opt.NixMiB = 256
		}
		bd := testboard.New(b, opt)
		if out, err := bd.Command("ip", "route", "add", "default", "via", bd.HostAddr).CombinedOutput(); err != nil {
			b.Fatalf("route: %v %s", err, out)
		}
		l := testboard.NewLink(b, net.JoinHostPort(bd.Addr, "22"), testboard.LinkOptions{Delay: benchOneWay})
		if err := (remote.KnownHosts{File: kh}).Pin(l.Addr, bd.HostKey()); err != nil {
			b.Fatal(err)
		}
		host, port, _ := net.SplitHostPort(l.Addr)
		inv += fmt.Sprintf("  n%d: {host: %s, port: %s, identity: %s, system: %s}\n", i, host, port, bd.ClientKey, "SYSTEM")
		boards, links = append(boards, bd), append(links, l)
	}
	inv += "phases:\n  - [n0, n1, n2]\n"
	sys := testboard.Build(b, testboard.System{Name: "bench-fleet-500", Small: 499, Activate: testboard.CurrentSystem})
	dir := b.TempDir()
	file := filepath.Join(dir, "fleet.yaml")
	writeFile(b, file, strings.ReplaceAll(inv, "SYSTEM", sys))
	inventory, err := Load(context.Background(), file, LoadOptions{Profiles: testProfiles(b)})
	if err != nil {
		b.Fatal(err)
	}
	keys := b.TempDir()
	sk, _ := nixKey(b, keys, "jetup-bench-cache-1")
	ctx := context.Background()
	sent := func() int64 {
		var n int64
		for _, l := range links {
			n += l.BytesToTarget()
		}
		return n
	}
	wipe := func() {
		b.StopTimer()
		for _, bd := range boards {
			bd.WipeStore()
		}
		b.StartTimer()
	}
	if hostCPU > 0 {
		// After the system's build: the host side's budget holds
		// from the first round.
		if err := testboard.NewCPUBudget(b, fmt.Sprintf("host-%d", os.Getpid()), hostCPU).Add(os.Getpid()); err != nil {
			b.Fatal(err)
		}
	}
	var one, direct, cached, oneCached time.Duration
	var oneBytes, directBytes, cachedSSH, cachedHTTP int64
	b.ResetTimer()
	for range b.N {
		wipe()
		before := sent()
		h, p, _ := net.SplitHostPort(links[0].Addr)
		port, _ := strconv.Atoi(p)
		start := time.Now()
		res, err := deploy.Push(ctx, realEdge.Push, deploy.Options{Target: remote.Target{Host: h, Port: port, Identity: boards[0].ClientKey},
			Closure: sys, Trust: remote.Trust{KnownHosts: kh}}, &events{})
		if err != nil || res.Sent != 500 {
			b.Fatalf("one push: %v %+v", err, res)
		}
		roundOne := time.Since(start)
		one += roundOne
		oneBytes += sent() - before

		wipe()
		before = sent()
		state := b.TempDir()
		o := Options{Inventory: inventory, StateDir: state, KnownHosts: kh, NoVerify: true, Version: "bench"}
		start = time.Now()
		evs := &events{}
		fres, err := Push(ctx, realEdge, o, evs)
		if err != nil || fres.ExitCode != 0 {
			b.Fatalf("fleet: %v %+v", err, fres)
		}
		roundDirect := time.Since(start)
		direct += roundDirect
		b.Logf("fleet, direct: %s", evs.timeline(start))
		directBytes += sent() - before

		wipe()
		cacheDir := b.TempDir()
		hport, served := countingServer(b, cacheDir)
		before = sent()
		o.StateDir = b.TempDir()
		o.Cache, o.CacheTo = "http://"+boards[0].HostAddr+":"+hport, "file://"+cacheDir+"?secret-key="+sk
		start = time.Now()
		evs = &events{}
		fres, err = Push(ctx, realEdge, o, evs)
		if err != nil || fres.ExitCode != 0 {
			b.Fatalf("fleet --cache: %v %+v", err, fres)
		}
		roundCached := time.Since(start)
		cached += roundCached
		b.Logf("fleet --cache: %s", evs.timeline(start))
		cachedSSH += sent() - before
		cachedHTTP += served.Load()

		// One node through a new cache: the same path (the copy to the
		// cache, then the board's fetch), so the ratio to it is what
		// two more boards cost.
		wipe()
		cacheDir = b.TempDir()
		hport, _ = countingServer(b, cacheDir)
		one1 := o
		one1.StateDir, one1.Only = b.TempDir(), []string{"n0"}
		one1.Cache, one1.CacheTo = "http://"+boards[0].HostAddr+":"+hport, "file://"+cacheDir+"?secret-key="+sk
		start = time.Now()
		evs = &events{}
		if fres, err = Push(ctx, realEdge, one1, evs); err != nil || fres.ExitCode != 0 {
			b.Fatalf("fleet --cache --only n0: %v %+v", err, fres)
		}
		roundOneCached := time.Since(start)
		oneCached += roundOneCached
		b.Logf("fleet --cache --only n0: %s", evs.timeline(start))
		b.Logf("round: one push %.2f s, fleet %.2f s (%.2fx), fleet --cache %.2f s (%.2fx), one node --cache %.2f s", roundOne.Seconds(),
			roundDirect.Seconds(), roundDirect.Seconds()/roundOne.Seconds(), roundCached.Seconds(), roundCached.Seconds()/roundOne.Seconds(), roundOneCached.Seconds())
	}
	n := float64(b.N)
	b.ReportMetric(one.Seconds()/n, "s/one-push")
	b.ReportMetric(direct.Seconds()/n, "s/fleet")
	b.ReportMetric(cached.Seconds()/n, "s/fleet-cache")
	b.ReportMetric(direct.Seconds()/one.Seconds(), "fleet/one")
	b.ReportMetric(cached.Seconds()/one.Seconds(), "fleet-cache/one")
	b.ReportMetric(oneCached.Seconds()/n, "s/one-node-cache")
	b.ReportMetric(cached.Seconds()/oneCached.Seconds(), "fleet-cache/one-node-cache")
	b.ReportMetric(float64(oneBytes)/n/(1<<20), "MiB-ssh/one-push")
	b.ReportMetric(float64(directBytes)/n/(1<<20), "MiB-ssh/fleet")
	b.ReportMetric(float64(cachedSSH)/n/(1<<20), "MiB-ssh/fleet-cache")
	b.ReportMetric(float64(cachedHTTP)/n/(1<<20), "MiB-http/fleet-cache")
}

// timeline is when each node began each of its steps and ended, in
// seconds from start: "n0 connect 0.01 preflight 0.80 ... done 5.10; n1 ...",
// and the cache upload's end.
func (e *events) timeline(start time.Time) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var order []string
	steps := map[string][]string{}
	seen := map[string]bool{}
	var parts []string
	for _, ev := range e.all {
		switch x := ev.(type) {
		case NodeStatus:
			label := x.Step
			if x.State != Running {
				label = string(x.State)
			}
			if label == "" || seen[x.Node+"/"+label] {
				continue
			}
			seen[x.Node+"/"+label] = true
			if _, ok := steps[x.Node]; !ok {
				order = append(order, x.Node)
			}
			steps[x.Node] = append(steps[x.Node], fmt.Sprintf("%s %.2f", label, x.At.Sub(start).Seconds()))
		case CacheUpload:
			parts = append(parts, fmt.Sprintf("cache upload done %.2f", x.At.Sub(start).Seconds()))
		}
	}
	for _, n := range order {
		parts = append(parts, n+" "+strings.Join(steps[n], " "))
	}
	return strings.Join(parts, "; ")
}
