package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// VerifyFailures are the --sim-verify values: each makes one check of the
// simulated board fail (or warn) as a real board would.
var VerifyFailures = []string{"reboot-pending", "failed-unit", "no-gpu", "cuda-fail", "no-cdi", "bad-cdi",
	"k3s-not-ready", "no-device-plugin", "workload-fail", "sd-card"}

// VerifyEnv carries --sim-verify to the simulated board.
const VerifyEnv = "JETUP_SIM_VERIFY"

// VerifyBoard is the simulated Jetson Orin Nano devkit after its push,
// answering jetup's verify board shell as its sh and tools would: NixOS
// running the pushed system, nvgpu's device nodes, nvidia-smi, the
// container toolkit's CDI spec, podman, and a single-node k3s server whose
// node becomes Ready a few seconds in, with the NVIDIA device plugin.
type VerifyBoard struct {
	Hostname string
	System   string // what /run/current-system points to
	Failure  string // one of VerifyFailures, or ""
	// Agent makes the board a k3s agent: no kubeconfig of its own, so its
	// node is read on the server (the same simulated machine answers as
	// the server to a k3s-only shell).
	Agent bool
	pace  float64

	mu    sync.Mutex
	polls int            // node probes so far (it turns Ready on the third)
	pods  map[string]int // polls per workload pod
}

// NewVerifyBoard is the board for the pushed system top.
func NewVerifyBoard(top, failure string, pace float64) *VerifyBoard {
	if pace == 0 {
		pace = 1
	}
	return &VerifyBoard{Hostname: "nixos", System: top, Failure: failure, pace: pace, pods: map[string]int{}}
}

func (b *VerifyBoard) wait(ctx context.Context, d time.Duration) error {
	return sleep(ctx, time.Duration(float64(d)*b.pace))
}

// verifyScriptTag starts verify's board shell (verify/script.go).
const verifyScriptTag = "# jetup:verify"

// Verifier is the board's answers to verify: it runs the system pushed to
// it (the simulated toplevel), and fails as JETUP_SIM_VERIFY (--sim-verify)
// says.
func (b *PushBoard) Verifier() *VerifyBoard {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.verify == nil {
		b.verify = NewVerifyBoard(b.top, os.Getenv(VerifyEnv), b.pace)
		b.verify.Hostname = b.Hostname
	}
	return b.verify
}

// VerifyConn is one run of the verify board shell on the simulated board.
type VerifyConn struct {
	out    *io.PipeReader
	in     *io.PipeWriter
	done   chan struct{}
	cancel context.CancelFunc
}

// Shell starts the board shell for script.
func (b *VerifyBoard) Shell(ctx context.Context, script string) *VerifyConn {
	ctx, cancel := context.WithCancel(ctx)
	outR, outW := io.Pipe()
	inR, inW := io.Pipe()
	c := &VerifyConn{out: outR, in: inW, done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(c.done)
		vs := &verifyShell{b: b, p: parseVerifyScript(script), w: outW}
		vs.run(ctx, bufio.NewReader(inR))
		outW.CloseWithError(io.EOF)
	}()
	return c
}

func (c *VerifyConn) Output() io.Reader { return c.out }

func (c *VerifyConn) Send(s string) error {
	_, err := io.WriteString(c.in, s)
	return err
}

func (c *VerifyConn) Wait() error { <-c.done; return nil }

// Alive is true until Close.
func (c *VerifyConn) Alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// StoreURL is never used by verify's session.
func (c *VerifyConn) StoreURL(string) (string, []string) { return "ssh-ng://jetup-board", nil }

func (c *VerifyConn) Close() error {
	c.cancel()
	c.in.CloseWithError(io.EOF)
	c.out.CloseWithError(io.ErrClosedPipe)
	return nil
}

// verifyParams are the board shell's settings, read from its first lines.
type verifyParams struct {
	marker, checks, cuda, image, node string
	globs                             []string
	kubeOnly                          bool
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], `'\''`, "'")
	}
	return s
}

func parseVerifyScript(script string) verifyParams {
	var p verifyParams
	for _, l := range strings.Split(script, "\n") {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		switch k {
		case "M":
			p.marker = v
		case "checks":
			p.checks = unquote(v)
		case "gpu_globs":
			p.globs = strings.Fields(unquote(v))
		case "cuda":
			p.cuda = unquote(v)
		case "image":
			p.image = unquote(v)
		case "node":
			p.node = unquote(v)
		case "kube_only":
			p.kubeOnly = v == "true"
		}
	}
	return p
}

type verifyShell struct {
	b *VerifyBoard
	p verifyParams
	w io.Writer
}

func (s *verifyShell) want(id string) bool { return strings.Contains(" "+s.p.checks+" ", " "+id+" ") }

func (s *verifyShell) section(name, arg, body string, rc int) {
	if arg != "" {
		name += " " + arg
	}
	fmt.Fprintf(s.w, "%s begin %s\n%s\n%s end %s %d\n", s.p.marker, name, body, s.p.marker, strings.Fields(name)[0], rc)
}

func (s *verifyShell) mark(kind, name string) {
	fmt.Fprintf(s.w, "%s %s %s\n", s.p.marker, kind, name)
}

func (s *verifyShell) fails(f string) bool { return s.b.Failure == f }

func (s *verifyShell) run(ctx context.Context, in *bufio.Reader) {
	b := s.b
	node := s.p.node
	if node == "" {
		node = b.Hostname
	}
	if !s.p.kubeOnly {
		_ = b.wait(ctx, 150*time.Millisecond)
		current, profile := b.System, b.System
		if s.fails("reboot-pending") {
			current = "/nix/store/0b6y8vjkkn9k1f3ysysw8mw9pg8vmb6w-nixos-system-nixos-24.11.20241231.jetson"
		}
		s.section("sys", "", strings.Join([]string{"hostname=" + b.Hostname, "uid=0", "sudo=", "current=" + current,
			"booted=" + current, "profile=" + profile, "nixos_version=24.11.20250101.2b4230b (Vicuna)",
			"compatible=nvidia,p3768-0000+p3767-0005 nvidia,p3767-0005 nvidia,tegra234 ",
			"model=NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super", "mem_kib=7802464"}, "\n"), 0)
		s.mark("done", "booted-system")
		if s.want("failed-units") {
			_ = b.wait(ctx, 200*time.Millisecond)
			s.units()
			s.mark("done", "failed-units")
		}
		if s.want("jetson-gpu") {
			_ = b.wait(ctx, 300*time.Millisecond)
			s.gpu()
			s.mark("done", "jetson-gpu")
		}
		if s.want("container-gpu") {
			s.cdi()
			s.mark("done", "cdi")
		}
	}
	if s.want("k3s-node") || s.want("k3s-gpu") || s.want("k3s-storage") {
		if b.Agent && !s.p.kubeOnly {
			s.section("k3s", "", "k3s=inactive\nk3s_agent=active\nk3s_bin=yes\nnode="+node, 0)
		} else {
			s.section("k3s", "", "k3s=active\nk3s_agent=inactive\nk3s_bin=yes\nkubeconfig=yes\nnode="+node, 0)
			s.node(ctx, node)
		}
		s.mark("done", "k3s-node")
	}
	if s.want("k3s-storage") && !s.p.kubeOnly {
		src := "/dev/nvme0n1p2"
		if s.fails("sd-card") {
			src = "/dev/mmcblk0p1"
		}
		s.section("storage", "", "dir=/var/lib/rancher/k3s\nsource="+src+"\nswap=/dev/zram0", 0)
		s.mark("done", "k3s-storage")
	}
	fmt.Fprintf(s.w, "%s ready\n", s.p.marker)
	for {
		line, err := in.ReadString('\n')
		if err != nil || ctx.Err() != nil {
			return
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			return
		}
		arg := func(i int) string {
			if i < len(f) {
				return f[i]
			}
			return ""
		}
		switch f[0] {
		case "node":
			_ = b.wait(ctx, 100*time.Millisecond)
			s.node(ctx, node)
		case "cuda":
			_ = b.wait(ctx, 1500*time.Millisecond)
			s.cudaRun()
		case "container":
			_ = b.wait(ctx, 2500*time.Millisecond)
			s.section("container", "podman", smiTable, 0)
		case "create":
			n, _ := strconv.Atoi(arg(1))
			body := make([]byte, max(n, 0))
			if _, err := io.ReadFull(in, body); err != nil {
				return
			}
			var pod struct {
				Metadata struct{ Name string } `json:"metadata"`
			}
			_ = json.Unmarshal(body, &pod)
			s.section("create", "", "pod/"+pod.Metadata.Name, 0)
		case "pod":
			_ = b.wait(ctx, 100*time.Millisecond)
			s.section("pod", "", s.pod(arg(1), arg(2)), 0)
		case "logs":
			s.section("logs", "", s.podLog(), 0)
		case "delete":
			s.section("delete", "", "pod \""+arg(2)+"\" deleted", 0)
		default:
			return
		}
		fmt.Fprintf(s.w, "%s ok\n", s.p.marker)
	}
}

// units answers systemctl is-system-running, list-units --failed and the
// failed unit's journal. Shapes: systemctl(1) --plain --no-legend (one
// unit a line: UNIT LOAD ACTIVE SUB DESCRIPTION) and journalctl -o short.
func (s *verifyShell) units() {
	if !s.fails("failed-unit") {
		s.section("running", "", "running", 0)
		s.section("failed", "", "", 0)
		return
	}
	s.section("running", "", "degraded", 1)
	s.section("failed", "", "nvpmodel.service loaded failed failed NVIDIA Jetson nvpmodel", 0)
	s.section("journal", "nvpmodel.service", `Jan 01 00:00:12 nixos systemd[1]: Starting NVIDIA Jetson nvpmodel...
Jan 01 00:00:12 nixos nvpmodel[912]: NVPM ERROR: Error opening /sys/devices/platform/bus@0/17000000.gpu/devfreq/17000000.gpu/min_freq: 2
Jan 01 00:00:12 nixos systemd[1]: nvpmodel.service: Main process exited, code=exited, status=255/EXCEPTION
Jan 01 00:00:12 nixos systemd[1]: nvpmodel.service: Failed with result 'exit-code'.
Jan 01 00:00:12 nixos systemd[1]: Failed to start NVIDIA Jetson nvpmodel.`, 0)
}

// simGPUNodes are the nodes nvgpu makes on an Orin (legacy names and the
// nvgpu/igpu0 hierarchy, nvgpu's os/linux/ioctl.c) and nvmap's.
var simGPUNodes = []string{"/dev/nvmap", "/dev/nvhost-ctrl-gpu", "/dev/nvhost-gpu", "/dev/nvhost-as-gpu",
	"/dev/nvhost-tsg-gpu", "/dev/nvhost-power-gpu", "/dev/nvgpu/igpu0/ctrl", "/dev/nvgpu/igpu0/as",
	"/dev/nvgpu/igpu0/channel", "/dev/nvgpu/igpu0/tsg", "/dev/nvgpu/igpu0/power", "/dev/nvgpu/igpu0/sched"}

func (s *verifyShell) gpu() {
	var lines []string
	if !s.fails("no-gpu") {
		for _, g := range s.p.globs {
			for _, n := range simGPUNodes {
				if ok, _ := path.Match(g, n); ok {
					lines = append(lines, g+"\t"+n)
				}
			}
		}
	}
	s.section("devices", "", strings.Join(lines, "\n"), 0)
	if s.fails("no-gpu") {
		s.section("nvidia-smi", "", "NvRmGpuLibOpen failed, error=4\nNo devices were found", 6)
		return
	}
	s.section("nvidia-smi", "", smiTable, 0)
}

// smiTable is nvidia-smi on JetPack 6's 540.4.0 driver, as posted in
// anduril/jetpack-nixos#371 and dusty-nv/jetson-containers#1403.
const smiTable = `Thu Jan  1 00:01:02 2025
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
+-----------------------------------------+----------------------+----------------------+`

// simCDI is the spec the NixOS container toolkit's cdi-generator writes
// (cdiVersion 0.5.0, per jetpack-nixos' nvidia-container-toolkit.nix
// notes) in csv mode: the "all" device with the Tegra nodes.
const simCDI = `{
  "cdiVersion": "0.5.0",
  "kind": "nvidia.com/gpu",
  "devices": [
    {
      "name": "all",
      "containerEdits": {
        "deviceNodes": [
          {"path": "/dev/nvmap"},
          {"path": "/dev/nvhost-ctrl-gpu"},
          {"path": "/dev/nvhost-gpu"},
          {"path": "/dev/nvhost-as-gpu"},
          {"path": "/dev/nvgpu/igpu0/ctrl"},
          {"path": "/dev/nvgpu/igpu0/as"}
        ]
      }
    }
  ],
  "containerEdits": {
    "env": ["NVIDIA_VISIBLE_DEVICES=void"],
    "hooks": [
      {"hookName": "createContainer", "path": "/run/current-system/sw/bin/nvidia-cdi-hook", "args": ["nvidia-cdi-hook", "update-ldcache"]}
    ]
  }
}`

func (s *verifyShell) cdi() {
	switch {
	case s.fails("no-cdi"):
	case s.fails("bad-cdi"):
		s.section("cdi", "/etc/cdi/nvidia.yaml", "cdiVersion: \"0.5.0\"\nkind: nvidia.com/gpu\ndevices:\n- name: all\n\tcontainerEdits: {}", 0)
	default:
		s.section("cdi", "/var/run/cdi/nvidia-container-toolkit.json", simCDI, 0)
	}
	s.section("runtimes", "", "podman", 0)
}

// cudaRun is deviceQuery's output on an Orin (OE4T/meta-tegra#2088), or
// its failure with a runtime newer than the driver
// (anduril/jetpack-nixos#328).
func (s *verifyShell) cudaRun() {
	if s.fails("cuda-fail") {
		s.section("cuda", "", ` CUDA Device Query (Runtime API) version (CUDART static linking)

cudaGetDeviceCount returned 35
-> CUDA driver version is insufficient for CUDA runtime version
Result = FAIL`, 1)
		return
	}
	s.section("cuda", "", `deviceQuery Starting...

 CUDA Device Query (Runtime API) version (CUDART static linking)

Detected 1 CUDA Capable device(s)

Device 0: "Orin"
  CUDA Driver Version / Runtime Version          12.6 / 12.6
  CUDA Capability Major/Minor version number:    8.7
  Total amount of global memory:                 7620 MBytes (7990116352 bytes)
  (008) Multiprocessors, (128) CUDA Cores/MP:    1024 CUDA Cores
deviceQuery, CUDA Driver = CUDART, CUDA Driver Version = 12.6, CUDA Runtime Version = 12.6, NumDevs = 1
Result = PASS`, 0)
}

// node answers `k3s kubectl get node NAME -o json`: NotReady with the
// kubelet's own words until the third look, then Ready. The conditions'
// reasons and messages are the kubelet's (pkg/kubelet/nodestatus/setters.go).
func (s *verifyShell) node(ctx context.Context, name string) {
	s.b.mu.Lock()
	s.b.polls++
	polls := s.b.polls
	s.b.mu.Unlock()
	ready := polls >= 3 && !s.fails("k3s-not-ready")
	status, reason, msg := "True", "KubeletReady", "kubelet is posting ready status"
	if !ready {
		status, reason, msg = "False", "KubeletNotReady", "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"
	}
	gpu := `,
      "nvidia.com/gpu": "1"`
	if s.fails("no-device-plugin") || !ready {
		gpu = ""
	}
	s.section("node", "", fmt.Sprintf(simNodeJSON, name, name, gpu, status, reason, msg), 0)
}

const simNodeJSON = `{
  "apiVersion": "v1",
  "kind": "Node",
  "metadata": {
    "labels": {
      "beta.kubernetes.io/arch": "arm64",
      "beta.kubernetes.io/instance-type": "k3s",
      "kubernetes.io/hostname": "%s",
      "node-role.kubernetes.io/control-plane": "true",
      "node.kubernetes.io/instance-type": "k3s"
    },
    "name": "%s"
  },
  "status": {
    "allocatable": {
      "cpu": "6",
      "ephemeral-storage": "238342792283",
      "memory": "7802464Ki",
      "pods": "110"%s
    },
    "conditions": [
      {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available"},
      {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "message": "kubelet has no disk pressure"},
      {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "message": "kubelet has sufficient PID available"},
      {"type": "Ready", "status": "%s", "reason": "%s", "message": "%s"}
    ],
    "nodeInfo": {"architecture": "arm64", "containerRuntimeVersion": "containerd://1.7.23-k3s2", "kubeletVersion": "v1.31.4+k3s1", "operatingSystem": "linux"}
  }
}`

// pod answers `k3s kubectl get pod -o json`: Pending, Running, then
// Succeeded (or Failed with workload-fail).
func (s *verifyShell) pod(ns, name string) string {
	s.b.mu.Lock()
	s.b.pods[name]++
	n := s.b.pods[name]
	s.b.mu.Unlock()
	phase, state := "Pending", `"waiting": {"reason": "ContainerCreating"}`
	switch {
	case n >= 3 && s.fails("workload-fail"):
		phase, state = "Failed", `"terminated": {"exitCode": 1, "reason": "Error"}`
	case n >= 3:
		phase, state = "Succeeded", `"terminated": {"exitCode": 0, "reason": "Completed"}`
	case n == 2:
		phase, state = "Running", `"running": {"startedAt": "2025-01-01T00:02:00Z"}`
	}
	return fmt.Sprintf(`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": %q, "namespace": %q},
 "status": {"phase": %q, "containerStatuses": [{"name": "cuda", "state": {%s}}]}}`, name, ns, phase, state)
}

func (s *verifyShell) podLog() string {
	if s.fails("workload-fail") {
		return "[Vector addition of 50000 elements]\nFailed to allocate device vector A (error code CUDA driver version is insufficient for CUDA runtime version)!"
	}
	return "[Vector addition of 50000 elements]\nCopy input data from the host memory to the CUDA device\nCUDA kernel launch with 196 blocks of 256 threads\nCopy output data from the CUDA device to the host memory\nTest PASSED\nDone"
}
