package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/flash"
	"github.com/jetup/jetup/flash/detect"
	"github.com/jetup/jetup/flash/detect/fakesysfs"
	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/kit"
	"github.com/jetup/jetup/nixrun"
)

// The field kit end to end, every part real: a private Nix store (a mount
// namespace whose /nix is a directory of the test's, so its garbage
// collection touches nothing of the machine's), jetup prepare there, then
// nix-store --gc, then the headless steps inside a network namespace with
// no route out and only a veth to an internal/testboard board: the flash
// script (run by the real flash runner, on a pty, the board found in a
// sysfs tree) and the installer (written to a loop device) from the kit,
// and the push of the kit's system over ssh to the board.

// offlineField is the bench of the end-to-end test and the benchmark.
type offlineField struct {
	*fieldBench
	store  string // what the steps see as /nix
	netns  string // no route out; the board's veth
	board  *testboard.Board
	sysfs  string // a board in recovery mode
	loop   string
	online []string // the wrapper outside the namespace
}

func newOfflineField(t testing.TB) *offlineField {
	t.Helper()
	testboard.Need(t)
	testkit.NeedCommands(t, "losetup", "unshare", "mount")
	sys := testboard.System{Name: fmt.Sprint("field-", time.Now().UnixNano()), System: "x86_64-linux", Small: 3}
	// A flake is evaluated purely: no builtins.currentSystem.
	expr := strings.ReplaceAll(sys.Expr(), "builtins.currentSystem", `"x86_64-linux"`)
	of := &offlineField{fieldBench: newFieldBench(t, "("+expr+")")}
	root := t.TempDir()
	of.store = filepath.Join(root, "nix")
	must(t, os.MkdirAll(of.store, 0o755))
	private := []string{"unshare", "-m", "--propagation", "slave", "sh", "-c", `mount --bind "$0" /nix && exec "$@"`, of.store}
	of.online = private

	of.netns = fmt.Sprintf("jetup-kit-%d-%d", os.Getpid(), time.Now().UnixNano()%100000)
	if out, err := exec.Command("ip", "netns", "add", of.netns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", of.netns).Run() })
	of.board = testboard.New(t, testboard.Options{})
	of.board.HostSideInto(of.netns)

	devices := filepath.Join(root, "sysfs", "bus", "usb", "devices")
	must(t, fakesysfs.RootHub(devices, 1))
	_, err := fakesysfs.Add(devices, detect.Record{Bus: 1, Dev: 5, Path: "8.4", Vendor: 0x0955, Product: 0x7523, SpeedMbps: 480, Manufacturer: "NVIDIA Corp.", ProductName: "APX"})
	must(t, err)
	of.sysfs = filepath.Join(root, "sysfs")

	back := filepath.Join(root, "stick.bin")
	must(t, os.WriteFile(back, make([]byte, 8<<20), 0o644))
	out, err := exec.Command("losetup", "-f", "--show", back).Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	of.loop = strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command("losetup", "-d", of.loop).Run() })
	return of
}

// inStore runs a command in the private store, online.
func (of *offlineField) inStore(args ...string) result {
	of.t.Helper()
	return of.exec(append(append([]string{}, of.online...), args...))
}

func (of *offlineField) exec(cmdline []string) result {
	of.t.Helper()
	cmd := exec.Command(cmdline[0], cmdline[1:]...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+of.config, kitNixConfig)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		of.t.Fatal(err)
	}
	return result{so.String(), se.String(), code}
}

// field makes jetup run in the private store inside the namespace with
// no route out.
func (of *offlineField) field() {
	of.wrap = append([]string{"ip", "netns", "exec", of.netns}, of.online...)
}

// desk makes jetup run in the private store, online.
func (of *offlineField) desk() { of.wrap = of.online }

func TestFieldKitOfflineInANamespaceWithNoRoute(t *testing.T) {
	of := newOfflineField(t)
	of.desk()
	r := of.run("--profile", fieldProfile, "prepare", "--system", of.ref+"#lab")
	if r.code != 0 {
		t.Fatalf("prepare: %+v", r)
	}
	if !strings.Contains(r.stdout, "kit field-nano for field-nano: flash, installer, system") || !strings.Contains(r.stdout, "  total") {
		t.Errorf("prepare's summary:\n%s", r.stdout)
	}
	// A path the kit does not hold, then a garbage collection of the
	// private store: the kit survives it, that path does not.
	elsewhere := nixrun.OutPath(of.inStore("nix", "--extra-experimental-features", "nix-command flakes", "build", "--no-link", "--json", of.ref+"#elsewhere").stdout)
	if !kit.IsStorePath(elsewhere) {
		t.Fatalf("the path outside the kit: %q", elsewhere)
	}
	if gc := of.inStore("nix-store", "--gc"); gc.code != 0 || !strings.Contains(gc.stderr, "deleting '"+elsewhere+"'") {
		t.Fatalf("nix-store --gc: %+v", gc)
	}
	if gone := of.inStore("test", "-e", elsewhere); gone.code == 0 {
		t.Errorf("%s survived the garbage collection", elsewhere)
	}
	var sum kitSummary
	r = of.run("kits", "show", fieldProfile, "--json")
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || r.code != 0 || sum.State != "whole" {
		t.Fatalf("the kit after the collection: %v %+v", err, r)
	}
	flashPath, instPath, sysPath := "", "", ""
	for _, a := range sum.Manifest.Artifacts {
		switch a.ID {
		case kit.Flash:
			flashPath = a.StorePath
		case kit.Installer:
			instPath = a.StorePath + "/" + a.File
		case kit.System:
			sysPath = a.StorePath
		}
	}

	// In the field: no route out, only the board's cable. Offline is on
	// by itself.
	of.field()
	r = of.run("--profile", fieldProfile, "flash", "--sysfs", of.sysfs, "--json")
	var res flash.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 || res.Outcome != flash.Success {
		t.Fatalf("flash from the kit: %v %+v", err, r)
	}
	if res.Script != flashPath+"/bin/initrd-flash-field" || !res.Built {
		t.Errorf("the flash ran %q (built %v), want the kit's %s", res.Script, res.Built, flashPath)
	}
	if !strings.Contains(r.stderr, `"event":"stage","at":`) {
		t.Errorf("no flash stages on stderr:\n%s", r.stderr)
	}
	calls := lastRunNixCalls(t, of.state)
	if !strings.Contains(calls, " build "+flashPath+" --log-format internal-json --out-link ") || strings.Contains(calls, "path:") {
		t.Errorf("the flash's nix calls evaluate something, or build no store path:\n%s", calls)
	}
	for _, l := range strings.Split(strings.TrimSpace(calls), "\n") {
		if !strings.Contains(l, "--offline --option substituters  ") {
			t.Errorf("a nix call without the offline flags: %s", l)
		}
	}

	r = of.run("--profile", fieldProfile, "write", "--target", of.loop, "--allow-fixed", "--yes")
	if r.code != 0 || !strings.Contains(r.stderr, "jetup: this host has no route to the outside: working offline") ||
		!strings.Contains(r.stderr, "offline: the installer comes from kit field-nano ("+strings.TrimSuffix(instPath, "/iso/field.iso")+")") {
		t.Fatalf("write from the kit: %+v", r)
	}
	head := make([]byte, 64)
	f, err := os.Open(of.loop)
	must(t, err)
	_, _ = f.ReadAt(head, 0)
	f.Close()
	if !bytes.HasPrefix(head, []byte("jetup field kit installer ")) {
		t.Errorf("the stick holds %q", head)
	}

	r = of.run("push", "--host", of.board.Addr, "--identity", of.board.ClientKey, "--flake", of.ref+"#lab",
		"--accept-host-key", of.board.HostKeyFingerprint())
	if r.code != 0 || !strings.Contains(r.stderr, "offline: the system comes from kit field-nano ("+sysPath+")") {
		t.Fatalf("push from the kit: %+v", r)
	}
	if got := of.board.Read("var/jetup-activations.log"); got != "switch\n" {
		t.Errorf("activations on the board: %q", got)
	}

	// The wizard in the field, in a real terminal: offline by itself, the
	// header names the kit the builds come from, the host check judges it.
	tm := newTmuxCmd(t, 150, 40, []string{"TERM=xterm-256color", "XDG_CONFIG_HOME=" + of.config, kitNixConfig},
		append(append([]string{}, of.wrap...), binary, "--state-dir", of.state, "--profile", fieldProfile))
	tm.waitFor("offline · kit field-nano · run ", "▸ Check host", "field kit", "kit field-nano: flash, installer, system", "checks:")
	tm.keys("q")
	tm.waitFor("JETUP-EXIT=")

	// A step whose artifact is in no kit: refused before it starts.
	r = of.run("--profile", "orin-nano-devkit", "write", "--target", of.loop, "--allow-fixed", "--yes")
	if r.code != 2 || !strings.Contains(r.stderr, "jetup: the installer for orin-nano-devkit is not in a kit\nnext: run `jetup prepare --profile orin-nano-devkit` while online") {
		t.Errorf("no kit: %+v", r)
	}
	// Before it starts: the only nix calls were the kits' look-up.
	calls = strings.TrimSpace(lastRunNixCalls(t, of.state))
	for _, l := range strings.Split(calls, "\n") {
		if !strings.Contains(l, " --offline --option substituters  path-info ") {
			t.Errorf("the refused write ran more than the kits' look-up: %s", l)
		}
	}
	// One path of the kit deleted: broken, and the step it served is
	// refused with the kit named.
	of.desk()
	if d := of.inStore("nix-store", "--delete", "--ignore-liveness", flashPath); d.code != 0 {
		t.Fatalf("delete: %+v", d)
	}
	r = of.run("kits", "show", fieldProfile)
	if r.code != 1 || !strings.Contains(r.stdout, "kit field-nano: broken") || !strings.Contains(r.stdout, "broken: flash script: "+flashPath+" is no longer in the store") {
		t.Errorf("broken kit: %+v", r)
	}
	of.field()
	r = of.run("--profile", fieldProfile, "flash", "--sysfs", of.sysfs)
	if r.code != 2 || !strings.Contains(r.stderr, "the flash script for field-nano is in kit field-nano, but the kit is broken") {
		t.Errorf("flash from a broken kit: %+v", r)
	}
}
