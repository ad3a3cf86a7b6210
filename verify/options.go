package verify

import (
	"context"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/jetup/jetup/step"
)

// Target is the board to verify.
type Target struct {
	Host string
	Port int    // 22 when 0
	User string // root when ""
	// Identity is the private key file; "" uses ssh's defaults and agent.
	Identity string
}

// Addr is "host:port".
func (t Target) Addr() string {
	p := t.Port
	if p == 0 {
		p = 22
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(p))
}

// String is "user@host" or "user@host:port".
func (t Target) String() string {
	u := t.User
	if u == "" {
		u = "root"
	}
	s := u + "@" + t.Host
	if t.Port != 0 && t.Port != 22 {
		s += ":" + strconv.Itoa(t.Port)
	}
	return s
}

// Session is the board shell verify runs: one ssh session whose output
// it reads and whose stdin takes its commands.
type Session interface {
	Output() io.Reader
	Send(s string) error
	Wait() error
	Close() error
}

// Connector opens a board shell on a target, trusting its host key
// exactly as push does (pinned keys only; a new one needs someone to
// vouch; a changed one is refused). It emits the host key events on sink
// and returns the session and the trusted key's fingerprint; its errors
// are *step.Error with push's cause ids.
type Connector interface {
	Connect(ctx context.Context, t Target, script string, log io.Writer, sink step.Sink) (Session, string, error)
}

// Edge is verify's hardware edge: the way to the board.
type Edge struct {
	Connect Connector
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
	Target Target
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
