package fleet

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
)

// A fleet's systems are built with the platform the inventory tells: a
// node with a profile is a board (aarch64-linux), so the Nix runner's
// aarch64 preflight refuses it on a host that cannot build that; a plain
// host (an x86_64 k3s server) is left to nix and built. The preflight
// here is the runner's PreBuild seam refusing aarch64-linux, as doctor's
// does on a host without an aarch64 builder; nix builds for real.
func TestBuildNamesTheSystemForTheAArch64Preflight(t *testing.T) {
	testkit.NeedCommands(t, "nix")
	nixEnv(t)
	dir := t.TempDir()
	flakeSystems(t, dir, map[string]testboard.System{
		"server": {Name: "fleet-build-server", Small: 1},
		"board":  {Name: "fleet-build-board", Small: 1},
	})
	var asked []string
	nx := &nixrun.Nix{Runner: proc.Host{}, PreBuild: func(_ context.Context, b nixrun.Build) error {
		asked = append(asked, b.Installable+" "+b.System)
		if b.System == "aarch64-linux" {
			return step.Refuse("no-aarch64-builder", "add an aarch64 builder", "cannot build %s here", b.Installable)
		}
		return nil
	}}
	file := filepath.Join(dir, "fleet.yaml")
	// Unreachable addresses: the push after the build is refused at once.
	inv := loadInv(t, file, "nodes:\n  srv: {host: 127.0.0.1, port: 1, role: server, system: .#server}\n"+
		"  jet: {host: 127.0.0.2, port: 1, profile: orin-nano-devkit, role: agent, system: .#board}\nphases:\n  - [srv]\n  - [jet]\n")
	o := fleetOptions(t, t.TempDir(), inv)
	o.KeepGoing = true
	edge := Edge{Push: deploy.Edge{Nix: deploy.NixCLI{Nix: nx}, SSH: remote.OpenSSH{Runner: proc.Host{}}}}
	res, err := Push(context.Background(), edge, o, &events{})
	if err != nil {
		t.Fatal(err)
	}
	nodes := byName(res)
	if n := nodes["jet"]; n.State != Failed || n.Step != "build" || n.Cause != "no-aarch64-builder" {
		t.Errorf("the board's system must be refused by the aarch64 preflight: %+v", n)
	}
	if n := nodes["srv"]; n.Step == "build" || n.System == "" {
		t.Errorf("the plain host's system must be built: %+v", n)
	}
	if len(asked) != 2 || !strings.HasSuffix(asked[0], " ") || !strings.HasSuffix(asked[1], " aarch64-linux") {
		t.Errorf("builds asked (installable, system): %q", asked)
	}
	if res.ExitCode == 0 {
		t.Errorf("exit 0 with a node refused")
	}
}
