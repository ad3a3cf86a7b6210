package media

import (
	"fmt"
	"time"

	"github.com/jetup/jetup/nixrun"
)

// Phases of a write, in the order they run.
const (
	PhaseBuild    = "build"
	PhaseChecksum = "checksum"
	PhaseWrite    = "write"
	PhaseFlush    = "flush"
	PhaseVerify   = "verify"
)

// Bottlenecks a rate sample can name.
const (
	BottleneckDevice = "device"        // the image is ready faster than the device takes it
	BottleneckSource = "decompression" // the device waits for data
)

// Progress is how far a phase has come. Its JSON is the --json line.
type Progress struct {
	At    time.Time `json:"at"`
	Phase string    `json:"phase"`
	// Target names the disk when several are written at once.
	Target string `json:"target,omitempty"`
	Done   int64  `json:"done"`
	// Total is 0 when unknown; Estimated when it comes from how much of
	// the compressed file was read (bzip2, gzip).
	Total     int64 `json:"total,omitempty"`
	Estimated bool  `json:"estimated,omitempty"`
	// Rate is bytes per second over the last seconds, ETA in seconds.
	Rate float64 `json:"rate_bps"`
	ETA  float64 `json:"eta_s,omitempty"`
	// Source is the rate the image comes out of the decompressor.
	Source     float64 `json:"source_bps,omitempty"`
	Bottleneck string  `json:"bottleneck,omitempty"`
}

// Text is one line: "write 312.0 MiB / 1.0 GiB 30% 95.2 MiB/s ETA 8s (device-bound)".
func (p Progress) Text() string {
	s := fmt.Sprintf("%-8s %s", p.Phase, HumanIEC(p.Done))
	if p.Target != "" {
		s = p.Target + ": " + s
	}
	if p.Total > 0 {
		approx := ""
		if p.Estimated {
			approx = "~"
		}
		s += fmt.Sprintf(" / %s%s %3.0f%%", approx, HumanIEC(p.Total), 100*float64(p.Done)/float64(p.Total))
	}
	s += " " + HumanRate(p.Rate)
	if p.ETA > 0 {
		s += " ETA " + (time.Duration(p.ETA) * time.Second).String()
	}
	if p.Bottleneck != "" {
		s += " (" + p.Bottleneck + "-bound)"
	}
	return s
}

// RateSample is one second of the rate graph: what the device took and
// what the decompressor gave, and which of them held the other back.
type RateSample struct {
	At         time.Time `json:"at"`
	Phase      string    `json:"phase"`
	Target     string    `json:"target,omitempty"`
	Second     float64   `json:"t_s"`
	Device     float64   `json:"device_bps"`
	Source     float64   `json:"source_bps,omitempty"`
	Bottleneck string    `json:"bottleneck,omitempty"`
}

// Text is empty: the Progress lines say the same for people.
func (RateSample) Text() string { return "" }

// BuildProgress is how far the installer's nix build has come: the Nix
// runner's Progress (built/total/running derivations, downloaded/downloads
// paths, bytes, activity, done), as flash's build event has it.
type BuildProgress struct {
	At    time.Time `json:"at"`
	Phase string    `json:"phase"` // "build"
	Ref   string    `json:"ref"`
	nixrun.Progress
}

// Text is "build REF: 3/10 built, 1/2 fetched · building x".
func (b BuildProgress) Text() string { return b.Line(b.Ref) }

// Stage marks a step of the write with a line for people.
type Stage struct {
	At      time.Time `json:"at"`
	Stage   string    `json:"stage"`
	Message string    `json:"message"`
	// Target names the disk when several are written at once.
	Target string `json:"target,omitempty"`
}

// Text is the message, after the disk's name when there are several.
func (s Stage) Text() string {
	if s.Target != "" {
		return s.Target + ": " + s.Message
	}
	return s.Message
}

// HumanRate is "95.2 MiB/s".
func HumanRate(bps float64) string { return HumanIEC(int64(bps)) + "/s" }

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func eta(done, total int64, elapsed time.Duration) float64 {
	if done <= 0 || total <= done {
		return 0
	}
	return elapsed.Seconds() * float64(total-done) / float64(done)
}
