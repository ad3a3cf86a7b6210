package flash

import (
	"bytes"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Descendants lists the processes below pid (children, their children...),
// read from /proc. A process that double-forked away from its parent is
// found too when pid is a child subreaper (the helper is).
func Descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := parentOf(p); ok {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// parentOf reads the parent pid from /proc/PID/stat. The command name in
// parentheses may itself hold spaces and parentheses: parse after the last
// ')'.
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+4 > len(b) {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(string(f[1]))
	return pp, err == nil
}

// endDescendants ends every process below this one: SIGTERM, then SIGKILL
// for what is left after grace. The reaper collects them.
func endDescendants(grace time.Duration) {
	self := os.Getpid()
	left := Descendants(self)
	if len(left) == 0 {
		return
	}
	for _, p := range left {
		_ = unix.Kill(p, unix.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) && len(Descendants(self)) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	for i := 0; i < 40; i++ {
		left = Descendants(self)
		if len(left) == 0 {
			return
		}
		for _, p := range left {
			_ = unix.Kill(p, unix.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
