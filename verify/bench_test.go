package verify_test

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
	"github.com/jetup/jetup/verify"
)

// BenchmarkVerifyOver50msRTT verifies a board behind a relay that adds
// 25 ms in each direction, every check with the k3s node Ready, and in the
// same round asks the same board the same eight questions the way a
// hand-written script does, one ssh per command. Reported: each one's mean
// and the ratio.
func BenchmarkVerifyOver50msRTT(b *testing.B) {
	rb := newRealBoard(b)
	addr := testboard.Relay(b, net.JoinHostPort(rb.Addr, "22"), 25*time.Millisecond)
	host, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	kh := filepath.Join(b.TempDir(), "known_hosts")
	yes := true
	o := verify.Options{Target: remote.Target{Host: host, Port: port, Identity: rb.ClientKey},
		Trust: remote.Trust{KnownHosts: kh, AcceptHostKey: rb.HostKeyFingerprint()}, Closure: boardSystem, Jetson: &yes,
		GPU:        []verify.GPUSet{{Family: "Orin", Driver: "nvgpu", Devices: orinNodes}},
		CUDASample: "deviceQuery", ContainerImage: "nvcr.io/nvidia/l4t-jetpack:r36.4.0", PollEvery: 20 * time.Millisecond}
	edge := verify.Edge{SSH: remote.OpenSSH{Runner: proc.Host{}}}
	if _, err := verify.Run(context.Background(), edge, o, step.Discard); err != nil { // pins the key
		b.Fatal(err)
	}
	sys := "PATH=/run/current-system/sw/bin:$PATH "
	questions := []string{sys + "systemctl is-system-running", sys + "systemctl list-units --failed --no-legend --plain",
		"ls /dev/nvmap /dev/nvgpu/igpu0/ctrl /dev/nvgpu/igpu0/as /dev/nvhost-ctrl-gpu", sys + "nvidia-smi", "cat /run/cdi/*.json",
		sys + "deviceQuery", sys + "k3s kubectl get node $(cat /proc/sys/kernel/hostname) -o json", "findmnt -n -o SOURCE --target /var/lib/rancher/k3s"}
	var ours, theirs time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		res, err := verify.Run(context.Background(), edge, o, step.Discard)
		if err != nil || res.Failed > 0 {
			b.Fatalf("%v %+v", err, res)
		}
		ours += time.Since(start)
		start = time.Now()
		for _, q := range questions {
			cmd := exec.Command("ssh", "-F", "/dev/null", "-i", rb.ClientKey, "-p", p, "-o", "UserKnownHostsFile="+kh,
				"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "root@"+host, q)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%s: %v %s", q, err, out)
			}
		}
		theirs += time.Since(start)
	}
	b.ReportMetric(ours.Seconds()/float64(b.N), "s/verify")
	b.ReportMetric(theirs.Seconds()/float64(b.N), "s/8-ssh")
	b.ReportMetric(theirs.Seconds()/ours.Seconds(), "x-faster")
}
