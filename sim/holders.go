package sim

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MasterHolders names every descriptor, in any process, on the master of
// the board's last pty ("jetup.test (pid 12) fd 9"), from /proc's fdinfo
// tty-index. After an Unplug it should be empty: a test that waits in vain
// for the port to read as gone prints it, to say who kept the pty alive.
func (b *Board) MasterHolders() []string {
	b.mu.Lock()
	pts := b.pts
	b.mu.Unlock()
	index := strings.TrimPrefix(pts, "/dev/pts/")
	if _, err := strconv.Atoi(index); err != nil {
		return nil
	}
	var out []string
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		for _, fd := range fds {
			if link, _ := os.Readlink(filepath.Join("/proc", p.Name(), "fd", fd.Name())); link != "/dev/ptmx" && link != "/dev/pts/ptmx" {
				continue
			}
			info, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "fdinfo", fd.Name()))
			for _, line := range strings.Split(string(info), "\n") {
				if k, v, ok := strings.Cut(line, ":"); ok && k == "tty-index" && strings.TrimSpace(v) == index {
					comm, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
					out = append(out, fmt.Sprintf("%s (pid %d) fd %s", strings.TrimSpace(string(comm)), pid, fd.Name()))
				}
			}
		}
	}
	return out
}
