package fleet

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// Three boards at once in two phases, run after run as a person would:
// one node fails preflight (its system is for another architecture) and
// stops the later phase, then --only that node is a pure refusal (exit
// 2), then --keep-going pushes the later phase past it while a done node
// is skipped and another's activation fails, then a fixed inventory, a
// changed host key on one node and --keep-going again. Each run's exit
// status, fleet.json and the nodes' own run records tell the truth.
func TestBoardFleetRunsPhaseByPhaseAndTellsTheTruthRunAfterRun(t *testing.T) {
	testboard.Need(t)
	nixEnv(t)
	a, b, c := newBoard(t, nil, nil), newBoard(t, nil, nil), newBoard(t, nil, nil)
	dir := t.TempDir()
	flakeSystems(t, dir, map[string]testboard.System{
		"shared": {Name: "fleet-shared", Small: 6, BigMiB: []int{1}},
		"arm":    {Name: "fleet-arm", System: "aarch64-linux", Small: 2},
	})
	state := t.TempDir()
	file := filepath.Join(dir, "fleet.yaml")
	inventory := func(cSystem string) *Inventory {
		return loadInv(t, file, "nodes:\n"+nodeLine("a", a, ".#shared", "")+nodeLine("c", c, cSystem, "")+nodeLine("b", b, ".#shared", "")+
			"phases:\n  - [a, c]\n  - [b]\n")
	}
	inv := inventory(".#arm")

	// Run 1: c fails preflight; phase 2 does not run.
	res, ev := push(t, fleetOptions(t, state, inv))
	nodes := byName(res)
	if res.ExitCode != 1 || res.Outcome != "failed" {
		t.Errorf("run 1: exit %d, outcome %s", res.ExitCode, res.Outcome)
	}
	if n := nodes["a"]; n.State != Done || n.Fingerprint != a.HostKeyFingerprint() || n.SentBytes < 1<<20 || !strings.Contains(n.Verified, "2 ok") {
		t.Errorf("run 1: a %+v", n)
	}
	if n := nodes["c"]; n.State != Failed || !n.Refused || n.Cause != "wrong-arch" || n.Step != "preflight" || !strings.Contains(n.Next, "build the system for x86_64-linux") {
		t.Errorf("run 1: c %+v", n)
	}
	if n := nodes["b"]; n.State != NotRun || !strings.Contains(n.Detail, "phase 1 failed (c)") || n.Run != "" {
		t.Errorf("run 1: b %+v", n)
	}
	sys := ev.systems()
	if len(sys) != 2 || sys[0].System != dir+"#shared" || strings.Join(sys[0].Nodes, ",") != "a,b" || !sys[0].Built || sys[0].Path == "" {
		t.Errorf("run 1: each distinct system is built once: %+v", sys)
	}
	if got := a.Read("var/jetup-activations.log"); got != "switch\n" {
		t.Errorf("run 1: a activated %q", got)
	}
	if b.Read("var/jetup-activations.log") != "" || b.Valid("", sys[0].Path) {
		t.Error("run 1: b was pushed although its phase should not have run")
	}
	checkRecords(t, state, res)
	run1 := res.Run

	// Run 2: only c, a refusal before anything was sent: exit 2.
	o := fleetOptions(t, state, inv)
	o.Only = []string{"c"}
	res, _ = push(t, o)
	nodes = byName(res)
	if res.ExitCode != 2 || res.Outcome != "refused" || nodes["a"].State != NotSelected || nodes["b"].State != NotSelected || nodes["c"].State != Failed {
		t.Errorf("run 2: exit %d %+v", res.ExitCode, res.Nodes)
	}
	if res.Previous != run1 || nodes["a"].Previous != run1 {
		t.Errorf("run 2 continues run 1: previous %q, a's %q", res.Previous, nodes["a"].Previous)
	}

	// Run 3: --keep-going; a is skipped (already on its system), c is
	// refused again, b's activation fails: exit 1.
	b.FailActivation()
	o = fleetOptions(t, state, inv)
	o.KeepGoing = true
	res, ev = push(t, o)
	nodes = byName(res)
	if res.ExitCode != 1 {
		t.Errorf("run 3: exit %d", res.ExitCode)
	}
	if n := nodes["a"]; n.State != Skipped || n.Previous != run1 || !strings.Contains(n.Detail, "already runs") || n.SentBytes != 0 || !strings.Contains(n.Verified, "2 ok") {
		t.Errorf("run 3: a %+v", n)
	}
	if got := a.Read("var/jetup-activations.log"); got != "switch\n" {
		t.Errorf("run 3: a, already on its system, was activated again: %q", got)
	}
	if n := nodes["b"]; n.State != Failed || n.Refused || n.Cause != "activation-failed" || n.Step != "activate" ||
		!strings.Contains(n.Detail, "unit jetup-test.service failed to start") {
		t.Errorf("run 3: b %+v", n)
	}
	if !strings.Contains(ev.text(), "[a] == connecting to root@"+a.Addr) || !strings.Contains(ev.text(), "== phase 2: b") {
		t.Errorf("run 3 events:\n%s", ev.text())
	}

	// Run 4: c fixed in the inventory, b's activation fixed, a reflashed
	// with a new host key: a is refused, c and b are pushed.
	os.Remove(filepath.Join(b.NixDir, "var", "jetup-fail-activation"))
	a.ChangeHostKey()
	inv = inventory(".#shared")
	o = fleetOptions(t, state, inv)
	o.KeepGoing = true
	res, ev = push(t, o)
	nodes = byName(res)
	if res.ExitCode != 1 || nodes["c"].State != Done || nodes["b"].State != Done {
		t.Errorf("run 4: exit %d %+v", res.ExitCode, res.Nodes)
	}
	if n := nodes["a"]; n.State != Failed || !n.Refused || n.Cause != "host-key-changed" || !strings.Contains(n.Next, "--forget-host-key") {
		t.Errorf("run 4: a %+v", n)
	}
	if sys := ev.systems(); len(sys) != 1 || strings.Join(sys[0].Nodes, ",") != "a,c,b" {
		t.Errorf("run 4 systems %+v", sys)
	}
	if got := b.Read("var/jetup-activations.log"); got != "switch\nswitch\n" {
		t.Errorf("run 4: b activated %q", got)
	}
	checkRecords(t, state, res)

	// Handed on: the exported ssh config and known_hosts let OpenSSH in
	// to c, and refuse a, whose key changed after jetup pinned it.
	e, err := Export(inv, ExportOptions{Format: FormatColmena, Pins: o.KnownHosts, KnownHosts: filepath.Join(dir, "hive.known_hosts"),
		SSHConfig: filepath.Join(dir, "hive.ssh_config")})
	if err != nil {
		t.Fatal(err)
	}
	for f, text := range map[string]string{"hive.known_hosts": e.KnownHosts, "hive.ssh_config": e.SSHConfig} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sshTo := func(host string) ([]byte, error) {
		return exec.Command("ssh", "-F", filepath.Join(dir, "hive.ssh_config"), "-o", "BatchMode=yes", "root@"+host, "echo", "in").CombinedOutput()
	}
	if out, err := sshTo(c.Addr); err != nil || strings.TrimSpace(string(out)) != "in" {
		t.Errorf("ssh to c through the export: %v %s", err, out)
	}
	if out, err := sshTo(a.Addr); err == nil || !strings.Contains(string(out), "REMOTE HOST IDENTIFICATION HAS CHANGED") {
		t.Errorf("ssh to a, whose key changed: %v %s", err, out)
	}
}

// checkRecords: fleet.json says what the result says, and each node that
// ran has its own run record naming the fleet run, with its push (and
// verify) steps and logs.
func checkRecords(t *testing.T, state string, res *Result) {
	t.Helper()
	rec, err := LoadRecord(filepath.Join(state, "runs", res.Run))
	if err != nil {
		t.Fatal(err)
	}
	if rec.ExitCode != res.ExitCode || rec.Outcome != res.Outcome || len(rec.Nodes) != len(res.Nodes) || rec.Ended == nil {
		t.Errorf("fleet.json %+v, result %+v", rec, res.Record)
	}
	fr, err := runrec.Load(filepath.Join(state, "runs", res.Run))
	if err != nil || fr.Kind != "fleet" || len(fr.Steps) != 1 || fr.Steps[0].Step != step.Fleet || string(fr.Outcome) != res.Outcome {
		t.Errorf("the fleet's run record %+v %v", fr, err)
	}
	for i, n := range rec.Nodes {
		if n.State != res.Nodes[i].State || n.Cause != res.Nodes[i].Cause {
			t.Errorf("fleet.json node %+v, result %+v", n, res.Nodes[i])
		}
		if n.Run == "" {
			continue
		}
		nr, err := runrec.Load(filepath.Join(state, "runs", n.Run))
		if err != nil {
			t.Errorf("%s's run record: %v", n.Name, err)
			continue
		}
		if nr.Facts["fleet_run"] != res.Run || nr.Facts["fleet_node"] != n.Name || len(nr.Steps) == 0 || nr.Steps[0].Step != step.Push || len(nr.Steps[0].Logs) != 1 {
			t.Errorf("%s's run record %+v", n.Name, nr)
		}
		wantSteps := 2
		if n.State == Failed && n.Step != "verify" {
			wantSteps = 1
		}
		if len(nr.Steps) != wantSteps {
			t.Errorf("%s (%s at %s): steps %+v", n.Name, n.State, n.Step, nr.Steps)
		}
	}
}
