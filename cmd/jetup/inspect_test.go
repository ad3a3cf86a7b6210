package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
)

func sh(t *testing.T, dir, script string) {
	t.Helper()
	cmd := exec.Command("sh", "-ec", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
}

// The JSON and exit codes: 0 whole, 1 something inside wrong, 2
// unreadable.
func TestInspectJSONAndExitCodes(t *testing.T) {
	testkit.NeedCommands(t, "sfdisk", "mkfs.vfat", "mcopy", "cpio", "zstd")
	dir := t.TempDir()
	sh(t, dir, `truncate -s 40M disk.img
printf 'label: gpt\nstart=2048, size=32768, type=uefi, name="ESP"\nsize=8192, type=linux, name="root_2.0"\n' | sfdisk -q disk.img
mkfs.vfat -C -n ESP esp.fat 16384 >/dev/null
echo edk2 > RPI_EFI.fd; echo armstub=RPI_EFI.fd > config.txt
mcopy -i esp.fat RPI_EFI.fd config.txt ::
dd if=esp.fat of=disk.img bs=512 seek=2048 conv=notrunc status=none
zstd -q disk.img`)
	r := jetupIn(t, "", t.TempDir(), "--json", "inspect", filepath.Join(dir, "disk.img.zst"))
	var rep struct {
		Table      string `json:"table"`
		Partitions []struct {
			Index int    `json:"index"`
			Start int64  `json:"start"`
			Size  int64  `json:"size"`
			Type  string `json:"type"`
			Label string `json:"label"`
			FS    string `json:"fs"`
		} `json:"partitions"`
		Boot []struct {
			Kind string `json:"kind"`
		} `json:"boot"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 0 || err != nil {
		t.Fatalf("%v %+v", err, r)
	}
	if rep.Table != "gpt" || len(rep.Partitions) != 2 || rep.Partitions[0].Index != 1 || rep.Partitions[0].Start != 2048*512 ||
		rep.Partitions[0].Label != "ESP" || rep.Partitions[0].FS != "vfat" || rep.Partitions[0].Type != "c12a7328-f81f-11d2-ba4b-00a0c93ec93b" ||
		len(rep.Boot) != 1 || rep.Boot[0].Kind != "rpi-uefi" {
		t.Errorf("%s", r.stdout)
	}

	good := []byte("rootfs")
	sum := sha256.Sum256(good)
	desc := `software = { version = "1.0"; hardware-compatibility: ["1.0"]; images: ( { filename = "rootfs"; sha256 = "` + hex.EncodeToString(sum[:]) + `"; } ); };`
	_ = os.WriteFile(filepath.Join(dir, "sw-description"), []byte(desc), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "rootfs"), good, 0o644)
	sh(t, dir, `printf 'sw-description\nrootfs\n' | cpio -o -H crc --quiet > good.swu`)
	r = jetupIn(t, "", t.TempDir(), "--json", "inspect", filepath.Join(dir, "good.swu"))
	var swu struct {
		SWU struct {
			Version string   `json:"version"`
			HW      []string `json:"hardware_compatibility"`
			Images  []struct {
				Filename, SHA256 string
				OK               bool `json:"ok"`
			} `json:"images"`
		} `json:"swu"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &swu); r.code != 0 || err != nil || swu.SWU.Version != "1.0" || len(swu.SWU.Images) != 1 || !swu.SWU.Images[0].OK || swu.SWU.Images[0].Filename != "rootfs" {
		t.Errorf("%v %+v", err, r)
	}
	_ = os.WriteFile(filepath.Join(dir, "rootfs"), []byte("tampered"), 0o644)
	sh(t, dir, `printf 'sw-description\nrootfs\n' | cpio -o -H crc --quiet > bad.swu`)
	r = jetupIn(t, "", t.TempDir(), "inspect", filepath.Join(dir, "bad.swu"))
	if r.code != 1 || !strings.Contains(r.stdout, "rootfs (-): sha256 MISMATCH") || !strings.Contains(r.stderr, "first in rootfs") {
		t.Errorf("%+v", r)
	}
	r = jetupIn(t, "", t.TempDir(), "inspect", filepath.Join(dir, "nope.img"))
	if r.code != 2 {
		t.Errorf("%+v", r)
	}
}
