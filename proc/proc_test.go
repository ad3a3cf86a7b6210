package proc

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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
	deadline := time.Now().Add(Grace + 3*time.Second)
	for GroupAlive(pgid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			t.Fatalf("process group %d still alive %v after cancel", pgid, time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if syscall.Kill(grandchild, 0) == nil {
		t.Errorf("grandchild %d survived", grandchild)
	}
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
