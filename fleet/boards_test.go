package fleet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
	"github.com/jetup/jetup/verify"
)

// The fleet tests push to real boards made on this machine (package
// testboard): each its own network and mount namespaces, its own /nix,
// Debian's sshd and Nix; the systems are built by the real nix from a
// flake beside the inventory, as a person's would be.

var realEdge = Edge{
	Push:   deploy.Edge{Nix: deploy.NixCLI{Runner: proc.Host{}}, SSH: remote.OpenSSH{Runner: proc.Host{}}},
	Verify: verify.Edge{SSH: remote.OpenSSH{Runner: proc.Host{}}},
}

// fakeSystemctl is the board's systemctl as verify's checks ask it:
// is-system-running prints a state word (running unless the test wrote
// another), list-units --failed --plain --no-legend one unit a line,
// is-active a unit's state (systemctl(1)). It reads the test's
// Board.Dir/state, which the board sees at /run/jetup-board/state.
const fakeSystemctl = `#!/bin/sh
S=/run/jetup-board/state
case "$1" in
  is-system-running) st=$(cat $S/running 2>/dev/null || echo running); echo "$st"; [ "$st" = running ] ;;
  list-units) cat $S/failed 2>/dev/null; exit 0 ;;
  is-active) if [ -f "$S/active-$2" ]; then st=$(cat "$S/active-$2"); echo "$st"; [ "$st" = active ]; else echo inactive; exit 3; fi ;;
  *) echo "systemctl: unknown command $1"; exit 1 ;;
esac
`

// initialSystem is the system a board runs before the fleet's first push
// (a directory in its own /nix, as verify's tests have it).
const initialSystem = "/nix/store/0c6kzph8v1jmyd7d6jz0y9l4d0a9gk3x-nixos-system-initial-24.11"

// newBoard makes a booted NixOS board with systemctl, and its state
// directory.
func newBoard(t *testing.T, tools map[string]string, links map[string]string) *testboard.Board {
	t.Helper()
	all := map[string]string{"systemctl": fakeSystemctl}
	for k, v := range tools {
		all[k] = v
	}
	b := testboard.New(t, testboard.Options{System: initialSystem, Tools: all, Links: links})
	if err := os.MkdirAll(filepath.Join(b.Dir, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	return b
}

// flakeSystems writes a flake of test systems (name: system) into dir,
// each a nixosConfigurations entry's toplevel, so `.#name` builds it with
// the real nix. A flake evaluates purely: builtins.currentSystem becomes
// this machine's system, spelt out.
func flakeSystems(t *testing.T, dir string, systems map[string]testboard.System) {
	t.Helper()
	var entries strings.Builder
	for name, s := range systems {
		if s.Activate == "" {
			s.Activate = testboard.CurrentSystem
		}
		if s.Tools == nil {
			s.Tools = map[string]string{"systemctl": fakeSystemctl}
		}
		expr := strings.ReplaceAll(s.Expr(), "builtins.currentSystem", `"x86_64-linux"`)
		if err := os.WriteFile(filepath.Join(dir, name+".nix"), []byte(expr), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&entries, "    nixosConfigurations.%q.config.system.build.toplevel = import ./%s.nix;\n", name, name)
	}
	flake := "{\n  outputs = { self }: {\n" + entries.String() + "  };\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(flake), 0o644); err != nil {
		t.Fatal(err)
	}
}

// nixEnv makes every nix of the test run as these machines need: no build
// users or sandbox, no substituters.
func nixEnv(t *testing.T) {
	t.Setenv("NIX_CONFIG", strings.TrimPrefix(testboard.NixEnv[0], "NIX_CONFIG="))
}

// events keeps everything a fleet run emitted.
type events struct {
	mu  sync.Mutex
	all []step.Event
	on  func(step.Event)
}

func (e *events) Emit(ev step.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	on := e.on
	e.mu.Unlock()
	if on != nil {
		on(ev)
	}
}

func (e *events) systems() []SystemReady {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []SystemReady
	for _, ev := range e.all {
		if s, ok := ev.(SystemReady); ok {
			out = append(out, s)
		}
	}
	return out
}

func (e *events) text() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, ev := range e.all {
		b.WriteString(ev.Text() + "\n")
	}
	return b.String()
}

// fleetOptions are a run's options with the test's state.
func fleetOptions(t *testing.T, state string, inv *Inventory) Options {
	t.Helper()
	return Options{Inventory: inv, StateDir: state, KnownHosts: remote.KnownHostsPath(state, false), Profiles: testProfiles(t),
		PollEvery: 50 * time.Millisecond, Wait: time.Minute, Version: "test"}
}

// push runs the fleet, bounded by a generous deadline that says what it
// waited for.
func push(t *testing.T, o Options) (*Result, *events) {
	t.Helper()
	return pushOn(t, realEdge, o)
}

// pushOn is push through edge e.
func pushOn(t *testing.T, e Edge, o Options) (*Result, *events) {
	t.Helper()
	ev := &events{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := Push(ctx, e, o, ev)
	if err != nil {
		t.Fatalf("fleet push refused: %v\n%s", err, ev.text())
	}
	if ctx.Err() != nil {
		t.Fatalf("the fleet run took more than 5 minutes:\n%s", ev.text())
	}
	return res, ev
}

// byName indexes a result's nodes.
func byName(res *Result) map[string]NodeResult {
	m := map[string]NodeResult{}
	for _, n := range res.Nodes {
		m[n.Name] = n
	}
	return m
}

// loadInv writes the inventory and reads it as jetup fleet push does.
func loadInv(t *testing.T, file, text string) *Inventory {
	t.Helper()
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := Load(context.Background(), file, LoadOptions{Profiles: testProfiles(t)})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// nodeLine is an inventory line for a board.
func nodeLine(name string, b *testboard.Board, system string, extra string) string {
	return fmt.Sprintf("  %s: {host: %s, identity: %s, host_key: %q, system: %s%s}\n", name, b.Addr, b.ClientKey, b.HostKeyFingerprint(), system, extra)
}
