// Package archtest checks the direction of imports that docs/ARCHITECTURE.md
// describes, so a change that breaks the layering fails here instead of
// eroding it quietly.
package archtest

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const mod = "github.com/jetup/jetup/"

// readSources opens every Go file of the module: go test's cache tracks the
// files a test opens, and the import graph comes from `go list`, which it
// cannot see; without this a changed import would be served a stale pass.
func readSources(t *testing.T) {
	t.Helper()
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") {
			_, err = os.ReadFile(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// imports maps each package of the module to the module packages it
// imports directly.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	readSources(t)
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Imports " "}}`, "github.com/jetup/jetup/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, ":")
		pkg = strings.TrimPrefix(pkg, mod)
		m[pkg] = nil
		for _, d := range strings.Fields(deps) {
			if strings.HasPrefix(d, mod) {
				m[pkg] = append(m[pkg], strings.TrimPrefix(d, mod))
			}
		}
	}
	return m
}

// The step packages and what they build on: none of them may reach the
// faces (tui, cmd), the hardware choice (hardware, sim), or another step's
// package (flash's own detect sub-package aside).
var (
	steps = []string{"doctor", "flash", "flash/detect", "serialcon", "media", "deploy", "verify", "image", "bundle", "kit"}
	base  = []string{"step", "runrec", "proc", "nixrun", "profiles", "assets", "remote", "disklabel", "safe"}
	faces = []string{"tui", "cmd/jetup", "hardware", "sim"}
	// orchestrators run step packages in order (fleet: push, then verify,
	// on many boards): the only domain packages that may import them.
	// They never reach the faces, and no step or base package imports
	// them.
	orchestrators = []string{"fleet"}
	// image reads images through media's own decompressors (the same
	// bytes write would write) and checks a write's plan for the board.
	allowed = map[string][]string{"flash": {"flash/detect"}, "image": {"media"}}
	// leaves read hostile bytes (disks, images) and stay small enough to
	// fuzz whole: they import nothing of ours.
	leaves = []string{"disklabel", "safe"}
)

func TestLeafPackagesImportNothingOfOurs(t *testing.T) {
	m := imports(t)
	for _, p := range leaves {
		if _, ok := m[p]; !ok {
			t.Errorf("package %s not found: update this test with the layout", p)
		}
		for _, d := range m[p] {
			t.Errorf("%s imports %s: it is a leaf that imports nothing of jetup's", p, d)
		}
	}
}

func TestDomainPackagesNeverImportTheFaces(t *testing.T) {
	m := imports(t)
	for _, p := range append(append(append([]string{}, steps...), base...), orchestrators...) {
		if _, ok := m[p]; !ok {
			t.Errorf("package %s not found: update this test with the layout", p)
		}
		for _, d := range m[p] {
			for _, f := range faces {
				if d == f || strings.HasPrefix(d, f+"/") {
					t.Errorf("%s imports %s: domain packages never import the TUI, the CLI, hardware or sim", p, d)
				}
			}
		}
	}
}

func TestStepPackagesAreIndependent(t *testing.T) {
	m := imports(t)
	for _, p := range steps {
		for _, d := range m[p] {
			for _, other := range steps {
				if d != other || other == p {
					continue
				}
				ok := false
				for _, a := range allowed[p] {
					ok = ok || a == d
				}
				if !ok {
					t.Errorf("%s imports %s: step packages share through step, runrec and profiles, not each other", p, d)
				}
			}
		}
	}
}

func TestBasePackagesStayAtTheBottom(t *testing.T) {
	m := imports(t)
	for _, p := range base {
		for _, d := range m[p] {
			for _, s := range steps {
				if d == s {
					t.Errorf("%s imports step package %s", p, d)
				}
			}
		}
	}
}

func TestTUINeverPicksHardware(t *testing.T) {
	for _, d := range imports(t)["tui"] {
		if d == "sim" || d == "cmd/jetup" {
			t.Errorf("tui imports %s: only cmd/jetup picks real or simulated hardware", d)
		}
	}
}

// nixrun is the one place nix runs: it builds on proc (and may use step)
// only, so every step package can use it and it never learns about them.
func TestNixRunnerBuildsOnProcOnly(t *testing.T) {
	for _, d := range imports(t)["nixrun"] {
		if d != "proc" && d != "step" {
			t.Errorf("nixrun imports %s: it may import only proc and step", d)
		}
	}
}

// The orchestrators are above the steps: no step or base package imports
// them, and they import no other orchestrator (each runs steps, not
// another's plan).
func TestOrchestratorsAreImportedOnlyByTheFaces(t *testing.T) {
	m := imports(t)
	for _, o := range orchestrators {
		if _, ok := m[o]; !ok {
			t.Errorf("package %s not found: update this test with the layout", o)
		}
	}
	for _, p := range append(append(append([]string{}, steps...), base...), orchestrators...) {
		for _, d := range m[p] {
			for _, o := range orchestrators {
				if d == o && p != o {
					t.Errorf("%s imports orchestrator %s: only the faces (tui, cmd/jetup) run an orchestrator", p, d)
				}
			}
		}
	}
}
