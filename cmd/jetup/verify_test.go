package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
)

// simKey is the simulated Jetson's host key (sim.PushBoard), the one its
// console prints.
var simKey = sim.NewPushBoard(sim.PushOptions{}).Fingerprint()

// jsonLines splits --json output by event.
func jsonLines(t *testing.T, out string) (map[string]int, []map[string]any, map[string]any) {
	t.Helper()
	kinds := map[string]int{}
	var checks []map[string]any
	var res map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		ev, _ := m["event"].(string)
		kinds[ev]++
		switch ev {
		case "check":
			checks = append(checks, m)
		case "result":
			res = m
		}
	}
	return kinds, checks, res
}

func TestVerifySimHealthyBoardJSONAndRunRecord(t *testing.T) {
	state := t.TempDir()
	r := jetup(t, nil, "--sim", "--sim-speed", "50", "--state-dir", state, "--profile", "orin-nano-devkit", "--json",
		"verify", "--host", sim.BoardAddress, "--accept-host-key", simKey, "--closure", "./result", "--cuda-sample", "cuda-test")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	kinds, checks, res := jsonLines(t, r.stdout)
	if kinds["plan"] != 1 || kinds["host_key"] != 1 || kinds["check"] != 8 || kinds["result"] != 1 || kinds["waiting"] == 0 {
		t.Errorf("events %v", kinds)
	}
	for _, c := range checks {
		if c["status"] != "ok" {
			t.Errorf("%v", c)
		}
	}
	if res["ok"].(float64) != 8 || res["fingerprint"] != simKey {
		t.Errorf("result %v", res)
	}
	runs, _, err := runrec.List(state)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %v %v", runs, err)
	}
	s := runs[0].Steps[0]
	if s.Step != "verify" || s.Outcome != runrec.Success || !strings.Contains(string(s.Details), `"k3s-gpu"`) || len(s.Logs) != 1 {
		t.Errorf("step %+v", s)
	}
	log, _ := os.ReadFile(filepath.Join(state, "runs", runs[0].ID, s.Logs[0]))
	for _, want := range []string{"NVIDIA-SMI 540.4.0", `"kind": "Node"`, "Result = PASS", "ok    k3s node"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("verify.log lacks %q", want)
		}
	}
}

func TestVerifySimFailureExitsOneAndNamesTheCheck(t *testing.T) {
	r := jetup(t, nil, "--sim", "--sim-speed", "50", "--sim-verify", "no-cdi", "verify", "--host", sim.BoardAddress,
		"--accept-host-key", simKey, "--only", "container-gpu,failed-units")
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL  Container GPU  no CDI spec defines nvidia.com/gpu=all") ||
		!strings.Contains(r.stdout, "next: set hardware.nvidia-container-toolkit.enable") || !strings.Contains(r.stdout, "ok    Failed units") {
		t.Errorf("%+v", r)
	}
}

func TestVerifyRefusesBadInputWithExitTwo(t *testing.T) {
	notPod := filepath.Join(t.TempDir(), "deploy.yaml")
	if err := os.WriteFile(notPod, []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown check", []string{"verify", "--host", "b", "--only", "gpu"}, `unknown check "gpu"`},
		{"no host", []string{"verify"}, "--host"},
		{"unknown sim failure", []string{"--sim", "--sim-verify", "melted", "verify", "--host", "b"}, `unknown --sim-verify "melted"`},
		{"sim failure without sim", []string{"--sim-verify", "no-cdi", "verify", "--host", "b"}, "add --sim"},
		{"unpinned key", []string{"--sim", "verify", "--host", sim.BoardAddress}, "--accept-host-key " + simKey},
		{"closure not a store path", []string{"verify", "--host", "b", "--closure", "/etc/passwd"}, "not a store path"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := jetup(t, nil, c.args...)
			if r.code != 2 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("%+v", r)
			}
		})
	}
	// A workload that is not a Pod fails its check with exit 2; the other
	// checks still report.
	r := jetup(t, nil, "--sim", "--sim-speed", "50", "--json", "verify", "--host", sim.BoardAddress, "--accept-host-key", simKey,
		"--only", "k3s-gpu,failed-units,booted-system", "--workload", notPod)
	_, checks, _ := jsonLines(t, r.stdout)
	if r.code != 2 || len(checks) != 3 {
		t.Fatalf("%+v", r)
	}
	for _, c := range checks {
		switch c["id"] {
		case "k3s-gpu":
			if c["status"] != "fail" || c["cause"] != "bad-input" || !strings.Contains(c["detail"].(string), `kind "Deployment"`) {
				t.Errorf("%v", c)
			}
		case "failed-units":
			if c["status"] != "ok" {
				t.Errorf("%v", c)
			}
		}
	}
}

func TestVerifyUnreachableBoardSaysSoForEveryCheckInJSON(t *testing.T) {
	r := jetup(t, nil, "--sim", "--sim-speed", "50", "--json", "verify", "--host", "192.168.55.77", "--only", "cuda,k3s-node")
	_, _, res := jsonLines(t, r.stdout)
	if r.code != 1 || !strings.Contains(r.stderr, "cannot reach the board") || res == nil || res["failed"].(float64) != 2 {
		t.Errorf("%+v", r)
	}
}
