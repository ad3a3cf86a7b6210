package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testboard"
)

// jetup bundle against the manifest a push recorded, then jetup apply on
// the board itself (the binary copied there, as a field engineer would).
func TestBundleThenApplyOnTheBoard(t *testing.T) {
	b := testboard.New(t, testboard.Options{})
	base := testboard.Build(t, testboard.System{Name: "cmd-bundle-1", Small: 2})
	next := testboard.Build(t, testboard.System{Name: "cmd-bundle-2", Small: 2})
	state := t.TempDir()
	if r := jetup(t, testboard.NixEnv, "--state-dir", state, "push", "--host", b.Addr, "--identity", b.ClientKey, "--closure", base,
		"--accept-host-key", b.HostKeyFingerprint()); r.code != 0 {
		t.Fatalf("push: %+v", r)
	}
	out := filepath.Join(b.Dir, "update.sh")
	r := jetup(t, testboard.NixEnv, "--state-dir", state, "bundle", "--closure", next, "--for", b.Addr, "-o", out, "--json")
	if r.code != 0 {
		t.Fatalf("bundle: %+v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var res map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || res["event"] != "result" {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	pub, _ := res["public_key"].(string)
	if res["sequence"] != float64(1) || res["paths"] != float64(3) || res["board"] != b.HostKeyFingerprint() || !strings.HasPrefix(pub, "jetup-") {
		t.Errorf("result %v", res)
	}
	if raw, err := os.ReadFile(filepath.Join(state, "keys", "bundle-signing.pub")); err != nil || strings.TrimSpace(string(raw)) != pub {
		t.Errorf("jetup's own key: %v %q", err, raw)
	}
	if err := os.WriteFile(filepath.Join(b.Dir, "home.pub"), []byte(pub+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.Dir, "jetup"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := b.Command(testboard.Inside+"/jetup", "--state-dir", testboard.Inside+"/jetup-state", "apply", testboard.Inside+"/update.sh",
		"--switch", "--trust-key", testboard.Inside+"/home.pub", "--health", "true")
	got, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(got), "is confirmed") {
		t.Fatalf("jetup apply on the board: %v\n%s", err, got)
	}
	if now, _ := os.Readlink(filepath.Join(b.NixDir, "var/nix/profiles/system-2-link")); now != next {
		t.Errorf("the board's generation 2 is %q, not the new system", now)
	}
	// Its receipt, carried home.
	receipt := filepath.Join(b.NixDir, "var/jetup/receipts/receipt-1.json")
	if r := jetup(t, nil, "--state-dir", state, "boards", "--receipt", receipt); r.code != 0 || !strings.Contains(r.stdout, "bundle 1 switched") ||
		!strings.Contains(r.stdout, "manifest is updated") {
		t.Errorf("boards --receipt: %+v", r)
	}
	if r := jetup(t, nil, "--state-dir", state, "boards", "--json"); !strings.Contains(r.stdout, `"manifest_from": "receipt"`) || !strings.Contains(r.stdout, `"applied": 1`) {
		t.Errorf("boards after the receipt: %+v", r)
	}
	if r := jetup(t, nil, "--state-dir", state, "boards", "--receipt", out); r.code != 2 || !strings.Contains(r.stderr, "not a jetup receipt") {
		t.Errorf("a bundle given as a receipt: %+v", r)
	}
	cmd = b.Command(testboard.Inside+"/jetup", "apply", testboard.Inside+"/update.sh", "--check", "--trust-key", testboard.Inside+"/home.pub")
	if got, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(got), "applied already") {
		t.Errorf("applying it again: %v\n%s", err, got)
	}

	if r := jetup(t, nil, "--state-dir", state, "bundle", "--closure", next, "-o", out); r.code != 2 || !strings.Contains(r.stderr, "--for") {
		t.Errorf("no --for: %+v", r)
	}
	if r := jetup(t, nil, "--state-dir", state, "bundle", "--closure", next, "--for", "192.0.2.9", "-o", out); r.code != 2 || !strings.Contains(r.stderr, "no manifest recorded") {
		t.Errorf("unknown board: %+v", r)
	}
}
