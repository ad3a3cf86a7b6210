package deploy

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/remote"
)

// jetson is an installer-booted Orin as the probe sees it.
func jetson() Facts {
	return Facts{Arch: "aarch64", UID: 0, User: "root", Priv: "root", NixVersion: "2.24.9", NixOS: true, NixOSInstall: true,
		MntMounted: true, Live: true, SystemdRun: true, Mode: Installer, StoreRoot: "/mnt", FreeBytes: 200 << 30, FreeOn: "/mnt/nix", DeltaRC: 0}
}

func TestPreflightVerdicts(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Facts)
		system string
		want   Mode
		cause  string // "" passes
	}{
		{"installer ok", func(*Facts) {}, "aarch64-linux", Auto, ""},
		{"x86 system for an arm board", func(*Facts) {}, "x86_64-linux", Auto, "wrong-arch"},
		{"no nix", func(f *Facts) { f.NixVersion = "" }, "aarch64-linux", Auto, "no-nix"},
		{"user without sudo", func(f *Facts) { f.Priv, f.User = "none", "jetson" }, "aarch64-linux", Auto, "wrong-user"},
		{"nixos user with sudo", func(f *Facts) { f.Priv, f.User = "sudo", "nixos" }, "aarch64-linux", Auto, ""},
		{"installer without /mnt", func(f *Facts) { f.MntMounted = false }, "aarch64-linux", Installer, "not-installer"},
		{"switch on the live installer", func(f *Facts) { f.Mode, f.StoreRoot = Switch, "" }, "aarch64-linux", Switch, "not-installer"},
		{"switch on Ubuntu with Nix", func(f *Facts) { f.Mode, f.NixOS, f.Live = Switch, false, false }, "aarch64-linux", Switch, "not-nixos"},
		{"switch on installed NixOS", func(f *Facts) { f.Mode, f.Live, f.MntMounted = Switch, false, false }, "aarch64-linux", Auto, ""},
	}
	for _, c := range cases {
		f := jetson()
		c.change(&f)
		v := preflight(f, c.system, c.want, remote.Target{Host: "b"})
		got := ""
		if v.refuse != nil {
			got = v.refuse.Cause
			if v.refuse.Next == "" || v.refuse.ExitCode() != 2 {
				t.Errorf("%s: refusal without next step or exit 2: %+v", c.name, v.refuse)
			}
		}
		if got != c.cause {
			t.Errorf("%s: cause %q, want %q (%+v)", c.name, got, c.cause, v.checks)
		}
		if len(v.checks) != 4 {
			t.Errorf("%s: %d checks; every check is reported even after a failure", c.name, len(v.checks))
		}
	}
}

func TestSpaceCheck(t *testing.T) {
	f := jetson()
	f.FreeBytes = 1 << 30
	if c, cause := spaceCheck(f, 900<<20); cause != "no-space" || c.Status != CheckFail || !strings.Contains(c.Detail, "/mnt/nix") {
		t.Errorf("900 MiB into 1 GiB with margins: %+v %s", c, cause)
	}
	if c, cause := spaceCheck(f, 500<<20); cause != "" || c.Status != CheckOK {
		t.Errorf("500 MiB into 1 GiB: %+v", c)
	}
	f.FreeBytes = 0
	if c, _ := spaceCheck(f, 1); c.Status != CheckWarn {
		t.Errorf("unknown free space: %+v", c)
	}
}

func TestNixSystemAndVersions(t *testing.T) {
	if nixSystem("aarch64") != "aarch64-linux" || nixSystem("x86_64") != "x86_64-linux" || nixSystem("armv7l") != "armv7l-linux" {
		t.Error("nixSystem")
	}
	if !versionAtLeast("2.8.0", "2.4") || versionAtLeast("2.3.16", "2.4") || !versionAtLeast("2.24.9pre", "2.24") {
		t.Error("versionAtLeast")
	}
	if generationOf("system-12-link") != 12 || generationOf("x") != 0 {
		t.Error("generationOf")
	}
}

// The probe is a real POSIX sh script: run it here against this machine's
// store and read it back.
func TestProbeScriptRunsUnderSh(t *testing.T) {
	testkit.NeedCommands(t, "sh", "nix-store", "awk", "df")
	out, err := exec.Command("nix-store", "-qR", "/nix/var/nix/profiles/default").Output()
	valid := ""
	if err == nil && len(out) > 0 {
		valid = strings.Fields(string(out))[0]
	}
	missing := "/nix/store/00000000000000000000000000000000-jetup-never-built"
	paths := []string{missing}
	if valid != "" {
		paths = append(paths, valid)
	}
	tok := fmt.Sprintf("probetest%d", time.Now().UnixNano())
	cmd := exec.Command("sh", "-c", BoardScript(Auto, "/nix/store/x-system", tok, Confirm{}))
	// The list, then a gate that is not "go": the shell must stop there.
	cmd.Stdin = strings.NewReader(BoardInput(paths) + "stop\n")
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, raw)
	}
	var other []string
	f, err := ParseProbe(bufio.NewScanner(strings.NewReader("motd noise\n"+string(raw))), func(l string) { other = append(other, l) })
	if err != nil {
		t.Fatal(err)
	}
	if len(other) != 1 || other[0] != "motd noise" {
		t.Errorf("other lines %q", other)
	}
	if strings.Contains(string(raw), "jetup:rc=") {
		t.Errorf("the shell went past the gate:\n%s", raw)
	}
	if _, err := os.Stat("/tmp/jetup-" + tok); err == nil {
		t.Error("the board shell left its directory behind")
	}
	if f.Arch == "" || f.NixVersion == "" || f.Mode == Auto || f.FreeBytes == 0 || f.DeltaRC != 0 {
		t.Errorf("facts %+v\n%s", f, raw)
	}
	if len(f.Invalid) != 1 || f.Invalid[0] != missing {
		t.Errorf("invalid %v, want only %s", f.Invalid, missing)
	}
}

func TestParseProbeNeedsTheProbe(t *testing.T) {
	if _, err := ParseProbe(bufio.NewScanner(strings.NewReader("This account is currently not available.\n")), nil); err == nil {
		t.Error("a shell that did not run the probe must be an error")
	}
}

func TestActivationOutput(t *testing.T) {
	var a activation
	for _, l := range []string{"setting up /etc...", "jetup:generation=system-7-link", "error: unit x failed", "jetup:rc=4"} {
		a.line(l)
	}
	if a.rc != "4" || a.generation != 7 || a.tail(1) != "error: unit x failed" || len(a.output) != 2 {
		t.Errorf("%+v", a)
	}
	if s := BoardScript(Switch, "/nix/store/x-it's", "t", Confirm{}); !strings.Contains(s, `sys='/nix/store/x-it'\''s'`) || !strings.Contains(s, "systemd-run") {
		t.Errorf("activate script quoting:\n%s", s)
	}
}
