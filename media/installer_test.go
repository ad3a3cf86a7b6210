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
	t.Setenv("NIX_CONFIG", "build-users-group =\nsandbox = false\nsubstituters =")
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
	if !strings.Contains(ev.json(), `"line":"building `) {
		t.Errorf("no build log passed on:\n%s", ev.json())
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
