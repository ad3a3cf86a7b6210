package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
)

// jetup update against the simulated board: first contact refused with
// the fingerprint, then the sysupdate directory sent and applied, the new
// version reported, no reboot (--no-reboot); a .swu the same way; a
// directory SHA256SUMS does not cover refused before connecting.
func TestUpdateSim(t *testing.T) {
	testkit.NeedCommands(t, "sha256sum", "cpio")
	dir := t.TempDir()
	sh(t, dir, `mkdir upd && cd upd && echo store > appliance_1.2.4.nix-store.raw && echo uki > appliance_1.2.4.efi && sha256sum appliance_* > SHA256SUMS`)
	state := t.TempDir()
	r := jetupIn(t, "", state, "--sim", "update", "--host", "192.168.55.1", filepath.Join(dir, "upd"))
	fp := regexp.MustCompile(`--accept-host-key (SHA256:\S+)`).FindStringSubmatch(r.stderr)
	if r.code != 2 || fp == nil {
		t.Fatalf("first contact: %+v", r)
	}
	r = jetupIn(t, "", state, "--sim", "update", "--host", "192.168.55.1", "--accept-host-key", fp[1], "--no-reboot", filepath.Join(dir, "upd"))
	if r.code != 0 || !strings.Contains(r.stdout, "Successfully installed update '1.2.4'") || !strings.Contains(r.stdout, "done: version 1.2.4 installed") ||
		!strings.Contains(r.stdout, "nothing was signature-checked") {
		t.Fatalf("%+v", r)
	}
	runs, err := os.ReadDir(filepath.Join(state, "runs"))
	if err != nil || len(runs) < 2 {
		t.Fatalf("run records: %v %v", runs, err)
	}
	_ = os.WriteFile(filepath.Join(dir, "upd", "extra.raw"), []byte("x"), 0o644)
	r = jetupIn(t, "", state, "--sim", "update", "--host", "192.168.55.1", "--no-reboot", filepath.Join(dir, "upd"))
	if r.code != 2 || !strings.Contains(r.stderr, "SHA256SUMS does not cover extra.raw") || strings.Contains(r.stdout, "connect:") {
		t.Fatalf("uncovered file: %+v", r)
	}
	_ = os.WriteFile(filepath.Join(dir, "sw-description"), []byte(`software = { version = "3.0"; hardware-compatibility: ["1.0"]; images: ( ); };`), 0o644)
	cmd := exec.Command("sh", "-c", "echo sw-description | cpio -o -H crc --quiet > b.swu")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	r = jetupIn(t, "", state, "--sim", "update", "--host", "192.168.55.1", "--no-reboot", filepath.Join(dir, "b.swu"))
	if r.code != 0 || !strings.Contains(r.stdout, "SWUpdate: successful") || !strings.Contains(r.stdout, "version 3.0 installed") {
		t.Fatalf("swu: %+v", r)
	}
}
