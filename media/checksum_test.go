package media

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A SHA256SUMS whose image entry comes after a line longer than 64 KiB:
// the entry is still found. A bufio.Scanner stopped at the long line, so
// the image was written with no checksum check at all.
func TestSumsFileEntryAfterALongLineIsFound(t *testing.T) {
	dir := t.TempDir()
	sum := strings.Repeat("ab", 32)
	sums := strings.Repeat("# padding ", 20_000) + "\n" + strings.Repeat("cd", 32) + "  other.img\n" + sum + " *nixos.img\n"
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sums), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := FindChecksum(&Image{Path: filepath.Join(dir, "nixos.img"), Name: "nixos.img"}, "")
	if err != nil || c == nil || c.Want != sum || c.Of != "file" {
		t.Fatalf("%+v %v", c, err)
	}
	// A long line that starts like an entry is not one.
	cut := sum + "  nixos.img" + strings.Repeat("x", 70_000) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(cut), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err := FindChecksum(&Image{Path: filepath.Join(dir, "nixos.img"), Name: "nixos.img"}, ""); c != nil || err != nil {
		t.Errorf("a cut line taken as an entry: %+v %v", c, err)
	}
}

// A .bmap is read whole only up to its bound: a huge file (or a device
// node) named as the bmap is refused, not read into memory.
func TestHugeBmapIsRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nixos.img.bmap")
	f, err := os.Create(p)
	if err == nil {
		err = f.Truncate(maxBmap + 1)
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBmap(p); causeOf(err) != "bmap-invalid" || !strings.Contains(err.Error(), "is 67108865 bytes; jetup reads at most 67108864") {
		t.Errorf("%v", err)
	}
}
