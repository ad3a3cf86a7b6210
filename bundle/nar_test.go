package bundle

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
)

// writeNAR writes what nix-store --dump writes, byte for byte: a tree with
// a directory, an executable, an empty file, a symlink and names that sort
// differently by byte and by locale.
func TestWriteNARIsNixStoreDumps(t *testing.T) {
	testkit.NeedCommands(t, "nix-store")
	dir := filepath.Join(t.TempDir(), "tree")
	for name, body := range map[string]string{"bin/run": "#!/bin/sh\necho hi\n", "share/a.txt": "0123456", "share/B.txt": "", "Z": "eight by"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "bin/run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../share/a.txt", filepath.Join(dir, "bin/link")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Join(dir, "bin/run"), filepath.Join(dir, "bin/link")} {
		want, err := exec.Command("nix-store", "--dump", p).Output()
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := writeNAR(&got, p); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%s: %d bytes, nix-store --dump wrote %d", p, got.Len(), len(want))
		}
	}
}
