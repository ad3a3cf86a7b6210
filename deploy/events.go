package deploy

import (
	"fmt"
	"strings"
	"time"
)

// The events Push emits. Their JSON encoding is `jetup push --json`'s line
// format: every line has "event" saying which one it is. Keep names stable.

// Phase names a part of the push.
type Phase string

const (
	PhaseBuild     Phase = "build"
	PhaseConnect   Phase = "connect"
	PhasePreflight Phase = "preflight"
	PhaseDelta     Phase = "delta"
	PhaseCopy      Phase = "copy"
	PhaseActivate  Phase = "activate"
	PhaseReboot    Phase = "reboot"
	PhaseConfirm   Phase = "confirm"
)

// PhaseEvent says a phase begins.
type PhaseEvent struct {
	Event string    `json:"event"` // "phase"
	At    time.Time `json:"at"`
	Phase Phase     `json:"phase"`
	What  string    `json:"text"`
}

// Text renders the phase line.
func (e PhaseEvent) Text() string { return "== " + e.What }

// Check statuses.
const (
	CheckOK   = "ok"
	CheckWarn = "warn"
	CheckFail = "fail"
)

// Check is one preflight finding.
type Check struct {
	Event  string    `json:"event"` // "check"
	At     time.Time `json:"at"`
	ID     string    `json:"id"` // arch, nix, store-write, target, space
	Title  string    `json:"title"`
	Status string    `json:"status"`
	Detail string    `json:"detail"`
	Next   string    `json:"next,omitempty"`
}

// Text renders "ok    arch  aarch64 board, aarch64-linux system".
func (c Check) Text() string {
	mark := map[string]string{CheckOK: "ok  ", CheckWarn: "warn", CheckFail: "FAIL"}[c.Status]
	s := fmt.Sprintf("%s  %-16s %s", mark, c.Title, c.Detail)
	if c.Status != CheckOK && c.Next != "" {
		s += "\n      next: " + c.Next
	}
	return s
}

// Delta is what the board lacks.
type Delta struct {
	Event      string    `json:"event"` // "delta"
	At         time.Time `json:"at"`
	Paths      int       `json:"paths"`   // in the closure
	Missing    int       `json:"missing"` // to send
	Present    int       `json:"present"` // already on the board
	SendBytes  int64     `json:"send_bytes"`
	TotalBytes int64     `json:"total_bytes"`
}

// Text renders "N paths, X MiB to send, Y already on the board".
func (d Delta) Text() string {
	return fmt.Sprintf("%d paths, %s to send, %d already on the board", d.Missing, MiB(d.SendBytes), d.Present)
}

// CopyProgress is how far the copy has come. Bytes are NAR bytes of the
// paths sent (exact per finished path; within a path only when Nix >= 2.15
// reports it).
type CopyProgress struct {
	Event      string    `json:"event"` // "copy"
	At         time.Time `json:"at"`
	PathsDone  int       `json:"paths_done"`
	PathsTotal int       `json:"paths_total"`
	BytesDone  int64     `json:"bytes_done"`
	BytesTotal int64     `json:"bytes_total"`
	// Rate is bytes per second over the last few seconds; 0 until known.
	Rate float64 `json:"rate"`
	// ETASeconds is the time left at that rate; -1 while unknown.
	ETASeconds int    `json:"eta_seconds"`
	Current    string `json:"current,omitempty"` // the path being sent
	Attempt    int    `json:"attempt"`
}

// Fraction is the share of bytes sent, or of paths when no bytes count.
func (p CopyProgress) Fraction() float64 {
	switch {
	case p.BytesTotal > 0:
		return min(float64(p.BytesDone)/float64(p.BytesTotal), 1)
	case p.PathsTotal > 0:
		return min(float64(p.PathsDone)/float64(p.PathsTotal), 1)
	}
	return 1
}

// Text renders "copy 41% 120/310 paths, 410.2/1000.0 MiB, 38.1 MiB/s, 16s left".
func (p CopyProgress) Text() string {
	s := fmt.Sprintf("copy %3.0f%% %d/%d paths, %s/%s", 100*p.Fraction(), p.PathsDone, p.PathsTotal,
		strings.TrimSuffix(MiB(p.BytesDone), " MiB"), MiB(p.BytesTotal))
	if p.Rate > 0 {
		s += fmt.Sprintf(", %s/s", MiB(int64(p.Rate)))
	}
	if p.ETASeconds >= 0 && p.PathsDone < p.PathsTotal {
		s += ", " + (time.Duration(p.ETASeconds) * time.Second).String() + " left"
	}
	return s
}

// BuildProgress is `nix build`'s progress for --flake.
type BuildProgress struct {
	Event    string    `json:"event"` // "build"
	At       time.Time `json:"at"`
	Done     int       `json:"done"`
	Expected int       `json:"expected"`
	Running  int       `json:"running"`
	Fetched  int       `json:"fetched"` // paths downloaded from caches
	Current  string    `json:"current,omitempty"`
}

// Text renders "build 3/10 (1 running) current".
func (b BuildProgress) Text() string {
	s := fmt.Sprintf("build %d/%d derivations (%d running, %d fetched)", b.Done, b.Expected, b.Running, b.Fetched)
	if b.Current != "" {
		s += " " + b.Current
	}
	return s
}

// RemoteLine is a line the board printed while activating or rebooting.
type RemoteLine struct {
	Event string    `json:"event"` // "remote"
	At    time.Time `json:"at"`
	Phase Phase     `json:"phase"`
	Line  string    `json:"line"`
}

// Text is "board: line".
func (r RemoteLine) Text() string { return "board: " + r.Line }

// Size renders bytes as "350.2 MiB" or, from 1 GiB, "212.4 GiB".
func Size(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return MiB(n)
}

// MiB renders bytes as "12.3 MiB".
func MiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
