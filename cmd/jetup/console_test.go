package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
)

var fastBoard = []string{"JETUP_SIM_SPEED=40"}

func TestConsoleSimUntilLoginJSON(t *testing.T) {
	state := t.TempDir()
	extra := filepath.Join(t.TempDir(), "boot.log")
	r := jetup(t, fastBoard, "--sim", "--state-dir", state, "--profile", "orin-nano-devkit",
		"console", "--until", "login", "--timeout", "60s", "--json", "--log", extra)
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	var stages, traps []string
	facts := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		switch {
		case m["stage"] != nil:
			if m["at"] == nil || m["line"] == nil {
				t.Errorf("stage line %q", l)
			}
			stages = append(stages, m["stage"].(string))
		case m["fact"] != nil:
			if m["at"] == nil {
				t.Errorf("fact line %q", l)
			}
			facts[m["fact"].(string)] = m["value"].(string)
		case m["event"] != nil:
		case m["trap"] != nil:
			traps = append(traps, m["trap"].(string))
		default:
			t.Errorf("unexpected line %q", l)
		}
	}
	if got := strings.Join(stages, " "); got != "mb1 mb2 uefi uefi-menu kernel nixos-stage-1 nixos-stage-2 login" {
		t.Errorf("stages %s", got)
	}
	if facts["ip"] != "192.168.55.1" || facts["hostname"] != "nixos" || facts["firmware-version"] == "" {
		t.Errorf("facts %v", facts)
	}
	// The Orin's dark HDMI is said at the console; its firmware is not
	// 35.3.1, so the USB boot trap is not.
	if strings.Join(traps, " ") != "no-hdmi-console" {
		t.Errorf("traps %v", traps)
	}
	runs, _, _ := runrec.List(state)
	if len(runs) != 1 {
		t.Fatalf("runs %v", runs)
	}
	st := runs[0].Steps[0]
	if st.Step != "console" || st.Outcome != runrec.Success || strings.Join(st.Logs, ",") != "console.raw,console.log" ||
		!strings.Contains(st.Summary, "reached login") || !strings.Contains(st.Summary, "ip 192.168.55.1") {
		t.Errorf("step record %+v", st)
	}
	var details struct {
		Port    string `json:"port"`
		Matched bool   `json:"matched"`
		Bytes   int64  `json:"bytes"`
	}
	if err := json.Unmarshal(st.Details, &details); err != nil || !details.Matched || details.Bytes == 0 {
		t.Errorf("details %s", st.Details)
	}
	dir := filepath.Join(state, "runs", runs[0].ID)
	raw, _ := os.ReadFile(filepath.Join(dir, "console.raw"))
	text, _ := os.ReadFile(filepath.Join(dir, "console.log"))
	copy, _ := os.ReadFile(extra)
	if int64(len(raw)) != details.Bytes || !strings.Contains(string(text), "  Jetson UEFI firmware (version") || string(copy) != string(text) {
		t.Errorf("logs: raw %d bytes, text %d, --log copy %d", len(raw), len(text), len(copy))
	}
}

func TestConsoleTextModeStreamsTheBoard(t *testing.T) {
	r := jetup(t, fastBoard, "--sim", "console", "--until", "uefi", "--timeout", "60s")
	if r.code != 0 || !strings.Contains(r.stdout, "I> MB1 (version") || strings.Contains(r.stdout, "jetup:") {
		t.Errorf("stdout is the board's stream only: %+v", r)
	}
	if !strings.Contains(r.stderr, "jetup: connected") || !strings.Contains(r.stderr, "jetup: stage uefi: Jetson UEFI firmware") {
		t.Errorf("notes on stderr: %q", r.stderr)
	}
}

func TestConsoleExitCodes(t *testing.T) {
	missing := jetup(t, nil, "console", "--port", filepath.Join(t.TempDir(), "ttyUSB7"), "--timeout", "1s")
	if missing.code != 2 || !strings.Contains(missing.stderr, "never appeared") || !strings.Contains(missing.stderr, "next: ") {
		t.Errorf("missing port: %+v", missing)
	}
	notTTY := filepath.Join(t.TempDir(), "file")
	_ = os.WriteFile(notTTY, nil, 0o644)
	if r := jetup(t, nil, "console", "--port", notTTY, "--timeout", "5s"); r.code != 2 {
		t.Errorf("not a tty: %+v", r)
	}
	if r := jetup(t, fastBoard, "--sim", "console", "--until", "never printed", "--timeout", "2s"); r.code != 1 || !strings.Contains(r.stderr, "was not seen within 2s") {
		t.Errorf("until timeout: %+v", r)
	}
	if r := jetup(t, fastBoard, "--sim", "console", "--timeout", "1s"); r.code != 1 || !strings.Contains(r.stderr, "--timeout 1s reached") {
		t.Errorf("a timed capture ends with 1: %+v", r)
	}
	if r := jetup(t, nil, "console", "--until", "log(in"); r.code != 2 || !strings.Contains(r.stderr, "nixos-stage-1") {
		t.Errorf("bad --until: %+v", r)
	}
	if r := jetup(t, nil, "console", "--send", `\q`); r.code != 2 {
		t.Errorf("bad --send: %+v", r)
	}
}

func TestConsoleFromSavedLog(t *testing.T) {
	b, err := fs.ReadFile(assets.Transcripts(), "serial/serial-03-agx-orin-uefi-to-nixos-login.txt")
	if err != nil {
		t.Fatal(err)
	}
	// Only the board's output: the "#" lines are the transcript's notes.
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	file := filepath.Join(t.TempDir(), "minicom.cap")
	_ = os.WriteFile(file, []byte(strings.Join(out, "\r\n")), 0o644)
	r := jetup(t, nil, "console", "--from", file, "--until", "login")
	if r.code != 0 || !strings.Contains(r.stdout, "jetup: stage kernel: EFI stub: Booting Linux Kernel...") ||
		!strings.Contains(r.stdout, "jetup: hostname: net-vm") {
		t.Errorf("%+v", r)
	}
	if r := jetup(t, nil, "console", "--from", file, "--until", "nixos-stage-2"); r.code != 1 || !strings.Contains(r.stderr, "last stage: shell") {
		t.Errorf("stage 2 is not in the log: %+v", r)
	}
}

func TestConsoleListRanksForTheProfile(t *testing.T) {
	r := jetup(t, nil, "--sim", "--profile", "orin-nano-devkit", "console", "--list")
	if r.code != 0 || !strings.Contains(r.stdout, " 1. /dev/pts/") || !strings.Contains(r.stdout, "the console bridge of orin-nano-devkit") {
		t.Errorf("%+v", r)
	}
}

// sshHome is a home with ~/.ssh/id_ed25519.pub made by ssh-keygen, and no
// agent; it returns the environment and the public key line.
func sshHome(t *testing.T) ([]string, string) {
	t.Helper()
	testkit.NeedCommands(t, "ssh-keygen")
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(home, ".ssh", "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tech@bench", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, _ := os.ReadFile(key + ".pub")
	return []string{"HOME=" + home, "SSH_AUTH_SOCK=", "JETUP_SIM_SPEED=40"}, strings.TrimSpace(string(pub))
}

func TestConsoleSetupSSHTypesTheKeyAndTakesTheHostKey(t *testing.T) {
	env, pub := sshHome(t)
	state := t.TempDir()
	r := jetup(t, env, "--sim", "--state-dir", state, "--profile", "orin-nano-devkit",
		"console", "--setup-ssh", "--send-at", "shell", "--until", `\(ED25519\)`, "--timeout", "60s", "--json")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	want := sim.NewPushBoard(sim.PushOptions{}).Fingerprint()
	if !strings.Contains(r.stdout, `{"fact":"host-key","value":"`+want+`"`) {
		t.Errorf("no host-key fact %s:\n%s", want, r.stdout)
	}
	runs, _, _ := runrec.List(state)
	if len(runs) != 1 {
		t.Fatalf("runs %v", runs)
	}
	raw, _ := os.ReadFile(filepath.Join(state, "runs", runs[0].ID, "console.raw"))
	k, err := deploy.ParseLoginKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	typed, _ := deploy.ConsoleSetup("root", &k)
	// The board echoed each line the wizard's k types, after its prompt.
	lines := strings.Split(strings.TrimSuffix(strings.TrimPrefix(string(typed), "\x15"), "\r"), "\r")
	if len(lines) != 5 || !strings.Contains(lines[0], "k='"+pub+"'") {
		t.Fatalf("setup lines %q", lines)
	}
	for _, l := range lines {
		if !strings.Contains(string(raw), "$\x1b[0m "+l+"\r\n") {
			t.Errorf("the board did not echo %q; console.raw:\n%s", l, raw[max(0, len(raw)-1500):])
		}
	}
}

func TestConsoleSetupSSHWithoutAKeyStillAsksForTheHostKey(t *testing.T) {
	env, _ := sshHome(t)
	home := strings.TrimPrefix(env[0], "HOME=")
	os.RemoveAll(filepath.Join(home, ".ssh"))
	r := jetup(t, env, "--sim", "--state-dir", t.TempDir(), "--profile", "orin-nano-devkit",
		"console", "--setup-ssh", "--ssh-user", "nixos", "--send-at", "shell", "--until", `\(ED25519\)`, "--timeout", "60s")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	if !strings.Contains(r.stderr, "jetup: warning: no SSH key typed in, only the host keys asked for: no SSH public key found") ||
		!strings.Contains(r.stderr, "ssh-keygen -t ed25519") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "jetup: host-key: SHA256:") || strings.Contains(r.stdout, "k='") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	bad := jetup(t, env, "--sim", "console", "--setup-ssh", "--send", "x")
	if bad.code != 2 || !strings.Contains(bad.stderr, "--send and --setup-ssh") {
		t.Errorf("--send with --setup-ssh: %+v", bad)
	}
}

// A capture opened late (a forum paste that starts at L4TLauncher) is
// placed in its stage, and its dead end comes with the next step.
func TestConsoleSavedLogFindingsAndMidBootStages(t *testing.T) {
	b, err := os.ReadFile("../../serialcon/testdata/real/oe4t-meta-tegra-1215-agx-orin-l4tlauncher-extlinux-fallback.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	file := filepath.Join(t.TempDir(), "paste.txt")
	_ = os.WriteFile(file, []byte(strings.Join(out, "\r\n")), 0o644)
	r := jetup(t, nil, "console", "--from", file, "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"stage":"uefi","at":"0001-01-01T00:00:00Z","line":"L4TLauncher: Attempting Direct Boot"`) ||
		!strings.Contains(r.stdout, `"finding":"extlinux-fallback"`) || !strings.Contains(r.stdout, `"next":"The board is not booting`) {
		t.Errorf("%+v", r)
	}
	r = jetup(t, nil, "console", "--from", file)
	if !strings.Contains(r.stdout, "jetup: finding extlinux-fallback: L4TLauncher could not use") || !strings.Contains(r.stdout, "next: ") {
		t.Errorf("%+v", r)
	}
}
