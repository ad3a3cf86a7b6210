package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testboard"
)

// A push records the board's manifest; jetup boards lists it; jetup
// manifest reads it again over SSH, or from a file the board printed.
func TestPushRecordsTheManifestAndBoardsListsIt(t *testing.T) {
	b := testboard.New(t, testboard.Options{})
	sys := testboard.Build(t, testboard.System{Name: "cmd-boards", Small: 3})
	state := t.TempDir()
	r := jetup(t, testboard.NixEnv, "--state-dir", state, "push", "--host", b.Addr, "--identity", b.ClientKey, "--closure", sys,
		"--accept-host-key", b.HostKeyFingerprint())
	if r.code != 0 || !strings.Contains(r.stdout, "recorded the manifest of") {
		t.Fatalf("push: %+v", r)
	}
	r = jetup(t, nil, "--state-dir", state, "boards", "--json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || r.code != 0 || len(rows) != 1 {
		t.Fatalf("boards --json: %v %+v", err, r)
	}
	row := rows[0]
	if row["fingerprint"] != b.HostKeyFingerprint() || row["host"] != b.Addr || row["current"] != sys ||
		row["manifest_from"] != "push" || row["paths"] != float64(4) || row["manifest_age_seconds"] == nil {
		t.Errorf("row %v", row)
	}
	r = jetup(t, nil, "--state-dir", state, "boards")
	if r.code != 0 || !strings.Contains(r.stdout, b.Addr) || !strings.Contains(r.stdout, "nixos-system-cmd-boards") || !strings.Contains(r.stdout, "(push)") {
		t.Errorf("boards: %+v", r)
	}

	r = jetup(t, testboard.NixEnv, "--state-dir", state, "manifest", "--host", b.Addr, "--identity", b.ClientKey)
	if r.code != 0 || !strings.Contains(r.stdout, "4 paths") {
		t.Errorf("manifest --host: %+v", r)
	}

	// The manifest as the board printed it, carried home in a file.
	slug := strings.NewReplacer("/", "_", "+", "-").Replace(strings.TrimPrefix(b.HostKeyFingerprint(), "SHA256:"))
	raw, err := os.ReadFile(filepath.Join(state, "boards", slug, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	file := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(file, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := jetup(t, nil, "--state-dir", other, "manifest", "--from", file); r.code != 0 {
		t.Errorf("manifest --from: %+v", r)
	}
	if r := jetup(t, nil, "--state-dir", other, "boards"); !strings.Contains(r.stdout, "(file)") || !strings.Contains(r.stdout, b.HostKeyFingerprint()) {
		t.Errorf("boards after --from: %+v", r)
	}
	bad := strings.Replace(string(raw), "/nix/store/", "/nix/store/../../etc/", 1)
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := jetup(t, nil, "--state-dir", other, "manifest", "--from", file); r.code != 2 || !strings.Contains(r.stderr, "not a store path") {
		t.Errorf("a manifest with a path outside the store: %+v", r)
	}
	if r := jetup(t, nil, "manifest"); r.code != 2 {
		t.Errorf("no --host or --from: %+v", r)
	}
}
