package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/doctor"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/kit"
	"github.com/jetup/jetup/runrec"
)

// kitNixConfig: the build machines' single-user root store, no nixbld
// group, no sandbox, no binary cache.
const kitNixConfig = "NIX_CONFIG=" + testkit.NixConfig

// fieldBench is a user profile (through the profile override mechanism:
// $XDG_CONFIG_HOME/jetup/profiles/*.yaml with base:) whose flash script,
// installer and system come from a small local flake with no network
// input (builder = "/bin/sh"; no PATH inside, so tools by full path), and
// the state and config directories jetup runs with.
type fieldBench struct {
	t       testing.TB
	dir     string // the flake's directory
	ref     string // path:DIR
	config  string // XDG_CONFIG_HOME
	state   string
	profile string
	// system is the toplevel's expression (a testboard.System's, or a
	// small one).
	system string
	// wrap, when set, runs every jetup as wrap + jetup's arguments (a
	// network namespace, a private store).
	wrap []string
}

const fieldProfile = "field-nano"

func newFieldBench(t testing.TB, system string) *fieldBench {
	t.Helper()
	testkit.NeedCommands(t, "nix", "nix-store")
	root := t.TempDir()
	fb := &fieldBench{t: t, dir: filepath.Join(root, "flake"), config: filepath.Join(root, "config"), state: filepath.Join(root, "state"),
		profile: fieldProfile, system: system}
	fb.ref = "path:" + fb.dir
	for _, d := range []string{fb.dir, filepath.Join(root, "dep"), filepath.Join(fb.config, "jetup", "profiles")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if fb.system == "" {
		fb.system = `derivation { name = "nixos-system-lab"; system = "x86_64-linux"; builder = "/bin/sh";
      args = [ "-c" "/bin/mkdir -p $out; /bin/cp ${dep}/board.txt $out/board; printf x86_64-linux > $out/system" ]; }`
	}
	must(t, os.WriteFile(filepath.Join(root, "dep", "board.txt"), []byte(fmt.Sprint("lab board ", time.Now().UnixNano())), 0o644))
	fb.writeFlake(fmt.Sprint(time.Now().UnixNano()))
	fb.writeProfile(fieldProfile, "flash-field", "steps: [detect, flash, write, console, push]\n")
	return fb
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// writeFlake writes the flake: the flash script prints what a successful
// jetpack-nixos flash prints last; the installer is 4 MiB with a
// recognisable start.
func (fb *fieldBench) writeFlake(nonce string) {
	flake := fmt.Sprintf(`{
  inputs.dep = { url = "path:%[1]s"; flake = false; };
  outputs = { self, dep }: let
    sys = "x86_64-linux";
    mk = name: script: derivation { inherit name; system = sys; builder = "/bin/sh"; nonce = "%[2]s"; args = [ "-c" script ]; };
  in {
    packages.${sys} = {
      flash-field = mk "flash-field" ''
        /bin/mkdir -p $out/bin
        printf '#!/bin/sh\necho "flash script from the kit: %[2]s"\necho "Flashing platform firmware successful. Rebooting now."\n' > $out/bin/initrd-flash-field
        /bin/chmod +x $out/bin/initrd-flash-field
      '';
      installer = mk "installer-field" ''
        /bin/mkdir -p $out/iso
        { printf 'jetup field kit installer %[2]s\n'; /usr/bin/head -c 4194304 /dev/zero; } | /usr/bin/head -c 4194304 > $out/iso/field.iso
      '';
      elsewhere = mk "not-in-the-kit" "/bin/mkdir -p $out; printf x > $out/x";
    };
    nixosConfigurations.lab.config.system.build.toplevel = %[3]s;
  };
}
`, filepath.Join(filepath.Dir(fb.dir), "dep"), nonce, fb.system)
	must(fb.t, os.WriteFile(filepath.Join(fb.dir, "flake.nix"), []byte(flake), 0o644))
}

// writeProfile overrides orin-nano-devkit through base:, with the flash
// script and installer from the flake.
func (fb *fieldBench) writeProfile(name, flashAttr, extra string) {
	y := fmt.Sprintf(`name: %s
base: orin-nano-devkit
title: Field test Orin Nano (%s)
flash:
  flake: %s
  attribute: `+flashAttr+`
  script: initrd-flash-field
installer:
  kind: iso
  flake: %s
  attribute: installer
  output: iso/*.iso
%s`, name, name, fb.ref, fb.ref, extra)
	must(fb.t, os.WriteFile(filepath.Join(fb.config, "jetup", "profiles", name+".yaml"), []byte(y), 0o600))
}

// run runs jetup with the bench's config and state, the profile and NIX_CONFIG.
func (fb *fieldBench) run(args ...string) result {
	fb.t.Helper()
	all := append([]string{"--state-dir", fb.state}, args...)
	cmdline := append(append(append([]string{}, fb.wrap...), binary), all...)
	cmd := exec.Command(cmdline[0], cmdline[1:]...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+fb.config, kitNixConfig)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		fb.t.Fatal(err)
	}
	return result{so.String(), se.String(), code}
}

// jsonObjects decodes every stdout line as a JSON object.
func jsonObjects(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		lines = append(lines, m)
	}
	return lines
}

func (fb *fieldBench) kits() []kitSummary {
	fb.t.Helper()
	r := fb.run("kits", "--json")
	var sums []kitSummary
	if err := json.Unmarshal([]byte(r.stdout), &sums); err != nil || r.code != 0 {
		fb.t.Fatalf("kits --json: %v %+v", err, r)
	}
	return sums
}

// lastRunNixCalls is the nix-calls log of the newest run's step.
func lastRunNixCalls(t testing.TB, state string) string {
	t.Helper()
	runs, _, _ := runrec.List(state)
	if len(runs) == 0 {
		t.Fatal("no run recorded")
	}
	last := runs[len(runs)-1]
	for _, s := range last.Steps {
		for _, l := range s.Logs {
			if strings.HasSuffix(l, ".nix-calls.log") {
				b, _ := os.ReadFile(filepath.Join(state, "runs", last.ID, l))
				return string(b)
			}
		}
	}
	return ""
}

// prepare (JSON lines, then text), kits, kits show, doctor's field-kit,
// and a stale kit after the flake moved.
func TestPrepareListShowAndDoctor(t *testing.T) {
	fb := newFieldBench(t, "")
	r := fb.run("--profile", fieldProfile, "prepare", "--system", fb.ref+"#lab", "--json")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	lines := jsonObjects(t, r.stdout)
	first, last := lines[0], lines[len(lines)-1]
	if first["event"] != "plan" || last["event"] != "result" || last["name"] != fieldProfile {
		t.Fatalf("first %v last %v", first, last)
	}
	var built []string
	for _, l := range lines {
		if l["event"] == "build" && l["done"] == true {
			built = append(built, l["artifact"].(string))
		}
	}
	if strings.Join(built, " ") != "flash installer system" {
		t.Errorf("per-artifact progress: %v", built)
	}
	sums := fb.kits()
	if len(sums) != 1 || sums[0].State != "whole" || sums[0].Current == nil || sums[0].Current.State != kit.StateCurrent ||
		fmt.Sprint(sums[0].Artifacts) != "[flash installer system]" || sums[0].Size < 4<<20 || len(sums[0].Missing) != 0 {
		t.Fatalf("kits %+v", sums)
	}
	r = fb.run("kits", "show", fieldProfile)
	if r.code != 0 || !strings.Contains(r.stdout, "kit field-nano: whole") || !strings.Contains(r.stdout, "/iso/field.iso (4.0 MiB with its closure)") {
		t.Errorf("show: %+v", r)
	}
	r = fb.run("--profile", fieldProfile, "doctor", "--json")
	var rep doctor.Report
	_ = json.Unmarshal([]byte(r.stdout), &rep)
	if f, ok := rep.Find("field-kit"); !ok || f.Status != doctor.OK || !strings.HasPrefix(f.Detail, "kit field-nano: flash, installer, system (4.0 MiB, made ") {
		t.Errorf("doctor: %+v", f)
	}
	// The flake moves: stale, with the command that refreshes it.
	fb.writeFlake("moved")
	r = fb.run("--profile", fieldProfile, "doctor")
	want := "next: run `jetup prepare --profile field-nano --system " + fb.ref + "#lab` while online"
	if !strings.Contains(r.stdout, "warn  field kit") || !strings.Contains(r.stdout, "stale: "+fb.ref+" moved from sha256-") || !strings.Contains(r.stdout, want) {
		t.Errorf("stale doctor:\n%s", r.stdout)
	}
	r = fb.run("kits")
	if !strings.Contains(r.stdout, "whole, stale") || !strings.Contains(r.stdout, "field-nano: refresh: jetup prepare --profile field-nano --system "+fb.ref+"#lab") {
		t.Errorf("stale kits:\n%s", r.stdout)
	}
	// Refreshed in text: the summary and the total.
	r = fb.run("--profile", fieldProfile, "prepare", "--system", fb.ref+"#lab")
	if r.code != 0 || !strings.Contains(r.stdout, "refreshing kit field-nano for field-nano") || !strings.Contains(r.stdout, "  total") {
		t.Errorf("refresh: %+v", r)
	}
	if s := fb.kits(); s[0].Current.State != kit.StateCurrent {
		t.Errorf("after the refresh: %+v", s[0].Current)
	}
	r = fb.run("kits", "rm", fieldProfile)
	if r.code != 0 || !strings.Contains(r.stdout, "removed kit field-nano: 5 path(s) no longer pinned") || len(fb.kits()) != 0 {
		t.Errorf("rm: %+v", r)
	}
}

// Offline, a step whose artifact is in no kit is refused before it
// starts, exit 2, in the words; no nix build runs (the record of
// nix calls holds only the kits' look-up). Bad input to prepare is
// refused with what to do, and what was prepared before is kept.
func TestOfflineRefusalsAndBadInput(t *testing.T) {
	fb := newFieldBench(t, "")
	r := fb.run("--offline", "--profile", "orin-nano-devkit", "write", "--target", "/dev/null", "--yes")
	if r.code != 2 || !strings.Contains(r.stderr, "jetup: the installer for orin-nano-devkit is not in a kit\nnext: run `jetup prepare --profile orin-nano-devkit` while online") {
		t.Errorf("write: %+v", r)
	}
	for _, l := range strings.Split(strings.TrimSpace(lastRunNixCalls(t, fb.state)), "\n") {
		if l != "" && !strings.Contains(l, " --offline --option substituters  path-info ") {
			t.Errorf("a nix call other than the kits' look-up: %s", l)
		}
	}
	// Several sticks at once and the station: the same refusal.
	for _, args := range [][]string{{"--target", "/dev/null", "--target", "/dev/zero"}, {"--station"}} {
		r = fb.run(append([]string{"--offline", "--profile", "orin-nano-devkit", "write", "--yes"}, args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "jetup: the installer for orin-nano-devkit is not in a kit\nnext: run `jetup prepare --profile orin-nano-devkit` while online") {
			t.Errorf("write %v: %+v", args, r)
		}
	}
	// The profile's traps for the write step are shown by every write.
	fb.writeProfile("trapped", "flash-field", "traps:\n  - id: write-trap\n    steps: [write]\n    text: \"a trap where the stick is written\"\n    next: \"mind it\"\n")
	for _, args := range [][]string{{"--target", "/dev/null"}, {"--target", "/dev/null", "--target", "/dev/zero"}, {"--station"}} {
		r = fb.run(append([]string{"--profile", "trapped", "write", "--image", filepath.Join(fb.state, "no.img"), "--yes"}, args...)...)
		if r.code != 2 || !strings.Contains(r.stdout+r.stderr, "a trap where the stick is written") {
			t.Errorf("write %v does not show the write step's trap: %+v", args, r)
		}
	}
	r = fb.run("--offline", "--profile", fieldProfile, "flash")
	if r.code != 2 || !strings.Contains(r.stderr, "jetup: the flash script for field-nano is not in a kit") {
		t.Errorf("flash: %+v", r)
	}
	r = fb.run("--offline", "push", "--host", "192.0.2.1", "--flake", fb.ref+"#lab")
	if r.code != 2 || !strings.Contains(r.stderr, "jetup: the system "+fb.ref+"#nixosConfigurations.lab.config.system.build.toplevel is not in a kit") {
		t.Errorf("push: %+v", r)
	}

	// A profile with no step that builds anything.
	fb.writeProfile("console-only", "flash-field", "steps: [console]\n")
	r = fb.run("--profile", "console-only", "prepare")
	if r.code != 2 || !strings.Contains(r.stderr, "console-only has no step that builds anything (steps: console)") {
		t.Errorf("nothing to prepare: %+v", r)
	}
	// A kit, then a profile whose flash attribute does not evaluate.
	if r = fb.run("--profile", fieldProfile, "prepare"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	manifest := filepath.Join(kit.Path(fb.state, fieldProfile), "kit.json")
	before, _ := os.ReadFile(manifest)
	fb.writeProfile(fieldProfile, "no-such-script", "steps: [flash, write]\n")
	r = fb.run("--profile", fieldProfile, "prepare")
	if r.code != 2 || !strings.Contains(r.stderr, "the flash script ("+fb.ref+"#no-such-script) does not evaluate") {
		t.Errorf("does not evaluate: %+v", r)
	}
	if after, _ := os.ReadFile(manifest); !bytes.Equal(before, after) {
		t.Error("the kit prepared before changed")
	}
	// The kit directory edited by hand: a clear message, nothing lost.
	must(t, os.WriteFile(manifest, []byte("{ edited by hand"), 0o600))
	r = fb.run("--profile", fieldProfile, "prepare", "--name", fieldProfile)
	if r.code != 2 || !strings.Contains(r.stderr, "kit field-nano cannot be read, so it is not replaced") || !strings.Contains(r.stderr, "pick another --name") {
		t.Errorf("edited: %+v", r)
	}
	if b, _ := os.ReadFile(manifest); string(b) != "{ edited by hand" {
		t.Errorf("the edited manifest was replaced: %q", b)
	}
	r = fb.run("kits")
	if !strings.Contains(r.stdout, "field-nano: unreadable: ") || !strings.Contains(r.stdout, "is not a kit manifest") {
		t.Errorf("kits lists the edited kit:\n%s", r.stdout)
	}
	if r = fb.run("kits", "show", "no-such-kit"); r.code != 2 || !strings.Contains(r.stderr, "there is no kit no-such-kit") {
		t.Errorf("show unknown: %+v", r)
	}
	if r = fb.run("kits", "show", "../../etc"); r.code != 2 || !strings.Contains(r.stderr, "bad kit name") {
		t.Errorf("show a path: %+v", r)
	}
}

// Offline, a kit of local flakes can still be prepared: the prepare builds
// what it pins (the offline runs' kit look-up is not asked), with every
// nix call offline.
func TestOfflinePrepareOfALocalFlake(t *testing.T) {
	fb := newFieldBench(t, "")
	r := fb.run("--offline", "--profile", fieldProfile, "prepare")
	if r.code != 0 || !strings.Contains(r.stdout, "kit field-nano for field-nano: flash, installer") {
		t.Fatalf("offline prepare: %+v", r)
	}
	calls := strings.TrimSpace(lastRunNixCalls(t, fb.state))
	if !strings.Contains(calls, " build ") {
		t.Errorf("no build among the nix calls:\n%s", calls)
	}
	for _, l := range strings.Split(calls, "\n") {
		if !strings.Contains(l, "--offline --option substituters  ") {
			t.Errorf("a nix call without the offline flags: %s", l)
		}
	}
	if s := fb.kits(); len(s) != 1 || s[0].State != "whole" {
		t.Errorf("kits %+v", s)
	}
}
