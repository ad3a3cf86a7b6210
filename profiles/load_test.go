package profiles_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
)

var required = []string{
	"orin-nano-devkit", "orin-nano-super-devkit", "orin-nx-devkit", "orin-nx-super-devkit",
	"orin-agx-devkit", "orin-agx-industrial-devkit", "xavier-agx-devkit", "xavier-nx-devkit",
	"xavier-nx-emmc-devkit", "thor-agx-devkit", "rpi4", "rpi3b",
}

func TestEmbeddedProfilesValidate(t *testing.T) {
	set, errs := profiles.Load(assets.Profiles(), "")
	for _, err := range errs {
		t.Errorf("embedded profile error: %v", err)
	}
	for _, name := range required {
		p, ok := set.Get(name)
		if !ok {
			t.Errorf("profile %s missing", name)
			continue
		}
		if p.Family == profiles.Jetson {
			if len(p.Recovery.USBIDs) == 0 || !p.HasStep(step.Flash) {
				t.Errorf("%s: a Jetson needs recovery ids and a flash step", name)
			}
			if !strings.HasPrefix(p.Flash.Script, "initrd-flash-") {
				t.Errorf("%s: script %q is not an initrd-flash-* name", name, p.Flash.Script)
			}
		} else if p.HasStep(step.Flash) || p.HasStep(step.Detect) || p.Recovery != nil {
			t.Errorf("%s: a Pi has no recovery or flash", name)
		}
	}
}

// The recovery ids are the research table (jetpack.md 2.1): a typo here sends
// technicians looking for a board that never appears.
func TestRecoveryIDsMatchResearch(t *testing.T) {
	set, _ := profiles.Load(assets.Profiles(), "")
	want := map[string][]string{
		"orin-nano-devkit":      {"7523", "7623"},
		"orin-nx-devkit":        {"7323", "7423"},
		"orin-agx-devkit":       {"7023", "7223"},
		"xavier-agx-devkit":     {"7019"},
		"xavier-nx-devkit":      {"7e19"},
		"thor-agx-devkit":       {"7026", "7326", "7226"},
		"xavier-nx-emmc-devkit": {"7e19"},
	}
	for name, pids := range want {
		p, _ := set.Get(name)
		for _, pid := range pids {
			if _, ok := p.RecoveryModule(pid); !ok {
				t.Errorf("%s: recovery id 0955:%s missing", name, pid)
			}
		}
	}
	if p, _ := set.Get("orin-nano-super-devkit"); p.Flash.Script != "initrd-flash-orin-nano-devkit" || !p.Super {
		t.Errorf("super devkit: script %q super %v; the binary drops -super", p.Flash.Script, p.Super)
	}
}

func writeUser(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func errText(errs []error) string {
	var s []string
	for _, e := range errs {
		s = append(s, e.Error())
	}
	return strings.Join(s, "\n")
}

const minimalPi = `name: lab-pi
title: Lab Pi
family: raspberry-pi
steps: [write, console, push]
console:
  connection: header
  baud: 115200
installer:
  kind: sd-image
  flake: "."
  attribute: x
  output: sd-image/*.img.zst
`

func TestUserProfileAddsAndOverrides(t *testing.T) {
	override := strings.Replace(minimalPi, "name: lab-pi", "name: rpi4", 1)
	override = strings.Replace(override, "title: Lab Pi", "title: Our rpi4", 1)
	dir := writeUser(t, map[string]string{"a.yaml": minimalPi, "b.yaml": override})
	set, errs := profiles.Load(assets.Profiles(), dir)
	if len(errs) > 0 {
		t.Fatal(errText(errs))
	}
	if p, ok := set.Get("lab-pi"); !ok || p.Source != filepath.Join(dir, "a.yaml") {
		t.Errorf("user profile not added: %+v", p)
	}
	if p, _ := set.Get("rpi4"); p.Title != "Our rpi4" {
		t.Errorf("override not applied: title %q", p.Title)
	}
}

func TestBaseInheritsAndOverrides(t *testing.T) {
	dir := writeUser(t, map[string]string{"carrier.yaml": `name: acme-carrier
base: orin-nx-devkit
title: Orin NX on the ACME carrier
flash:
  flake: github:acme/bsp
  attribute: flash-acme
  script: initrd-flash-acme
`})
	set, errs := profiles.Load(assets.Profiles(), dir)
	if len(errs) > 0 {
		t.Fatal(errText(errs))
	}
	p, _ := set.Get("acme-carrier")
	if p.FlashRef() != "github:acme/bsp#flash-acme" {
		t.Errorf("flash not overridden: %s", p.FlashRef())
	}
	if _, ok := p.RecoveryModule("7323"); !ok || p.SoM != "orin-nx" {
		t.Errorf("recovery/som not inherited: %+v", p.Recovery)
	}
	base, _ := set.Get("orin-nx-devkit")
	if base.FlashRef() != "github:anduril/jetpack-nixos#flash-orin-nx-devkit" {
		t.Errorf("base profile was changed by its child: %s", base.FlashRef())
	}
}

func TestBrokenUserProfilesNameFileAndLine(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"unknown key", minimalPi + "colour: blue\n", `:13: unknown key "colour"`},
		{"nested unknown key", strings.Replace(minimalPi, "  baud: 115200", "  baud: 115200\n  parity: none", 1), `:8: unknown key "parity" in console`},
		{"missing title", strings.Replace(minimalPi, "title: Lab Pi\n", "", 1), `:1: missing title`},
		{"bad step", strings.Replace(minimalPi, "[write, console, push]", "[write, consle]", 1), `:4: unknown step "consle"`},
		{"bad type", strings.Replace(minimalPi, "baud: 115200", "baud: fast", 1), `:7: cannot unmarshal`},
		{"syntax", "name: [unclosed\n", `bad.yaml:`},
		{"bad usb id", `name: x
title: X
family: jetson
som: orin-nano
carrier_board: devkit
jetpack: 6
steps: [detect]
recovery:
  usb_ids:
    - {id: "0955:75Z3", name: N}
  controls: none
  port: p
  procedure: [a]
console: {connection: c, baud: 115200}
installer: {kind: iso, flake: f, attribute: a, output: o}
`, `:10: bad USB id "0955:75Z3"`},
		{"not nvidia", `name: x
title: X
family: jetson
som: orin-nano
carrier_board: devkit
jetpack: 6
steps: [detect]
recovery:
  usb_ids:
    - {id: "1234:7523", name: N}
  controls: none
  port: p
  procedure: [a]
console: {connection: c, baud: 115200}
installer: {kind: iso, flake: f, attribute: a, output: o}
`, `:10: USB id "1234:7523" in recovery.usb_ids is not an NVIDIA id`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeUser(t, map[string]string{"bad.yaml": c.body})
			set, errs := profiles.Load(assets.Profiles(), dir)
			got := errText(errs)
			if !strings.Contains(got, filepath.Join(dir, "bad.yaml")) || !strings.Contains(got, c.want) {
				t.Errorf("errors %q, want file name and %q", got, c.want)
			}
			if len(set.All()) < len(required) {
				t.Errorf("a broken user file must not hide the embedded profiles")
			}
			var fe *profiles.FileError
			if !errors.As(errs[0], &fe) {
				t.Errorf("error %T is not a FileError", errs[0])
			}
		})
	}
}

func TestDuplicateNames(t *testing.T) {
	dir := writeUser(t, map[string]string{"a.yaml": minimalPi, "b.yaml": minimalPi})
	_, errs := profiles.Load(assets.Profiles(), dir)
	if got := errText(errs); !strings.Contains(got, `duplicate profile name "lab-pi"`) || !strings.Contains(got, "a.yaml") {
		t.Errorf("errors %q, want a duplicate naming both files", got)
	}
	dup := fstest.MapFS{"one.yaml": {Data: []byte(minimalPi)}, "two.yaml": {Data: []byte(minimalPi)}}
	if _, errs := profiles.Load(dup, ""); !strings.Contains(errText(errs), "duplicate") {
		t.Errorf("duplicate embedded names not reported: %v", errs)
	}
}
