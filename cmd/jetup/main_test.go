package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/doctor"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/runrec"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jetup-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "jetup")
	out, err := exec.Command("go", "build", "-ldflags", "-X main.version=v0.0.0-test", "-o", binary, ".").CombinedOutput()
	if err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// jetup runs the built binary with a private config and state dir.
func jetup(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runJetup(t, append([]string{"XDG_STATE_HOME=" + t.TempDir()}, env...), "", args...)
}

// runJetup runs the built binary with env added to this process's, a
// private config dir, and stdin.
func runJetup(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{so.String(), se.String(), code}
}

func TestVersion(t *testing.T) {
	if r := jetup(t, nil, "version"); r.stdout != "jetup v0.0.0-test\n" || r.code != 0 {
		t.Errorf("%+v", r)
	}
	if r := jetup(t, nil, "version", "--json"); !strings.Contains(r.stdout, `"version": "v0.0.0-test"`) {
		t.Errorf("%+v", r)
	}
}

func TestProfilesJSONListsTheBoardsWithRecoveryIDs(t *testing.T) {
	r := jetup(t, nil, "profiles", "--json")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	var list []profiles.Profile
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatal(err)
	}
	byName := map[string]profiles.Profile{}
	for _, p := range list {
		byName[p.Name] = p
	}
	for _, name := range []string{"orin-nano-devkit", "orin-nano-super-devkit", "orin-nx-devkit", "orin-nx-super-devkit",
		"orin-agx-devkit", "orin-agx-industrial-devkit", "xavier-agx-devkit", "xavier-nx-devkit",
		"xavier-nx-emmc-devkit", "thor-agx-devkit", "rpi4", "rpi3b"} {
		p, ok := byName[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if p.Family == profiles.Jetson && (p.Recovery == nil || len(p.Recovery.USBIDs) == 0) {
			t.Errorf("%s has no recovery ids in JSON", name)
		}
	}
	if !strings.Contains(r.stdout, `"id": "0955:7523"`) {
		t.Error("recovery id field not in the JSON")
	}
}

func TestProfilesShow(t *testing.T) {
	r := jetup(t, nil, "profiles", "show", "orin-nano-super-devkit")
	for _, want := range []string{"J14 pin 9 (GND) and pin 10 (FC REC)", "0955:7523", "result/bin/initrd-flash-orin-nano-devkit"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, r.stdout)
		}
	}
	bad := jetup(t, nil, "profiles", "show", "orin-nanoo")
	if bad.code != 2 || !strings.Contains(bad.stderr, `unknown profile "orin-nanoo"`) || !strings.Contains(bad.stderr, "next: ") {
		t.Errorf("unknown profile: %+v", bad)
	}
}

func TestBrokenUserProfileIsReportedWithFileAndLine(t *testing.T) {
	cfg := t.TempDir()
	dir := filepath.Join(cfg, "jetup", "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "mine.yaml")
	_ = os.WriteFile(file, []byte("name: mine\ntitle: Mine\nfamily: jetson\nboot: fast\n"), 0o644)
	r := jetup(t, []string{"XDG_CONFIG_HOME=" + cfg}, "profiles")
	if r.code != 1 || !strings.Contains(r.stderr, file+`:4: unknown key "boot"`) {
		t.Errorf("%+v", r)
	}
	if !strings.Contains(r.stdout, "orin-agx-devkit") {
		t.Error("the embedded profiles must still be listed")
	}
}

func TestDoctorSimJSONWritesARunRecord(t *testing.T) {
	state := t.TempDir()
	r := jetup(t, nil, "--sim", "--state-dir", state, "doctor", "--json")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	var rep doctor.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.ReadyToFlash || len(rep.Findings) != 12 {
		t.Errorf("sim host report %+v", rep)
	}
	runs, _, err := runrec.List(state)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %v %v", runs, err)
	}
	got := runs[0]
	if got.Kind != "doctor" || !got.Sim || got.Outcome != runrec.Success || got.Steps[0].Step != "doctor" || got.JetupVersion != "v0.0.0-test" {
		t.Errorf("run record %+v", got)
	}
}

// The real host: whatever it finds, the exit code follows the verdict and
// every finding is printed.
func TestDoctorRealHost(t *testing.T) {
	r := jetup(t, nil, "doctor")
	ready := strings.Contains(r.stdout, "Nothing blocks flashing")
	if (r.code == 0) != ready {
		t.Errorf("exit %d but output says ready=%v:\n%s", r.code, ready, r.stdout)
	}
	for _, want := range []string{"host architecture", "nix", "udev rule for 0955", "free space for /nix"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("missing %q", want)
		}
	}
}

func TestWizardRefusesWithoutATerminal(t *testing.T) {
	r := jetup(t, nil, "--sim")
	if r.code != 2 || !strings.Contains(r.stderr, "needs a terminal") {
		t.Errorf("%+v", r)
	}
}

func TestBadFlagExitsTwo(t *testing.T) {
	if r := jetup(t, nil, "doctor", "--frobnicate"); r.code != 2 || !strings.Contains(r.stderr, "unknown flag") {
		t.Errorf("%+v", r)
	}
}

func TestCompletion(t *testing.T) {
	r := jetup(t, nil, "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "__start_jetup") {
		t.Errorf("bash completion: %d %.200s", r.code, r.stdout)
	}
	r = jetup(t, nil, "__complete", "--profile", "orin-n")
	if !strings.Contains(r.stdout, "orin-nano-devkit\tJetson Orin Nano Developer Kit") {
		t.Errorf("profile completion: %q", r.stdout)
	}
}

// The simulated bench's files (replay scripts, stick image, installer) go
// with the process that made them.
func TestSimLeavesNoFiles(t *testing.T) {
	tmp := t.TempDir()
	r := jetup(t, []string{"TMPDIR=" + tmp, "JETUP_SIM_FLASH_SPEED=0"}, "--sim", "--profile", "orin-nano-devkit", "flash", "--json")
	if r.code != 0 {
		t.Fatalf("sim flash: %+v", r)
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "jetup-sim*"))
	if len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

func TestSimFlashFlag(t *testing.T) {
	r := jetup(t, []string{"JETUP_SIM_FLASH_SPEED=0"}, "--sim", "--sim-flash", "rcm-rejected", "--profile", "orin-nano-devkit", "flash", "--json")
	if r.code != 1 || !strings.Contains(r.stdout, `"cause": "rcm-rejected"`) {
		t.Errorf("chosen failure: %d %s", r.code, r.stdout)
	}
	if r := jetup(t, nil, "--sim", "--sim-flash", "explode", "doctor"); r.code != 2 || !strings.Contains(r.stderr, "usb-transport") {
		t.Errorf("unknown outcome: %+v", r)
	}
	if r := jetup(t, nil, "--sim-flash", "usb-transport", "doctor"); r.code != 2 || !strings.Contains(r.stderr, "add --sim") {
		t.Errorf("without --sim: %+v", r)
	}
	if r := jetup(t, nil, "--sim", "--sim-speed", "-2", "doctor"); r.code != 2 || !strings.Contains(r.stderr, "positive factor") {
		t.Errorf("negative speed: %+v", r)
	}
}
