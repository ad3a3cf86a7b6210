package bundle_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/jetup/jetup/bundle"
	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/step"
)

// An aarch64 board's manifest, as a board prints it.
const aarch64Manifest = `{"format": "jetup-manifest/1", "fingerprint": "SHA256:sm7jhd934CJSOe3Gm19VAuGzK8xmAsnDcm81PUtpBu0",
 "arch": "aarch64", "profile": "/nix/var/nix/profiles/system", "current": "/nix/store/0c3qb5xrfkkhxnnzk9mqxbkzcyxj5hql-nixos-system-a",
 "generations": [{"number": 3, "path": "/nix/store/0c3qb5xrfkkhxnnzk9mqxbkzcyxj5hql-nixos-system-a", "current": true}],
 "sequence": 2, "time": "2026-01-01T00:00:00Z",
 "paths": [{"path": "/nix/store/0c3qb5xrfkkhxnnzk9mqxbkzcyxj5hql-nixos-system-a", "nar_hash": "sha256:1acbvfyvc3rnry7dvk3payy6g1hbzwnpn2facajjp4r0agwfand0", "nar_size": 10}]}`

// --flake builds for the board's platform: the build names it, so the Nix
// runner's preflight (issue 14: can this host build aarch64-linux?) stops
// it before nix evaluates anything, and its refusal comes out as it is.
func TestBundleFlakeBuildNamesTheBoardsSystemForThePreflight(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "manifest.json")
	if err := os.WriteFile(base, []byte(aarch64Manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	var asked []nixrun.Build
	nx := &nixrun.Nix{Runner: proc.Host{}, PreBuild: func(_ context.Context, b nixrun.Build) error {
		asked = append(asked, b)
		return step.Refuse("no-aarch64-builder", "enable binfmt emulation", "cannot build %s here", b.Installable)
	}}
	out := filepath.Join(dir, "bundle.sh")
	_, err := bundle.Write(context.Background(), bundle.Edge{Nix: nx, Runner: proc.Host{}}, bundle.MirrorIn(filepath.Join(dir, "state")),
		bundle.Options{Flake: "/no/such/flake#orin", Base: base, Output: out, KeyDir: filepath.Join(dir, "keys")}, &recorder{})
	var se *step.Error
	if !errors.As(err, &se) || se.Cause != "no-aarch64-builder" {
		t.Fatalf("err %v, want the preflight's refusal as it is", err)
	}
	if len(asked) != 1 || asked[0].System != "aarch64-linux" ||
		asked[0].Installable != "/no/such/flake#nixosConfigurations.orin.config.system.build.toplevel" {
		t.Errorf("builds asked %+v", asked)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused build wrote a bundle")
	}
}
