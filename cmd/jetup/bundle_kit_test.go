package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/kit"
)

// A bundle made from a field kit's system closure (issue 20's kits feed
// issue 18's bundles): the kit is checked whole, its system is the
// bundle's target, nothing is built. A kit without a system, and --kit
// with --closure, are refused (exit 2).
func TestBundleFromAFieldKitsSystem(t *testing.T) {
	fb := newFieldBench(t, "")
	if r := fb.run("--profile", fieldProfile, "prepare", "--system", fb.ref+"#lab"); r.code != 0 {
		t.Fatalf("prepare: %+v", r)
	}
	m, err := kit.ReadManifest(kit.Path(fb.state, fieldProfile))
	if err != nil {
		t.Fatal(err)
	}
	sys, ok := m.Get(kit.System)
	if !ok {
		t.Fatalf("the kit has no system: %+v", m)
	}
	// A board that has nothing yet, its manifest as it would print it.
	base := filepath.Join(t.TempDir(), "manifest.json")
	must(t, os.WriteFile(base, []byte(`{"format": "jetup-manifest/1", "fingerprint": "SHA256:sm7jhd934CJSOe3Gm19VAuGzK8xmAsnDcm81PUtpBu0",
 "arch": "x86_64", "profile": "/nix/var/nix/profiles/system", "generations": [], "sequence": 0, "time": "2026-01-01T00:00:00Z", "paths": []}`), 0o644))
	out := filepath.Join(t.TempDir(), "update.sh")
	r := fb.run("bundle", "--kit", fieldProfile, "--base", base, "-o", out, "--json")
	if r.code != 0 {
		t.Fatalf("bundle --kit: %+v", r)
	}
	lines := jsonObjects(t, r.stdout)
	res := lines[len(lines)-1]
	if res["event"] != "result" || res["target"] != sys.StorePath || res["paths"] != res["closure_paths"] {
		t.Errorf("result %v, want the kit's system %s, whole", res, sys.StorePath)
	}
	for _, l := range lines {
		if l["phase"] == "build" {
			t.Errorf("built something: %v", l)
		}
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}

	if r := fb.run("bundle", "--kit", fieldProfile, "--closure", sys.StorePath, "--base", base, "-o", out); r.code != 2 || !strings.Contains(r.stderr, "one of --closure, --flake and --kit") {
		t.Errorf("--kit with --closure: %+v", r)
	}
	if r := fb.run("--profile", fieldProfile, "prepare", "--name", "nosys"); r.code != 0 {
		t.Fatalf("prepare without a system: %+v", r)
	}
	r = fb.run("bundle", "--kit", "nosys", "--base", base, "-o", out, "--json")
	if r.code != 2 || !strings.Contains(r.stdout+r.stderr, "kit nosys holds no system closure") {
		t.Errorf("a kit without a system: %+v", r)
	}
}
