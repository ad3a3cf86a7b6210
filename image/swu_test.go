package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/step"
)

// makeSWU builds a bundle as SWUpdate's documentation does it: the files
// listed on stdin to `cpio -ov -H crc`, sw-description first (and its
// .sig second when signed). hashFor may give a wrong hash for a file.
func makeSWU(t testing.TB, dir string, files map[string][]byte, hw string, hashFor func(name, real string) string, extra ...string) string {
	t.Helper()
	testkit.NeedCommands(t, "cpio")
	var imgs []string
	names := []string{}
	for _, n := range []string{"rootfs.ext4.gz", "kernel.img", "update.sh"} {
		if _, ok := files[n]; !ok {
			continue
		}
		sum := sha256.Sum256(files[n])
		h := hex.EncodeToString(sum[:])
		if hashFor != nil {
			h = hashFor(n, h)
		}
		typ := "raw"
		if n == "rootfs.ext4.gz" {
			typ = "raw\"; compressed = \"zlib"
		}
		imgs = append(imgs, fmt.Sprintf("\t\t{\n\t\t\tfilename = \"%s\";\n\t\t\ttype = \"%s\";\n\t\t\tdevice = \"/dev/mmcblk0p2\";\n\t\t\tsha256 = \"%s\";\n\t\t}", n, typ, h))
		names = append(names, n)
	}
	for _, n := range extra {
		imgs = append(imgs, fmt.Sprintf("\t\t{ filename = \"%s\"; type = \"raw\"; sha256 = \"%s\"; }", n, strings.Repeat("ab", 32)))
	}
	desc := fmt.Sprintf(`/* an SWUpdate sw-description, libconfig syntax */
software =
{
	version = "2.1.0";
	description = "Firmware " "update";   // adjacent strings join
	hardware-compatibility: [ %s ];
	images: (
%s
	);
	bootenv: ( { name = "upgrade_available"; value = "1"; } );
}
`, hw, strings.Join(imgs, ",\n"))
	if err := os.WriteFile(filepath.Join(dir, "sw-description"), []byte(desc), 0o644); err != nil {
		t.Fatal(err)
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list := "sw-description\n"
	if _, err := os.Stat(filepath.Join(dir, "sw-description.sig")); err == nil {
		list += "sw-description.sig\n"
	}
	list += strings.Join(names, "\n") + "\n"
	out := filepath.Join(dir, "update.swu")
	cmd := exec.Command("sh", "-c", "cpio -o -H crc --quiet > update.swu")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(list)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio: %v %s", err, b)
	}
	return out
}

func swuFiles() map[string][]byte {
	return map[string][]byte{"rootfs.ext4.gz": []byte(strings.Repeat("root", 50000)), "kernel.img": []byte("kernel")}
}

func TestGoodSWU(t *testing.T) {
	swu := makeSWU(t, t.TempDir(), swuFiles(), `"1.0", "1.2", "arm64"`, nil)
	rep, err := Inspect(t.Context(), swu, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.SWU
	if !rep.OK() || rep.Kind != KindSWU || s.Version != "2.1.0" || strings.Join(s.HardwareCompatibility, ",") != "1.0,1.2,arm64" || len(s.Images) != 2 {
		t.Fatalf("%+v %+v", rep, s)
	}
	for _, im := range s.Images {
		if !im.OK || im.Missing || im.SHA256 == "" {
			t.Errorf("%+v", im)
		}
	}
	if s.Signed || !strings.HasPrefix(s.Signature, "none") {
		t.Errorf("signature %q", s.Signature)
	}
}

func TestSWUWithAWrongHashNamesTheFile(t *testing.T) {
	swu := makeSWU(t, t.TempDir(), swuFiles(), `"1.0"`, func(n, h string) string {
		if n == "kernel.img" {
			return strings.Repeat("0", 64)
		}
		return h
	})
	rep, _ := Inspect(t.Context(), swu, Options{})
	if rep.OK() || rep.Problems[0].Entry != "kernel.img" || !strings.Contains(rep.Problems[0].What, "sw-description says 0000") {
		t.Fatalf("%+v", rep.Problems)
	}
}

func TestSWUListingAMissingFile(t *testing.T) {
	swu := makeSWU(t, t.TempDir(), swuFiles(), `"1.0"`, nil, "bootloader.bin")
	rep, _ := Inspect(t.Context(), swu, Options{})
	if rep.OK() || rep.Problems[0].Entry != "bootloader.bin" || !strings.Contains(rep.Problems[0].What, "the bundle has no such file") {
		t.Fatalf("%+v", rep.Problems)
	}
}

func TestTruncatedSWUNamesTheEntry(t *testing.T) {
	swu := makeSWU(t, t.TempDir(), swuFiles(), `"1.0"`, nil)
	st, _ := os.Stat(swu)
	// Cut inside rootfs.ext4.gz (200 kB, the second entry).
	if err := os.Truncate(swu, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	rep, err := Inspect(t.Context(), swu, Options{})
	if err != nil {
		t.Fatal(err)
	}
	all := fmt.Sprint(rep.Problems)
	if rep.OK() || !strings.Contains(all, "the bundle ends inside rootfs.ext4.gz") {
		t.Fatalf("%s", all)
	}
	// Not a bundle at all: cannot be read (exit 2).
	bad := filepath.Join(t.TempDir(), "x.swu")
	_ = os.WriteFile(bad, []byte("070702zzzzzzzz"), 0o644)
	if _, err := Inspect(t.Context(), bad, Options{}); step.ExitCodeOf(err) != 2 || !strings.Contains(step.NextOf(err), "cpio -o -H crc") {
		t.Errorf("%v", err)
	}
}

func TestLibconfigErrorsNameTheLine(t *testing.T) {
	for src, want := range map[string]string{
		"software = {\n version = \"1\";\n":             "line 3: the group opened on line 1 is not closed",
		"software = { images: ( { filename = x; } ); }": "a value was expected",
		"@include \"/etc/shadow\"":                      "@include is not allowed",
		"a = " + strings.Repeat("(", 100):               "nested deeper than 64",
	} {
		if _, err := parseLibconfig(src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", trunc(src, 30), err, want)
		}
	}
}

func TestSysupdateDirectory(t *testing.T) {
	testkit.NeedCommands(t, "sha256sum")
	dir := t.TempDir()
	for n, b := range map[string]string{"appliance_1.2.4.nix-store.raw.zst": "store", "appliance_1.2.4.efi": "uki"} {
		_ = os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644)
	}
	run(t, dir, "sh", "-c", "sha256sum appliance_* > SHA256SUMS")
	rep, err := Inspect(t.Context(), dir, Options{})
	if err != nil || !rep.OK() || rep.Kind != KindSysupdate || strings.Join(rep.Sysupdate.Versions, ",") != "1.2.4" || len(rep.Sysupdate.Files) != 2 {
		t.Fatalf("%v %+v", err, rep)
	}
	_ = os.WriteFile(filepath.Join(dir, "appliance_1.2.4.extra.raw"), []byte("x"), 0o644)
	rep, _ = Inspect(t.Context(), dir, Options{})
	if rep.OK() || rep.Problems[0].Entry != "appliance_1.2.4.extra.raw" || !strings.Contains(rep.Problems[0].What, "SHA256SUMS does not cover") {
		t.Fatalf("%+v", rep.Problems)
	}
}
