package remote

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/proc"
)

// Issue 21 finding 7: --user and --host went unquoted into the ssh config,
// so a --user with a newline and a ProxyCommand ran that command. The
// real OpenSSH client reads the config here: the command must never run.
func TestDialNeverWritesAnInjectedDirective(t *testing.T) {
	testkit.NeedCommands(t, "ssh")
	dir := t.TempDir()
	mark := filepath.Join(dir, "ran")
	inject := "\n  ProxyCommand sh -c 'touch " + mark + "'"
	for _, tg := range []Target{
		{Host: "127.0.0.1", Port: 1, User: "root" + inject},
		{Host: "127.0.0.1" + inject, Port: 1},
		{Host: "127.0.0.1", Port: 1, Identity: "/k\"" + inject},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30e9) // bound: ssh's own connect timeout
		conn, err := OpenSSH{Runner: proc.Host{}}.Dial(ctx, tg, DialOptions{KnownHosts: filepath.Join(dir, "known_hosts"), Script: "true"})
		cancel()
		if conn != nil {
			conn.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%+v: %v", tg, err)
		}
		if _, serr := os.Stat(mark); serr == nil {
			t.Fatalf("the injected ProxyCommand ran (target %+v)", tg)
		}
	}
}

func TestTargetCheck(t *testing.T) {
	for _, ok := range []Target{
		{Host: "192.168.55.1"}, {Host: "jetson-01.lab.example", User: "nixos", Port: 2222},
		{Host: "fe80::1%eth0"}, {Host: "::1"}, {Host: "board", User: "_svc-1", Identity: "/home/me/.ssh/id_ed25519 (bench)"},
	} {
		if err := ok.Check(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	for _, bad := range []Target{
		{Host: ""}, {Host: "a b"}, {Host: "-oProxyCommand=x"}, {Host: "h\nx"}, {Host: "h%h"}, {Host: "[::1]"}, {Host: "h", Port: 70000},
		{Host: "h", User: "root\nProxyCommand x"}, {Host: "h", User: "Root"}, {Host: "h", User: "a b"}, {Host: "h", User: "-l"},
		{Host: "h", Identity: "/a\"b"}, {Host: "h", Identity: "/a\nb"},
	} {
		if err := bad.Check(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
