package tui

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/fleet"
	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/verify"
)

// The fleet screen in a real Bubble Tea program (teatest), drawn into a
// virtual terminal.
type fleetProgram struct {
	t   *testing.T
	tm  *teatest.TestModel
	scr *testkit.Screen
	m   *FleetModel
}

func runFleet(t *testing.T, w, h int, o FleetOptions) *fleetProgram {
	t.Helper()
	m := NewFleet(o)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii), tea.WithFPS(20)))
	t.Cleanup(func() { _ = tm.Quit(); m.Close() })
	return &fleetProgram{t: t, tm: tm, scr: testkit.NewScreen(tm.Output(), w, h), m: m}
}

func (p *fleetProgram) waitView(want ...string) string {
	p.t.Helper()
	return p.scr.WaitFor(p.t, waitBound, want...)
}

func (p *fleetProgram) key(codes ...rune) { press(p.tm, codes...) }

// The walk without boards: the inventory's rows before any run, a node
// opened and closed, q leaves at once when nothing runs.
func TestFleetWalkBeforeARun(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "fleet.yaml")
	sys := "/nix/store/0c6kzph8v1jmyd7d6jz0y9l4d0a9gk3x-nixos-system-x-24.11"
	text := fmt.Sprintf("nodes:\n  ctrl-1: {host: 10.0.0.10, role: server, system: %s}\n  jetson-1: {host: 10.0.0.20, system: %s}\n"+
		"  jetson-2: {host: 10.0.0.21, system: %s}\nphases:\n  - [ctrl-1]\n  - [jetson-1, jetson-2]\n", sys, sys, sys)
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := fleet.Load(context.Background(), file, fleet.LoadOptions{Resolve: func(p string) (string, error) { return p, nil }})
	if err != nil {
		t.Fatal(err)
	}
	p := runFleet(t, 100, 24, FleetOptions{Push: fleet.Options{Inventory: inv, StateDir: t.TempDir(), Only: []string{"ctrl-1", "jetson-2"}}})
	p.waitView("jetup fleet · fleet.yaml", "2 nodes in 2 phases: p pushes them phase by phase", "▸ ctrl-1", "jetson-1",
		"not selected (--only)", "p push the fleet")
	p.key(tea.KeyDown, tea.KeyDown, tea.KeyEnter)
	p.waitView("jetson-2 · root@10.0.0.21 · phase 2", "No run record yet", "esc back to the fleet")
	p.key(tea.KeyEscape)
	p.waitView("▸ jetson-2", "p push the fleet")
	p.key('q')
	p.tm.WaitFinished(t, teatest.WithFinalTimeout(waitBound))
	if p.m.ExitCode() != 0 {
		t.Errorf("exit code %d when nothing ran", p.m.ExitCode())
	}
}

// fleetSystemctl is the board's systemctl as verify's checks ask it, as
// fleet's board tests have it (systemctl(1)): is-system-running prints
// running, list-units --failed prints no unit.
const fleetSystemctl = `#!/bin/sh
case "$1" in
  is-system-running) echo running ;;
  list-units) exit 0 ;;
  *) echo "systemctl: unknown command $1"; exit 1 ;;
esac
`

// fleetRealEdge is this machine's nix and OpenSSH; nix runs with the test
// boards' settings (testboard.NixEnv) given to it, not through the test
// process's environment, so the tests that use it run in parallel.
var fleetRealEdge = fleet.Edge{
	Push: deploy.Edge{Nix: deploy.NixCLI{Nix: &nixrun.Nix{Runner: proc.Host{}, Env: testboard.NixEnv}, Runner: proc.Host{}},
		SSH: remote.OpenSSH{Runner: proc.Host{}}},
	Verify: verify.Edge{SSH: remote.OpenSSH{Runner: proc.Host{}}},
}

// fleetInventory writes an inventory of boards (name, host:port, the
// board) in phases and loads it as jetup fleet does.
func fleetInventory(t *testing.T, system string, phases string, nodes ...fleetNode) *fleet.Inventory {
	t.Helper()
	file := filepath.Join(t.TempDir(), "fleet.yaml")
	text := "nodes:\n"
	for _, n := range nodes {
		text += fmt.Sprintf("  %s: {host: %s, port: %d, identity: %s, host_key: %q, system: %s}\n", n.name, n.host, n.port,
			n.b.ClientKey, n.b.HostKeyFingerprint(), system)
	}
	if err := os.WriteFile(file, []byte(text+"phases:\n"+phases), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := fleet.Load(context.Background(), file, fleet.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

type fleetNode struct {
	name string
	host string
	port int
	b    *testboard.Board
}

func boardNode(name string, b *testboard.Board) fleetNode {
	return fleetNode{name: name, host: b.Addr, port: 22, b: b}
}

// The real fleet push through the screen, two boards in two phases: the
// second's activation fails and stays on screen with its next step; enter
// opens its run record and log; once fixed, p pushes again and the done
// node is skipped. The exit code follows each run.
func TestBoardFleetScreenPushesRealBoards(t *testing.T) {
	t.Parallel()
	testboard.Need(t)
	tools := map[string]string{"systemctl": fleetSystemctl}
	a := testboard.New(t, testboard.Options{System: "/nix/store/0c6kzph8v1jmyd7d6jz0y9l4d0a9gk3x-nixos-system-initial-24.11", Tools: tools})
	b := testboard.New(t, testboard.Options{System: "/nix/store/0c6kzph8v1jmyd7d6jz0y9l4d0a9gk3x-nixos-system-initial-24.11", Tools: tools})
	system := testboard.Build(t, testboard.System{Name: "tui-fleet", Small: 4, BigMiB: []int{1}, Activate: testboard.CurrentSystem, Tools: tools})
	inv := fleetInventory(t, system, "  - [a]\n  - [b]\n", boardNode("a", a), boardNode("b", b))
	state := t.TempDir()
	b.FailActivation()
	p := runFleet(t, 120, 36, FleetOptions{Edge: fleetRealEdge, Start: true, Push: fleet.Options{Inventory: inv, StateDir: state,
		KnownHosts: remote.KnownHostsPath(state, false), PollEvery: 50 * time.Millisecond, Wait: time.Minute, Version: "test"}})
	p.waitView("✓ done, 2 checks ok", "✗ failed: activation-failed", "✗ b failed at activate (activation-failed)", "next: ",
		"1 done, 0 skipped", "(exit 1)", "p push again")
	// The exit code is read from the screen while the program runs (its
	// model is the program's); the model's own after the program ends.
	p.key(tea.KeyDown, tea.KeyEnter)
	p.waitView("b · root@"+b.Addr+" · phase 2", "next: ", "unit jetup-test.service failed to start") // the log's end first
	p.key(tea.KeyHome)
	p.waitView("push (attempt 1): failed", "cause: activation-failed", "push.log (its end)")
	p.key(tea.KeyEscape)

	// b fixed: a is already on its system, b is pushed.
	if err := os.Remove(filepath.Join(b.NixDir, "var", "jetup-fail-activation")); err != nil {
		t.Fatal(err)
	}
	p.key('p')
	p.waitView("= already on its system", "✓ 1 done, 1 skipped", "0 failed")
	if got := a.Read("var/jetup-activations.log"); got != "switch\n" {
		t.Errorf("a, already on its system, was activated again: %q", got)
	}
	p.key('q')
	p.tm.WaitFinished(t, teatest.WithFinalTimeout(waitBound))
	if p.m.ExitCode() != 0 {
		t.Errorf("exit code %d after the fixed run", p.m.ExitCode())
	}
}

// Quitting while a node's copy is in flight asks first; y stops the run
// and no process it started is left.
func TestBoardFleetScreenQuitStopsEveryChild(t *testing.T) {
	testboard.Need(t)
	b := testboard.New(t, testboard.Options{System: "/nix/store/0c6kzph8v1jmyd7d6jz0y9l4d0a9gk3x-nixos-system-initial-24.11"})
	system := testboard.Build(t, testboard.System{Name: "tui-fleet-held", Small: 2, BigMiB: []int{8}})
	// The link holds the copy after 2 MiB until the test ends: the node
	// is mid-copy whatever the machine's speed.
	link := testboard.NewLink(t, net.JoinHostPort(b.Addr, "22"), testboard.LinkOptions{HoldAfter: 2 << 20})
	host, port, _ := net.SplitHostPort(link.Addr)
	n, _ := strconv.Atoi(port)
	inv := fleetInventory(t, system, "  - [held]\n", fleetNode{name: "held", host: host, port: n, b: b})
	state := t.TempDir()
	mark := testkit.Mark(t)
	t.Setenv("JETUP_TEST_MARK", mark[len("JETUP_TEST_MARK="):]) // every child of the run carries it
	p := runFleet(t, 110, 30, FleetOptions{Edge: fleetRealEdge, Start: true, Push: fleet.Options{Inventory: inv, StateDir: state,
		KnownHosts: remote.KnownHostsPath(state, false), NoVerify: true, Version: "test"}})
	select {
	case <-link.Held():
	case <-time.After(waitBound):
		t.Fatalf("waited %v for the copy to reach the link's hold:\n%s", waitBound, p.scr.Text())
	}
	p.waitView("▸ held", "copy")
	if len(testkit.Marked(mark)) == 0 {
		t.Fatal("no process of the run found while it copies: the check below would prove nothing")
	}
	p.key('q')
	p.waitView("Nodes are still being pushed. Quit and stop them?")
	p.key('y')
	p.tm.WaitFinished(t, teatest.WithFinalTimeout(waitBound))
	if left := testkit.WaitGone(testkit.Marked(mark), waitBound); len(left) > 0 {
		t.Errorf("processes left after quitting: %v", left)
	}
	recs, _ := filepath.Glob(filepath.Join(state, "runs", "*", fleet.RecordFile))
	if len(recs) != 1 {
		t.Fatalf("fleet records: %v", recs)
	}
	if rec, err := fleet.LoadRecord(filepath.Dir(recs[0])); err != nil || rec.Outcome != "cancelled" || rec.ExitCode != 1 {
		t.Errorf("the stopped run's record: %+v %v", rec, err)
	}
}
