package flash

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/jetup/jetup/internal/testkit"
)

// Issue 21 finding 9: the root helper listed the pids below it and
// signalled them later by number. A listed process that exits and is
// reaped frees its pid, and the kernel may hand it to any new process,
// which root's kill(pid) would then reach. This test makes exactly that
// happen: it lists a process below a shell, ends it, gives its pid to a
// process outside the tree (ns_last_pid, in a pid namespace of the test's
// own so nothing else takes the pid), then signals what it listed.
func TestHeldDescendantsNeverReachARecycledPID(t *testing.T) {
	testkit.NeedRoot(t)
	if os.Getenv("JETUP_TEST_PIDNS") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHeldDescendantsNeverReachARecycledPID$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "JETUP_TEST_PIDNS=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("in a pid namespace: %v\n%s", err, out)
		}
		return
	}
	// Here: pid 1 of a new pid namespace, with /proc to mount for it.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("proc", "/proc", "proc", 0, ""); err != nil {
		t.Fatal(err)
	}

	// The control: a live process below the shell is reached.
	root, below := shellWithChild(t)
	hs := holdDescendants(root.Process.Pid)
	if len(hs) != 1 || hs[0].pid != below {
		t.Fatalf("held %+v, want the shell's child %d", hs, below)
	}
	signalHeld(hs, unix.SIGTERM)
	release(hs)
	if !signalled(t, below) {
		t.Fatal("the held child was not signalled")
	}
	_ = root.Wait()

	// The race: the listed child exits and its pid goes to an outsider.
	root, below = shellWithChild(t)
	hs = holdDescendants(root.Process.Pid)
	defer release(hs)
	if len(hs) != 1 || hs[0].pid != below {
		t.Fatalf("held %+v, want %d", hs, below)
	}
	_ = unix.Kill(below, unix.SIGKILL)
	_ = root.Wait() // the shell's wait reaped its child; we reap the shell
	outsider := startWithPid(t, below)
	defer func() { _ = outsider.Process.Kill(); _ = outsider.Wait() }()

	signalHeld(hs, unix.SIGTERM)
	if signalled(t, below) {
		t.Fatalf("pid %d, now a process outside the tree, was signalled", below)
	}
}

// shellWithChild starts `sh` with one background child and returns the
// shell and the child's pid.
func shellWithChild(t *testing.T) (*exec.Cmd, int) {
	t.Helper()
	sh := exec.Command("sh", "-c", "sleep 1000 & echo $!; wait")
	out, err := sh.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	pid, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		t.Fatalf("child pid %q: %v %v", line, err, perr)
	}
	return sh, pid
}

// startWithPid starts a process that gets pid (ns_last_pid = pid-1; in this
// namespace only a Go runtime thread could take it first, so try again).
func startWithPid(t *testing.T, pid int) *exec.Cmd {
	t.Helper()
	for try := 0; try < 50; try++ {
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Fatal(err)
		}
		c := exec.Command("sleep", "1000")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		if c.Process.Pid == pid {
			return c
		}
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	t.Fatalf("pid %d never came back", pid)
	return nil
}

// signalled reports whether pid has a signal pending or died of one: read
// at once from /proc/PID/status, no waiting (kill queues the signal before
// it returns, and a zombie has handled it).
func signalled(t *testing.T, pid int) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return true // gone: reaped after a signal
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, ":")
		v = strings.TrimSpace(v)
		switch k {
		case "State":
			if strings.HasPrefix(v, "Z") || strings.HasPrefix(v, "X") {
				return true
			}
		case "SigPnd", "ShdPnd":
			if strings.Trim(v, "0") != "" {
				return true
			}
		}
	}
	return false
}
