package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// SlowDiskTool finds the project's slowdisk tool (shared/tools/slowdisk
// beside the checkout: a real /dev/loopN whose throughput is capped, see
// its slowdisk.md): $JETUP_SLOWDISK, else the first shared/tools/slowdisk
// in a directory above the source tree. "" when there is none.
func SlowDiskTool() string {
	if p := os.Getenv("JETUP_SLOWDISK"); p != "" {
		return p
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	for dir := filepath.Dir(file); ; {
		p := filepath.Join(dir, "shared", "tools", "slowdisk")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

// SlowDisk is one emulated stick.
type SlowDisk struct {
	Name string
	// Dev is its /dev/loopN.
	Dev string
}

var slowDisks atomic.Int64

// NewSlowDisk brings up an emulated stick of sizeMiB MiB taking writeMBps
// and giving readMBps (MB/s of 10^6 bytes), with env added to slowdisk's
// (SLOWDISK_FAIL_AT_MB=N: every write past N MiB fails with EIO), and
// takes it down when the test ends. It needs root, FUSE and python3-fusepy
// (scripts/deps.sh test installs it).
func NewSlowDisk(t testing.TB, sizeMiB int, writeMBps, readMBps float64, env ...string) SlowDisk {
	t.Helper()
	NeedRoot(t)
	NeedCommands(t, "losetup")
	tool := SlowDiskTool()
	Need(t, tool != "", "the slowdisk tool is not found (shared/tools/slowdisk above the checkout, or $JETUP_SLOWDISK)")
	err := exec.Command("/usr/bin/python3", "-c", "import fusepy").Run()
	if err != nil {
		err = exec.Command("/usr/bin/python3", "-c", "import fuse").Run() // its name outside Debian
	}
	Need(t, err == nil, "python3-fusepy is not installed (scripts/deps.sh test installs it)")
	_, err = os.Stat("/dev/fuse")
	Need(t, err == nil, "/dev/fuse is missing")
	// Unique across the packages' test processes running at once.
	name := fmt.Sprintf("jt%d-%d", os.Getpid(), slowDisks.Add(1))
	cmd := exec.Command(tool, "up", name, fmt.Sprint(sizeMiB), fmt.Sprint(writeMBps), fmt.Sprint(readMBps))
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("slowdisk up %s: %v\n%s", name, err, stderr.String())
	}
	d := SlowDisk{Name: name, Dev: strings.TrimSpace(string(out))}
	t.Cleanup(func() {
		if out, err := exec.Command(tool, "down", name).CombinedOutput(); err != nil {
			t.Errorf("slowdisk down %s: %v\n%s", name, err, out)
			return
		}
		removeLoop(d.Dev)
	})
	return d
}

// removeLoop deletes a detached loop device. slowdisk switches discard off
// on its loop device (discard_max_bytes 0, as a stick has none), and the
// kernel keeps that limit for whoever attaches the same loopN next (it
// cannot be written back once the granularity is 0): the next test's
// plain loop device would then refuse discard and write-zeroes offload.
// A removed loop device comes back fresh when losetup needs it again.
// If another test took it in the meantime, it is busy and kept.
func removeLoop(dev string) {
	n, err := strconv.Atoi(strings.TrimPrefix(dev, "/dev/loop"))
	if err != nil {
		return
	}
	fd, err := unix.Open("/dev/loop-control", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	_ = unix.IoctlSetInt(fd, unix.LOOP_CTL_REMOVE, n)
}
