package testboard

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
)

// NixEnv is the environment for running Nix on these build machines
// (testkit.NixConfig: builders are /bin/sh scripts; no network, so a
// substituter lookup would only retry).
var NixEnv = testkit.NixEnv

// System describes a toplevel-like derivation: what a NixOS system looks
// like to jetup (a `system` file, `nixos-version`, and a
// bin/switch-to-configuration that records its arguments in the board's
// /nix/var/jetup-activations.log and fails when
// /nix/var/jetup-fail-activation exists).
type System struct {
	// Name makes the toplevel unique ("nixos-system-<Name>").
	Name string
	// System is the `system` file ("" for this machine's).
	System string
	// Small is the number of small dependencies (builtins.toFile).
	Small int
	// BigMiB lists dependencies of random bytes, sizes in MiB.
	BigMiB []int
	// Activate is shell its switch-to-configuration runs after recording
	// its call (and not failing): what a test needs of a real
	// activation, such as CurrentSystem's link or starting a service.
	Activate string
	// Tools are commands (name: script) in the system's sw/bin: the
	// board's tools once the system runs (a k3s stand-in).
	Tools map[string]string
	// Kernel, when set, gives the toplevel a `kernel` link to a file of
	// that version, as a NixOS toplevel links its kernel image (what
	// "a reboot is needed" compares with /run/booted-system's).
	Kernel string
}

// CurrentSystem is an Activate that points /run/current-system at the
// system, as NixOS's activation does (the board's /run is its own).
const CurrentSystem = `top=$(readlink -f "$(dirname "$0")/..")
rm -rf /run/current-system && ln -s "$top" /run/current-system
`

// nixStr is s as a Nix string literal.
func nixStr(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// Expr is the Nix expression for s.
func (s System) Expr() string {
	sys := `builtins.currentSystem`
	if s.System != "" {
		sys = fmt.Sprintf("%q", s.System)
	}
	var big []string
	for i, n := range s.BigMiB {
		big = append(big, fmt.Sprintf(`(derivation { name = "jetup-big-%d-%dm"; system = builtins.currentSystem; builder = "/bin/sh";
      args = ["-c" "/usr/bin/head -c %d /dev/urandom > $out"]; })`, i, n, n<<20))
	}
	// What Activate and Tools add is only written when asked for: the
	// other tests' systems stay as they were.
	activate, letActivate, toolAttrs, toolCopy, passAsFile := "", "", "", "", `"deps"`
	if s.Activate != "" {
		activate = "\n    ${activate}"
		letActivate = "\n  activate = " + nixStr(s.Activate) + ";"
	}
	names := make([]string, 0, len(s.Tools))
	for name := range s.Tools {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) > 0 {
		toolCopy = "\n    /bin/mkdir -p $out/sw/bin"
	}
	for i, name := range names {
		attr := fmt.Sprintf("tool%d", i)
		passAsFile += fmt.Sprintf(" %q", attr)
		toolAttrs += fmt.Sprintf("\n  %s = %s;", attr, nixStr(s.Tools[name]))
		toolCopy += fmt.Sprintf("\n    /bin/cp \"$%sPath\" $out/sw/bin/%s && /bin/chmod +x $out/sw/bin/%s", attr, name, name)
	}
	if s.Kernel != "" {
		toolAttrs += fmt.Sprintf("\n  kernel = builtins.toFile \"jetup-kernel-%[1]s\" \"kernel %[1]s\\n\";", s.Kernel)
		toolCopy += "\n    /bin/ln -s \"$kernel\" $out/kernel"
	}
	return fmt.Sprintf(`let
  small = builtins.genList (i: builtins.toFile "jetup-small-%[1]s-${toString i}" "small path ${toString i} of %[1]s\n") %[2]d;
  big = [ %[3]s ];%[5]s
in derivation {%[9]s
  name = "nixos-system-%[1]s";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  deps = small ++ big;
  passAsFile = [ %[6]s ];
  sys = %[4]s;
  stc = ''
    #!/bin/sh
    echo "$@" >> /nix/var/jetup-activations.log
    if [ -e /nix/var/jetup-fail-activation ]; then
      echo "error: unit jetup-test.service failed to start" >&2
      exit 4
    fi%[7]s
    echo "activating the test system: $1"
  '';
  args = ["-c" ''
    /bin/mkdir -p $out/bin
    printf '%%s' "$sys" > $out/system
    printf '24.05.test' > $out/nixos-version
    /bin/cp "$depsPath" $out/deps
    printf '%%s' "$stc" > $out/bin/switch-to-configuration
    /bin/chmod +x $out/bin/switch-to-configuration%[8]s
  ''];
}
`, s.Name, s.Small, strings.Join(big, "\n    "), sys, letActivate, passAsFile, activate, toolCopy, toolAttrs)
}

// Build builds s with nix-build and returns the toplevel's store path.
func Build(t testing.TB, s System) string {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "system.nix")
	must(t, os.WriteFile(file, []byte(s.Expr()), 0o644))
	cmd := exec.Command("nix-build", "--no-out-link", file)
	cmd.Env = append(os.Environ(), NixEnv...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("nix-build: %v: %s", err, stderr)
	}
	return strings.TrimSpace(string(out))
}
