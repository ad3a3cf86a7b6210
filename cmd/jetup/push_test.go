package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/runrec"
)

func TestPushSimRefusesAnUnpinnedKeyWithItsFingerprint(t *testing.T) {
	r := jetup(t, nil, "--sim", "push", "--host", "192.168.55.1", "--closure", "./result")
	if r.code != 2 || !strings.Contains(r.stderr, "first contact with 192.168.55.1:22") ||
		!strings.Contains(r.stderr, "next: ") || !strings.Contains(r.stderr, "--accept-host-key SHA256:") {
		t.Errorf("%+v", r)
	}
	if r := jetup(t, nil, "push", "--closure", "./result"); r.code != 2 || !strings.Contains(r.stderr, "--host") {
		t.Errorf("no host: %+v", r)
	}
	if r := jetup(t, nil, "push", "--host", "b", "--closure", "x", "--mode", "yolo"); r.code != 2 || !strings.Contains(r.stderr, "unknown mode") {
		t.Errorf("bad mode: %+v", r)
	}
}

// The headless face against a real board: JSON lines, exit codes, and the
// run record.
func TestPushRealBoardJSONAndExitCodes(t *testing.T) {
	b := testboard.New(t, testboard.Options{})
	small := testboard.Build(t, testboard.System{Name: "cmd-small", Small: 5})
	arm := testboard.Build(t, testboard.System{Name: "cmd-arm", System: "aarch64-linux", Small: 1})
	state := t.TempDir()
	args := func(closure string, extra ...string) []string {
		return append([]string{"--state-dir", state, "push", "--host", b.Addr, "--identity", b.ClientKey, "--closure", closure}, extra...)
	}

	r := jetup(t, testboard.NixEnv, args(small, "--accept-host-key", b.HostKeyFingerprint(), "--json")...)
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	kinds := map[string]int{}
	var result map[string]any
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		ev, _ := m["event"].(string)
		kinds[ev]++
		if ev == "result" {
			result = m
		}
	}
	for _, k := range []string{"phase", "host_key", "check", "delta", "copy", "result"} {
		if kinds[k] == 0 {
			t.Errorf("no %q line in %v", k, kinds)
		}
	}
	if result["sent"] != float64(6) || result["mode"] != "switch" || result["generation"] != float64(1) {
		t.Errorf("result %v", result)
	}
	if got := b.Read("var/jetup-activations.log"); got != "switch\n" {
		t.Errorf("activations %q", got)
	}
	if raw, err := os.ReadFile(filepath.Join(state, "known_hosts")); err != nil || !strings.Contains(string(raw), b.Addr+" ssh-ed25519") {
		t.Errorf("known_hosts under the state dir: %v %s", err, raw)
	}
	// The push log has each line once: the board's activation line (raw
	// output and its event both reach it), the phase and the delta.
	pushed, _, err := runrec.List(state)
	if err != nil || len(pushed) != 1 || len(pushed[0].Steps) != 1 || len(pushed[0].Steps[0].Logs) != 1 {
		t.Fatalf("the push's run record: %+v %v", pushed, err)
	}
	log, err := os.ReadFile(filepath.Join(state, "runs", pushed[0].ID, pushed[0].Steps[0].Logs[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"board: activating the test system: switch", "== activating: system profile, then switch-to-configuration switch"} {
		if n := strings.Count(string(log), line+"\n"); n != 1 {
			t.Errorf("%q is %d times in the push log, want once:\n%s", line, n, log)
		}
	}
	if n := strings.Count(string(log), " already on the board\n"); n != 1 {
		t.Errorf("the delta is %d times in the push log, want once:\n%s", n, log)
	}

	r = jetup(t, testboard.NixEnv, args(arm)...)
	if r.code != 2 || !strings.Contains(r.stdout, "FAIL  architecture") || !strings.Contains(r.stderr, "next: build the system for x86_64-linux") {
		t.Errorf("wrong arch: %+v", r)
	}
	runs, _, err := runrec.List(state)
	if err != nil || len(runs) != 2 {
		t.Fatalf("runs %v %v", runs, err)
	}
	refused := runs[0]
	if runs[1].Outcome == runrec.Refused {
		refused = runs[1]
	}
	if refused.Outcome != runrec.Refused || refused.Steps[0].Cause != "wrong-arch" || len(refused.Steps[0].Logs) != 1 {
		t.Errorf("refused run %+v", refused)
	}
}

// An AGX Xavier keeps its UEFI variables on eMMC: the push says so, as
// the boot order is what the person sets next; other boards are silent.
func TestPushShowsTheBoardsTrap(t *testing.T) {
	r := jetup(t, nil, "--sim", "--profile", "xavier-agx-devkit", "push", "--host", "192.168.55.1", "--closure", "./result")
	if !strings.Contains(r.stdout+r.stderr, "warning: AGX Xavier keeps its UEFI variables on eMMC") || !strings.Contains(r.stdout+r.stderr, "send-at uefi-menu") {
		t.Errorf("%+v", r)
	}
	r = jetup(t, nil, "--sim", "--profile", "orin-nano-devkit", "push", "--host", "192.168.55.1", "--closure", "./result")
	if strings.Contains(r.stdout+r.stderr, "warning: ") {
		t.Errorf("an Orin push warned: %+v", r)
	}
}
