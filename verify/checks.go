package verify

import (
	"fmt"
	"strings"
)

// The check ids, in the order verify reports them. They are an interface:
// --only, the --json lines, run.json and --sim-verify use them.
const (
	BootedSystem = "booted-system"
	FailedUnits  = "failed-units"
	JetsonGPU    = "jetson-gpu"
	CUDA         = "cuda"
	ContainerGPU = "container-gpu"
	K3sNode      = "k3s-node"
	K3sGPU       = "k3s-gpu"
	K3sStorage   = "k3s-storage"
)

// IDs are every check, in report order.
var IDs = []string{BootedSystem, FailedUnits, JetsonGPU, CUDA, ContainerGPU, K3sNode, K3sGPU, K3sStorage}

var titles = map[string]string{
	BootedSystem: "Booted system",
	FailedUnits:  "Failed units",
	JetsonGPU:    "Jetson GPU",
	CUDA:         "CUDA sample",
	ContainerGPU: "Container GPU",
	K3sNode:      "k3s node",
	K3sGPU:       "k3s GPU",
	K3sStorage:   "k3s storage",
}

// Title is the check's name as people read it.
func Title(id string) string { return titles[id] }

// Statuses of a check. A check that does not apply to this board (no k3s,
// not a Jetson, no CUDA sample named) is NotEnabled, never OK.
const (
	OK         = "ok"
	Warn       = "warn"
	Fail       = "fail"
	NotEnabled = "not-enabled"
)

// Causes a failed check may carry besides its status: they decide the
// exit code (bad input refuses, exit 2) and tell a script what went wrong.
const (
	CauseBadInput  = "bad-input"  // what jetup was given cannot be used (--workload is not a Pod)
	CauseBadOutput = "bad-output" // a tool on the board printed what jetup cannot read
	CauseNotRun    = "not-run"    // the board could not be reached
)

// ParseOnly turns --only's "id,id" into check ids, refusing unknown ones.
func ParseOnly(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		id := strings.TrimSpace(f)
		if id == "" || seen[id] {
			continue
		}
		if _, ok := titles[id]; !ok {
			return nil, fmt.Errorf("unknown check %q (checks: %s)", id, strings.Join(IDs, ", "))
		}
		seen[id] = true
		out = append(out, id)
	}
	return out, nil
}

// selected is the set of checks to run: only's, in report order, or all.
func selected(only []string) []string {
	if len(only) == 0 {
		return append([]string(nil), IDs...)
	}
	want := map[string]bool{}
	for _, id := range only {
		want[id] = true
	}
	var out []string
	for _, id := range IDs {
		if want[id] {
			out = append(out, id)
		}
	}
	return out
}
