package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
)

// A node with update: (a real .swu): fleet check shows it, fleet push
// refuses before anything is sent and names jetup update, --only the
// other node gets past that refusal.
func TestFleetUpdateNodeIsCheckedAndRefusedByPush(t *testing.T) {
	testkit.NeedCommands(t, "cpio")
	file := writeInventory(t, `nodes:
  ctrl-1: {host: 10.0.0.10, system: .#ctrl-1}
  isar-1: {host: 10.0.0.30, update: v2.swu}
phases: [[ctrl-1], [isar-1]]
`)
	dir := filepath.Dir(file)
	if err := os.WriteFile(filepath.Join(dir, "sw-description"), []byte("software = { version = \"2.0\"; };\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "echo sw-description | cpio -o -H crc > v2.swu")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio: %v: %s", err, out)
	}
	r := jetup(t, nil, "fleet", "check", file)
	if r.code != 0 || !strings.Contains(r.stdout, "isar-1") || !strings.Contains(r.stdout, "update (swu) "+filepath.Join(dir, "v2.swu")) {
		t.Fatalf("check: %+v", r)
	}
	r = jetup(t, nil, "fleet", "push", file)
	if r.code != 2 || !strings.Contains(r.stderr, "node isar-1 takes an update (update:), which fleet push does not apply yet") ||
		!strings.Contains(r.stderr, "jetup update --host 10.0.0.30 "+filepath.Join(dir, "v2.swu")) {
		t.Fatalf("push: %+v", r)
	}
	r = jetup(t, nil, "fleet", "push", "--only", "ctrl-1", "--json", file)
	if strings.Contains(r.stderr, "takes an update") || !strings.Contains(r.stdout, `"event":"plan"`) {
		t.Fatalf("--only ctrl-1 was refused for isar-1's update: %+v", r)
	}
}
