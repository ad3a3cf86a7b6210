package media

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/jetup/jetup/safe"
)

// Holders names, for a disk that stays busy after jetup unmounted it,
// what still holds it: a process whose mount namespace keeps its own copy
// of a partition's mount (a sandboxed program, a service with private
// mounts: unmounting in jetup's namespace does not reach it), or one with
// the disk or a partition open. At most max, best first; nil when nothing
// can be seen (another user's processes without root).
func (s System) Holders(path string, max int) []string {
	devs := s.diskAndPartitions(path)
	if len(devs) == 0 {
		return nil
	}
	procDir := filepath.Join(s.root(), "proc")
	ownNS, _ := os.Readlink(filepath.Join(procDir, "self", "ns", "mnt"))
	seenNS := map[string]bool{ownNS: true}
	entries, _ := os.ReadDir(procDir)
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || len(out) >= max {
			continue
		}
		dir := filepath.Join(procDir, e.Name())
		if ns, err := os.Readlink(filepath.Join(dir, "ns", "mnt")); err == nil && !seenNS[ns] {
			if point := mountedIn(filepath.Join(dir, "mountinfo"), devs); point != nil {
				seenNS[ns] = true
				out = append(out, fmt.Sprintf("%s has %s mounted at %s in another mount namespace", procName(dir, pid), devs[point.majMin], safe.Text(point.at)))
				continue
			}
		}
		if name := openedBy(dir, devs); name != "" {
			out = append(out, fmt.Sprintf("%s has %s open", procName(dir, pid), name))
		}
	}
	return out
}

// diskAndPartitions maps "major:minor" to the device's /dev name for the
// disk at path and each of its partitions (from sysfs).
func (s System) diskAndPartitions(path string) map[string]string {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return nil
	}
	disk := fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	devs := map[string]string{disk: path}
	sys := filepath.Join(s.root(), "sys", "dev", "block", disk)
	subs, _ := os.ReadDir(sys)
	for _, sub := range subs {
		b, err := safe.ReadFile(filepath.Join(sys, sub.Name(), "dev"), 64)
		if err != nil {
			continue // not a partition
		}
		devs[strings.TrimSpace(string(b))] = "/dev/" + sub.Name()
	}
	return devs
}

type mountAt struct{ majMin, at string }

// mountedIn is the first mount in a mountinfo file of one of devs.
func mountedIn(mountinfo string, devs map[string]string) *mountAt {
	b, err := safe.ReadFile(mountinfo, 4<<20)
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 {
			if _, ok := devs[f[2]]; ok {
				return &mountAt{majMin: f[2], at: unescapeMount(f[4])}
			}
		}
	}
	return nil
}

// openedBy is the device of devs the process in dir has open, if any.
func openedBy(dir string, devs map[string]string) string {
	fds, _ := os.ReadDir(filepath.Join(dir, "fd"))
	for _, fd := range fds {
		var st unix.Stat_t
		if unix.Stat(filepath.Join(dir, "fd", fd.Name()), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK {
			continue
		}
		if name, ok := devs[fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))]; ok {
			return name
		}
	}
	return ""
}

// procName is "comm (pid N)", the name cleaned of escapes.
func procName(dir string, pid int) string {
	comm, _ := safe.ReadFile(filepath.Join(dir, "comm"), 64)
	return fmt.Sprintf("%s (pid %d)", safe.Text(strings.TrimSpace(string(comm))), pid)
}
