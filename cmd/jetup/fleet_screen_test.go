package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testboard"
)

// Without a terminal the fleet screen refuses and names the headless
// command; fleet push is still the subcommand it was.
func TestFleetScreenNeedsATerminal(t *testing.T) {
	file := writeInventory(t, flakeFleet)
	r := jetup(t, nil, "fleet", file)
	if r.code != 2 || !strings.Contains(r.stderr, "the wizard needs a terminal") || !strings.Contains(r.stderr, "jetup fleet push "+file) {
		t.Fatalf("%+v", r)
	}
	r = jetup(t, nil, "fleet", "push", "--only", "nobody", file)
	if r.code != 2 || !strings.Contains(r.stderr, "--only") {
		t.Fatalf("fleet push: %+v", r)
	}
}

// jetup fleet FILE in a real terminal against a real board: the row goes
// to done, q leaves, the verdict stays on the terminal and the exit
// status is fleet push's.
func TestBoardFleetScreenEndToEndInTmux(t *testing.T) {
	testboard.Need(t)
	t.Setenv("NIX_CONFIG", strings.TrimPrefix(testboard.NixEnv[0], "NIX_CONFIG="))
	b := testboard.New(t, testboard.Options{System: "/nix/store/0c6kzph8v1jmyd7d6jz0y9l4d0a9gk3x-nixos-system-initial-24.11"})
	system := testboard.Build(t, testboard.System{Name: "e2e-fleet", Small: 3, Activate: testboard.CurrentSystem})
	file := filepath.Join(t.TempDir(), "fleet.yaml")
	inv := fmt.Sprintf("nodes:\n  bench-1: {host: %s, identity: %s, host_key: %q, system: %s}\nphases:\n  - [bench-1]\n",
		b.Addr, b.ClientKey, b.HostKeyFingerprint(), system)
	if err := os.WriteFile(file, []byte(inv), 0o600); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	tm := newTmux(t, 110, 30, []string{"TERM=xterm-256color"}, "--state-dir", state, "fleet", file, "--no-verify")
	tm.waitFor("jetup fleet · fleet.yaml", "bench-1", "p push the fleet")
	tm.keys("p")
	tm.waitFor("✓ done", "1 done, 0 skipped", "p push again")
	tm.keys("q")
	tm.waitFor("JETUP-EXIT=0", "fleet "+file+": 1 done")
	if got := b.Read("var/jetup-activations.log"); got != "switch\n" {
		t.Errorf("the board's activations: %q", got)
	}
}
