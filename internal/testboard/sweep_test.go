package testboard

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// What a killed test leaves on its subnet (a namespace with the board's
// address and a process in its own group, the host's end of the link) is
// gone once the subnet is taken again.
func TestSweepRemovesWhatAKilledBoardLeft(t *testing.T) {
	Need(t)
	n, lock := lockSubnet(t)
	defer lock.Close()
	suffix := fmt.Sprintf("sw%d", os.Getpid()%100000)
	ns, veth := "jetup-push-"+suffix, "jp"+suffix
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", ns)
	defer exec.Command("ip", "netns", "del", ns).Run()
	run("link", "add", veth+"h", "type", "veth", "peer", "name", veth+"b")
	defer exec.Command("ip", "link", "del", veth+"h").Run()
	run("link", "set", veth+"b", "netns", ns)
	run("addr", "add", fmt.Sprintf("192.168.%d.100/24", n), "dev", veth+"h")
	run("-n", ns, "addr", "add", fmt.Sprintf("192.168.%d.1/24", n), "dev", veth+"b")
	// The old board's sshd stands in as a process in its own group.
	left := exec.Command("ip", "netns", "exec", ns, "sleep", "infinity")
	left.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := left.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- left.Wait() }()

	sweepSubnet(n)

	select {
	case <-exited:
	case <-time.After(time.Minute):
		_ = left.Process.Kill()
		t.Fatal("waited a minute for the left-over process to be ended")
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), ns) {
		t.Errorf("namespace %s is still there:\n%s", ns, out)
	}
	if err := exec.Command("ip", "link", "show", veth+"h").Run(); err == nil {
		t.Errorf("the host's end %sh is still there", veth)
	}
}
