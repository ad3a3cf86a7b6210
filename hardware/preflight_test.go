package hardware

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/doctor"
	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
)

// noBoard fails the test if the push gets as far as the board.
type noBoard struct{ t *testing.T }

func (d noBoard) HostKey(context.Context, string, []string) (ssh.PublicKey, error) {
	d.t.Error("the push reached for the board")
	return nil, errors.New("no board")
}

func (d noBoard) Dial(context.Context, remote.Target, remote.DialOptions) (remote.Conn, error) {
	d.t.Error("the push dialled the board")
	return nil, errors.New("no board")
}

// A push of a flake on a host that cannot build aarch64-linux stops before
// nix evaluates anything: the nix on PATH (a fake that records every call)
// is never run, and the error says what to do. On a host that can, the
// same push does run nix build.
func TestPushOfABoardSystemIsRefusedBeforeNixEvaluates(t *testing.T) {
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	fake := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> " + calls + "\necho 'error: flake evaluation stopped by the test' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "nix"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))

	host := &doctor.MemHost{Arch: "x86_64", Files: map[string]string{
		"/etc/os-release":   "ID=ubuntu\nID_LIKE=debian\n",
		"/etc/nix/nix.conf": "experimental-features = nix-command flakes\n",
	}, Usr: doctor.User{Name: "tech", UID: 1000, Home: "/home/tech"}}
	push := func() error {
		nix := &nixrun.Nix{Runner: proc.Host{}, PreBuild: doctor.AArch64Preflight(host)}
		edge := deploy.Edge{Nix: deploy.NixCLI{Nix: nix, Runner: proc.Host{}}, SSH: noBoard{t}}
		_, err := deploy.Push(context.Background(), edge, deploy.Options{Flake: ".#lab-3",
			Target: remote.Target{Host: "192.168.55.1", Port: 22, User: "root"},
			Trust:  remote.Trust{KnownHosts: filepath.Join(dir, "known_hosts")}}, step.Discard)
		return err
	}

	err := push()
	var se *step.Error
	if !errors.As(err, &se) || se.Cause != "no-aarch64-builder" || se.Code != step.ExitRefused ||
		!strings.Contains(se.Next, "qemu-user-static") || !strings.Contains(se.Next, "extra-platforms = aarch64-linux") ||
		!strings.Contains(se.Next, "systemctl restart nix-daemon") || !strings.Contains(se.Next, "--closure") {
		t.Fatalf("%v (%+v)", err, se)
	}
	if b, err := os.ReadFile(calls); err == nil {
		t.Fatalf("nix ran before the refusal: %q", b)
	}

	// qemu registered and nix told: the build goes ahead (and the fake
	// nix fails it, so the board is never reached either).
	host.Files["/proc/sys/fs/binfmt_misc/qemu-aarch64"] = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POF\noffset 0\n" +
		"magic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n"
	host.Files["/etc/nix/nix.conf"] += "extra-platforms = aarch64-linux\n"
	err = push()
	if !errors.As(err, &se) || se.Cause != "build-failed" {
		t.Errorf("capable host: %v", err)
	}
	b, _ := os.ReadFile(calls)
	if !strings.Contains(string(b), "build .#nixosConfigurations.lab-3.config.system.build.toplevel") {
		t.Errorf("nix calls %q", b)
	}
}

// Real() wires the check into the one Nix runner every step builds through.
func TestRealNixRefusesWhatThisHostCannotBuild(t *testing.T) {
	pre := Real().Nix.PreBuild
	if pre == nil {
		t.Fatal("no PreBuild on the real Nix runner")
	}
	// The flash script and the installer are x86_64 builds: never asked.
	if err := pre(context.Background(), nixrun.Build{Installable: "github:anduril/jetpack-nixos#flash-orin-agx-devkit"}); err != nil {
		t.Errorf("an x86_64 build refused: %v", err)
	}
}
