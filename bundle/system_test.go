package bundle_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testSystem is a system that looks like a NixOS toplevel to jetup and to
// the bundle's script (a `system` file, bin/switch-to-configuration that
// records its call in the board's /nix/var/jetup-activations.log and fails
// when /nix/var/jetup-fail-activation exists, a `health` file the tests'
// --health reads), built from real files of this machine so NARs compress
// as binaries do: Shared small paths, libfoo-<Version> (a copy of
// /usr/bin/ssh and its version) and app-1 that refers to libfoo, so a new
// libfoo rebuilds app and the toplevel: three new paths.
type testSystem struct {
	Name    string // the toplevel's name: nixos-system-<Name>
	Version string // libfoo's version
	Health  string // the health file's content ("good")
	Shared  int    // small paths shared by every system of this test binary
	Kernel  string // when set, the toplevel has a `kernel` link to a file of that version
}

func (s testSystem) expr() string {
	kernel := ""
	if s.Kernel != "" {
		kernel = fmt.Sprintf("kernel = builtins.toFile \"jetup-kernel-%[1]s\" \"kernel %[1]s\\n\";", s.Kernel)
	}
	return fmt.Sprintf(`let
  shared = builtins.genList (i: builtins.toFile "jetup-shared-${toString i}" "shared path ${toString i}\n") %[4]d;
  libfoo = derivation { name = "libfoo-%[2]s"; system = builtins.currentSystem; builder = "/bin/sh";
    args = ["-c" "/bin/mkdir -p $out/lib; /bin/cp /usr/bin/ssh $out/lib/libfoo.so; echo %[2]s > $out/lib/version"]; };
  app = derivation { name = "app-1"; system = builtins.currentSystem; builder = "/bin/sh"; inherit libfoo;
    args = ["-c" "/bin/mkdir -p $out/bin; /bin/cp /usr/bin/tar $out/bin/app; echo $libfoo > $out/bin/libfoo-path"]; };
in derivation {
  name = "nixos-system-%[1]s";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  deps = shared ++ [ app ];
  passAsFile = [ "deps" ];
  sys = builtins.currentSystem;
  health = "%[3]s";
  %[5]s
  stc = ''
    #!/bin/sh
    echo "$@" >> /nix/var/jetup-activations.log
    if [ -e /nix/var/jetup-fail-activation ]; then
      echo "error: unit jetup-test.service failed to start" >&2
      exit 4
    fi
    echo "activating %[1]s: $1"
  '';
  args = ["-c" ''
    /bin/mkdir -p $out/bin
    printf '%%s' "$sys" > $out/system
    printf '%%s\n' "$health" > $out/health
    /bin/cp "$depsPath" $out/deps
    printf '%%s' "$stc" > $out/bin/switch-to-configuration
    /bin/chmod +x $out/bin/switch-to-configuration
    if [ -n "$kernel" ]; then /bin/ln -s "$kernel" $out/kernel; fi
  ''];
}
`, s.Name, s.Version, s.Health, s.Shared, kernel)
}

// build builds s and returns the toplevel.
func (s testSystem) build(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "system.nix")
	if err := os.WriteFile(file, []byte(s.expr()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("nix-build", "--no-out-link", file).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("nix-build: %v: %s", err, stderr)
	}
	return strings.TrimSpace(string(out))
}
