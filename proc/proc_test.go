package proc

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testkit"
)

// A shell that starts grandchildren and ignores SIGTERM: cancelling the
// context must still leave nothing of the group behind.
func TestCancelEndsTheWholeGroup(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := Host{}.Command(ctx, "sh", "-c", `trap "" TERM; sleep 300 & echo $!; sleep 300 & wait`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	grandchild, _ := strconv.Atoi(strings.TrimSpace(line))
	pgid := cmd.Process.Pid
	start := time.Now()
	cancel()
	_ = cmd.Wait()
	// The group gets SIGKILL after Grace: wait for each member's exit
	// (pidfds), with a bound far beyond it.
	bound := Grace + time.Minute
	// (An exited member may linger as a zombie until init reaps it: the
	// pidfd tells its exit, kill(pid, 0) would not.)
	if left := testkit.WaitGone(groupMembers(pgid), bound); len(left) > 0 {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		t.Fatalf("process group %d still alive %v after cancel: %v", pgid, time.Since(start), left)
	}
	if len(testkit.WaitGone([]int{grandchild}, 0)) > 0 {
		t.Errorf("grandchild %d survived", grandchild)
	}
}

// groupMembers lists the processes of process group pgid (field 5 of
// /proc/PID/stat).
func groupMembers(pgid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) {
			out = append(out, pid)
		}
	}
	return out
}

func TestEndGroupAfterExitIsHarmless(t *testing.T) {
	cmd := Host{}.Command(context.Background(), "true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if err := EndGroup(cmd); err != nil {
		t.Errorf("EndGroup after exit: %v", err)
	}
}

// Under sudo, Invoking is the person who ran it, and Host{User} runs a
// command as them: uid, gid, HOME and USER.
func TestInvokingUserRunsCommandsAsThePersonWhoRanSudo(t *testing.T) {
	testkit.NeedRoot(t)
	t.Setenv("SUDO_UID", "")
	if u := Invoking(); u != nil {
		t.Fatalf("no sudo: %+v", u)
	}
	t.Setenv("SUDO_UID", "0")
	t.Setenv("SUDO_GID", "0")
	if u := Invoking(); u != nil {
		t.Fatalf("sudo from root: %+v", u)
	}
	t.Setenv("SUDO_UID", "65534")
	t.Setenv("SUDO_GID", "65534")
	u := Invoking()
	if u == nil || u.UID != 65534 || u.GID != 65534 {
		t.Fatalf("%+v", u)
	}
	out, err := Host{User: u}.Command(context.Background(), "sh", "-c", `echo "$(id -u):$(id -g):$HOME:$USER"`).Output()
	want := fmt.Sprintf("65534:65534:%s:%s", u.Home, u.Name)
	if err != nil || strings.TrimSpace(string(out)) != want {
		t.Errorf("%q %v, want %q", out, err, want)
	}
}
