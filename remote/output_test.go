package remote_test

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
)

// The board shell's last lines are read even when the reader gets to them
// only after ssh has exited. A push's verdict ("jetup:rc=0") is the last
// line; on a busy host the reader lagged, exec's Wait closed the pipe as
// ssh exited, and the push failed with "ended without reporting its
// status". Here the test reads only once Wait has returned, the worst
// case of that lag.
func TestOutputIsReadWholeAfterSSHExited(t *testing.T) {
	testboard.Need(t)
	b := testboard.New(t, testboard.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // bound: the login and a short script
	defer cancel()
	tr := remote.Trust{KnownHosts: filepath.Join(t.TempDir(), "known_hosts"), AcceptHostKey: b.HostKeyFingerprint()}
	script := `i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; echo "the last line"`
	conn, _, err := remote.Connect(ctx, remote.OpenSSH{Runner: proc.Host{}},
		remote.Target{Host: b.Addr, User: "root", Identity: b.ClientKey}, tr,
		remote.DialOptions{Script: script}, step.Discard)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close()
	if err := conn.Wait(); err != nil {
		t.Fatalf("the script: %v", err)
	}
	out, err := io.ReadAll(conn.Output())
	if err != nil {
		t.Fatalf("reading what the board printed after ssh exited: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2001 || lines[0] != "line 0" || lines[2000] != "the last line" {
		t.Fatalf("read %d lines after ssh exited (want 2001), last %q", len(lines), lines[len(lines)-1])
	}
}
