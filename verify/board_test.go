package verify_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
	"github.com/jetup/jetup/verify"
)

// The board's own tools, as small scripts printing their real output
// shapes. They read what the test set in /run/jetup-board/state (the
// test's Board.Dir/state), so a test changes the board between runs and,
// while a run waits, at the moment an event says.

// systemctl(1) with --plain --no-legend prints one unit a line (UNIT LOAD
// ACTIVE SUB DESCRIPTION); is-system-running and is-active print a state
// word and exit non-zero unless running/active.
const fakeSystemctl = `#!/bin/sh
S=/run/jetup-board/state
case "$1" in
  is-system-running) st=$(cat $S/running 2>/dev/null || echo running); echo "$st"; [ "$st" = running ] ;;
  list-units) cat $S/failed 2>/dev/null; exit 0 ;;
  is-active) if [ -f "$S/active-$2" ]; then st=$(cat "$S/active-$2"); echo "$st"; [ "$st" = active ]; else echo inactive; exit 3; fi ;;
  *) echo "systemctl: unknown command $1"; exit 1 ;;
esac
`

// journalctl -u UNIT -n 5 -o short: "Mon DD HH:MM:SS host ident[pid]: message".
const fakeJournalctl = `#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = -u ] && u=$2; shift; done
cat "/run/jetup-board/state/journal-$u" 2>/dev/null || echo "-- No entries --"
`

// nvidia-smi on JetPack 6 (driver 540.4.0), as posted in
// anduril/jetpack-nixos#371 and dusty-nv/jetson-containers#1403.
const fakeNvidiaSMI = `#!/bin/sh
cat <<'T'
Thu Oct  9 01:42:44 2025
+---------------------------------------------------------------------------------------+
| NVIDIA-SMI 540.4.0                Driver Version: 540.4.0      CUDA Version: 12.6     |
|-----------------------------------------+----------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id        Disp.A | Volatile Uncorr. ECC |
| Fan  Temp   Perf          Pwr:Usage/Cap |         Memory-Usage | GPU-Util  Compute M. |
|                                         |                      |               MIG M. |
|=========================================+======================+======================|
|   0  Orin (nvgpu)                  N/A  | N/A              N/A |                  N/A |
| N/A   N/A  N/A               N/A /  N/A | Not Supported        |     N/A          N/A |
|                                         |                      |                  N/A |
+-----------------------------------------+----------------------+----------------------+
T
`

// deviceQuery's output on an Orin (OE4T/meta-tegra#2088).
const fakeDeviceQuery = `#!/bin/sh
cat <<'T'
deviceQuery Starting...

 CUDA Device Query (Runtime API) version (CUDART static linking)

Detected 1 CUDA Capable device(s)

Device 0: "Orin"
  CUDA Driver Version / Runtime Version          12.6 / 12.6
  CUDA Capability Major/Minor version number:    8.7
Result = PASS
T
`

// podman run --rm --device nvidia.com/gpu=all IMG nvidia-smi: the
// container's nvidia-smi table.
const fakePodman = `#!/bin/sh
[ "$1" = run ] || exit 125
exec nvidia-smi
`

// k3s kubectl: get node NAME -o json prints the Node as kubectl does (the
// conditions' reasons and messages are the kubelet's own, from
// pkg/kubelet/nodestatus/setters.go); NotReady until the test writes
// state/node-ready. create/get/logs/delete answer for the workload pod.
const fakeK3s = `#!/bin/sh
S=/run/jetup-board/state
[ "$1" = kubectl ] || { echo "k3s: only kubectl here"; exit 1; }
shift
case "$1 $2" in
"get node")
  [ -f $S/node-malformed ] && { echo '{"apiVersion": "v1", "kind": "Node", "status": {"conditions": ['; exit 0; }
  if [ -f $S/node-ready ]; then st=True r=KubeletReady m="kubelet is posting ready status"; gpu=',
            "nvidia.com/gpu": "1"'
  else st=False r=KubeletNotReady m="container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"; gpu=; fi
  cat <<J
{
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {
        "labels": {
            "kubernetes.io/hostname": "$3",
            "node.kubernetes.io/instance-type": "k3s"
        },
        "name": "$3"
    },
    "status": {
        "allocatable": {
            "cpu": "6",
            "memory": "7802464Ki",
            "pods": "110"$gpu
        },
        "conditions": [
            {
                "message": "kubelet has sufficient memory available",
                "reason": "KubeletHasSufficientMemory",
                "status": "False",
                "type": "MemoryPressure"
            },
            {
                "message": "$m",
                "reason": "$r",
                "status": "$st",
                "type": "Ready"
            }
        ],
        "nodeInfo": {
            "containerRuntimeVersion": "containerd://1.7.23-k3s2",
            "kubeletVersion": "v1.31.4+k3s1"
        }
    }
}
J
  ;;
"create -f")
  cp "$3" $S/created.json
  echo "pod/$(sed -n 's/.*"metadata":{"name":"\([^"]*\)".*/\1/p' "$3")" ;;
"get pod")
  phase=$(cat $S/pod-phase 2>/dev/null || echo Succeeded)
  code=0; reason=Completed
  [ "$phase" = Failed ] && { code=1; reason=Error; }
  cat <<J
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "$5", "namespace": "$4"},
 "status": {"phase": "$phase", "containerStatuses": [{"name": "cuda", "state": {"terminated": {"exitCode": $code, "reason": "$reason"}}}]}}
J
  ;;
"logs -n") cat $S/pod-log 2>/dev/null ;;
"delete pod") echo "pod \"$4\" deleted"; touch $S/deleted ;;
*) echo "error: unknown command $1 $2"; exit 1 ;;
esac
`

// cdiSpec is the spec the container toolkit's generator writes in csv
// mode, JSON as NixOS's nvidia-container-toolkit-cdi-generator writes it.
const cdiSpec = `{"cdiVersion":"0.5.0","kind":"nvidia.com/gpu","devices":[{"name":"all","containerEdits":{"deviceNodes":[{"path":"/dev/nvmap"},{"path":"/dev/nvgpu/igpu0/ctrl"}]}}],"containerEdits":{"env":["NVIDIA_VISIBLE_DEVICES=void"]}}`

const boardSystem = "/nix/store/0c6kzph8v1jmyd7d6jz0y9l4d0a9gk3x-nixos-system-orin-24.11.20250101.jetson"

type realBoard struct {
	*testboard.Board
	kh string
}

func (b *realBoard) state(name, content string) {
	if err := os.WriteFile(filepath.Join(b.Dir, "state", name), []byte(content), 0o644); err != nil {
		panic(err)
	}
}

func (b *realBoard) unset(name string) { os.Remove(filepath.Join(b.Dir, "state", name)) }

var orinNodes = []string{"/dev/nvmap", "/dev/nvgpu/igpu0/ctrl", "/dev/nvgpu/igpu0/as", "/dev/nvhost-ctrl-gpu"}

func newRealBoard(t testing.TB) *realBoard {
	t.Helper()
	b := testboard.New(t, testboard.Options{System: boardSystem, DevNodes: orinNodes,
		Tools: map[string]string{"systemctl": fakeSystemctl, "journalctl": fakeJournalctl, "nvidia-smi": fakeNvidiaSMI,
			"deviceQuery": fakeDeviceQuery, "podman": fakePodman, "k3s": fakeK3s},
		Links: map[string]string{"/run/cdi": "/run/jetup-board/cdi", "/var/lib/rancher": "/run/jetup-board/rancher",
			"/etc/rancher": "/run/jetup-board/etc-rancher"}})
	rb := &realBoard{Board: b, kh: filepath.Join(t.TempDir(), "known_hosts")}
	for _, d := range []string{"state", "cdi", "rancher/k3s", "etc-rancher/k3s"} {
		if err := os.MkdirAll(filepath.Join(b.Dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rb.healthy()
	return rb
}

// healthy is the board with k3s Ready, the device plugin, a CDI spec.
func (b *realBoard) healthy() {
	for _, f := range []string{"failed", "running", "node-ready", "node-malformed", "pod-phase", "pod-log"} {
		b.unset(f)
	}
	b.state("active-k3s", "active\n")
	b.state("node-ready", "")
	b.state("pod-log", "[Vector addition of 50000 elements]\nTest PASSED\nDone\n")
	if err := os.WriteFile(filepath.Join(b.Dir, "etc-rancher", "k3s", "k3s.yaml"), []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		panic(err)
	}
	os.RemoveAll(filepath.Join(b.Dir, "cdi"))
	os.MkdirAll(filepath.Join(b.Dir, "cdi"), 0o755)
	if err := os.WriteFile(filepath.Join(b.Dir, "cdi", "nvidia-container-toolkit.json"), []byte(cdiSpec), 0o644); err != nil {
		panic(err)
	}
}

type waitSink struct {
	mu      sync.Mutex
	waits   []verify.Waiting
	onWait  func(verify.Waiting)
	checked []verify.Check
}

func (s *waitSink) Emit(e step.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch e := e.(type) {
	case verify.Waiting:
		s.waits = append(s.waits, e)
		if s.onWait != nil {
			s.onWait(e)
		}
	case verify.Check:
		s.checked = append(s.checked, e)
	}
}

func (b *realBoard) run(t *testing.T, o verify.Options, sink step.Sink) (*verify.Result, error) {
	t.Helper()
	o.Target = remote.Target{Host: b.Addr, Identity: b.ClientKey}
	o.Trust = remote.Trust{KnownHosts: b.kh, AcceptHostKey: b.HostKeyFingerprint()}
	yes := true
	o.Jetson, o.GPU = &yes, []verify.GPUSet{{SoC: "", Family: "Orin", Driver: "nvgpu", Devices: append(orinNodes, "/dev/nvgpu/igpu0/*")}}
	if o.Closure == "" {
		o.Closure = boardSystem
	}
	o.PollEvery = 20 * time.Millisecond
	if o.Wait == 0 {
		o.Wait = time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if sink == nil {
		sink = step.Discard
	}
	return verify.Run(ctx, verify.Edge{SSH: remote.OpenSSH{Runner: proc.Host{}}}, o, sink)
}

// ok runs verify on the board and fails the test if it could not run.
func (b *realBoard) ok(t *testing.T, o verify.Options, sink step.Sink) *verify.Result {
	t.Helper()
	res, err := b.run(t, o, sink)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

// One board, changed between runs as its tools would see it change.
func TestVerifyARealBoardOverSSH(t *testing.T) {
	b := newRealBoard(t)
	wl := filepath.Join(t.TempDir(), "pod.yaml")
	if err := os.WriteFile(wl, []byte(podYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	all := verify.Options{CUDASample: "deviceQuery", ContainerImage: "nvcr.io/nvidia/l4t-jetpack:r36.4.0", Workload: wl}

	t.Run("all ok", func(t *testing.T) {
		var log strings.Builder
		o := all
		o.Log = &log
		res := b.ok(t, o, nil)
		for _, c := range res.Checks {
			if c.Status != verify.OK {
				t.Errorf("%s: %s %s", c.ID, c.Status, c.Detail)
			}
		}
		if d := check(t, res, verify.JetsonGPU).Detail; !strings.Contains(d, "/dev/nvgpu/igpu0/ctrl") || !strings.Contains(d, "Orin (nvgpu), driver 540.4.0") {
			t.Errorf("jetson-gpu %q", d)
		}
		if d := check(t, res, verify.K3sGPU).Detail; !strings.Contains(d, "workload pod gpu-smoke (pinned to node") || !strings.Contains(d, "Test PASSED") {
			t.Errorf("k3s-gpu %q", d)
		}
		created, _ := os.ReadFile(filepath.Join(b.Dir, "state", "created.json"))
		if !strings.Contains(string(created), `"nodeSelector":{"kubernetes.io/hostname":`) {
			t.Errorf("the pod sent: %s", created)
		}
		if _, err := os.Stat(filepath.Join(b.Dir, "state", "deleted")); err != nil {
			t.Error("the workload pod was not deleted")
		}
		if res.Fingerprint != b.HostKeyFingerprint() || !strings.Contains(log.String(), "NVIDIA-SMI 540.4.0") {
			t.Errorf("fingerprint %s, log %d bytes", res.Fingerprint, log.Len())
		}
	})

	t.Run("a failed unit", func(t *testing.T) {
		b.healthy()
		b.state("running", "degraded\n")
		b.state("failed", "nvpmodel.service loaded failed failed NVIDIA Jetson nvpmodel\n")
		b.state("journal-nvpmodel.service", "Jan 01 00:00:12 orin nvpmodel[912]: NVPM ERROR: Error opening /sys/devices/platform/bus@0/17000000.gpu/devfreq/17000000.gpu/min_freq: 2\n"+
			"Jan 01 00:00:12 orin systemd[1]: nvpmodel.service: Main process exited, code=exited, status=255/EXCEPTION\n")
		res := b.ok(t, verify.Options{Only: []string{verify.FailedUnits, verify.BootedSystem}}, nil)
		c := check(t, res, verify.FailedUnits)
		if c.Status != verify.Fail || !strings.Contains(c.Detail, "1 failed: nvpmodel.service") || !strings.Contains(c.Detail, "status=255/EXCEPTION") || res.ExitCode() != 1 {
			t.Errorf("%+v", c)
		}
		if check(t, res, verify.BootedSystem).Status != verify.OK {
			t.Errorf("booted-system %+v", check(t, res, verify.BootedSystem))
		}
	})

	t.Run("no CDI spec, and one that is not YAML", func(t *testing.T) {
		b.healthy()
		os.Remove(filepath.Join(b.Dir, "cdi", "nvidia-container-toolkit.json"))
		res := b.ok(t, verify.Options{Only: []string{verify.ContainerGPU, verify.JetsonGPU}}, nil)
		if c := check(t, res, verify.ContainerGPU); c.Status != verify.Fail || !strings.Contains(c.Detail, "no CDI spec defines nvidia.com/gpu=all") {
			t.Errorf("%+v", c)
		}
		if err := os.WriteFile(filepath.Join(b.Dir, "cdi", "nvidia.yaml"), []byte("cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices: [\n\t- {name: all\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		res = b.ok(t, verify.Options{Only: []string{verify.ContainerGPU, verify.JetsonGPU}}, nil)
		if c := check(t, res, verify.ContainerGPU); c.Status != verify.Fail || !strings.Contains(c.Detail, "/run/cdi/nvidia.yaml: not YAML") {
			t.Errorf("%+v", c)
		}
		if c := check(t, res, verify.JetsonGPU); c.Status != verify.OK {
			t.Errorf("the other check: %+v", c)
		}
	})

	t.Run("node NotReady, then Ready within --wait", func(t *testing.T) {
		b.healthy()
		b.unset("node-ready")
		// The node turns Ready when the test has seen jetup wait for it.
		sink := &waitSink{onWait: func(w verify.Waiting) { b.state("node-ready", "") }}
		res := b.ok(t, verify.Options{Only: []string{verify.K3sNode, verify.K3sGPU}}, sink)
		if c := check(t, res, verify.K3sNode); c.Status != verify.OK {
			t.Errorf("%+v", c)
		}
		if len(sink.waits) == 0 || !strings.Contains(sink.waits[0].What, "Ready=False KubeletNotReady: container runtime network not ready") {
			t.Errorf("waits %+v", sink.waits)
		}
	})

	t.Run("never Ready: the timeout names the last condition", func(t *testing.T) {
		b.healthy()
		b.unset("node-ready")
		res := b.ok(t, verify.Options{Only: []string{verify.K3sNode}, Wait: 300 * time.Millisecond}, nil)
		if c := check(t, res, verify.K3sNode); c.Status != verify.Fail || !strings.Contains(c.Detail, "not Ready within 300ms: Ready=False KubeletNotReady: container runtime network not ready") {
			t.Errorf("%+v", c)
		}
	})

	t.Run("k3s not installed", func(t *testing.T) {
		b.healthy()
		b.unset("active-k3s")
		os.RemoveAll(filepath.Join(b.Dir, "rancher", "k3s"))
		defer os.MkdirAll(filepath.Join(b.Dir, "rancher", "k3s"), 0o755)
		res := b.ok(t, verify.Options{Only: []string{verify.K3sNode, verify.K3sGPU, verify.K3sStorage}}, nil)
		for _, c := range res.Checks {
			if c.Status != verify.NotEnabled {
				t.Errorf("%s: %+v", c.ID, c)
			}
		}
		if res.ExitCode() != 0 {
			t.Errorf("exit %d", res.ExitCode())
		}
	})

	t.Run("the workload pod fails", func(t *testing.T) {
		b.healthy()
		b.state("pod-phase", "Failed")
		b.state("pod-log", "[Vector addition of 50000 elements]\nFailed to allocate device vector A (error code CUDA driver version is insufficient for CUDA runtime version)!\n")
		o := all
		o.Only = []string{verify.K3sGPU}
		res := b.ok(t, o, nil)
		if c := check(t, res, verify.K3sGPU); c.Status != verify.Fail || !strings.Contains(c.Detail, "failed: Failed: container cuda exited 1 (Error)") ||
			!strings.Contains(c.Detail, "CUDA driver version is insufficient") {
			t.Errorf("%+v", c)
		}
	})

	t.Run("malformed kubectl JSON names its check; the others report", func(t *testing.T) {
		b.healthy()
		b.state("node-malformed", "")
		res := b.ok(t, verify.Options{Only: []string{verify.K3sNode, verify.FailedUnits, verify.K3sStorage}}, nil)
		if c := check(t, res, verify.K3sNode); c.Status != verify.Fail || c.Cause != verify.CauseBadOutput || !strings.Contains(c.Detail, "not a node's JSON") {
			t.Errorf("%+v", c)
		}
		if check(t, res, verify.FailedUnits).Status != verify.OK || check(t, res, verify.K3sStorage).Status != verify.OK {
			t.Errorf("the others: %+v", res.Checks)
		}
	})

	t.Run("a changed host key is refused as push refuses it", func(t *testing.T) {
		b.healthy()
		old := b.HostKeyFingerprint()
		b.ChangeHostKey()
		o := verify.Options{Only: []string{verify.BootedSystem}}
		o.Target = remote.Target{Host: b.Addr, Identity: b.ClientKey}
		o.Trust = remote.Trust{KnownHosts: b.kh}
		res, err := verify.Run(context.Background(), verify.Edge{SSH: remote.OpenSSH{Runner: proc.Host{}}}, o, step.Discard)
		var se *step.Error
		if !errors.As(err, &se) || se.Cause != "host-key-changed" || step.ExitCodeOf(err) != 2 || !strings.Contains(se.What, old) ||
			!strings.Contains(se.Next, "--forget-host-key --accept-host-key "+b.HostKeyFingerprint()) {
			t.Fatalf("%v", err)
		}
		if res == nil || res.Checks[0].Cause != verify.CauseNotRun {
			t.Errorf("%+v", res)
		}
	})
}

func TestVerifyAnUnreachableBoard(t *testing.T) {
	testboard.Need(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now: connection refused
	o := verify.Options{Target: remote.Target{Host: "127.0.0.1", Port: port}, Trust: remote.Trust{KnownHosts: filepath.Join(t.TempDir(), "kh")}}
	res, err := verify.Run(context.Background(), verify.Edge{SSH: remote.OpenSSH{Runner: proc.Host{}}}, o, step.Discard)
	var se *step.Error
	if !errors.As(err, &se) || se.Cause != "unreachable" || step.ExitCodeOf(err) != 1 || res == nil || res.Failed != len(verify.IDs) {
		t.Fatalf("%v %+v", err, res)
	}
}
