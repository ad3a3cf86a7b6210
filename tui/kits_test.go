package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/doctor"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/kit"
	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/sim"
	"github.com/jetup/jetup/step"
)

// The field kits in the wizard (issue 20), with the real nix: a user
// profile (through the profile override mechanism, base:) whose flash
// script and installer come from a small local flake with no network
// input (builder = "/bin/sh", tools by full path), prepared from the
// picker, then the wizard offline taking it.

// kitNix is the build machines' single-user root store (testkit.NixConfig).
var kitNix = testkit.NixEnv

func kitProfiles(t *testing.T) *profiles.Set {
	t.Helper()
	testkit.NeedCommands(t, "nix", "nix-store")
	root := t.TempDir()
	flake, users := filepath.Join(root, "flake"), filepath.Join(root, "profiles")
	for _, d := range []string{flake, users} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	nonce := fmt.Sprint(time.Now().UnixNano())
	nix := fmt.Sprintf(`{
  outputs = { self }: let
    mk = name: script: derivation { inherit name; system = "x86_64-linux"; builder = "/bin/sh"; nonce = "%s"; args = [ "-c" script ]; };
  in {
    packages.x86_64-linux = {
      flash-tui = mk "flash-tui" "/bin/mkdir -p $out/bin; printf '#!/bin/sh\\n' > $out/bin/initrd-flash-tui; /bin/chmod +x $out/bin/initrd-flash-tui";
      installer = mk "installer-tui" "/bin/mkdir -p $out/iso; /usr/bin/head -c 65536 /dev/zero > $out/iso/tui.iso";
    };
  };
}
`, nonce)
	yaml := fmt.Sprintf(`name: kit-tui
base: orin-nano-devkit
title: Kit test Orin Nano
flash:
  flake: path:%[1]s
  attribute: flash-tui
  script: initrd-flash-tui
installer:
  kind: iso
  flake: path:%[1]s
  attribute: installer
  output: iso/*.iso
`, flake)
	if err := os.WriteFile(filepath.Join(flake, "flake.nix"), []byte(nix), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(users, "kit-tui.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	// The same board with a flash attribute the flake does not have.
	bad := strings.NewReplacer("name: kit-tui", "name: kit-tui-bad", "attribute: flash-tui", "attribute: no-such-script").Replace(yaml)
	if err := os.WriteFile(filepath.Join(users, "kit-tui-bad.yaml"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	set, errs := profiles.Load(assets.Profiles(), users)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return set
}

func TestPickerPreparesAKitAndOfflineTheWizardTakesIt(t *testing.T) {
	t.Parallel()
	set := kitProfiles(t)
	state := t.TempDir()
	if err := saveRemembered(state, remembered{LastProfile: "kit-tui"}); err != nil {
		t.Fatal(err)
	}
	hw := sim.Hardware()
	hw.Nix = &nixrun.Nix{Env: kitNix}

	// At the desk: p on the highlighted board prepares it, one line per
	// artifact, and the list comes back.
	d := drive(t, 120, 30, Options{Profiles: set, StateDir: state, Hardware: hw, Kits: &FieldKits{}})
	d.waitView("Which board is on the bench?", "p prepare for offline use")
	d.key('p')
	d.waitView("Prepare kit-tui for offline use", "preparing kit kit-tui for kit-tui: flash script", "installer")
	v := d.waitView("kit kit-tui for kit-tui: flash, installer", "✓ flash script", "✓ installer", "enter back to the boards")
	if !strings.Contains(v, "pinned, ") {
		t.Errorf("no artifact's size:\n%s", v)
	}
	h, err := kit.Inspect(d.m.sess.ctx, hw.Nix, state, "kit-tui")
	if err != nil || !h.Whole() || h.Manifest.Profile != "kit-tui" {
		t.Fatalf("the kit after the picker's prepare: %v %+v", err, h)
	}
	runs, _, err := runrec.List(state)
	if err != nil || len(runs) != 1 || runs[0].Kind != string(step.Prepare) || runs[0].Outcome != runrec.Success {
		t.Errorf("the prepare's run record: %v %+v", err, runs)
	}
	d.key(tea.KeyEscape)
	d.waitView("Which board is on the bench?")

	// In the field: the header names the kit, the builds are taken from
	// the picked board's kits, and the host check judges the kit.
	offNix := &nixrun.Nix{Env: kitNix, Offline: true}
	hw.Nix = offNix
	var mu sync.Mutex
	var used []string
	kits := &FieldKits{Offline: true, UseProfile: func(p *profiles.Profile) { mu.Lock(); used = append(used, p.Name); mu.Unlock() }}
	off := drive(t, 140, 30, Options{Profiles: set, StateDir: state, Hardware: hw, Kits: kits, Profile: "kit-tui"})
	off.waitView("offline · kit kit-tui · run ")
	fk := fieldKitFinding(t, off)
	if fk.Status != doctor.OK || !strings.Contains(fk.Detail, "kit kit-tui: flash, installer") {
		t.Errorf("field-kit offline with the kit: %+v", fk)
	}
	// A bench session: the next board takes the same kit, and each
	// board's run record names it.
	off.until("the kit in the first board's run record", func() bool { return off.m.sess.Facts["kit"] == "kit-tui" })
	first := off.m.sess.Run.ID()
	off.send(nextBoardMsg{})
	off.waitView("▸ Label")
	off.key(tea.KeyEnter) // its label: left to the board
	off.waitView("offline · kit kit-tui · board 2 · run ")
	if off.m.sess.Run.ID() == first || off.m.sess.Facts["kit"] != "kit-tui" {
		t.Errorf("the second board's run %s facts %v", off.m.sess.Run.ID(), off.m.sess.Facts)
	}
	mu.Lock()
	if strings.Join(used, ",") != "kit-tui" {
		t.Errorf("the builds were told the profiles %v", used)
	}
	mu.Unlock()

	// A board with no kit: said in the header, and the check fails.
	none := drive(t, 140, 30, Options{Profiles: set, StateDir: state, Hardware: hw, Kits: kits, Profile: "orin-nano-devkit"})
	none.waitView("offline · no kit · run ")
	fk = fieldKitFinding(t, none)
	if fk.Status != doctor.Fail || !fk.BlocksFlashing || !strings.Contains(fk.Detail, "no kit for orin-nano-devkit") ||
		!strings.Contains(fk.Next, "jetup prepare --profile orin-nano-devkit") {
		t.Errorf("field-kit offline with no kit: %+v", fk)
	}
}

// fieldKitFinding waits for the host check's report and returns its
// field-kit finding.
func fieldKitFinding(t *testing.T, d *driver) doctor.Finding {
	t.Helper()
	var rep *doctor.Report
	d.until("the host check's report", func() bool {
		if ds, ok := d.m.entries[d.m.index(step.Doctor)].screen.(*doctorScreen); ok {
			rep = ds.report
		}
		return rep != nil
	})
	for _, f := range rep.Findings {
		if f.ID == "field-kit" {
			return f
		}
	}
	t.Fatalf("no field-kit finding in %+v", rep.Findings)
	return doctor.Finding{}
}

// A prepare that cannot be made says why and what to do, in the picker,
// and leaves no kit.
func TestPickerPrepareOfAFlakeThatDoesNotEvaluate(t *testing.T) {
	set := kitProfiles(t)
	state := t.TempDir()
	if err := saveRemembered(state, remembered{LastProfile: "kit-tui-bad"}); err != nil {
		t.Fatal(err)
	}
	hw := sim.Hardware()
	hw.Nix = &nixrun.Nix{Env: kitNix}
	d := drive(t, 120, 30, Options{Profiles: set, StateDir: state, Hardware: hw, Kits: &FieldKits{}})
	d.waitView("Which board is on the bench?", "p prepare for offline use")
	d.key('p')
	d.waitView("Prepare kit-tui-bad for offline use", "Next: fix the flake", "Nothing prepared before is lost")
	v := ansi.Strip(d.m.active().screen.View()) // the screen alone, without the frame's columns
	if flat := strings.Join(strings.Fields(v), " "); !strings.Contains(flat, "flake#no-such-script) does not evaluate: ") {
		t.Errorf("the refusal does not say what does not evaluate:\n%s", v)
	}
	if _, err := os.Stat(kit.Path(state, "kit-tui-bad")); !os.IsNotExist(err) {
		t.Errorf("a kit directory after the refusal: %v", err)
	}
	runs, _, _ := runrec.List(state)
	if len(runs) != 1 || runs[0].Outcome != runrec.Refused {
		t.Errorf("the prepare's run record: %+v", runs)
	}
	d.key(tea.KeyEnter)
	d.waitView("Which board is on the bench?")
}
