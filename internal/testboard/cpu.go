package testboard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A bench's boards each have their own processor; test boards share this
// machine's cores with each other and with the host side. A CPU budget (a
// cgroup's CFS quota) gives each its own share, so a benchmark of three
// boards at once compares like with like: each board computes at the same
// pace whether one or three are busy.

// cgroupCPU is where this machine's cgroups limit CPU time: the v1 cpu
// controller's hierarchy, or the v2 unified one.
func cgroupCPU() (root string, v2 bool, err error) {
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"); err == nil {
		return "/sys/fs/cgroup/cpu", false, nil
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.subtree_control"); err == nil {
		return "/sys/fs/cgroup", true, nil
	}
	return "", false, errors.New("no cgroup cpu controller at /sys/fs/cgroup/cpu or /sys/fs/cgroup")
}

// CPUBudget is a cgroup that gives its processes at most a number of
// cores' worth of time.
type CPUBudget struct {
	Dir   string
	Cores float64
}

// NewCPUBudget makes a cgroup named name limited to cores, removed when
// the test ends (its processes are moved back to the root first).
func NewCPUBudget(t testing.TB, name string, cores float64) *CPUBudget {
	t.Helper()
	root, v2, err := cgroupCPU()
	if err != nil {
		t.Fatalf("a CPU budget needs the cgroup cpu controller: %v", err)
	}
	dir := filepath.Join(root, "jetup-test-"+name)
	must(t, os.Mkdir(dir, 0o755))
	c := &CPUBudget{Dir: dir, Cores: cores}
	t.Cleanup(func() { c.remove(root) })
	const period = 100_000 // µs, the kernel's default
	quota := int(cores * period)
	if v2 {
		// The controller must be enabled for the root's children.
		_ = os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+cpu"), 0)
		err = os.WriteFile(filepath.Join(dir, "cpu.max"), fmt.Appendf(nil, "%d %d", quota, period), 0)
	} else {
		err = os.WriteFile(filepath.Join(dir, "cpu.cfs_period_us"), []byte(strconv.Itoa(period)), 0)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "cpu.cfs_quota_us"), []byte(strconv.Itoa(quota)), 0)
		}
	}
	if err != nil {
		t.Fatalf("CPU budget %s: %v", dir, err)
	}
	return c
}

// Add moves process pid (all its threads) into the budget; the processes
// it starts from then on are in it too.
func (c *CPUBudget) Add(pid int) error {
	return os.WriteFile(filepath.Join(c.Dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0)
}

// remove moves what is left back to root and removes the cgroup.
func (c *CPUBudget) remove(root string) {
	raw, _ := os.ReadFile(filepath.Join(c.Dir, "cgroup.procs"))
	for _, f := range strings.Fields(string(raw)) {
		_ = os.WriteFile(filepath.Join(root, "cgroup.procs"), []byte(f), 0)
	}
	_ = os.Remove(c.Dir)
}
