package flash

import (
	"bytes"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// The helper runs as root and ends what the flash script left behind. A
// pid read from /proc names a process only until that process exits and
// is reaped; then the kernel may give the number to any new process, and
// a root kill(pid) would reach it. So every process is held by a pidfd
// from the moment it is listed, its parentage is checked while the pidfd
// is held, and signals go through the pidfd (pidfd_send_signal): one
// that exited in the meantime gets nothing, and nothing else can. Without
// pidfds (Linux < 5.3) nothing is signalled one by one; the script's own
// process group is still ended by stopScript.

// Descendants lists the processes below pid (children, their children...),
// read from /proc. A process that double-forked away from its parent is
// found too when pid is a child subreaper (the helper is). The list is a
// snapshot: never signal its pids, hold them (holdDescendants).
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

// held is a process below the root, held by its pidfd.
type held struct {
	pid int
	fd  int
}

// alive reports whether the process is still there (a zombie counts: its
// pid cannot be given to another until it is reaped).
func (h held) alive() bool { return unix.PidfdSendSignal(h.fd, 0, nil, 0) == nil }

// holdDescendants lists the processes below root and holds each by a
// pidfd. A process is kept only when, with its pidfd open, /proc still
// names as its parent the root or a process held before it that is still
// alive: then the pid read was its own and it is below root. Each is
// opened in the listing's breadth-first order, so its parent was checked
// first. Close the result with release.
func holdDescendants(root int) []held {
	var out []held
	byPid := map[int]held{}
	for _, pid := range Descendants(root) {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // gone already, or no pidfds: never signalled by number
		}
		h := held{pid: pid, fd: fd}
		pp, ok := parentOf(pid)
		parent, known := byPid[pp]
		switch {
		case ok && pp == root:
		case ok && known && parent.alive():
			// The parent held is alive, so pp was its pid when it was read.
		default:
			_ = unix.Close(fd)
			continue
		}
		if !h.alive() {
			_ = unix.Close(fd)
			continue
		}
		byPid[pid] = h
		out = append(out, h)
	}
	return out
}

// signalHeld sends sig to every held process; one that has exited gets
// nothing (ESRCH) and no other process can.
func signalHeld(hs []held, sig unix.Signal) {
	for _, h := range hs {
		_ = unix.PidfdSendSignal(h.fd, sig, nil, 0)
	}
}

func release(hs []held) {
	for _, h := range hs {
		_ = unix.Close(h.fd)
	}
}

// endDescendants ends every process below this one: SIGTERM, then SIGKILL
// for what is left after grace. The reaper collects them.
func endDescendants(grace time.Duration) {
	self := os.Getpid()
	hs := holdDescendants(self)
	if len(hs) == 0 {
		return
	}
	signalHeld(hs, unix.SIGTERM)
	release(hs)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) && len(Descendants(self)) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	for i := 0; i < 40; i++ {
		hs = holdDescendants(self)
		if len(hs) == 0 {
			return
		}
		signalHeld(hs, unix.SIGKILL)
		release(hs)
		time.Sleep(50 * time.Millisecond)
	}
}
