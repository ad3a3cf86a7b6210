package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetup/jetup/flash"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/runrec"
)

const simProfile = "orin-nano-super-devkit"

func simEnv(outcome string) []string {
	return []string{"JETUP_SIM_FLASH=" + outcome, "JETUP_SIM_FLASH_SPEED=0.02"}
}

func TestFlashSimSuccessJSON(t *testing.T) {
	state := t.TempDir()
	r := jetup(t, simEnv("success"), "--sim", "--state-dir", state, "--profile", simProfile, "flash", "--json")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	var res flash.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if res.Outcome != flash.Success || res.USBInstance != "1-2" || res.Steps != 14 || res.Board == nil {
		t.Errorf("result %+v", res)
	}
	// stderr: one JSON object per line, every line with its "event".
	var stages []string
	for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev["event"] == nil {
			t.Fatalf("not a JSON event line: %q", l)
		}
		if ev["event"] == "stage" {
			stages = append(stages, ev["stage"].(string))
		}
	}
	if strings.Join(stages, " ") != "start probe rcm-boot wait-device flashing success" {
		t.Errorf("stages %v", stages)
	}
	runs, _, _ := runrec.List(state)
	if len(runs) != 1 || runs[0].Kind != "flash" || runs[0].Outcome != runrec.Success {
		t.Fatalf("runs %+v", runs)
	}
	st := runs[0].Steps[0]
	var details flash.Result
	_ = json.Unmarshal(st.Details, &details)
	if len(st.Logs) != 1 || st.Logs[0] != "flash.log" || details.Outcome != flash.Success || details.Script == "" {
		t.Errorf("step record %+v", st)
	}
	raw, _ := os.ReadFile(filepath.Join(state, "runs", runs[0].ID, "flash.log"))
	if !bytes.Contains(raw, []byte("Device reported flashing succeeded")) {
		t.Errorf("the raw log is not complete:\n%s", raw)
	}
}

func TestFlashNoBoardExitsTwoBeforeAnything(t *testing.T) {
	state := t.TempDir()
	r := jetup(t, simEnv("no-recovery-device"), "--sim", "--state-dir", state, "--profile", simProfile, "flash")
	if r.code != 2 || !strings.Contains(r.stderr, "no board is in USB recovery mode") || !strings.Contains(r.stderr, "next: Put the board in recovery mode") {
		t.Fatalf("%+v", r)
	}
	if strings.Contains(r.stderr, "flash script") {
		t.Errorf("a script was prepared without a board:\n%s", r.stderr)
	}
	runs, _, _ := runrec.List(state)
	if len(runs) != 1 || runs[0].Outcome != runrec.Refused || runs[0].Steps[0].Cause != "no-recovery-device" {
		t.Errorf("runs %+v", runs)
	}
	// With --json the refusal is a result too.
	r = jetup(t, simEnv("no-recovery-device"), "--sim", "--state-dir", state, "--profile", simProfile, "flash", "--json")
	if r.code != 2 || !strings.Contains(r.stdout, `"cause": "no-recovery-device"`) {
		t.Errorf("%+v", r)
	}
}

// With --script jetup runs even without seeing a board, and the script's
// verdict counts.
func TestFlashScriptWithoutBoardWarnsAndRuns(t *testing.T) {
	script := filepath.Join(t.TempDir(), "initrd-flash-x")
	_ = os.WriteFile(script, []byte("#!/bin/sh\necho 'Flashing platform firmware successful. Rebooting now.'\n"), 0o755)
	r := jetup(t, simEnv("no-recovery-device"), "--sim", "--state-dir", t.TempDir(), "flash", "--script", script)
	if r.code != 0 || !strings.Contains(r.stderr, "warning: no board is in USB recovery mode; running the script anyway") || !strings.Contains(r.stdout, "✓ Flashed.") {
		t.Errorf("%+v", r)
	}
}

// A device-side failure exits 1; the device never appearing (the script's
// exit 2) exits 2, as --help says.
func TestFlashFailuresExitOneOrTwo(t *testing.T) {
	start := time.Now()
	r := jetup(t, simEnv("device-write-failed"), "--sim", "--state-dir", t.TempDir(), "--profile", simProfile, "flash")
	if r.code != 1 || !strings.Contains(r.stdout, "(device-write-failed)") || !strings.Contains(r.stdout, "line ") || !strings.Contains(r.stdout, "next: ") {
		t.Errorf("%+v", r)
	}
	// A bound on the hang, not a speed test: without the console rule it
	// would run to the 20 min timeout.
	if took := time.Since(start); took > 2*time.Minute {
		t.Errorf("the console hang took %v to end", took)
	}
	r = jetup(t, simEnv("gadget-not-detected"), "--sim", "--state-dir", t.TempDir(), "--profile", simProfile, "flash", "--json")
	if r.code != 2 || !strings.Contains(r.stdout, `"cause": "gadget-not-detected"`) || !strings.Contains(r.stdout, `"exit_code": 2`) {
		t.Errorf("%+v", r)
	}
	r = jetup(t, nil, "flash", "--help")
	if help := strings.Join(strings.Fields(r.stdout), " "); !strings.Contains(help, "2 the device never appeared") || !strings.Contains(help, "the script's exit 2") {
		t.Errorf("flash --help does not give the exit status 2 case:\n%s", r.stdout)
	}
}

func TestFlashTimeoutExitsThree(t *testing.T) {
	r := jetup(t, []string{"JETUP_SIM_FLASH=device-timeout", "JETUP_SIM_FLASH_SPEED=1"}, "--sim", "--state-dir", t.TempDir(), "--profile", simProfile, "flash", "--timeout", "3s")
	if r.code != 3 || !strings.Contains(r.stdout, "Flash incomplete") || !strings.Contains(r.stdout, "after 3s") {
		t.Errorf("%+v", r)
	}
}

// Ctrl-C ends the flash, its script and everything the script started.
func TestFlashInterruptExitsThreeAndLeavesNothing(t *testing.T) {
	mark := "JETUP_TEST_MARK=interrupt-" + strconv.Itoa(os.Getpid())
	state := t.TempDir()
	cmd := exec.Command(binary, "--sim", "--state-dir", state, "--profile", simProfile, "flash", "--json")
	cmd.Env = append(os.Environ(), "JETUP_SIM_FLASH=success", "JETUP_SIM_FLASH_SPEED=1", mark)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"stage":"rcm-boot"`) {
			break
		}
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	go func() {
		for sc.Scan() {
		}
	}()
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Errorf("exit %v, want 3", err)
	}
	// What jetup ended may take a moment to exit: awaited through pidfds.
	if left := testkit.WaitGone(testkit.Marked(mark), time.Minute); len(left) > 0 {
		for _, p := range left {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		t.Fatalf("processes outlived jetup by a minute: %v", left)
	}
	runs, _, _ := runrec.List(state)
	if len(runs) != 1 || runs[0].Outcome != runrec.Cancelled {
		t.Errorf("runs %+v", runs)
	}
}

func TestDiagnose(t *testing.T) {
	file := filepath.Join("..", "..", "assets", "transcripts", "flash", "flash-01-jetpack-nixos-legacy-xavier-nx-return-value-8.txt")
	r := jetup(t, nil, "diagnose", "--json", file)
	var d struct {
		Outcome, Stage, Cause, Hint string
		Evidence                    []struct {
			Line int
			Text string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || r.code != 0 {
		t.Fatalf("%v %+v", err, r)
	}
	if d.Outcome != "failed" || d.Stage != "rcm-boot" || d.Cause != "rcm-rejected" || d.Hint == "" || len(d.Evidence) == 0 || d.Evidence[0].Line != 53 {
		t.Errorf("%+v", d)
	}
	r = jetup(t, nil, "diagnose", file)
	if !strings.Contains(r.stdout, "(rcm-rejected)") || !strings.Contains(r.stdout, "line 53: Error: Return value 8") {
		t.Errorf("%+v", r)
	}
	if r := jetup(t, nil, "diagnose", "/nonexistent/log"); r.code != 2 || !strings.Contains(r.stderr, "next: ") {
		t.Errorf("%+v", r)
	}
	// A run directory: its flash log.
	state := t.TempDir()
	jetup(t, simEnv("usb-transport"), "--sim", "--state-dir", state, "--profile", simProfile, "flash")
	runs, _, _ := runrec.List(state)
	r = jetup(t, nil, "diagnose", "--json", filepath.Join(state, "runs", runs[0].ID))
	if !strings.Contains(r.stdout, `"cause": "usb-transport"`) || !strings.Contains(r.stdout, "flash.log") {
		t.Errorf("%+v", r)
	}
}
