package main

// Issue 21: what jetup does with input it does not control (another user's
// directory, a name that becomes a path, escape sequences in logs and
// records, secrets on the command line).

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
)

// simPin is the known_hosts line that pins the simulated Jetson's key, as
// another user would plant it.
func simPin() string {
	return knownhosts.Line([]string{"192.168.55.1"}, sim.NewPushBoard(sim.PushOptions{}).HostKey()) + "\n"
}

// nobody is the uid and gid of the nobody user.
func nobody(t *testing.T) (uid, gid int) {
	t.Helper()
	testkit.NeedRoot(t) // only root can give a directory away
	u, err := user.Lookup("nobody")
	testkit.Need(t, err == nil, "no nobody user")
	var ug [2]int
	for i, s := range []string{u.Uid, u.Gid} {
		for _, c := range s {
			ug[i] = ug[i]*10 + int(c-'0')
		}
	}
	return ug[0], ug[1]
}

// A state dir another user made, with a pin in its known_hosts, is not
// used: jetup refuses with the next step instead of trusting the pin.
func TestStateDirOwnedByAnotherUserIsRefused(t *testing.T) {
	uid, gid := nobody(t)
	state := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "known_hosts.sim"), []byte(simPin()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{state, filepath.Join(state, "known_hosts.sim")} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	r := jetup(t, []string{"JETUP_SIM_SPEED=100"}, "--sim", "--state-dir", state, "push", "--host", "192.168.55.1", "--closure", "./result")
	if r.code != 2 || !strings.Contains(r.stderr, "will not keep state in "+state) || !strings.Contains(r.stderr, "belongs to nobody") ||
		!strings.Contains(r.stderr, "next: ") {
		t.Errorf("%+v", r)
	}
	if _, err := os.Stat(filepath.Join(state, "runs")); err == nil {
		t.Error("a run record was written into another user's directory")
	}

	// Writable by others, even if it is ours: refused the same way.
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(open, 0o777)
	if r := jetup(t, nil, "--state-dir", open, "runs"); r.code != 2 || !strings.Contains(r.stderr, "can be written to by other users") {
		t.Errorf("0777 state dir: %+v", r)
	}
}

// With no HOME and no XDG_STATE_HOME (a service, `env -i`) and no home in
// the password database, jetup used to keep its state in a fixed
// TMPDIR/jetup-state, trusting a known_hosts another user put there. Now
// the run gets a fresh private directory: the planted pin is not seen and
// a new board is a first contact again.
func TestNoHomeNeverUsesASharedStateDir(t *testing.T) {
	uid, gid := nobody(t)
	const homeless = 54321 // a uid with no password entry, so no home at all
	if _, err := user.LookupId("54321"); err == nil {
		t.Skip("uid 54321 has a password entry here")
	}
	tmp, err := os.MkdirTemp("", "jetup-tmp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	_ = os.Chmod(tmp, os.ModeSticky|0o777) // a /tmp of its own
	planted := filepath.Join(tmp, "jetup-state")
	if err := os.Mkdir(planted, 0o777); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(planted, 0o777)
	pin := filepath.Join(planted, "known_hosts.sim")
	if err := os.WriteFile(pin, []byte(simPin()), 0o666); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{planted, pin} {
		_ = os.Chown(p, uid, gid)
	}
	bin := filepath.Join(tmp, "jetup")
	copyFile(t, binary, bin, 0o755)

	cmd := exec.Command(bin, "--sim", "push", "--host", "192.168.55.1", "--closure", "./result")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + tmp, "JETUP_SIM_SPEED=100"}
	cmd.Dir = tmp
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: homeless, Gid: homeless}}
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(se.String(), "first contact with 192.168.55.1:22") ||
		!strings.Contains(se.String(), "jetup: no home directory") {
		t.Errorf("err %v\nstdout %s\nstderr %s", err, so.String(), se.String())
	}
	if entries, _ := os.ReadDir(planted); len(entries) != 1 {
		t.Errorf("the planted directory was used: %v", entries)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// A user profiles directory someone else can write to is not read: a
// profile says what to build and flash as root.
func TestUserProfilesFromAnOpenDirectoryAreNotLoaded(t *testing.T) {
	cfg := t.TempDir()
	dir := filepath.Join(cfg, "jetup", "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	prof := "name: planted-board\nbase: rpi4\ntitle: Planted\n"
	if err := os.WriteFile(filepath.Join(dir, "planted.yaml"), []byte(prof), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := runJetup(t, []string{"XDG_CONFIG_HOME=" + cfg}, "", "profiles")
	if !strings.Contains(ok.stdout, "planted-board") {
		t.Fatalf("the profile itself must load from a private directory: %+v", ok)
	}
	_ = os.Chmod(dir, 0o777)
	r := runJetup(t, []string{"XDG_CONFIG_HOME=" + cfg}, "", "profiles")
	if strings.Contains(r.stdout, "planted-board") || r.code != 1 || !strings.Contains(r.stderr, "can be written to by other users") {
		t.Errorf("%+v", r)
	}
	_ = os.Chmod(dir, 0o755)
	_ = os.Chmod(filepath.Join(dir, "planted.yaml"), 0o666)
	r = runJetup(t, []string{"XDG_CONFIG_HOME=" + cfg}, "", "profiles")
	if strings.Contains(r.stdout, "planted-board") || r.code != 1 || !strings.Contains(r.stderr, "planted.yaml") {
		t.Errorf("group/other-writable file: %+v", r)
	}
}

// --profile names the run directory: a path in it never moves the record
// out of the state dir.
func TestProfileNameNeverBecomesAPath(t *testing.T) {
	parent := t.TempDir()
	state := filepath.Join(parent, "state")
	for _, name := range []string{"../../../outside", "../x", "a/b", ".hidden"} {
		r := jetup(t, nil, "--state-dir", state, "--profile", name, "push", "--host", "192.168.55.1", "--closure", "./result")
		if r.code != 2 || !strings.Contains(r.stderr, "--profile: bad profile name") || !strings.Contains(r.stderr, "next: ") {
			t.Errorf("--profile %s: %+v", name, r)
		}
	}
	entries, _ := os.ReadDir(parent)
	inside, _ := os.ReadDir(state)
	if len(entries) > 1 || len(entries) == 1 && entries[0].Name() != "state" {
		t.Errorf("written beside the state dir: %v", entries)
	}
	for _, e := range inside {
		if e.Name() != "runs" {
			t.Errorf("written outside runs/: %s", e.Name())
		}
	}
	if r := jetup(t, nil, "--state-dir", state, "runs", "show", "../state"); r.code != 2 {
		t.Errorf("runs show ../state: %+v", r)
	}
}

// ESC and other controls from a log or a record never reach the terminal.
const hostile = "\x1b]52;c;cm0gLXJmIH4K\x07\x1b[2J\x1b[31m"

func noESC(t *testing.T, what, s string) {
	t.Helper()
	if strings.IndexByte(s, 0x1b) >= 0 || strings.IndexByte(s, 0x07) >= 0 || strings.IndexByte(s, 0x9b) >= 0 {
		t.Errorf("%s printed a control sequence: %q", what, s)
	}
}

func TestEscapeSequencesFromLogsAndRecordsAreNotPrinted(t *testing.T) {
	// console --from: stage and fact lines come from the log.
	log := filepath.Join(t.TempDir(), "console.cap")
	boot := "EFI stub: Booting Linux Kernel..." + hostile + "\r\n" +
		"<<< Welcome to NixOS 24.05 (aarch64) - ttyTCU0 >>>" + hostile + "\r\n" +
		"nixos" + hostile + " login: "
	if err := os.WriteFile(log, []byte(boot), 0o644); err != nil {
		t.Fatal(err)
	}
	r := jetup(t, nil, "console", "--from", log)
	if !strings.Contains(r.stdout, "jetup: stage kernel: EFI stub: Booting Linux Kernel...") {
		t.Errorf("console --from: %+v", r)
	}
	noESC(t, "console --from", r.stdout+r.stderr)
	// jetup's own console.log: its lines are taken as they were written.
	textLog := filepath.Join(t.TempDir(), "console.log")
	lines := "2026-01-02T15:04:05.000Z  EFI stub: Booting Linux Kernel..." + hostile + "\n" +
		"2026-01-02T15:04:06.000Z  <<< Welcome to NixOS 24.05 (aarch64) - ttyTCU0 >>>" + hostile + "\n" +
		"2026-01-02T15:04:07.000Z  eth0: 192.168.55.1" + hostile + "\n" +
		"2026-01-02T15:04:08.000Z  nixos" + hostile + " login: \n"
	if err := os.WriteFile(textLog, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	r = jetup(t, nil, "console", "--from", textLog)
	if !strings.Contains(r.stdout, "jetup: stage kernel: EFI stub: Booting Linux Kernel...") {
		t.Errorf("console --from console.log: %+v", r)
	}
	noESC(t, "console --from console.log", r.stdout+r.stderr)

	// runs and runs show: strings from run.json.
	state := t.TempDir()
	run, err := runrec.Create(state, runrec.Options{Kind: "flash", Profile: "orin-agx-devkit", Host: runrec.Host{Hostname: "bench" + hostile}})
	if err != nil {
		t.Fatal(err)
	}
	_ = run.SetFact("hostname", "evil"+hostile)
	st := run.Begin("flash")
	_ = st.Finish(runrec.Failed, "failed at"+hostile, nil)
	_ = run.Close(runrec.Failed)
	// A record edited by hand (or by another tool): the id and a log name too.
	b, _ := os.ReadFile(filepath.Join(run.Dir(), runrec.FileName))
	var rec map[string]any
	_ = json.Unmarshal(b, &rec)
	rec["jetup_version"] = "v1" + hostile
	rec["steps"].([]any)[0].(map[string]any)["logs"] = []string{"flash.log" + hostile}
	rec["steps"].([]any)[0].(map[string]any)["cause"] = "rcm" + hostile
	b, _ = json.Marshal(rec)
	_ = os.WriteFile(filepath.Join(run.Dir(), runrec.FileName), b, 0o600)

	list := jetup(t, nil, "--state-dir", state, "runs")
	if !strings.Contains(list.stdout, "evil") || list.code != 0 {
		t.Errorf("runs: %+v", list)
	}
	noESC(t, "runs", list.stdout+list.stderr)
	show := jetup(t, nil, "--state-dir", state, "runs", "show", run.ID())
	if !strings.Contains(show.stdout, "failed at") || !strings.Contains(show.stdout, "cause: rcm") {
		t.Errorf("runs show: %+v", show)
	}
	noESC(t, "runs show", show.stdout+show.stderr)

	// diagnose: evidence lines are the log's.
	flashLog := filepath.Join(t.TempDir(), "flash.log")
	_ = os.WriteFile(flashLog, []byte("[   0.0000 ] tegrarcm_v2 --chip 0x23"+hostile+"\nError: Return value 8"+hostile+"\n"), 0o644)
	d := jetup(t, nil, "diagnose", flashLog)
	if !strings.Contains(d.stdout, "Return value 8") {
		t.Errorf("diagnose: %+v", d)
	}
	noESC(t, "diagnose", d.stdout+d.stderr)
}

// Secrets at rest: run directories and logs for this user only, and the
// text typed with --send kept out of run.json.
func TestRunRecordsArePrivateAndKeepNoSentText(t *testing.T) {
	state := t.TempDir()
	r := jetup(t, fastBoard, "--sim", "--state-dir", state, "console", "--send", `hunter2\r`, "--until", "uefi", "--timeout", "60s")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	runs, _, _ := runrec.List(state)
	if len(runs) != 1 {
		t.Fatalf("runs %+v", runs)
	}
	dir := filepath.Join(state, "runs", runs[0].ID)
	b, _ := os.ReadFile(filepath.Join(dir, runrec.FileName))
	if bytes.Contains(b, []byte("hunter2")) || !strings.Contains(strings.Join(runs[0].Command, " "), "--send "+runrec.Redacted) {
		t.Errorf("run.json keeps the sent text: %v", runs[0].Command)
	}
	for _, p := range []string{filepath.Join(state, "runs"), dir} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v, want 0700", p, fi.Mode(), err)
		}
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(logs) < 3 {
		t.Fatalf("files %v", logs)
	}
	for _, l := range logs {
		if fi, err := os.Stat(l); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want 0600", l, fi.Mode(), err)
		}
	}
}

// Issue 21 finding 7: a --user or --host that would be a directive of its
// own in the ssh config is refused (exit 2) before anything runs.
func TestInjectedUserOrHostIsRefusedBeforeAnythingRuns(t *testing.T) {
	mark := filepath.Join(t.TempDir(), "ran")
	inject := "\n  ProxyCommand sh -c 'touch " + mark + "'"
	state := t.TempDir()
	for _, args := range [][]string{
		{"push", "--host", "127.0.0.1", "--user", "root" + inject, "--closure", "/nix/store/x", "--accept-host-key", "SHA256:x"},
		{"push", "--host", "127.0.0.1" + inject, "--closure", "/nix/store/x", "--accept-host-key", "SHA256:x"},
		{"verify", "--host", "127.0.0.1", "--user", "root" + inject, "--accept-host-key", "SHA256:x"},
	} {
		r := jetup(t, nil, append([]string{"--state-dir", state}, args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "is not a") || !strings.Contains(r.stderr, "next: ") {
			t.Errorf("%q: %+v", args, r)
		}
		if _, err := os.Stat(mark); err == nil {
			t.Fatalf("%q: the injected command ran", args)
		}
	}
}

// Issue 21 finding 11: under sudo, `write` built the installer and ran the
// decompressor as root. They need no root: they run as the person who ran
// sudo (SUDO_UID/SUDO_GID); root only opens and writes the disk. A fake
// nix (the build: it prints the out path) and an xz wrapper record who
// they ran as; the write itself is real, onto a loop device.
func TestWriteUnderSudoBuildsAndDecompressesAsTheUser(t *testing.T) {
	uid, gid := nobody(t)
	testkit.NeedCommands(t, "losetup", "xz")
	realXZ, _ := exec.LookPath("xz")
	dir, err := os.MkdirTemp("", "jetup-sudo-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	_ = os.Chmod(dir, 0o755) // nobody runs the fakes and reads the out dir
	who := filepath.Join(dir, "who")
	_ = os.WriteFile(who, nil, 0o666)
	_ = os.Chmod(who, 0o666)
	out := filepath.Join(dir, "out")
	_ = os.Mkdir(out, 0o755)
	img := filepath.Join(out, "installer.img")
	data := bytes.Repeat([]byte("jetup installer "), 1<<16) // 1 MiB
	_ = os.WriteFile(img, data, 0o644)
	if o, err := exec.Command(realXZ, "-q", img).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, o)
	}
	bin := filepath.Join(dir, "bin")
	_ = os.Mkdir(bin, 0o755)
	// `nix build ... --print-out-paths` prints the output path on stdout.
	_ = os.WriteFile(filepath.Join(bin, "nix"), []byte("#!/bin/sh\necho \"nix $(id -u):$(id -g) $HOME\" >> "+who+"\necho "+out+"\n"), 0o755)
	_ = os.WriteFile(filepath.Join(bin, "xz"), []byte("#!/bin/sh\necho \"xz $(id -u):$(id -g)\" >> "+who+"\nexec "+realXZ+" \"$@\"\n"), 0o755)

	cfg := t.TempDir()
	profs := filepath.Join(cfg, "jetup", "profiles")
	_ = os.MkdirAll(profs, 0o755)
	_ = os.WriteFile(filepath.Join(profs, "mine.yaml"), []byte("name: mine\nbase: rpi4\ntitle: Mine\ninstaller:\n  kind: sd-image\n  flake: path:/x\n  attribute: y\n  output: \"*.img.xz\"\n"), 0o644)

	back := filepath.Join(t.TempDir(), "stick.bin")
	_ = os.WriteFile(back, make([]byte, 4<<20), 0o644)
	dev, err := exec.Command("losetup", "-f", "--show", back).Output()
	if err != nil {
		t.Fatal(err)
	}
	loop := strings.TrimSpace(string(dev))
	defer exec.Command("losetup", "-d", loop).Run()

	env := []string{"XDG_CONFIG_HOME=" + cfg, "PATH=" + bin + ":" + os.Getenv("PATH"),
		"SUDO_UID=" + strconv.Itoa(uid), "SUDO_GID=" + strconv.Itoa(gid), "SUDO_USER=nobody"}
	// The image is no Pi image: --ignore-board-check (the board check
	// inspects it through xz too, also as the user).
	r := jetup(t, env, "--profile", "mine", "write", "--target", loop, "--yes", "--allow-fixed", "--ignore-board-check", "--json")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	got, _ := os.ReadFile(who)
	want := strconv.Itoa(uid) + ":" + strconv.Itoa(gid)
	if !strings.Contains(string(got), "nix "+want+" ") || !strings.Contains(string(got), "xz "+want) || strings.Contains(string(got), " 0:0") {
		t.Errorf("who ran what:\n%s", got)
	}
	// Root wrote the disk.
	written := make([]byte, len(data))
	f, _ := os.Open(loop)
	_, _ = io.ReadFull(f, written)
	f.Close()
	if !bytes.Equal(written, data) {
		t.Error("the stick does not hold the image")
	}
}
