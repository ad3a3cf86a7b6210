package media

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
)

// A tiny local flake whose derivation makes an "sd image" with /bin tools
// (builder /bin/sh runs unsandboxed and without PATH): nix build through
// the real nix, the output found by the profile's glob, then written.
func TestNixBuildsTheInstaller(t *testing.T) {
	testkit.NeedCommands(t, "nix")
	flake := t.TempDir()
	if err := os.WriteFile(filepath.Join(flake, "flake.nix"), []byte(`{
  outputs = { self }: {
    packages.x86_64-linux.installer = derivation {
      name = "jetup-test-installer"; system = "x86_64-linux"; builder = "/bin/sh";
      args = [ "-c" "/bin/mkdir -p $out/sd-image && /bin/dd if=/dev/urandom of=$out/sd-image/nixos.img bs=64k count=16 2>/dev/null && /bin/echo built" ];
      nonce = "`+strconv.FormatInt(time.Now().UnixNano(), 10)+`"; # a fresh build every run
    };
  };
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// No build users, sandbox or substituters on the build machines.
	t.Setenv("NIX_CONFIG", testkit.NixConfig)
	var ev events
	inst := profiles.Installer{Kind: "sd-image", Flake: "path:" + flake, Attribute: "installer", Output: "sd-image/*.img"}
	path, err := NixBuilder{Runner: proc.Host{}}.Build(context.Background(), inst, &ev)
	if err != nil {
		t.Fatalf("%v\n%s", err, ev.json())
	}
	if !strings.HasPrefix(path, "/nix/store/") || !strings.HasSuffix(path, "/sd-image/nixos.img") {
		t.Errorf("path %q", path)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != 1<<20 {
		t.Errorf("image %v %v", st, err)
	}
	if !strings.Contains(ev.json(), `"line":"building '/nix/store/`) || !strings.Contains(ev.json(), `"line":"built"`) {
		t.Errorf("the build log (nix's activity, the builder's output) was not passed on:\n%s", ev.json())
	}
	// The build's progress, as flash shows it: one derivation, built.
	var last *BuildProgress
	for _, e := range ev.ev {
		if p, ok := e.(BuildProgress); ok {
			last = &p
		}
	}
	if last == nil || !last.Done || last.Built != 1 || last.Total != 1 || last.Phase != PhaseBuild || last.Ref != inst.Flake+"#installer" {
		t.Errorf("last build progress %+v", last)
	}
	inst.Output = "iso/*.iso"
	if _, err := (NixBuilder{Runner: proc.Host{}}).Build(context.Background(), inst, step.Discard); causeOf(err) != "installer-output" {
		t.Errorf("wrong glob: %v", err)
	}
	inst.Attribute = "nope"
	if _, err := (NixBuilder{Runner: proc.Host{}}).Build(context.Background(), inst, step.Discard); causeOf(err) != "build-failed" {
		t.Errorf("missing attribute: %v", err)
	}
}

// Issue 21 finding 3: a fake nix prints a 2 MiB stderr line, then builds
// (or fails); the build must end with the image (or nix's error). With a
// 1 MiB bufio.Scanner it hung: nix blocked on the undrained pipe.
func TestInstallerBuildSurvivesAHugeLogLine(t *testing.T) {
	out := t.TempDir()
	if err := os.MkdirAll(filepath.Join(out, "sd-image"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "sd-image", "nixos.img"), []byte("img"), 0o644); err != nil {
		t.Fatal(err)
	}
	inst := profiles.Installer{Kind: "sd-image", Flake: "path:/x", Attribute: "installer", Output: "sd-image/*.img"}
	for _, fail := range []bool{false, true} {
		testkit.FakeNix{Out: out, LongLine: 2 << 20, Fail: fail}.Install(t)
		done := make(chan error, 1)
		var path string
		go func() {
			var err error
			path, err = NixBuilder{Runner: proc.Host{}}.Build(context.Background(), inst, step.Discard)
			done <- err
		}()
		var err error
		select {
		case err = <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("fail=%v: the installer build did not return within 60 s after nix printed a 2 MiB line", fail)
		}
		if !fail && (err != nil || path != filepath.Join(out, "sd-image", "nixos.img")) {
			t.Errorf("%q %v", path, err)
		}
		if fail && (causeOf(err) != "build-failed" || !strings.HasSuffix(err.Error(),
			"nix build path:/x#installer failed: builder for '/nix/store/7jinq9hix3b7170bpv46qgdhp2v853gr-fake.drv' failed with exit code 3")) {
			t.Errorf("failed build: %v", err)
		}
	}
}
