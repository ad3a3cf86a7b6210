package deploy_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/remote"
)

// oneWay is the delay added in each direction: 50 ms more round-trip time.
const oneWay = 25 * time.Millisecond

// latencyBoard is a board behind the delay relay, its key pinned, and an
// ssh config for bare nix copy through the same relay (no multiplexing:
// one connection per nix copy, as a person running it would have).
func latencyBoard(b *testing.B) (*testboard.Board, deploy.Options, string) {
	board := testboard.New(b, testboard.Options{})
	b.Setenv("NIX_CONFIG", strings.TrimPrefix(testboard.NixEnv[0], "NIX_CONFIG="))
	addr := testboard.Relay(b, net.JoinHostPort(board.Addr, "22"), oneWay)
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	kh := filepath.Join(b.TempDir(), "known_hosts")
	// Pinned beforehand: first contact is not what these measure.
	if err := (remote.KnownHosts{File: kh}).Pin(addr, board.HostKey()); err != nil {
		b.Fatal(err)
	}
	o := deploy.Options{Target: remote.Target{Host: host, Port: p, Identity: board.ClientKey}, Trust: remote.Trust{KnownHosts: kh}, Log: &strings.Builder{}}
	cfg := filepath.Join(b.TempDir(), "ssh_config")
	conf := fmt.Sprintf("Host board\n  HostName %s\n  Port %d\n  User root\n  IdentityFile %s\n  IdentitiesOnly yes\n"+
		"  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n",
		host, p, board.ClientKey, kh)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	return board, o, cfg
}

func nixCopy(b *testing.B, cfg, url, path string) {
	cmd := exec.Command("nix", "--extra-experimental-features", "nix-command", "copy", "--no-check-sigs", "--to", url, path)
	cmd.Env = append(os.Environ(), "NIX_SSHOPTS=-F "+cfg)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("nix copy %s: %v\n%s", url, err, out)
	}
}

// BenchmarkPush500SmallPaths: a system of 500 small paths to an empty board
// over a link with 50 ms more round-trip time: jetup's whole push (connect,
// preflight, delta, copy, activation) against bare `nix copy --to
// ssh-ng://` of the same closure, alternating in every round so that both
// see the same load on a shared machine. Reports each one's mean and the
// ratio.
func BenchmarkPush500SmallPaths(b *testing.B) {
	testboard.Need(b)
	board, o, cfg := latencyBoard(b)
	sys := testboard.Build(b, testboard.System{Name: "bench-500", Small: 499})
	o.Closure = sys
	ctx := context.Background()
	var jetup, bare, activate time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		board.WipeStore()
		b.StartTimer()
		start := time.Now()
		res, err := deploy.Push(ctx, realEdge, o, &recorder{})
		if err != nil || res.Sent != 500 {
			b.Fatalf("push: %v %+v", err, res)
		}
		jetup += time.Since(start)
		activate += time.Duration(res.ActivateSeconds * float64(time.Second))
		b.StopTimer()
		board.WipeStore()
		b.StartTimer()
		start = time.Now()
		nixCopy(b, cfg, "ssh-ng://board", sys)
		bare += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(jetup.Seconds()/n, "s/jetup")
	b.ReportMetric(activate.Seconds()/n, "s/jetup-activation")
	b.ReportMetric(bare.Seconds()/n, "s/nix-copy-ssh-ng")
	b.ReportMetric(jetup.Seconds()/bare.Seconds(), "jetup/ssh-ng")
}

// BenchmarkPush500SmallPathsLegacySSH: the same closure with bare `nix
// copy --to ssh://` (nix-copy-closure's protocol): one round trip per path.
func BenchmarkPush500SmallPathsLegacySSH(b *testing.B) {
	testboard.Need(b)
	board, o, cfg := latencyBoard(b)
	sys := testboard.Build(b, testboard.System{Name: "bench-500", Small: 499})
	o.Closure = sys
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		board.WipeStore()
		b.StartTimer()
		start := time.Now()
		nixCopy(b, cfg, "ssh://board", sys)
		total += time.Since(start)
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/nix-copy-ssh")
}

// BenchmarkDelta: how long jetup takes to learn what the board lacks, by
// closure size, over the same 50 ms link: the local `nix path-info -r
// --json` and the one remote probe.
func BenchmarkDelta(b *testing.B) {
	testboard.Need(b)
	board, o, _ := latencyBoard(b)
	_ = board
	ctx := context.Background()
	for _, n := range []int{100, 500, 2000} {
		sys := testboard.Build(b, testboard.System{Name: fmt.Sprintf("bench-delta-%d", n), Small: n - 1})
		o.Closure = sys
		o.Mode = deploy.Boot
		b.Run(fmt.Sprintf("paths=%d", n), func(b *testing.B) {
			var local, remote time.Duration
			for range b.N {
				start := time.Now()
				if _, err := realEdge.Nix.PathInfo(ctx, sys); err != nil {
					b.Fatal(err)
				}
				local += time.Since(start)
				res, err := deploy.Push(ctx, realEdge, o, &recorder{})
				if err != nil {
					b.Fatal(err)
				}
				remote += time.Duration(res.DeltaSeconds * float64(time.Second))
			}
			b.ReportMetric(local.Seconds()/float64(b.N), "s/path-info")
			b.ReportMetric(remote.Seconds()/float64(b.N), "s/probe")
		})
	}
}
