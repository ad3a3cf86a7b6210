package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/runrec"
)

func writeInventory(t *testing.T, text string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "fleet.yaml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

const flakeFleet = `nodes:
  ctrl-1: {host: 10.0.0.10, role: server, system: .#ctrl-1}
  jetson-1: {targetHost: 10.0.0.20, profile: orin-nano-devkit, role: agent, system: .#jetson-1, labels: {rack: a}}
deploymentOrder: [[ctrl-1], [jetson-1]]
`

func TestFleetCheckPrintsThePhasesOrEveryProblemAtItsLine(t *testing.T) {
	file := writeInventory(t, flakeFleet)
	r := jetup(t, nil, "fleet", "check", file)
	if r.code != 0 || !strings.Contains(r.stdout, "2 nodes in 2 phases, 2 distinct systems") ||
		!strings.Contains(r.stdout, "phase 2:\n  jetson-1         root@10.0.0.20") {
		t.Fatalf("%+v", r)
	}
	bad := writeInventory(t, `nodes:
  a: {host: 10.0.0.1, system: .#a, role: agent, k3s_token_file: /t}
  b: {host: 10.0.0.1, system: .#b, profile: no-such-board}
phases: [[a, b, c]]
`)
	r = jetup(t, nil, "fleet", "check", bad)
	if r.code != 2 {
		t.Fatalf("exit %d: %+v", r.code, r)
	}
	for _, want := range []string{"is not a valid inventory (4 problems)", bad + `:2: node "a" takes a k3s token`,
		bad + `:3: unknown profile "no-such-board"`, bad + `:3: nodes "a" and "b" have the same address`, bad + `:4: phase 1 names "c"`,
		"next: fix each problem at the line it names"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}

// Export to stdout: the hive on stdout, the pinned keys beside the
// inventory, the nodes without a pin named.
func TestFleetExportWritesTheHiveAndSaysWhatItWrote(t *testing.T) {
	file := writeInventory(t, flakeFleet)
	r := jetup(t, nil, "fleet", "export", "--format", "colmena", file)
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	dir := filepath.Dir(file)
	for _, want := range []string{`"ctrl-1" = { name, nodes, ... }: {`, `targetHost = "10.0.0.20";`, `tags = [ "rack=a" "role=agent" ];`,
		"SSH_CONFIG_FILE=" + filepath.Join(dir, "fleet.colmena.ssh_config") + " colmena apply"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, f := range []string{"fleet.colmena.known_hosts", "fleet.colmena.ssh_config"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(r.stderr, "no host key pinned for ctrl-1 (10.0.0.10:22)") || !strings.Contains(r.stderr, "jetup: wrote ") {
		t.Errorf("stderr: %s", r.stderr)
	}
	out := filepath.Join(t.TempDir(), "deploy.nix")
	r = jetup(t, nil, "fleet", "export", "--format", "deploy-rs", "-o", out, file)
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("%+v", r)
	}
	text, _ := os.ReadFile(out)
	if !strings.Contains(string(text), "UserKnownHostsFile="+strings.TrimSuffix(out, ".nix")+".known_hosts") ||
		!strings.Contains(string(text), "import ./deploy.nix { inherit self deploy-rs; }") {
		t.Errorf("deploy.nix:\n%s", text)
	}
	if r := jetup(t, nil, "fleet", "export", "--format", "nixops", file); r.code != 2 || !strings.Contains(r.stderr, `unknown format "nixops"`) {
		t.Errorf("%+v", r)
	}
}

// The simulated bench: one board answers, another address does not. The
// run goes on past the unreachable one (it is in the last phase), exits
// 1, and --json gives every event with its node.
func TestFleetPushSimOneNodeDoneOneUnreachable(t *testing.T) {
	file := writeInventory(t, `nodes:
  board: {host: 192.168.55.1, system: .#nixos, profile: orin-nano-devkit, mode: installer, host_key: "`+simKey+`"}
  gone: {host: 192.168.55.9, system: .#nixos}
phases: [[board], [gone]]
`)
	state := t.TempDir()
	r := jetup(t, nil, "--sim", "--sim-speed", "50", "--state-dir", state, "--json", "fleet", "push", file)
	if r.code != 1 {
		t.Fatalf("exit %d: %+v", r.code, r)
	}
	var res map[string]any
	nodeEvents := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if n, ok := m["node"].(string); ok {
			nodeEvents[n]++
		}
		if m["event"] == "result" {
			res = m
		}
	}
	if res == nil || res["exit_code"].(float64) != 1 || nodeEvents["board"] < 5 || nodeEvents["gone"] < 2 {
		t.Fatalf("result %v, events by node %v", res, nodeEvents)
	}
	nodes := res["nodes"].([]any)
	board, gone := nodes[0].(map[string]any), nodes[1].(map[string]any)
	if board["state"] != "done" || gone["state"] != "failed" || gone["cause"] != "unreachable" || !strings.Contains(board["verified"].(string), "0 failed") {
		t.Errorf("nodes %v", nodes)
	}
	rec, err := runrec.Load(filepath.Join(state, "runs", board["run"].(string)))
	if err != nil || rec.Facts["fleet_node"] != "board" || len(rec.Steps) != 2 || rec.Profile != "orin-nano-devkit" {
		t.Errorf("board's run record %+v %v", rec, err)
	}
	if _, err := os.Stat(filepath.Join(state, "runs", res["run"].(string), "fleet.json")); err != nil {
		t.Error(err)
	}
	// Text: the node's verdicts and the failure's next step.
	r = jetup(t, nil, "--sim", "--sim-speed", "50", "--state-dir", state, "fleet", "push", "--only", "gone", file)
	if r.code != 1 || !strings.Contains(r.stdout, "gone: FAILED at connect (unreachable)") || !strings.Contains(r.stdout, "next: check that the board is booted") {
		t.Errorf("%+v", r)
	}
	if r := jetup(t, nil, "--state-dir", state, "fleet", "push", "--only", "nobody", file); r.code != 2 || !strings.Contains(r.stderr, `no node "nobody"`) {
		t.Errorf("%+v", r)
	}
}
