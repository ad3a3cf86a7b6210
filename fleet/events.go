package fleet

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jetup/jetup/step"
)

// The events Push emits. Their JSON encoding is `jetup fleet push
// --json`'s line format: every line has "event" saying which one it is.
// Keep names stable.

// State is where a node is in the fleet run.
type State string

const (
	Pending     State = "pending"      // waiting for its phase
	Running     State = "running"      // being built for, pushed or verified
	Done        State = "done"         // pushed, activated and verified
	Skipped     State = "skipped"      // already on its system (a re-run): not pushed again
	Failed      State = "failed"       // see its cause and next step
	NotRun      State = "not-run"      // an earlier failure stopped the fleet before its turn
	NotSelected State = "not-selected" // --only left it out
)

// ok reports whether the node ended as it should.
func (s State) ok() bool { return s == Done || s == Skipped || s == NotSelected }

// Plan is the fleet about to run, before anything is built or sent.
type Plan struct {
	Event     string        `json:"event"` // "plan"
	At        time.Time     `json:"at"`
	Inventory string        `json:"inventory"`
	Run       string        `json:"run"`
	Phases    [][]string    `json:"phases"`
	Nodes     []PlannedNode `json:"nodes"`
	Parallel  int           `json:"parallel"`
	Cache     string        `json:"cache,omitempty"`
}

// PlannedNode is one node of the plan.
type PlannedNode struct {
	Name     string `json:"name"`
	Target   string `json:"target"`
	Phase    int    `json:"phase"`
	Role     string `json:"role,omitempty"`
	Profile  string `json:"profile,omitempty"`
	System   string `json:"system"`
	Selected bool   `json:"selected"`
}

// Text is "fleet FILE: N nodes in M phases, at most P at a time".
func (p Plan) Text() string {
	sel := 0
	for _, n := range p.Nodes {
		if n.Selected {
			sel++
		}
	}
	s := fmt.Sprintf("fleet %s: %d nodes in %d phases, at most %d at a time", p.Inventory, sel, len(p.Phases), p.Parallel)
	if sel < len(p.Nodes) {
		s += fmt.Sprintf(" (%d of %d selected)", sel, len(p.Nodes))
	}
	if p.Cache != "" {
		s += ", through the binary cache " + p.Cache
	}
	return s + "; run " + p.Run
}

// SystemBuild is the build of one distinct system, as it goes.
type SystemBuild struct {
	Event    string    `json:"event"` // "build"
	At       time.Time `json:"at"`
	System   string    `json:"system"` // as the inventory names it
	Done     int       `json:"done"`
	Expected int       `json:"expected"`
	Running  int       `json:"running"`
	Fetched  int       `json:"fetched"`
	Current  string    `json:"current,omitempty"`
}

// Text renders "build .#jetson-1: 3/10 derivations (1 running, 4 fetched)".
func (b SystemBuild) Text() string {
	s := fmt.Sprintf("build %s: %d/%d derivations (%d running, %d fetched)", b.System, b.Done, b.Expected, b.Running, b.Fetched)
	if b.Current != "" {
		s += " " + b.Current
	}
	return s
}

// SystemReady says a distinct system is built (or was given built) and
// which nodes push it; Error is set when its build failed.
type SystemReady struct {
	Event   string    `json:"event"` // "system"
	At      time.Time `json:"at"`
	System  string    `json:"system"`
	Path    string    `json:"path,omitempty"`
	Nodes   []string  `json:"nodes"`
	Built   bool      `json:"built"` // nix build ran (a flake), not given as a closure
	Seconds float64   `json:"seconds"`
	Error   string    `json:"error,omitempty"`
}

// Text renders "system .#x: /nix/store/... for a, b".
func (s SystemReady) Text() string {
	if s.Error != "" {
		return fmt.Sprintf("system %s did not build (for %s): %s", s.System, strings.Join(s.Nodes, ", "), s.Error)
	}
	verb := "given"
	if s.Built {
		verb = fmt.Sprintf("built in %.1fs", s.Seconds)
	}
	return fmt.Sprintf("system %s: %s (%s) for %s", s.System, s.Path, verb, strings.Join(s.Nodes, ", "))
}

// PhaseStart says a phase begins.
type PhaseStart struct {
	Event string    `json:"event"` // "phase"
	At    time.Time `json:"at"`
	Phase int       `json:"phase"`
	Nodes []string  `json:"nodes"`
}

// Text is "== phase 2: jetson-1, jetson-2".
func (p PhaseStart) Text() string {
	return fmt.Sprintf("== phase %d: %s", p.Phase, strings.Join(p.Nodes, ", "))
}

// NodeStatus is a node's state and step as they change, and its copy's
// bytes as they go (at most twice a second): a row of the fleet screen.
type NodeStatus struct {
	Event      string    `json:"event"` // "node"
	At         time.Time `json:"at"`
	Node       string    `json:"node"`
	Phase      int       `json:"phase"`
	State      State     `json:"state"`
	Step       string    `json:"step,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	BytesDone  int64     `json:"bytes_done,omitempty"`
	BytesTotal int64     `json:"bytes_total,omitempty"`
	Cause      string    `json:"cause,omitempty"`
	Next       string    `json:"next,omitempty"`
	Run        string    `json:"run,omitempty"`
}

// Text renders "ctrl-1: done: ..." and, for a failure, its next step.
func (s NodeStatus) Text() string {
	head := fmt.Sprintf("%s: %s", s.Node, s.State)
	if s.State == Running && s.Step != "" {
		head += " (" + s.Step + ")"
	}
	if s.State == Failed && s.Cause != "" {
		head = fmt.Sprintf("%s: FAILED at %s (%s)", s.Node, s.Step, s.Cause)
	}
	if s.Detail != "" {
		head += ": " + s.Detail
	}
	if s.State == Failed && s.Next != "" {
		head += "\n  next: " + s.Next
	}
	return head
}

// NodeLine is one of a node's own events (a push's, a verify's), with
// the node it is about. Its JSON is the event's own with "node" added.
type NodeLine struct {
	Node  string
	Event step.Event
}

// Text prefixes each line of the event's text with the node.
func (l NodeLine) Text() string {
	t := l.Event.Text()
	if t == "" {
		return ""
	}
	return "[" + l.Node + "] " + strings.ReplaceAll(t, "\n", "\n["+l.Node+"] ")
}

// MarshalJSON is the event's JSON object with "node" added.
func (l NodeLine) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(l.Event)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		m = map[string]json.RawMessage{"value": b}
	}
	name, _ := json.Marshal(l.Node)
	m["node"] = name
	if _, ok := m["event"]; !ok {
		m["event"], _ = json.Marshal(eventName(l.Event))
	}
	return json.Marshal(m)
}

// eventName names the events that carry no "event" field of their own
// (step's shared ones).
func eventName(e step.Event) string {
	switch e.(type) {
	case step.Warning:
		return "warning"
	case step.Log:
		return "log"
	case step.Progress:
		return "progress"
	}
	return fmt.Sprintf("%T", e)
}

// Join is a k3s agent's turn among the server's concurrent joins: at
// most Limit (Options.MaxJoins) agents activate, and so join, at once.
type Join struct {
	Event string    `json:"event"` // "join"
	At    time.Time `json:"at"`
	Node  string    `json:"node"`
	State JoinState `json:"state"`
	Limit int       `json:"limit"`
}

// JoinState is where an agent is in its join.
type JoinState string

const (
	JoinWaiting  JoinState = "waiting"  // every slot is taken: it waits for one
	Joining      JoinState = "joining"  // it holds a slot: its token, then its activation
	JoinReleased JoinState = "released" // its activation ended (or did not start): the slot is free
)

// Text is "a3: waiting for a k3s join slot (at most 10 agents join at once)".
func (j Join) Text() string {
	switch j.State {
	case JoinWaiting:
		return fmt.Sprintf("%s: waiting for a k3s join slot (at most %d agents join at once)", j.Node, j.Limit)
	case Joining:
		return fmt.Sprintf("%s: joins the k3s cluster (activating)", j.Node)
	}
	return fmt.Sprintf("%s: k3s join slot given back", j.Node)
}

// Waiting says the fleet waits for a node (a k3s server to answer).
type Waiting struct {
	Event   string    `json:"event"` // "waiting"
	At      time.Time `json:"at"`
	Node    string    `json:"node"`
	What    string    `json:"what"`
	Elapsed float64   `json:"elapsed_seconds"`
	Limit   float64   `json:"limit_seconds"`
}

// Text is "ctrl-1: waiting (12s of 3m0s): what".
func (w Waiting) Text() string {
	return fmt.Sprintf("%s: waiting (%s of %s): %s", w.Node, secs(w.Elapsed), secs(w.Limit), w.What)
}

func secs(s float64) string { return (time.Duration(s) * time.Second).Round(time.Second).String() }

// Result is the fleet run's verdict: the last --json line, and what
// fleet.json holds when the run ends.
type Result struct {
	Event string `json:"event"` // "result"
	Record
}

// Text renders "fleet FILE: 2 done, 1 skipped, 1 failed (b: cause), in 41.2s".
func (r Result) Text() string {
	return fmt.Sprintf("fleet %s: %s", r.Inventory, r.Tally())
}

// Tally is Text without the inventory's name, for a screen whose title
// already names it.
func (r Result) Tally() string {
	c := r.Counts()
	s := fmt.Sprintf("%d done, %d skipped (already on their system), %d failed, %d not run",
		c[Done], c[Skipped], c[Failed], c[NotRun])
	var failed []string
	for _, n := range r.Nodes {
		if n.State == Failed {
			failed = append(failed, n.Name+": "+n.Cause)
		}
	}
	if len(failed) > 0 {
		s += " (" + strings.Join(failed, "; ") + ")"
	}
	if r.Cluster != nil {
		s += "; " + r.Cluster.Text()
	}
	if r.Ended != nil {
		s += fmt.Sprintf(", in %.1fs", r.Ended.Sub(r.Started).Seconds())
	}
	return s + " (run " + r.Run + ")"
}
