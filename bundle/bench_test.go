package bundle_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetup/jetup/bundle"
	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/internal/testkit"
)

// The benchmark of issue 18: a one-package change to a 500-path system (a
// new version of one library that 20 paths depend on). The system is made
// of this machine's real binaries and libraries, one store path each, so
// the NARs compress as a real system's do: 478 paths that do not change,
// libfoo (libcrypto.so.3 with a line of its version after every 64 KiB; in
// 1.1 the first 8 KiB of every 64 KiB are other code: an eighth of the
// library changed, in 73 places, as a recompiled release would), 20
// programs whose binary embeds libfoo's store path (rebuilt when it
// changes, as an RPATH would make them) and the toplevel.

// benchFiles are the real files the paths copy: regular files of 32 KiB to
// 8 MiB in /usr/bin and /usr/lib/x86_64-linux-gnu, in name order.
func benchFiles(tb testing.TB, n int) []string {
	tb.Helper()
	var out []string
	for _, dir := range []string{"/usr/bin", "/usr/lib/x86_64-linux-gnu"} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || strings.ContainsAny(e.Name(), `"$\ '`) {
				continue
			}
			if fi, err := e.Info(); err == nil && fi.Size() >= 32<<10 && fi.Size() <= 8<<20 {
				out = append(out, filepath.Join(dir, e.Name()))
			}
		}
	}
	sort.Strings(out)
	if len(out) < n {
		tb.Skipf("this machine has %d files for the benchmark's system, it needs %d", len(out), n)
	}
	return out[:n]
}

// benchExpr is the 500-path system with libfoo at version.
func benchExpr(files []string, version string) string {
	var b strings.Builder
	b.WriteString(`let
  cp = name: file: derivation { inherit name; system = builtins.currentSystem; builder = "/bin/sh";
    args = ["-c" "/bin/mkdir -p $out/bin; /bin/cp ${file} $out/bin/"]; };
  libfoo = derivation { name = "libfoo-` + version + `"; system = builtins.currentSystem; builder = "/bin/sh";
    args = ["-c" ''
      /bin/mkdir -p $out/lib; src=/usr/lib/x86_64-linux-gnu/libcrypto.so.3; other=/usr/bin/nix; off=0; i=0
      size=$(/usr/bin/stat -c %s $src)
      while [ $off -lt $size ]; do
        if [ ` + version + ` = 1.0 ]; then
          /bin/dd if=$src bs=64k iflag=skip_bytes,count_bytes skip=$off count=65536 status=none >> $out/lib/libfoo.so
        else
          /bin/dd if=$other bs=8k iflag=skip_bytes,count_bytes skip=$off count=8192 status=none >> $out/lib/libfoo.so
          /bin/dd if=$src bs=56k iflag=skip_bytes,count_bytes skip=$((off + 8192)) count=57344 status=none >> $out/lib/libfoo.so
        fi
        printf 'libfoo ` + version + ` block %d\n' $i >> $out/lib/libfoo.so
        off=$((off + 65536)); i=$((i + 1))
      done
    '' ]; };
  uses = name: file: derivation { inherit name libfoo; system = builtins.currentSystem; builder = "/bin/sh";
    args = ["-c" "/bin/mkdir -p $out/bin; (/bin/cat ${file}; printf 'RPATH=%s/lib' $libfoo) > $out/bin/prog; /bin/chmod +x $out/bin/prog"]; };
  paths = [
`)
	for i, f := range files {
		name := fmt.Sprintf("pkg-%03d-%s-1.0", i, strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return '-'
		}, filepath.Base(f)))
		if i < 20 {
			fmt.Fprintf(&b, "    (uses %q %q)\n", "app"+name[3:], f)
		} else {
			fmt.Fprintf(&b, "    (cp %q %q)\n", name, f)
		}
	}
	b.WriteString(`  ];
in derivation {
  name = "nixos-system-bench";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  deps = paths ++ [ libfoo ];
  passAsFile = [ "deps" ];
  sys = builtins.currentSystem;
  args = ["-c" ''
    /bin/mkdir -p $out/bin
    printf '%s' "$sys" > $out/system
    /bin/cp "$depsPath" $out/deps
    printf '#!/bin/sh\necho "$@" >> /nix/var/jetup-activations.log\n' > $out/bin/switch-to-configuration
    /bin/chmod +x $out/bin/switch-to-configuration
  ''];
}
`)
	return b.String()
}

func nixBuild(tb testing.TB, expr string) string {
	tb.Helper()
	file := filepath.Join(tb.TempDir(), "system.nix")
	if err := os.WriteFile(file, []byte(expr), 0o644); err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Command("nix-build", "--no-out-link", "--max-jobs", "4", file).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		tb.Fatalf("nix-build: %v: %s", err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// benchBoard is a board that runs sys, put in its store from this
// machine's (faster than a push of 500 paths), its manifest recorded.
func benchBoard(b *testing.B, sys string) (*testboard.Board, *home) {
	b.Helper()
	bd := testboard.New(b, testboard.Options{})
	if out, err := exec.Command("nix", "--extra-experimental-features", "nix-command", "copy", "--no-check-sigs",
		"--to", "local?root="+bd.Dir, sys).CombinedOutput(); err != nil {
		b.Fatalf("nix copy to the board: %v %s", err, out)
	}
	if out, err := bd.Command("nix-env", "-p", bundle.SystemProfile, "--set", sys).CombinedOutput(); err != nil {
		b.Fatalf("nix-env --set on the board: %v %s", err, out)
	}
	h := newHome(b, bd)
	h.collect(b, bd)
	return bd, h
}

// zstdNARs is the zstd'd NARs of paths alone at level: each path's NAR
// (nix store dump-path) through zstd, as a binary cache would store it.
func zstdNARs(tb testing.TB, level int, paths []string) int64 {
	tb.Helper()
	var n int64
	for _, p := range paths {
		out, err := exec.Command("sh", "-c", fmt.Sprintf("nix --extra-experimental-features nix-command store dump-path %s | zstd -q -%d -c | wc -c", p, level)).Output()
		if err != nil {
			tb.Fatal(err)
		}
		var k int64
		fmt.Sscan(string(out), &k)
		n += k
	}
	return n
}

// zstdClosure is what nix copy writes for the whole closure into a zstd
// binary cache at level: the bytes of its NAR files.
func zstdClosure(tb testing.TB, level int, top string) int64 {
	tb.Helper()
	dir := tb.TempDir()
	if out, err := exec.Command("nix", "--extra-experimental-features", "nix-command", "copy", "--no-check-sigs", "--to",
		fmt.Sprintf("file://%s?compression=zstd&compression-level=%d", dir, level), top).CombinedOutput(); err != nil {
		tb.Fatalf("nix copy: %v %s", err, out)
	}
	var n int64
	filepath.Walk(filepath.Join(dir, "nar"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func BenchmarkBundleOnePackageChange(b *testing.B) {
	testboard.Need(b)
	testkit.NeedCommands(b, "zstd")
	b.Setenv("NIX_CONFIG", strings.TrimPrefix(testboard.NixEnv[0], "NIX_CONFIG="))
	files := benchFiles(b, 498)
	base := nixBuild(b, benchExpr(files, "1.0"))
	next := nixBuild(b, benchExpr(files, "1.1"))
	baseInfo, nextInfo := pathInfo(b, base), pathInfo(b, next)
	var newPaths []string
	var closure int64
	for p, in := range nextInfo {
		closure += in.NarSize
		if _, ok := baseInfo[p]; !ok {
			newPaths = append(newPaths, p)
		}
	}
	if len(nextInfo) != 500 || len(newPaths) != 22 {
		b.Fatalf("the system has %d paths, %d new; want 500 and 22", len(nextInfo), len(newPaths))
	}
	k := newKey(b, "jetup-bench")
	narsNew := zstdNARs(b, bundle.DefaultLevel, newPaths)
	narsNew3 := zstdNARs(b, 3, newPaths)
	narsAll := zstdClosure(b, bundle.DefaultLevel, next)

	boardA, homeA := benchBoard(b, base)
	boardB, homeB := benchBoard(b, base)
	cpu := map[bool]float64{}
	write := func(h *home, bd *testboard.Board, noDeltas bool) (*bundle.Result, time.Duration) {
		start, cpu0 := time.Now(), cpuSeconds()
		res, err := h.tryBundle(bd, bundle.Options{Closure: next, SignKey: k.secret, NoDeltas: noDeltas, Output: filepath.Join(b.TempDir(), "bundle.sh")})
		if err != nil {
			b.Fatal(err)
		}
		cpu[noDeltas] = cpuSeconds() - cpu0
		return res, time.Since(start)
	}
	b.ResetTimer()
	var whole, delta *bundle.Result
	var wholeT, deltaT time.Duration
	for i := 0; i < b.N; i++ {
		whole, wholeT = write(homeA, boardA, true)
		delta, deltaT = write(homeB, boardB, false)
	}
	b.StopTimer()
	b.ReportMetric(float64(whole.Bytes), "bundle-B")
	b.ReportMetric(float64(delta.Bytes), "bundle-delta-B")
	b.ReportMetric(float64(narsNew), "zstd-new-NARs-B")
	b.ReportMetric(float64(whole.Bytes)/float64(narsNew), "x-of-new-NARs")
	b.ReportMetric(float64(delta.Bytes)/float64(narsNew), "x-of-new-NARs-delta")
	b.ReportMetric(wholeT.Seconds(), "s-to-write")
	b.ReportMetric(deltaT.Seconds(), "s-to-write-delta")
	b.ReportMetric(cpu[true], "cpu-s-to-write")
	b.ReportMetric(cpu[false], "cpu-s-to-write-delta")
	sum := map[string]any{"paths": len(nextInfo), "new_paths": len(newPaths), "deltas": delta.Deltas,
		"closure_nar": closure, "closure_zstd": narsAll, "new_nar": whole.NarBytes, "new_zstd_level12": narsNew, "new_zstd_level3": narsNew3,
		"bundle": whole.Bytes, "bundle_delta": delta.Bytes, "write_s": wholeT.Seconds(), "write_delta_s": deltaT.Seconds(),
		"write_cpu_s": cpu[true], "write_delta_cpu_s": cpu[false], "load": loadAverage()}
	for _, a := range []struct {
		bd   *testboard.Board
		res  *bundle.Result
		name string
	}{{boardA, whole, "apply_s"}, {boardB, delta, "apply_delta_s"}} {
		if err := os.WriteFile(filepath.Join(a.bd.Dir, "key.pub"), []byte(k.publicKey+"\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		r := onBoard(b, a.bd, []string{a.res.File}, "--switch", "--trust-key", testboard.Inside+"/key.pub")
		if r.code != 0 {
			b.Fatalf("apply: %d\n%s", r.code, r.out)
		}
		sum[a.name] = time.Since(start).Seconds()
		if p := profileTarget(b, a.bd); p != next {
			b.Fatalf("the board runs %s", p)
		}
	}
	b.ReportMetric(sum["apply_s"].(float64), "s-to-apply")
	b.ReportMetric(sum["apply_delta_s"].(float64), "s-to-apply-delta")
	out, _ := json.MarshalIndent(sum, "", "  ")
	b.Logf("%s\nwriting with deltas:\n%s", out, homeB.log)
}

// cpuSeconds is the user and system time of this process and of the
// children it waited for (nix, zstd): what writing a bundle costs, which a
// busy machine does not change as it changes the wall time.
func cpuSeconds() float64 {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	sec := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return sec(self.Utime) + sec(self.Stime) + sec(kids.Utime) + sec(kids.Stime)
}

// loadAverage is /proc/loadavg's first figure, to say how busy the
// machine was.
func loadAverage() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
