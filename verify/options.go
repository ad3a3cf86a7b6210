package verify

import (
	"io"
	"time"

	"github.com/jetup/jetup/remote"
)

// Edge is verify's hardware edge: the way to the board (and to a k3s
// server), the same SSH as push's.
type Edge struct {
	SSH remote.Dialer
	// PollEvery is the board's own pace between two looks while a node
	// or pod comes up, when Options set none (2s when both are 0): the
	// simulated bench's board comes up at its speed.
	PollEvery time.Duration
}

// GPUSet is the GPU device nodes of one SoC family (from the profiles).
type GPUSet struct {
	SoC     string   // "tegra234": matches "nvidia,tegra234" in the board's compatible string
	Family  string   // "Orin", for people
	Driver  string   // "nvgpu", "openrm"
	Devices []string // paths or globs under /dev, each must match
}

// Options for Run.
type Options struct {
	Target remote.Target
	// Trust decides the board's host key exactly as push does (pinned
	// keys only; a new one needs the console, --accept-host-key or the
	// person to vouch; a changed one is refused).
	Trust remote.Trust
	// Closure is the system toplevel the board should run (a store path
	// or a link to one). Empty: the last push to this board (by its host
	// key) in the run records under StateDir.
	Closure  string
	StateDir string
	// Only limits the checks (ids); empty runs all.
	Only []string
	// Wait is how long the k3s node may take to become Ready, and the
	// workload pod to finish (3m when 0).
	Wait time.Duration
	// Workload is a Pod manifest to run on the node (k3s-gpu).
	Workload string
	// CUDASample is a command or store path to run on the board (cuda);
	// ProfileCUDASample is the profile's, used when CUDASample is empty
	// (its absence on the board means not enabled, not failed).
	CUDASample        string
	ProfileCUDASample string
	// ContainerImage runs `podman run --device nvidia.com/gpu=all IMG nvidia-smi`.
	ContainerImage string
	// K3sServer is the k3s server to ask about an agent's node.
	K3sServer string
	// Jetson says whether the profile is a Jetson's: false makes
	// jetson-gpu not enabled; nil (no profile) decides from the board's
	// device tree.
	Jetson *bool
	// GPU are the device sets to check: the profile's, or every known
	// SoC's when no profile was given (the board's compatible picks).
	GPU []GPUSet
	// Log receives the board's raw output (verify.log).
	Log io.Writer
	// PollEvery is the pause between two looks at the node or the pod
	// while waiting (2s when 0).
	PollEvery time.Duration
}
