package main

import (
	"bufio"
	"bytes"
	bin "encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
)

// jetupIn runs the binary with stdin and a state dir of its own.
func jetupIn(t *testing.T, stdin, state string, args ...string) result {
	t.Helper()
	return runJetup(t, nil, stdin, append([]string{"--state-dir", state}, args...)...)
}

func TestWriteListSim(t *testing.T) {
	r := jetupIn(t, "", t.TempDir(), "--sim", "write", "--list", "--json")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	var l map[string][]struct {
		Name    string         `json:"name"`
		Reasons []media.Reason `json:"reasons"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
		t.Fatal(err)
	}
	if len(l["candidates"]) != 1 || l["candidates"][0].Name != "sda" || l["candidates"][0].Reasons[0].Cause != "mounted" {
		t.Errorf("candidates %+v", l["candidates"])
	}
	if len(l["excluded"]) != 1 || l["excluded"][0].Name != "nvme0n1" || l["excluded"][0].Reasons[0].Cause != "system-disk" {
		t.Errorf("excluded %+v", l["excluded"])
	}
	text := jetupIn(t, "", t.TempDir(), "--sim", "write", "--list")
	if !strings.Contains(text.stdout, "system-disk: /dev/nvme0n1 is this computer's system disk") {
		t.Errorf("text list:\n%s", text.stdout)
	}
}

// The headless face asks for consent and the typed name; a wrong name
// refuses with exit 2, nothing written; --yes without --unmount refuses a
// mounted stick.
func TestWriteSimConfirmation(t *testing.T) {
	state := t.TempDir()
	r := jetupIn(t, "y\nsdb\n", state, "--sim", "--profile", "rpi4", "write", "--target", "sda")
	if r.code != 2 || !strings.Contains(r.stderr, "not confirmed") || !strings.Contains(r.stdout, "Erase /dev/sda: SanDisk Ultra Fit") {
		t.Errorf("wrong name: %+v", r)
	}
	r = jetupIn(t, "", state, "--sim", "--profile", "rpi4", "write", "--target", "sda", "--yes")
	if r.code != 2 || !strings.Contains(r.stderr, "mounted partitions") || !strings.Contains(r.stderr, "--unmount") {
		t.Errorf("--yes on a mounted stick: %+v", r)
	}
	r = jetupIn(t, "", state, "--sim", "write", "--image", "/nonexistent.img", "--target", "sda")
	if r.code != 2 || !strings.Contains(r.stderr, "no image at /nonexistent.img") {
		t.Errorf("missing image: %+v", r)
	}
	r = jetupIn(t, "y\nsda\nn\n", state, "--sim", "--profile", "rpi4", "write", "--target", "sda")
	if r.code != 0 || !strings.Contains(r.stdout, "result:  verified") || !strings.Contains(r.stdout, "It holds now") ||
		!strings.Contains(r.stdout, `exfat`) {
		t.Fatalf("sim write: %+v", r)
	}
	runs, _, err := runrec.List(state)
	if err != nil {
		t.Fatal(err)
	}
	last := runs[len(runs)-1]
	if last.Facts[step.FactInstaller] == "" || last.Steps[0].Outcome != runrec.Success {
		t.Errorf("run record %+v", last)
	}
}

// The real thing: a loop device, --json lines, exit codes, the receipt in
// run.json.
func TestWriteLoopDeviceJSON(t *testing.T) {
	testkit.NeedRoot(t)
	testkit.NeedCommands(t, "losetup", "zstd")
	dir := t.TempDir()
	img := filepath.Join(dir, "installer.img")
	data := bytes.Repeat([]byte("jetup installer "), 3<<18) // 12 MiB
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("zstd", "-q", img).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	back := filepath.Join(dir, "stick.bin")
	if err := os.WriteFile(back, make([]byte, 16<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", back).Output()
	if err != nil {
		t.Fatal(err)
	}
	dev := strings.TrimSpace(string(out))
	defer exec.Command("losetup", "-d", dev).Run()

	state := t.TempDir()
	r := jetupIn(t, "", state, "write", "--image", img+".zst", "--target", dev, "--yes", "--json")
	if r.code != 2 || !strings.Contains(r.stderr, "not a USB stick or SD card (a loop device)") || !strings.Contains(r.stderr, "--allow-fixed") {
		t.Fatalf("loop without --allow-fixed: %+v", r)
	}
	r = jetupIn(t, "", state, "write", "--image", img+".zst", "--target", dev, "--yes", "--allow-fixed", "--json")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	var phases = map[string]bool{}
	var receipt media.Receipt
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		if p, ok := m["phase"].(string); ok {
			phases[p] = true
		}
		if _, ok := m["device"]; ok {
			_ = json.Unmarshal(sc.Bytes(), &receipt)
		}
	}
	if !phases["write"] || !phases["verify"] || receipt.Result != "verified" || receipt.Bytes != int64(len(data)) {
		t.Errorf("phases %v receipt %+v", phases, receipt)
	}
	runs, _, _ := runrec.List(state)
	last := runs[len(runs)-1]
	var rc media.Receipt
	if err := json.Unmarshal(last.Steps[0].Details, &rc); err != nil || rc.Verify.Result != "ok" || rc.Device.Path != dev || rc.Device.BackingFile != back {
		t.Errorf("receipt in run.json: %v %+v", err, rc)
	}
	got, _ := os.ReadFile(back)
	if !bytes.Equal(got[:len(data)], data) {
		t.Error("the loop device does not hold the image")
	}
}

// Issue 21 finding 2 end to end: a loop device whose GPT headers carry an
// entry size of 0xFFFFFF00 (CRCs matching). `write --list` and the
// confirmation both say the table is damaged; nothing crashes, nothing is
// written without the typed name.
func TestWriteListAndConfirmReportACraftedGPT(t *testing.T) {
	testkit.NeedRoot(t)
	testkit.NeedCommands(t, "losetup", "sfdisk")
	dir := t.TempDir()
	back := filepath.Join(dir, "stick.bin")
	const size = 32 << 20
	if err := os.WriteFile(back, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	sf := exec.Command("sfdisk", "-q", back)
	sf.Stdin = strings.NewReader("label: gpt\nsize=8M, type=uefi, name=\"ESP\"\n")
	if out, err := sf.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v %s", err, out)
	}
	f, err := os.OpenFile(back, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{512, size - 512} {
		h := make([]byte, 92)
		_, _ = f.ReadAt(h, off)
		bin.LittleEndian.PutUint32(h[84:], 0xFFFFFF00)
		bin.LittleEndian.PutUint32(h[16:], 0)
		bin.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h))
		_, _ = f.WriteAt(h, off)
	}
	f.Close()
	out, err := exec.Command("losetup", "-f", "--show", back).Output()
	if err != nil {
		t.Fatal(err)
	}
	dev := strings.TrimSpace(string(out))
	defer exec.Command("losetup", "-d", dev).Run()

	r := jetupIn(t, "", t.TempDir(), "write", "--list", "--allow-fixed", "--json")
	var l map[string][]struct {
		Path  string          `json:"path"`
		Holds *media.Contents `json:"holds"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &l); r.code != 0 || err != nil {
		t.Fatalf("%v %+v", err, r)
	}
	found := false
	for _, c := range l["candidates"] {
		if c.Path == dev {
			found = true
			if c.Holds == nil || c.Holds.Table != "gpt" || !c.Holds.Damaged || !strings.Contains(strings.Join(c.Holds.Problems, " "), "entry size 4294967040") {
				t.Errorf("holds %+v", c.Holds)
			}
		}
	}
	if !found {
		t.Fatalf("%s not a candidate: %s", dev, r.stdout)
	}
	img := filepath.Join(dir, "installer.img")
	if err := os.WriteFile(img, bytes.Repeat([]byte("jetup installer "), 1<<16), 0o644); err != nil {
		t.Fatal(err)
	}
	r = jetupIn(t, "wrong\n", t.TempDir(), "write", "--image", img, "--target", dev, "--allow-fixed")
	if r.code != 2 || !strings.Contains(r.stdout, "a damaged GPT partition table") || !strings.Contains(r.stderr, "not confirmed") {
		t.Errorf("confirmation: %+v", r)
	}
}

// The board check: a pure GPT for a Pi 3B is refused before anything is
// written (exit 2, the next step names --ignore-board-check), and written
// with it; the confirmation shows what the image holds.
func TestWriteRefusesAnImageTheBoardCannotBoot(t *testing.T) {
	testkit.NeedCommands(t, "sfdisk")
	dir := t.TempDir()
	img := filepath.Join(dir, "gpt.img")
	if err := os.WriteFile(img, make([]byte, 40<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	sf := exec.Command("sfdisk", "-q", img)
	sf.Stdin = strings.NewReader("label: gpt\nstart=2048, size=32768, type=uefi, name=\"ESP\"\n")
	if out, err := sf.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	state := t.TempDir()
	r := jetupIn(t, "", state, "--sim", "--profile", "rpi3b", "write", "--image", img, "--target", "sda", "--yes", "--unmount")
	if r.code != 2 || !strings.Contains(r.stderr, "reads only an MBR and this image has a pure GPT") || !strings.Contains(r.stderr, "--ignore-board-check") {
		t.Fatalf("%+v", r)
	}
	r = jetupIn(t, "", state, "--sim", "--profile", "rpi3b", "write", "--image", img, "--target", "sda", "--yes", "--unmount", "--ignore-board-check")
	if r.code != 0 || !strings.Contains(r.stdout, `Image: GPT, ? "ESP"`) || !strings.Contains(r.stdout, "written anyway: --ignore-board-check") {
		t.Fatalf("%+v", r)
	}
}
