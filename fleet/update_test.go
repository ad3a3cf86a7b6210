package fleet

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/step"
)

// updates makes, beside file, a real .swu (cpio -o -H crc, as SWUpdate's
// bundles are made: sw-description first) and a sysupdate directory (its
// file and SHA256SUMS).
func updates(t *testing.T, file string) {
	t.Helper()
	testkit.NeedCommands(t, "cpio")
	dir := filepath.Dir(file)
	src := filepath.Join(dir, "swu-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "sw-description"), []byte("software = { version = \"2.0\"; };\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "echo sw-description | cpio -o -H crc > ../v2.swu")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio: %v: %s", err, out)
	}
	sys := filepath.Join(dir, "sysupdate")
	if err := os.MkdirAll(sys, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"isar_2.nix-store.raw": "x", "SHA256SUMS": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881  isar_2.nix-store.raw\n"} {
		if err := os.WriteFile(filepath.Join(sys, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "disk.img"), make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
}

// update: DIR|FILE instead of system: a sysupdate directory or a real
// .swu, relative to the inventory; every misuse at its line.
func TestAnUpdateNodeTakesASysupdateDirectoryOrASWU(t *testing.T) {
	t.Parallel()
	file := write(t, "fleet.yaml", `nodes:
  ctrl-1: {host: 10.0.0.10, system: `+ctrlSystem+`}
  isar-1: {host: 10.0.0.30, update: ./v2.swu, role: agent}
  isar-2: {host: 10.0.0.31, update: sysupdate}
phases: [[ctrl-1], [isar-1, isar-2]]
`)
	updates(t, file)
	dir := filepath.Dir(file)
	inv, err := load(t, file)
	if err != nil {
		t.Fatal(err)
	}
	if n := inv.Node("isar-1"); n.Update != filepath.Join(dir, "v2.swu") || n.UpdateKind != UpdateSWU || n.Closure != "" || n.Flake != "" {
		t.Errorf("isar-1 %+v", n)
	}
	if n := inv.Node("isar-2"); n.Update != filepath.Join(dir, "sysupdate") || n.UpdateKind != UpdateSysupdate {
		t.Errorf("isar-2 %+v", n)
	}
	if inv.Node("isar-1").SystemKey() == inv.Node("isar-2").SystemKey() {
		t.Error("two updates share a system key")
	}

	bad := write(t, "fleet.yaml", `nodes:
  a: {host: 10.0.0.1, system: `+ctrlSystem+`, update: v2.swu}
  b: {host: 10.0.0.2, update: v2.swu, mode: boot}
  c: {host: 10.0.0.3, update: v2.swu, role: agent, k3s_token_file: /t}
  d: {host: 10.0.0.4, update: swu-src}
  e: {host: 10.0.0.5, update: disk.img}
  f: {host: 10.0.0.6, update: gone.swu}
  g: {host: 10.0.0.7, role: server, system: `+ctrlSystem+`}
phases: [[g], [a, b, c, d, e, f]]
`)
	updates(t, bad)
	_, err = load(t, bad)
	got := fmt.Sprint(err)
	for _, want := range []string{
		`fleet.yaml:2: node "a" gives both system and update`,
		`fleet.yaml:3: mode is for a system push`,
		`fleet.yaml:4: k3s_token_file is written before a NixOS system is activated`,
		`fleet.yaml:5: update swu-src: a directory without SHA256SUMS`,
		`fleet.yaml:6: update disk.img: not a .swu (a cpio archive) nor a sysupdate directory`,
		`fleet.yaml:7: update gone.swu: no such file or directory`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

// The JSON and Nix forms read update: the same way.
func TestUpdateInJSONAndNixInventories(t *testing.T) {
	t.Parallel()
	file := write(t, "fleet.json", `{"nodes": {"isar-1": {"host": "10.0.0.30", "update": "v2.swu"}}, "phases": [["isar-1"]]}`)
	updates(t, file)
	inv, err := load(t, file)
	if err != nil || inv.Node("isar-1").UpdateKind != UpdateSWU {
		t.Fatalf("json: %v %+v", err, inv)
	}
	testkit.NeedCommands(t, "nix")
	nix := filepath.Join(filepath.Dir(file), "fleet.nix")
	if err := os.WriteFile(nix, []byte(`{
  nodes.isar-1 = { host = "10.0.0.30"; update = "sysupdate"; };
  nodes.isar-2 = { host = "10.0.0.31"; update = "nothing-here"; };
  phases = [ [ "isar-1" "isar-2" ] ];
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = load(t, nix)
	if err == nil || !strings.Contains(err.Error(), nix+":3: update nothing-here: no such file or directory") {
		t.Fatalf("nix: %v", err)
	}
}

// fleet push refuses a selection holding an update node before anything
// starts, naming the jetup update command for each; --only the others
// goes on. Export leaves update nodes out and names them.
func TestFleetPushRefusesUpdateNodesAndExportLeavesThemOut(t *testing.T) {
	t.Parallel()
	file := write(t, "fleet.yaml", `nodes:
  ctrl-1: {host: 10.0.0.10, system: `+ctrlSystem+`}
  isar-1: {host: 10.0.0.30, port: 2222, update: v2.swu, host_key: "SHA256:uOM8hmYFq5jXoTBWgZVlTg2L6BiV3QlRr5W2uT3IMcA"}
phases: [[ctrl-1], [isar-1]]
`)
	updates(t, file)
	inv, err := load(t, file)
	if err != nil {
		t.Fatal(err)
	}
	err = inv.Pushable(nil)
	if step.ExitCodeOf(err) != step.ExitRefused || !strings.Contains(err.Error(), "node isar-1 takes an update (update:), which fleet push does not apply yet") ||
		!strings.Contains(step.NextOf(err), "jetup update --host 10.0.0.30 --port 2222 --accept-host-key SHA256:uOM8hmYFq5jXoTBWgZVlTg2L6BiV3QlRr5W2uT3IMcA "+filepath.Join(filepath.Dir(file), "v2.swu")) {
		t.Errorf("%v; next: %s", err, step.NextOf(err))
	}
	if err := inv.Pushable([]string{"ctrl-1"}); err != nil {
		t.Errorf("--only ctrl-1: %v", err)
	}
	e, err := Export(inv, ExportOptions{Format: FormatDeployRS, Pins: filepath.Join(t.TempDir(), "known_hosts")})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(e.Updates, ",") != "isar-1" || strings.Contains(e.Nix, "isar-1") || !strings.Contains(e.Nix, "ctrl-1") {
		t.Errorf("updates %v:\n%s", e.Updates, e.Nix)
	}
	if len(inv.Nodes) != 2 {
		t.Error("Export changed the inventory")
	}
}
