package disklabel

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// tinyFAT is a 64 KiB FAT12 made by mkfs.vfat with a file in a
// subdirectory (mtools), or nil without the tools.
func tinyFAT(tb testing.TB) []byte {
	dir := tb.TempDir()
	img := filepath.Join(dir, "tiny.fat")
	_ = os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello from a FAT file\n"), 0o644)
	for _, c := range [][]string{{"mkfs.vfat", "-C", "-n", "TINY", img, "64"}, {"mmd", "-i", img, "::EFI"},
		{"mcopy", "-i", img, filepath.Join(dir, "hello.txt"), "::EFI/A-Long-Name.txt"}} {
		if err := exec.Command(c[0], c[1:]...).Run(); err != nil {
			return nil
		}
	}
	b, _ := os.ReadFile(img)
	return b
}

func TestFATReadsLongNamesInSubdirectories(t *testing.T) {
	b := tinyFAT(t)
	if b == nil {
		t.Skip("mkfs.vfat and mtools are needed")
	}
	fat, err := OpenFAT(bytes.NewReader(b), 0, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := fat.ReadFile("efi/a-long-name.TXT", 1<<20)
	if err != nil || string(got) != "hello from a FAT file\n" || fat.Label != "TINY" {
		t.Fatalf("%q %v label %q", got, err, fat.Label)
	}
	// A cluster chain that loops ends with an error, not a hang.
	fat.fat[3], fat.fat[4] = 0x02, 0x00 // FAT12: cluster 2 -> 2
	if _, err := fat.read(2, 1<<30); err == nil {
		t.Error("a looping chain was followed to the end")
	}
}

// FuzzFAT: a FAT file system from any bytes: listing and reading must end
// and stay bounded.
func FuzzFAT(f *testing.F) {
	if b := tinyFAT(f); b != nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fat, err := OpenFAT(bytes.NewReader(b), 0, int64(len(b)))
		if err != nil {
			return
		}
		ents, _ := fat.ReadDir("")
		for _, e := range ents {
			if e.Dir {
				_, _ = fat.ReadDir(e.Name)
			} else {
				_, _ = fat.ReadFile(e.Name, 1<<20)
			}
		}
	})
}
