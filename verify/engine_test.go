package verify_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
	"github.com/jetup/jetup/verify"
)

// newBoard is the simulated Jetson with its host key pinned in a fresh
// known_hosts, reached through the simulated SSH as push reaches it. The
// real SSH is what the testboard tests cover; these cover the checks.
func newBoard(t *testing.T, failure string) (*sim.PushBoard, verify.Edge, remote.Trust) {
	t.Helper()
	b := sim.NewPushBoard(sim.PushOptions{Pace: 0.001})
	b.Verifier().Failure = failure
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := (remote.KnownHosts{File: kh}).Pin(sim.BoardAddress+":22", b.HostKey()); err != nil {
		t.Fatal(err)
	}
	return b, verify.Edge{SSH: sim.EdgeFor(b).SSH}, remote.Trust{KnownHosts: kh}
}

var orin = []verify.GPUSet{{SoC: "tegra234", Family: "Orin", Driver: "nvgpu",
	Devices: []string{"/dev/nvmap", "/dev/nvgpu/igpu0/ctrl", "/dev/nvgpu/igpu0/as", "/dev/nvhost-ctrl-gpu"}}}

type recorder struct {
	mu     sync.Mutex
	events []step.Event
}

func (r *recorder) Emit(e step.Event) { r.mu.Lock(); r.events = append(r.events, e); r.mu.Unlock() }

func (r *recorder) waits() []verify.Waiting {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []verify.Waiting
	for _, e := range r.events {
		if w, ok := e.(verify.Waiting); ok {
			out = append(out, w)
		}
	}
	return out
}

func options(t *testing.T) verify.Options {
	t.Helper()
	wl := filepath.Join(t.TempDir(), "pod.yaml")
	if err := os.WriteFile(wl, []byte(podYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	yes := true
	return verify.Options{Target: remote.Target{Host: sim.BoardAddress}, GPU: orin, Jetson: &yes,
		CUDASample: "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-cuda-samples/bin/deviceQuery", ContainerImage: "nvcr.io/nvidia/l4t-jetpack:r36.4.0",
		Workload: wl, Wait: 20 * time.Second, PollEvery: 5 * time.Millisecond}
}

// podYAML requests one GPU, as NVIDIA's device plugin README's test pod.
const podYAML = `apiVersion: v1
kind: Pod
metadata:
  name: gpu-smoke
spec:
  restartPolicy: Never
  containers:
  - name: cuda
    image: nvcr.io/nvidia/k8s/cuda-sample:vectoradd-cuda12.5.0
    resources:
      limits:
        nvidia.com/gpu: 1
`

func run(t *testing.T, failure string, o verify.Options) (*verify.Result, *recorder, string) {
	t.Helper()
	b, edge, trust := newBoard(t, failure)
	if o.Closure == "" {
		o.Closure = b.System()
	} else if o.Closure == "-" {
		o.Closure = ""
	}
	o.Trust = trust
	var log bytes.Buffer
	o.Log = &log
	rec := &recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := verify.Run(ctx, edge, o, rec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res, rec, log.String()
}

func check(t *testing.T, res *verify.Result, id string) verify.Check {
	t.Helper()
	for _, c := range res.Checks {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no %s in %+v", id, res.Checks)
	return verify.Check{}
}

func TestEveryCheckPassesOnAHealthyBoard(t *testing.T) {
	res, rec, log := run(t, "", options(t))
	for _, c := range res.Checks {
		t.Log(c.Text())
	}
	for _, c := range res.Checks {
		if c.Status != verify.OK {
			t.Errorf("%s: %s %s (next: %s)", c.ID, c.Status, c.Detail, c.Next)
		}
	}
	if len(res.Checks) != len(verify.IDs) || res.ExitCode() != 0 || res.Failed != 0 {
		t.Errorf("result %+v", res)
	}
	for id, want := range map[string]string{
		verify.BootedSystem: "runs the pushed nixos-system-nixos-24.11",
		verify.JetsonGPU:    "nvidia-smi: Orin (nvgpu), driver 540.4.0, CUDA 12.6",
		verify.CUDA:         `Device 0: "Orin"`,
		verify.ContainerGPU: "/var/run/cdi/nvidia-container-toolkit.json defines nvidia.com/gpu=all (6 device nodes)",
		verify.K3sNode:      "node nixos is Ready (v1.31.4+k3s1",
		verify.K3sGPU:       "workload pod gpu-smoke (pinned to node nixos) Succeeded",
		verify.K3sStorage:   "on /dev/nvme0n1p2; swap on /dev/zram0",
	} {
		if d := check(t, res, id).Detail; !strings.Contains(d, want) {
			t.Errorf("%s detail %q lacks %q", id, d, want)
		}
	}
	// The node was NotReady for two looks: the wait said why each time.
	w := rec.waits()
	if len(w) < 2 || w[0].ID != verify.K3sNode || !strings.Contains(w[0].What, "Ready=False KubeletNotReady: container runtime network not ready") {
		t.Errorf("waiting events %+v", w)
	}
	if !strings.Contains(log, `"kind": "Node"`) || !strings.Contains(log, "Result = PASS") {
		t.Error("verify.log lacks the board's raw output")
	}
}

func TestEachSimulatedFailureFailsItsCheck(t *testing.T) {
	cases := []struct {
		failure, id, status, detail, next string
	}{
		{"reboot-pending", verify.BootedSystem, verify.Warn, "a reboot is pending", "reboot the board"},
		{"failed-unit", verify.FailedUnits, verify.Fail, "1 failed: nvpmodel.service\nnvpmodel.service (NVIDIA Jetson nvpmodel):\n  Jan 01 00:00:12 nixos systemd[1]: Starting", "journalctl -b -u nvpmodel.service"},
		{"no-gpu", verify.JetsonGPU, verify.Fail, "missing /dev/nvmap, /dev/nvgpu/igpu0/ctrl", "journalctl -k -b | grep -i nvgpu"},
		{"cuda-fail", verify.CUDA, verify.Fail, "CUDA driver version is insufficient", "driver version is insufficient"},
		{"no-cdi", verify.ContainerGPU, verify.Fail, "no CDI spec defines nvidia.com/gpu=all", "hardware.nvidia-container-toolkit.enable"},
		{"bad-cdi", verify.ContainerGPU, verify.Fail, "unreadable: /etc/cdi/nvidia.yaml: not YAML", "nvidia-container-toolkit"},
		{"k3s-not-ready", verify.K3sNode, verify.Fail, "not Ready within 300ms: Ready=False KubeletNotReady: container runtime network not ready", "journalctl -b -u k3s"},
		{"no-device-plugin", verify.K3sGPU, verify.Fail, "no nvidia.com/gpu in the node's allocatable", "NVIDIA device plugin"},
		{"workload-fail", verify.K3sGPU, verify.Fail, "workload pod gpu-smoke (pinned to node nixos) failed: Failed: container cuda exited 1 (Error); log: ", "describe pod gpu-smoke"},
		{"sd-card", verify.K3sStorage, verify.Warn, "on /dev/mmcblk0p1 (an SD card or eMMC): k3s writes a lot", "NVMe or a USB SSD"},
	}
	for _, c := range cases {
		t.Run(c.failure, func(t *testing.T) {
			o := options(t)
			o.Wait = 300 * time.Millisecond
			res, _, _ := run(t, c.failure, o)
			got := check(t, res, c.id)
			if got.Status != c.status || !strings.Contains(got.Detail, c.detail) || !strings.Contains(got.Next, c.next) {
				t.Errorf("%s: %s %q next %q", c.id, got.Status, got.Detail, got.Next)
			}
			for _, other := range res.Checks {
				if other.ID != c.id && other.Status == verify.Fail && !(c.failure == "k3s-not-ready" && other.ID == verify.K3sGPU) {
					t.Errorf("%s also failed: %s", other.ID, other.Detail)
				}
			}
			want := 0
			if c.status == verify.Fail {
				want = 1
			}
			if res.ExitCode() != want {
				t.Errorf("exit code %d, want %d", res.ExitCode(), want)
			}
		})
	}
}

func TestAWorkloadThatIsNotAPodFailsOnlyItsCheck(t *testing.T) {
	for name, text := range map[string]string{
		"deployment": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n",
		"not yaml":   "kind: Pod\n\tmetadata: [\n",
		"two docs":   podYAML + "---\n" + podYAML,
		"no name":    "apiVersion: v1\nkind: Pod\nmetadata: {}\n",
		"empty":      "",
		"bad name":   "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"x; rm -rf /\"\n",
	} {
		t.Run(name, func(t *testing.T) {
			o := options(t)
			if err := os.WriteFile(o.Workload, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			res, _, _ := run(t, "", o)
			got := check(t, res, verify.K3sGPU)
			if got.Status != verify.Fail || got.Cause != verify.CauseBadInput || !strings.Contains(got.Detail, "--workload "+o.Workload) {
				t.Errorf("k3s-gpu %+v", got)
			}
			if res.ExitCode() != 2 || res.OK != len(verify.IDs)-1 {
				t.Errorf("exit %d, %d ok: %+v", res.ExitCode(), res.OK, res.Checks)
			}
		})
	}
}

func TestOnlyRunsTheChecksAskedFor(t *testing.T) {
	o := options(t)
	o.Only = []string{verify.K3sStorage, verify.BootedSystem}
	res, _, log := run(t, "", o)
	if len(res.Checks) != 2 || res.Checks[0].ID != verify.BootedSystem || res.Checks[1].ID != verify.K3sStorage {
		t.Fatalf("checks %+v", res.Checks)
	}
	if strings.Contains(log, "NVIDIA-SMI") || strings.Contains(log, "cdiVersion") {
		t.Errorf("the board was asked for more than two checks: %s", log)
	}
}

func TestAPiIsNoJetsonAndNamesNoCUDASample(t *testing.T) {
	o := options(t)
	no := false
	o.Jetson, o.GPU, o.CUDASample = &no, nil, ""
	res, _, _ := run(t, "", o)
	if c := check(t, res, verify.JetsonGPU); c.Status != verify.NotEnabled {
		t.Errorf("jetson-gpu on a Pi: %+v", c)
	}
	if c := check(t, res, verify.CUDA); c.Status != verify.NotEnabled || !strings.Contains(c.Next, "--cuda-sample") {
		t.Errorf("cuda with none named: %+v", c)
	}
	if res.ExitCode() != 0 {
		t.Errorf("not-enabled checks failed the run: %d", res.ExitCode())
	}
}

func TestNoClosureAndNoPushRecordComparesNothing(t *testing.T) {
	o := options(t)
	o.Closure, o.StateDir = "-", t.TempDir()
	res, _, _ := run(t, "", o)
	if c := check(t, res, verify.BootedSystem); c.Status != verify.NotEnabled || !strings.Contains(c.Detail, "runs nixos-system-nixos") {
		t.Errorf("booted-system %+v", c)
	}
}

func TestUnknownChangedOrUnreachableBoardsAreRefusedAsPushRefusesThem(t *testing.T) {
	cases := []struct {
		name, host, cause string
		pin               func(kh string, b *sim.PushBoard) error
		code              int
	}{
		{"unknown key", sim.BoardAddress, "host-key-unknown", func(string, *sim.PushBoard) error { return nil }, 2},
		{"changed key", sim.BoardAddress, "host-key-changed", func(kh string, _ *sim.PushBoard) error {
			k, _, _, _, err := ssh.ParseAuthorizedKey([]byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGGmYQJ2bSmGjQ3vO7RzJzjL3n8QpRqmpDgiHLXkE7cf other"))
			if err != nil {
				return err
			}
			return remote.KnownHosts{File: kh}.Pin(sim.BoardAddress+":22", k)
		}, 2},
		{"unreachable", "192.168.77.1", "unreachable", func(string, *sim.PushBoard) error { return nil }, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := sim.NewPushBoard(sim.PushOptions{Pace: 0.001})
			kh := filepath.Join(t.TempDir(), "known_hosts")
			if err := c.pin(kh, b); err != nil {
				t.Fatal(err)
			}
			o := options(t)
			o.Target.Host, o.Trust = c.host, remote.Trust{KnownHosts: kh}
			res, err := verify.Run(context.Background(), verify.Edge{SSH: sim.EdgeFor(b).SSH}, o, step.Discard)
			var se *step.Error
			if !errors.As(err, &se) || se.Cause != c.cause || step.ExitCodeOf(err) != c.code || se.Next == "" {
				t.Fatalf("err %v (%T)", err, err)
			}
			if res == nil || len(res.Checks) != len(verify.IDs) || res.Failed != len(verify.IDs) {
				t.Fatalf("result %+v", res)
			}
			for _, ch := range res.Checks {
				if ch.Cause != verify.CauseNotRun || !strings.HasPrefix(ch.Detail, "not checked: ") {
					t.Errorf("%s: %+v", ch.ID, ch)
				}
			}
		})
	}
}

func TestAnAgentsNodeIsReadOnTheServer(t *testing.T) {
	b, edge, trust := newBoard(t, "")
	b.Verifier().Agent = true
	o := options(t)
	o.Only, o.Trust, o.Closure, o.Workload = []string{verify.K3sNode, verify.K3sGPU}, trust, b.System(), ""
	ctx := context.Background()
	res, err := verify.Run(ctx, edge, o, step.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c := check(t, res, verify.K3sNode); c.Status != verify.Warn || !strings.Contains(c.Next, "--k3s-server") {
		t.Errorf("no server given: %+v", c)
	}
	// The server's key is pinned like any board's (here the same machine's).
	o.K3sServer = sim.BoardAddress
	rec := &recorder{}
	res, err = verify.Run(ctx, edge, o, rec)
	if err != nil {
		t.Fatal(err)
	}
	if c := check(t, res, verify.K3sNode); c.Status != verify.OK || !strings.Contains(c.Detail, "node nixos is Ready") {
		t.Errorf("through the server: %+v", c)
	}
	if c := check(t, res, verify.K3sGPU); c.Status != verify.OK {
		t.Errorf("k3s-gpu through the server: %+v", c)
	}
	keys := 0
	for _, e := range rec.events {
		if _, ok := e.(remote.HostKey); ok {
			keys++
		}
	}
	if keys != 2 {
		t.Errorf("%d host key events: the board's and the server's were each checked", keys)
	}
	// A server whose key is not pinned is refused as any board is.
	o.K3sServer = "192.168.55.9"
	res, err = verify.Run(ctx, edge, o, step.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c := check(t, res, verify.K3sNode); c.Status != verify.Fail || !strings.Contains(c.Detail, "cannot ask the k3s server root@192.168.55.9") {
		t.Errorf("unreachable server: %+v", c)
	}
}
