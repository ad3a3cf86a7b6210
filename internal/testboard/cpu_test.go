package testboard

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/jetup/jetup/internal/testkit"
)

// A board with a CPU budget runs its ssh sessions inside it, so what a
// push starts on the board is limited as the board's own processor.
func TestSessionsRunInTheBoardsCPUBudget(t *testing.T) {
	t.Parallel()
	Need(t)
	_, _, err := cgroupCPU()
	testkit.Need(t, err == nil, fmt.Sprintf("a CPU budget needs a cgroup cpu controller: %v", err))
	b := New(t, Options{CPU: 0.5})
	if quota := cgroupFile(t, b.cpu.Dir, "cpu.cfs_quota_us", "cpu.max"); !strings.HasPrefix(quota, "50000") {
		t.Errorf("quota %q, want 50000 µs a 100000 µs period", quota)
	}
	kh := filepath.Join(t.TempDir(), "known_hosts")
	line := b.Addr + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(b.HostKey()))) + "\n"
	if err := os.WriteFile(kh, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ssh", "-F", "/dev/null", "-i", b.ClientKey, "-o", "UserKnownHostsFile="+kh, "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "root@"+b.Addr, "cat /proc/self/cgroup").CombinedOutput()
	if err != nil {
		t.Fatalf("ssh: %v: %s", err, out)
	}
	want := "/" + filepath.Base(b.cpu.Dir)
	found := false
	for _, l := range strings.Split(string(out), "\n") {
		// v1: "N:cpu:/jetup-test-NAME" (or "cpu,cpuacct"); v2: "0::/jetup-test-NAME".
		parts := strings.SplitN(l, ":", 3)
		if len(parts) == 3 && strings.HasSuffix(parts[2], want) && (parts[1] == "" || strings.Contains(","+parts[1]+",", ",cpu,")) {
			found = true
		}
	}
	if !found {
		t.Errorf("the session's cgroups do not name %s:\n%s", want, out)
	}
}

// cgroupFile is the first of names that dir has (v1's or v2's file).
func cgroupFile(t *testing.T, dir string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if raw, err := os.ReadFile(filepath.Join(dir, n)); err == nil {
			return strings.TrimSpace(string(raw))
		}
	}
	t.Fatalf("none of %v in %s", names, dir)
	return ""
}
